"""Several watcher processes on one Redis: every code pushed exactly once, crashes healed.

The workers (`tests/integration/watcher_worker.py`) are real subprocesses polling the
`sandbox` fixture over HTTP; their "chat" is a Redis list the test counts.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.runtime.redis_server import RedisServer
from tests.fixtures.watcher import WatchWorld, eventually
from tests.integration.watcher_worker import DELIVERIES, parse_args

ROOT = Path(__file__).resolve().parents[2]
POLL = 0.5


def worker_command(*, redis_url: str, provider_url: str, key: str, lease: float) -> list[str]:
    """The worker's command line. Values go as `--name=value`: a Fernet key is urlsafe base64
    and starts with "-" once in 64, which `--key VALUE` would make argparse take for an
    option (the worker then exits at once with "argument --key: expected one argument")."""
    options = {
        "redis-url": redis_url,
        "provider-url": provider_url,
        "key": key,
        "poll-interval": str(POLL),
        "lease": str(lease),
    }
    return [
        sys.executable,
        "-m",
        "tests.integration.watcher_worker",
        *(f"--{name}={value}" for name, value in options.items()),
    ]


class Workers:
    """Starts watcher worker processes; every one is stopped at teardown, whatever happened."""

    def __init__(self, world: WatchWorld, redis_url: str, tmp_path: Path) -> None:
        self._world = world
        self._redis_url = redis_url
        self._tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []
        self._killed: set[int] = set()

    def start(self, *, lease: float = 10.0) -> subprocess.Popen[bytes]:
        log = (self._tmp_path / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            worker_command(
                redis_url=self._redis_url,
                provider_url=self._world.sandbox.v2_url,
                key=self._world.key.decode(),
                lease=lease,
            ),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        assert process.poll() is None, f"the worker had already exited:\n{self.logs()}"
        self._killed.add(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def assert_running(self) -> None:
        """Fail at once, with the logs, if a worker the test did not kill has exited."""
        for process in self.processes:
            if process.pid not in self._killed and process.poll() is not None:
                raise AssertionError(
                    f"watcher worker {process.pid} exited with {process.returncode}:\n"
                    + self.logs()
                )

    async def until(self, condition: Callable[[], Awaitable[bool]], what: str) -> None:
        """`eventually(condition)` within 60 s, failing early if a worker died on its own."""

        async def check() -> bool:
            self.assert_running()
            return await condition()

        await eventually(check, within=60, what=what)

    async def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                await asyncio.to_thread(process.wait, 20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(path.read_text() for path in sorted(self._tmp_path.glob("worker-*.log")))


@pytest.fixture
async def workers(
    watch_world: WatchWorld, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Workers]:
    pool = Workers(watch_world, redis_server.url, tmp_path)
    try:
        yield pool
    finally:
        await pool.stop_all()


async def deliveries(redis: Redis) -> list[dict[str, Any]]:
    return [json.loads(entry) for entry in await redis.lrange(DELIVERIES, 0, -1)]


async def test_two_watcher_processes_push_each_of_200_codes_exactly_once(
    watch_world: WatchWorld, workers: Workers, redis: Redis
) -> None:
    world = watch_world
    records = await world.buy_many(200, first_user=10_000)
    first, second = workers.start(), workers.start()

    expected: dict[str, str] = {}
    for wave in range(4):  # codes arrive over a few seconds, while both workers poll
        for record in records[wave::4]:
            code = f"{int(record.id) % 1_000_000:06d}"
            world.sandbox.deliver_sms(record.id, code)
            expected[record.key] = code
        await asyncio.sleep(0.4)

    async def all_pushed() -> bool:
        return await redis.llen(DELIVERIES) >= 200

    await workers.until(all_pushed, "200 pushes")
    await asyncio.sleep(POLL * 4)  # anything pushed twice would show up by now

    pushed = await deliveries(redis)
    assert len(pushed) == 200, workers.logs()
    assert Counter(entry["key"] for entry in pushed).most_common(1)[0][1] == 1
    assert {entry["key"]: entry["code"] for entry in pushed} == expected
    assert {entry["pid"] for entry in pushed} == {first.pid, second.pid}  # both did work
    stored = await world.store.get_many([record.key for record in records])
    assert all(
        record.delivered == 1 and record.codes == [expected[record.key]] for record in stored
    )
    assert first.poll() is None and second.poll() is None


async def test_a_killed_watchers_numbers_are_picked_up_by_a_new_one(
    watch_world: WatchWorld, workers: Workers, redis: Redis
) -> None:
    world = watch_world
    records = await world.buy_many(50, first_user=20_000)
    crashed = workers.start(lease=2.0)

    await eventually(
        lambda: sum(1 for r in records if world.sandbox.activation(r.id).status == "waiting") == 50,
        what="the numbers to exist",
    )
    await asyncio.sleep(POLL * 4)  # the first worker polls them a few times
    workers.kill(crashed)

    for record in records:
        world.sandbox.deliver_sms(record.id, f"{int(record.id) % 1_000_000:06d}")
    await asyncio.sleep(POLL * 2)
    assert await redis.llen(DELIVERIES) == 0  # nobody is watching now

    successor = workers.start(lease=2.0)

    async def all_pushed() -> bool:
        return await redis.llen(DELIVERIES) >= 50

    await workers.until(all_pushed, "50 pushes by the new worker")
    await asyncio.sleep(POLL * 4)

    pushed = await deliveries(redis)
    assert len(pushed) == 50, workers.logs()
    assert {entry["key"] for entry in pushed} == {record.key for record in records}
    assert {entry["pid"] for entry in pushed} == {successor.pid}
    assert await world.store.watched_count() == 50  # still open, watched for their expiry


@pytest.mark.parametrize("key", ["-" + "A" * 42 + "=", "--" + "A" * 41 + "=", "A" * 43 + "="])
def test_the_worker_command_line_survives_any_fernet_key(key: str) -> None:
    """Fernet keys are urlsafe base64: one in 64 starts with "-" (the flake this guards)."""
    command = worker_command(
        redis_url="redis://127.0.0.1:1/0", provider_url="http://127.0.0.1:1/", key=key, lease=2.0
    )
    assert command[1:3] == ["-m", "tests.integration.watcher_worker"]
    args = parse_args(command[3:])
    assert (args.key, args.lease, args.poll_interval) == (key, 2.0, POLL)
