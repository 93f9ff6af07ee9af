"""Benchmark of the activation watcher against the sandbox, over real HTTP and a real Redis.

    python -m bench.watcher [--n 100 1000 10000] [--processes 1 2] [--poll-interval 3]

Every process is separate, so none shares an event loop with another: the sandbox
(`python -m bot.sandbox`), a Redis server (`bot.runtime.redis_server.RedisServer`), one or two
watcher workers (this file, `--role worker`), the HTTP ceilings (`--role ceiling`), and this
controller, which also serves a tiny fake Telegram Bot API (the workers push codes with
aiogram's `sendMessage` to it, and it notes the time each one arrives).

For each N the controller:
1. buys N numbers at the sandbox and records them the way PurchaseService does (first checks
   spread over one interval, as purchases are), measuring Redis memory before and after;
2. starts the worker(s), lets them run one interval, then measures for `--measure` seconds
   with every activation pending: status checks/s, provider requests per activation per
   interval, CPU seconds and RSS of every process;
3. makes SMS arrive (sandbox control endpoint) on a random share of the activations at
   uniformly random times over `--window` seconds, and measures the latency from each
   SMS's `arrived_at` to its push reaching the fake Bot API;
4. measures, before the workers start and again after they stop, two ceilings against the
   same sandbox, same N, same concurrency: a bare loop of the provider layer's client
   (`create_http_client`, requests built and sent as `post_form` does) and a bare aiohttp
   loop (the mean of the two runs is the ceiling; both are printed, so drift on a shared
   machine shows).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from cryptography.fernet import Fernet
from redis.asyncio import Redis

from bot.app import WATCHER_REDIS_CONNECTIONS, create_redis
from bot.provider.budget import ProviderBudget
from bot.provider.http import create_http_client
from bot.provider.models import Activation
from bot.provider.transport import form_request
from bot.provider.v2 import V2Provider
from bot.runtime.redis_server import RedisServer, free_port
from bot.runtime.runner import freeze_startup_heap
from bot.services.activations import ActivationService
from bot.store import keys
from bot.store.activations import ActivationRecord, ActivationStore
from bot.store.blocked import BlockedStore
from bot.store.crypto import TokenCipher
from bot.watcher import ActivationWatcher, WatcherSettings

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-0123456789abcdef"  # 28 characters, like an SMS-man API key


def key_of(index: int, numbers_per_key: int) -> str:
    """The SMS-man key number `index` is bought with: TOKEN for all when `numbers_per_key` is
    0, else one key per `numbers_per_key` numbers (users with a few numbers each)."""
    if numbers_per_key <= 0:
        return TOKEN
    return f"bench-key-{index // numbers_per_key:08d}-0123456789"  # 28 characters too


BOT_TOKEN = "123456:bench-bench-bench-bench-bench-bench"
STATS_KEY = "bench:worker:{pid}"
POLL_SAMPLES = "bench:polls"  # "id unix-time" of polls of a sample of activations
PUBLISH_EVERY = 0.5

logger = logging.getLogger("bench.watcher")


# --- processes, measured from the outside --------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the worker: one watcher process ------------------------------------------------------


class TimedV2Provider(V2Provider):
    """The v2 provider, noting when it polls a sample of the activations (1 in 50)."""

    samples: list[str]  # "id unix-time" per poll, published to POLL_SAMPLES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.samples = []

    async def get_activation(self, token: str, activation_id: str) -> Activation:
        if int(activation_id) % 50 == 0:
            self.samples.append(f"{activation_id} {time.time()}")
        return await super().get_activation(token, activation_id)


class BotApiNotifier:
    """Pushes like the bot does: one Bot API sendMessage per code, over HTTP (aiogram)."""

    def __init__(self, api_url: str) -> None:
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer
        from aiogram.methods.base import Response
        from aiogram.types import Message

        self.bot = Bot(BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
        # aiogram parses every answer with `Response[<type>]`, a pydantic generic that pydantic
        # caches only weakly: unless something holds it, it is rebuilt (a schema build, about
        # 0.2-2 ms of CPU) on every API call. Holding it makes a call ~10x cheaper.
        self._response_types = (Response[Message],)

    async def code_received(self, record: ActivationRecord, code: str) -> None:
        await self.bot.send_message(record.chat_id, f"code {record.key} {code}")

    async def token_rejected(self, record: ActivationRecord) -> None:
        """Not measured: the benchmark's token never changes."""

    async def card_changed(self, record: ActivationRecord) -> None:
        await self.bot.send_message(record.chat_id, f"card {record.key} {record.state.value}")

    async def aclose(self) -> None:
        await self.bot.session.close()


