"""A Redis outage: the watcher pauses, says so once, and resumes by itself when Redis returns."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.runtime.redis_server import RedisServer
from tests.fixtures.sandbox import SandboxHandle
from tests.fixtures.watcher import POLL_INTERVAL, WatchWorld, eventually


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A persistent Redis server of this test's own, which the test stops and starts."""
    server = RedisServer(data_dir=tmp_path / "redis")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def test_the_watcher_pauses_while_redis_is_down_and_delivers_when_it_is_back(
    own_redis: RedisServer, sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.watcher")
    redis: Redis = Redis.from_url(own_redis.url, decode_responses=True)
    world = WatchWorld(redis, sandbox)
    try:
        records = [await world.buy(9000 + n) for n in range(5)]
        _, task = world.start()
        await eventually(
            lambda: all(world.provider.status_checks.get(r.id, 0) >= 2 for r in records),
            what="the numbers to be polled",
        )

        await asyncio.to_thread(own_redis.stop)
        for n, record in enumerate(records):
            world.sandbox.deliver_sms(record.id, f"{n:06d}")
        await asyncio.sleep(POLL_INTERVAL * 10)
        assert world.notifier.pushes == []  # nothing can be recorded: nothing is pushed
        assert not task.done()

        await asyncio.to_thread(own_redis.start)  # same port, same data directory
        await eventually(lambda: len(world.notifier.pushes) == 5, what="every code")
        await asyncio.sleep(POLL_INTERVAL * 5)

        assert sorted(push.code for push in world.notifier.pushes) == [f"{n:06d}" for n in range(5)]
        for record in records:
            assert (await world.record(record.key)).delivered == 1
        messages = [r.getMessage() for r in caplog.records]
        assert sum("Redis is unreachable" in m for m in messages) == 1
        assert sum("Redis is back" in m for m in messages) == 1
    finally:
        await world.aclose()
        await redis.aclose()