class GcTimer:
    """Time spent in the cyclic garbage collector (the worker publishes it)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1


async def run_worker(args: argparse.Namespace) -> None:
    gc_timer = GcTimer()
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_event.set)
    redis = create_redis(args.redis_url, max_connections=WATCHER_REDIS_CONNECTIONS)  # as shipped
    http = create_http_client()
    requests = 0

    async def count(request: Any) -> None:
        nonlocal requests
        requests += 1

    http.event_hooks["request"].append(count)
    budget = ProviderBudget(args.max_rps, args.token_rps)
    provider = TimedV2Provider(http, args.provider_url, budget=budget.background)
    store = ActivationStore(redis)
    service = ActivationService(
        provider, store, TokenCipher(args.key), poll_interval=args.poll_interval
    )
    notifier = BotApiNotifier(args.bot_api_url)
    watcher = ActivationWatcher(
        store,
        service,
        notifier,
        WatcherSettings(
            poll_interval=args.poll_interval,
            concurrency=args.concurrency,
            max_rps=budget.rate,
            account_rps=budget.account_rate,
        ),
        blocked=BlockedStore(redis),
        budget=budget,
    )
    stats_key = STATS_KEY.format(pid=os.getpid())

    async def publish() -> None:
        while True:
            stats = asdict(watcher.stats)
            stats.update(
                requests=requests,
                gc_seconds=gc_timer.seconds,
                gc_full=gc_timer.collections[2],
                at=time.time(),
            )
            await redis.hset(stats_key, mapping={k: str(v) for k, v in stats.items()})
            if provider.samples:
                samples, provider.samples = provider.samples, []
                await redis.rpush(POLL_SAMPLES, *samples)
            await asyncio.sleep(PUBLISH_EVERY)

    if not args.no_gc_freeze:
        freeze_startup_heap()  # as `python -m bot` does once it has started
    publisher = asyncio.create_task(publish())
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        await watcher.run(stop_event)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        publisher.cancel()
        await asyncio.gather(publisher, return_exceptions=True)
        stats = asdict(watcher.stats)
        stats.update(requests=requests)
        await redis.hset(stats_key, mapping={k: str(v) for k, v in stats.items()})
        if provider.samples:
            await redis.rpush(POLL_SAMPLES, *provider.samples)
        await notifier.aclose()
        await http.aclose()
        await redis.aclose()


# --- the ceilings: bare HTTP loops against the same sandbox ------------------------------


async def run_ceiling(args: argparse.Namespace, numbers: list[tuple[str, str]]) -> None:
    """Bare loops polling `numbers`, (activation id, its key) pairs."""
    url = args.provider_url + "get-sms"
    parsed_url = httpx.URL(url)  # as the provider holds it
    done = 0
    deadline = 0.0

    async def loop_httpx() -> None:
        nonlocal done
        http = create_http_client()
        try:
            await asyncio.gather(*(one_httpx(http, n) for n in range(args.concurrency)))
        finally:
            await http.aclose()

    async def one_httpx(http: Any, start: int) -> None:
        nonlocal done
        n = start
        while time.monotonic() < deadline:
            request_id, token = numbers[n % len(numbers)]
            form = {"token": token, "request_id": request_id}
            response = await http.send(form_request(http, parsed_url, form))  # as post_form
            response.content  # noqa: B018 - read like the provider does
            done += 1
            n += args.concurrency

    async def loop_aiohttp() -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(one_aiohttp(session, n) for n in range(args.concurrency)))

    async def one_aiohttp(session: aiohttp.ClientSession, start: int) -> None:
        nonlocal done
        n = start
        while time.monotonic() < deadline:
            request_id, token = numbers[n % len(numbers)]
            form = {"token": token, "request_id": request_id}
            async with session.post(url, data=form) as response:
                await response.read()
            done += 1
            n += args.concurrency

    run = loop_httpx if args.client == "httpx" else loop_aiohttp
    deadline = time.monotonic() + 1.0  # warm up: connections, caches
    await run()
    done = 0
    cpu = time.process_time()
    started = time.monotonic()
    deadline = started + args.duration
    await run()
    elapsed = time.monotonic() - started
    print(json.dumps({"rps": done / elapsed, "requests": done, "cpu": time.process_time() - cpu}))


# --- the controller -----------------------------------------------------------------------


@dataclass
class Pushes:
    """What the fake Bot API received: activation key -> (time, code)."""

    codes: dict[str, tuple[float, str]] = field(default_factory=dict)
    duplicates: int = 0
    cards: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def all_in(self, count: int) -> None:
        """Return once `count` different codes have been pushed."""
        while len(self.codes) < count:
            self.changed.clear()
            await self.changed.wait()


def fake_bot_api(pushes: Pushes) -> web.Application:
    message_ids = iter(range(1, 10**9))

    async def method(request: web.Request) -> web.Response:
        now = time.time()
        form = await request.post()
        text = str(form.get("text", ""))
        kind, key, value = [*text.split(" "), "", "", ""][:3]
        if kind == "code":
            if key in pushes.codes:
                pushes.duplicates += 1
            else:
                pushes.codes[key] = (now, value)
                pushes.changed.set()
        else:
            pushes.cards += 1
        chat_id = int(str(form.get("chat_id", "0")))
        result = {
            "message_id": next(message_ids),
            "date": int(now),
            "chat": {"id": chat_id, "type": "private"},
            "text": text,
        }
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", method)
    return app


@dataclass
class Snapshot:
    at: float
    polls: int
    requests: int
    pushes: int
    gc_seconds: float
    cpu: dict[str, float]
    rss: dict[str, int]


@dataclass
class Result:
    n: int
    processes: int
    concurrency: int
    buy_seconds: float = 0.0
    redis_bytes_per_activation: float = 0.0
    redis_key_bytes: dict[str, float] = field(default_factory=dict)
    checks_per_second: float = 0.0
    gc_per_second: float = 0.0  # workers' seconds in the garbage collector per second
    requests_per_second: float = 0.0
    requests_per_activation_per_interval: float = 0.0
    early_polls: int = 0
    sampled_polls: int = 0
    min_gap: float = 0.0
    mean_gap: float = 0.0
    cpu_per_second: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    codes_sent: int = 0
    codes_pushed: int = 0
    duplicates: int = 0
    latency_p50: float = 0.0
    latency_p99: float = 0.0
    latency_max: float = 0.0
    checks_per_second_during_codes: float = 0.0
    # client -> ((requests/s, CPU us per request) before the watcher ran, (...) after)
    ceilings: dict[str, tuple[tuple[float, float], tuple[float, float]]] = field(
        default_factory=dict
    )

    def ceiling(self, client: str) -> float:
        """Requests/s of a bare loop: the mean of the runs before and after the watcher's."""
        runs = self.ceilings.get(client)
        return (runs[0][0] + runs[1][0]) / 2 if runs else 0.0

    def ceiling_cpu_us(self, client: str) -> float:
        runs = self.ceilings.get(client)
        return (runs[0][1] + runs[1][1]) / 2 if runs else 0.0

    @property
    def worker_cpu_us(self) -> float:
        """Watcher CPU per status check (all workers), in microseconds."""
        cpu = sum(v for k, v in self.cpu_per_second.items() if k.startswith("worker"))
        return cpu / self.checks_per_second * 1e6 if self.checks_per_second else 0.0

    @property
    def latency_bound(self) -> float:
        """The target: N / (checks/s achieved with all N pending) + 0.5 s."""
        rate = self.checks_per_second
        return self.n / rate + 0.5 if rate else 0.0

    @property
    def latency_bound_meanwhile(self) -> float:
        """The same with the checks/s achieved while the codes arrived (pushes cost CPU)."""
        rate = self.checks_per_second_during_codes
        return self.n / rate + 0.5 if rate else 0.0


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.key = Fernet.generate_key().decode()
        self.cipher = TokenCipher(self.key)
        self.sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.v2_url = self.sandbox_url + "/control/"
        self.redis_server = RedisServer()
        self.pushes = Pushes()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    # infrastructure

    async def __aenter__(self) -> Bench:
        await asyncio.to_thread(self.redis_server.start)
        self.redis: Redis = Redis.from_url(self.redis_server.url, decode_responses=True)
        self.processes["sandbox"] = spawn(
            python(
                "-m",
                "bot.sandbox",
                "--port",
                str(self.sandbox_port),
                "--account",
                f"{TOKEN}=100000000",
                "--lifetime",
                "36000",
            ),
            self.workdir / "sandbox.log",
        )
        self.http = aiohttp.ClientSession()
        await self._wait_for_sandbox()
        self.bot_api = web.AppRunner(fake_bot_api(self.pushes), access_log=None)
        await self.bot_api.setup()
        self.bot_api_port = free_port()
        await web.TCPSite(self.bot_api, "127.0.0.1", self.bot_api_port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for process in self.processes.values():
            stop(process)
        await self.bot_api.cleanup()
        await self.http.close()
        await self.redis.aclose()
        await asyncio.to_thread(self.redis_server.stop)

    async def _wait_for_sandbox(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                async with self.http.get(self.sandbox_url + "/sandbox/config") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start; see sandbox.log")
            await asyncio.sleep(0.1)

    def pids(self) -> dict[str, int]:
        pids = {name: process.pid for name, process in self.processes.items()}
        assert self.redis_server.process is not None
        pids["redis"] = self.redis_server.process.pid
        pids["controller"] = os.getpid()
        return pids

    # one N

    async def run(self, n: int, processes: int) -> Result:
        args = self.args
        result = Result(n=n, processes=processes, concurrency=args.concurrency)
        self.pushes.codes.clear()
        self.pushes.duplicates = 0
        await self.redis.flushdb()
        async with self.http.post(self.sandbox_url + "/sandbox/reset") as response:
            response.raise_for_status()

        await self.redis.connection_pool.disconnect()
        used_before = int((await self.redis.info("memory"))["used_memory"])
        started = time.monotonic()
        records = await self.buy(n)
        result.buy_seconds = time.monotonic() - started
        await self.redis.connection_pool.disconnect()  # client buffers are not per activation
        used_after = int((await self.redis.info("memory"))["used_memory"])
        result.redis_bytes_per_activation = (used_after - used_before) / n
        result.redis_key_bytes = await self.key_bytes(records)

        ids_file = self.workdir / f"ids-{n}.txt"
        ids_file.write_text(
            "\n".join(
                f"{record.id} {key_of(index, args.numbers_per_key)}"
                for index, record in enumerate(records)
            )
        )
        before = await self.ceilings(ids_file)

        # Purchases come one by one, so checks are spread over the interval: spread the
        # first checks (the numbers were bought faster than users would buy them).
        start = time.time() + 2.0  # after the workers have started
        await self.redis.zadd(
            keys.WATCH_DUE,
            {r.key: start + random.uniform(0, args.poll_interval) for r in records},
            xx=True,
        )
        workers = [self.start_worker(i) for i in range(processes)]
        await self.wait_for_workers(workers)
        await asyncio.sleep(max(0.0, start - time.time()) + args.poll_interval * 2)

        first = await self.snapshot(workers)
        await asyncio.sleep(max(1, round(args.measure / args.poll_interval)) * args.poll_interval)
        second = await self.snapshot(workers)
        elapsed = second.at - first.at
        result.checks_per_second = (second.polls - first.polls) / elapsed
        result.requests_per_second = (second.requests - first.requests) / elapsed
        result.gc_per_second = (second.gc_seconds - first.gc_seconds) / elapsed
        result.requests_per_activation_per_interval = (
            result.requests_per_second * args.poll_interval / n
        )
        result.cpu_per_second = {
            name: (second.cpu[name] - first.cpu[name]) / elapsed for name in second.cpu
        }
        result.rss_mb = {name: rss / 2**20 for name, rss in second.rss.items()}

        # Codes arrive on a random share of the numbers, at random times.
        share = records if n <= 200 else random.sample(records, max(100, n // 10))
        window = args.window if args.window is not None else max(30.0, n / 100)
        arrivals = await self.send_codes(share, window) if window > 0 else {}
        result.codes_sent = len(arrivals)
        with suppress(TimeoutError):
            async with asyncio.timeout(60 + n / 100):
                await self.pushes.all_in(len(arrivals))
        third = await self.snapshot(workers)
        result.checks_per_second_during_codes = (third.polls - second.polls) / (
            third.at - second.at
        )
        await asyncio.sleep(args.poll_interval * 2)  # a duplicate would show up by now
        latencies = [
            self.pushes.codes[key][0] - arrived
            for key, arrived in arrivals.items()
            if key in self.pushes.codes
        ]
        result.codes_pushed = len(latencies)
        result.duplicates = self.pushes.duplicates
        if latencies:
            latencies.sort()
            result.latency_p50 = statistics.median(latencies)
            result.latency_p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            result.latency_max = latencies[-1]

        for index, worker in enumerate(workers):
            stop(worker)
            del self.processes[f"worker-{index}"]
        # Gaps between polls of the same activation, whichever process sent them.
        polls: dict[str, list[float]] = {}
        for entry in await self.redis.lrange(POLL_SAMPLES, 0, -1):
            activation_id, at = str(entry).split()
            polls.setdefault(activation_id, []).append(float(at))
        gaps = [b - a for times in polls.values() for a, b in pairwise(sorted(times))]
        result.min_gap = min(gaps, default=0.0)
        result.mean_gap = statistics.mean(gaps) if gaps else 0.0
        result.early_polls = sum(1 for gap in gaps if gap < args.poll_interval * 0.95)
        result.sampled_polls = len(gaps)

        after = await self.ceilings(ids_file)
        result.ceilings = {name: (before[name], after[name]) for name in before}
        return result

    async def key_bytes(self, records: Sequence[ActivationRecord]) -> dict[str, float]:
        """MEMORY USAGE per activation: its record, its share of the schedule and histories."""
        n = len(records)
        sample = random.sample(list(records), min(n, 200))
        record = sum(
            [int(await self.redis.memory_usage(keys.activation(r.key)) or 0) for r in sample]
        ) / len(sample)
        users = {r.user_id for r in records}
        history = (
            sum(
                [
                    int(await self.redis.memory_usage(keys.user_activations(u), samples=0) or 0)
                    for u in users
                ]
            )
            / n
        )
        schedule = int(await self.redis.memory_usage(keys.WATCH_DUE, samples=0) or 0) / n
        return {"record": record, "schedule": schedule, "user history": history}

    async def buy(self, n: int) -> list[ActivationRecord]:
        """Buy at the sandbox and record like PurchaseService (first checks spread out)."""
        http = create_http_client()
        provider = V2Provider(http, self.v2_url, budget=ProviderBudget.unlimited().interactive)
        store = ActivationStore(self.redis)
        per_key = self.args.numbers_per_key
        keys_used = sorted({key_of(index, per_key) for index in range(n)} - {TOKEN})
        for key in keys_used:  # the sandbox's reset forgets accounts added after it started
            async with self.http.post(
                self.sandbox_url + "/sandbox/accounts", json={"token": key, "balance": "1000000"}
            ) as response:
                response.raise_for_status()
        encrypted = {key: self.cipher.encrypt(key) for key in {*keys_used, TOKEN}}
        slots = asyncio.Semaphore(50)
        interval = self.args.poll_interval

        async def one(index: int) -> ActivationRecord:
            key = key_of(index, per_key)
            async with slots:
                activation = await provider.buy_number(
                    key, service_id="1", country_id="0", max_price=None
                )
                now = time.time()
                record = ActivationRecord(
                    provider=provider.name,
                    id=activation.id,
                    user_id=100_000 + index,
                    chat_id=100_000 + index,
                    message_id=index + 1,
                    number=activation.number,
                    service_id="1",
                    service_name="Telegram",
                    country_id=activation.country_id or "0",
                    country_name="Somewhere",
                    country_iso="ru",
                    price=Decimal("10.50"),
                    token=encrypted[key],
                    created_at=now,
                    expires_at=now + 36000,
                )
                await store.create(record, first_check_at=now + random.uniform(0, interval))
                return record

        try:
            return list(await asyncio.gather(*(one(i) for i in range(n))))
        finally:
            await http.aclose()

    def start_worker(self, index: int) -> subprocess.Popen[bytes]:
        args = self.args
        command = python(
            "-m",
            "bench.watcher",
            "--role",
            "worker",
            "--redis-url",
            self.redis_server.url,
            "--provider-url",
            self.v2_url,
            "--bot-api-url",
            f"http://127.0.0.1:{self.bot_api_port}",
            f"--key={self.key}",  # a Fernet key may start with "-"
            "--poll-interval",
            str(args.poll_interval),
            "--concurrency",
            str(args.concurrency),
            "--max-rps",
            str(args.max_rps),
            "--token-rps",
            str(args.token_rps),
        )
        if args.profile:
            command += ["--profile", str(self.workdir / f"worker-{index}.prof")]
        if args.no_gc_freeze:
            command.append("--no-gc-freeze")
        process = spawn(command, self.workdir / f"worker-{index}.log")
        self.processes[f"worker-{index}"] = process
        return process

    async def wait_for_workers(self, workers: Sequence[subprocess.Popen[bytes]]) -> None:
        deadline = time.monotonic() + 30
        for worker in workers:
            while not await self.redis.exists(STATS_KEY.format(pid=worker.pid)):
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "a worker did not start; see its log in " + str(self.workdir)
                    )
                await asyncio.sleep(0.1)

    async def snapshot(self, workers: Sequence[subprocess.Popen[bytes]]) -> Snapshot:
        polls = requests = pushes = 0
        gc_seconds = 0.0
        for worker in workers:
            stats = await self.redis.hgetall(STATS_KEY.format(pid=worker.pid))
            polls += int(stats["polls"])
            requests += int(stats["requests"])
            pushes += int(stats["pushes"])
            gc_seconds += float(stats["gc_seconds"])
        pids = self.pids()
        return Snapshot(
            at=time.time(),
            polls=polls,
            requests=requests,
            pushes=pushes,
            gc_seconds=gc_seconds,
            cpu={name: cpu_seconds(pid) for name, pid in pids.items()},
            rss={name: rss_bytes(pid) for name, pid in pids.items()},
        )

    async def send_codes(
        self, records: Sequence[ActivationRecord], window: float
    ) -> dict[str, float]:
        """An SMS on each of `records` at a random time within `window` s: key -> arrived_at."""
        arrivals: dict[str, float] = {}
        start = time.monotonic()

        async def one(record: ActivationRecord) -> None:
            await asyncio.sleep(start + random.uniform(0, window) - time.monotonic())
            url = f"{self.sandbox_url}/sandbox/activations/{record.id}/sms"
            async with self.http.post(url, json={"code": record.id[-6:]}) as response:
                body = await response.json()
            arrivals[record.key] = float(body["sms"][-1]["arrived_at"])

        await asyncio.gather(*(one(record) for record in records))
        return arrivals

    async def ceilings(self, ids_file: Path) -> dict[str, tuple[float, float]]:
        """Both bare loops: client -> (requests/s, client CPU us per request)."""
        if self.args.skip_ceilings:
            return {}
        return {client: await self.ceiling(client, ids_file) for client in ("httpx", "aiohttp")}

    async def ceiling(self, client: str, ids_file: Path) -> tuple[float, float]:
        """(requests/s, client CPU microseconds per request) of a bare loop."""
        command = python(
            "-m",
            "bench.watcher",
            "--role",
            "ceiling",
            "--client",
            client,
            "--provider-url",
            self.v2_url,
            "--ids",
            str(ids_file),
            "--concurrency",
            str(self.args.concurrency),
            "--duration",
            str(self.args.ceiling_seconds),
        )
        completed = await asyncio.to_thread(
            subprocess.run, command, cwd=ROOT, capture_output=True, check=True, text=True
        )
        figures = json.loads(completed.stdout.strip().splitlines()[-1])
        return float(figures["rps"]), float(figures["cpu"]) / figures["requests"] * 1e6


def report(result: Result, interval: float) -> str:
    r = result
    cpu = ", ".join(f"{name} {value:.2f}" for name, value in sorted(r.cpu_per_second.items()))
    rss = ", ".join(f"{name} {value:.0f}" for name, value in sorted(r.rss_mb.items()))
    parts = ", ".join(f"{name} {value:.0f}" for name, value in r.redis_key_bytes.items())
    h = max(1.0, r.ceiling("httpx"))
    a = max(1.0, r.ceiling("aiohttp"))

    def ceiling(client: str) -> str:
        runs = r.ceilings.get(client)
        if not runs:
            return "not measured"
        (before, _), (after, _) = runs
        drift = abs(after - before) / max(1.0, min(after, before))
        noisy = "  NOISY MACHINE" if drift > 0.15 else ""
        return f"{r.ceiling(client):.0f}/s (before {before:.0f}, after {after:.0f}){noisy}"

    demand = r.n / interval
    demand_bound = (
        f"  (demand-bound: N / interval = {demand:.0f}/s is all there is to check)"
        if r.checks_per_second >= 0.97 * demand
        else ""
    )
    per_cpu = ""
    if r.worker_cpu_us and r.ceiling_cpu_us("httpx") and r.ceiling_cpu_us("aiohttp"):
        per_cpu = (
            f"; per CPU second the watcher does {r.ceiling_cpu_us('httpx') / r.worker_cpu_us:.2f}"
            f" of httpx's requests, {r.ceiling_cpu_us('aiohttp') / r.worker_cpu_us:.2f} of"
            " aiohttp's"
        )
    lines = [
        f"N={r.n}  processes={r.processes}  concurrency={r.concurrency}  "
        f"(bought and recorded in {r.buy_seconds:.1f} s)",
        f"  status checks/s ............ {r.checks_per_second:8.0f}   "
        f"(every pending one every {r.n / r.checks_per_second:.2f} s; "
        f"{r.checks_per_second_during_codes:.0f}/s while codes arrived)",
        f"  requests/activation/interval {r.requests_per_activation_per_interval:8.3f}   "
        f"(gap between polls of one activation, any process: mean {r.mean_gap:.2f} s, "
        f"shortest {r.min_gap:.2f} s; {r.early_polls} of {r.sampled_polls} sooner than "
        f"0.95 interval)",
        f"  latency SMS -> push ........ p50 {r.latency_p50:.2f} s  p99 {r.latency_p99:.2f} s  "
        f"max {r.latency_max:.2f} s  ({r.codes_pushed}/{r.codes_sent} codes, "
        f"{r.duplicates} duplicates)",
        f"  latency bound .............. N/(checks/s) + 0.5 = {r.latency_bound:.2f} s; with the "
        f"checks/s while codes arrived {r.latency_bound_meanwhile:.2f} s",
        f"  ceilings, same concurrency . provider's httpx client {ceiling('httpx')}; "
        f"bare aiohttp {ceiling('aiohttp')}",
        f"  watcher / ceiling .......... {r.checks_per_second / h:.2f} of httpx, "
        f"{r.checks_per_second / a:.2f} of bare aiohttp{demand_bound}",
        f"  CPU per request/check ...... watcher {r.worker_cpu_us:.0f} us, bare httpx "
        f"{r.ceiling_cpu_us('httpx'):.0f} us, bare aiohttp {r.ceiling_cpu_us('aiohttp'):.0f} us"
        f"{per_cpu}",
        f"  CPU s per s ................ {cpu}; of which the workers' garbage collector "
        f"{r.gc_per_second:.2f}",
        f"  RSS MB ..................... {rss}",
        f"  Redis per pending activation {r.redis_bytes_per_activation:8.0f} B   "
        f"(used_memory delta; by key: {parts} B)",
    ]
    return "\n".join(lines)


async def run_controller(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-watcher-"))
    print(
        f"POLL_INTERVAL={args.poll_interval}  SMSMAN_MAX_RPS={args.max_rps:.0f} and "
        f"SMSMAN_TOKEN_RPS={args.token_rps:g} per process  numbers per key="
        f"{args.numbers_per_key or 'all on one'}  concurrency={args.concurrency}  "
        f"cores={os.cpu_count()}  logs: {workdir}",
        flush=True,
    )
    results: list[Result] = []
    async with Bench(args, workdir) as bench:
        for n in args.n:
            for processes in args.processes:
                result = await bench.run(n, processes)
                results.append(result)
                print(report(result, args.poll_interval), flush=True)
    if args.json:
        text = json.dumps([asdict(r) for r in results], indent=2)
        await asyncio.to_thread(Path(args.json).write_text, text)
    by_n: dict[int, dict[int, Result]] = {}
    for result in results:
        by_n.setdefault(result.n, {})[result.processes] = result
    for n, runs in by_n.items():
        if 1 in runs and 2 in runs:
            ratio = runs[2].checks_per_second / runs[1].checks_per_second
            print(f"N={n}: two processes reach {ratio:.2f}x the checks/s of one", flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.watcher", description=__doc__)
    parser.add_argument("--role", choices=("controller", "worker", "ceiling"), default="controller")
    parser.add_argument("--n", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--processes", type=int, nargs="+", default=[1], choices=(1, 2))
    parser.add_argument("--poll-interval", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--max-rps", type=float, default=100_000, help="SMSMAN_MAX_RPS of each worker"
    )
    parser.add_argument(
        "--token-rps", type=float, default=100_000, help="SMSMAN_TOKEN_RPS of each worker"
    )
    parser.add_argument(
        "--numbers-per-key",
        type=int,
        default=0,
        help="numbers bought with one SMS-man key (0: all with one key, the default)",
    )
    parser.add_argument("--measure", type=float, default=20.0, help="seconds of throughput")
    parser.add_argument(
        "--window",
        type=float,
        default=None,
        help="seconds the codes arrive over (default: max(30, N/100); 0 skips the codes)",
    )
    parser.add_argument("--ceiling-seconds", type=float, default=10.0)
    parser.add_argument("--skip-ceilings", action="store_true", help="(quick A/B runs)")
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="workers skip the runner's gc.freeze() after start-up (to see what it saves)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--profile", help="(worker) cProfile output; (controller) any value")
    # worker and ceiling
    parser.add_argument("--redis-url")
    parser.add_argument("--provider-url")
    parser.add_argument("--bot-api-url")
    parser.add_argument("--key")
    parser.add_argument("--client", choices=("httpx", "aiohttp"), default="httpx")
    parser.add_argument("--ids")
    parser.add_argument("--duration", type=float, default=10.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    if args.role == "worker":
        logging.getLogger("bot.watcher").setLevel(logging.INFO)
        asyncio.run(run_worker(args))
    elif args.role == "ceiling":
        lines = Path(args.ids).read_text().splitlines()
        asyncio.run(run_ceiling(args, [(line.split()[0], line.split()[1]) for line in lines]))
    else:
        asyncio.run(run_controller(args))


if __name__ == "__main__":
    main()
