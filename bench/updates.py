"""Benchmark of the conversation: updates through the real Dispatcher against bare aiogram.

    python -m bench.updates [--users 10000] [--updates 4000] [--mix-users 1000] [--concurrency 64]

One process, one event loop, as a bot process serving updates is: the real Dispatcher
(`create_dispatcher(build_app(settings, redis))`) with its middlewares, i18n, FSM in Redis
(a real redis-server from `RedisServer`) and keyboards; the SMS-man sandbox served in the same
loop (`bot.sandbox.SandboxServer`, every user's token an account there); the Bot API answered
in-process by `CountingSession`, which serialises each call as aiogram's aiohttp session does
and parses a valid Telegram answer with aiogram's own `check_response`, so nothing but the
network is left out.

1. Population: `--users` users, each with a token (stored as `/token` stores it) and an FSM
   state (each sends /start and taps 🛒 Buy a number, which keeps the state `choosing_service`
   and its search text). Redis `used_memory` and the process RSS before and after, per user.
2. Throughput, bot against a BARE aiogram Dispatcher answering the same updates with messages of
   the same shape (the same text and inline keyboard the bot sent; for a tap, the same edit and
   an answer): /start, /help and a menu tap (‹ Menu), `--updates` updates for distinct users fed
   with `dispatcher.feed_update`, `--concurrency` at a time; two rounds each, interleaved.
3. A realistic mix for `--mix-users` users, each a conversation in order (their updates one
   after another, `--concurrency` users at once): /start, 🛒 Buy, page 2, typing "te" to filter
   the services, a service, a country (the confirmation card: a fresh quote from the sandbox),
   /numbers.

Every figure comes with the Bot API calls and the Redis round trips (a counting connection:
one per command or pipeline written) and commands (INFO commandstats) per update. Latency is
from `feed_update` being called to its return (every Bot API call of the update done), at the
concurrency of the run, so it includes waiting for the event loop. The tap throttle's clock
moves one second per tap (a person's pace: nobody is throttled), its Redis round trip stays.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import itertools
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.filters import Command, CommandStart
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Chat, InlineKeyboardMarkup, Message, Update, User
from cryptography.fernet import Fernet
from pydantic import SecretStr
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import Connection

from bot.app import App, build_app, close_app, create_dispatcher
from bot.config import Protocol, Settings
from bot.runtime.redis_server import RedisServer
from bot.runtime.runner import freeze_startup_heap
from bot.sandbox import SandboxServer, SandboxState
from bot.store.client import PipeliningRedis
from bot.store.crypto import TokenCipher
from bot.telegram.responses import KeepResponseTypes
from handlers.middlewares import CallbackThrottle
from handlers.states import BuyForm
from keyboards.callbacks import MenuAction, MenuCallback, ServicePage

BOT_ID = 4242
BOT_TOKEN = f"{BOT_ID}:bench-bench-bench-bench-bench-bench"
FIRST_USER = 10_000_000
BOT_USER = User(id=BOT_ID, is_bot=True, first_name="SMS bot")


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def token_of(user_id: int) -> str:
    return f"bench{user_id:023d}"  # 28 characters, like an SMS-man API key


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


# --- Redis, counted ------------------------------------------------------------------------


class CountingConnection(Connection):
    """One round trip per write of a command or a whole pipeline."""

    round_trips = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.round_trips += 1
        await super().send_packed_command(command, check_health)


def counting_redis(url: str, max_connections: int = 64) -> Redis:
    """As `bot.app.create_redis` builds the updates' client, over counting connections."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=20.0,
        decode_responses=True,
        health_check_interval=30,
        connection_class=CountingConnection,
    )
    return PipeliningRedis.from_pool(pool)


async def redis_commands(redis: Redis) -> int:
    """Commands Redis has run so far (INFO commandstats), not counting this INFO."""
    stats = await redis.info("commandstats")
    return sum(int(value["calls"]) for value in stats.values()) - 1


async def used_memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


# --- the Bot API, in-process ---------------------------------------------------------------


class CountingSession(BaseSession):
    """Answers sendMessage, editMessageText, answerCallbackQuery, deleteMessage (and anything
    else with True) as Telegram does; counts calls. The parameters are prepared as aiogram's
    aiohttp session prepares its form, and the answer goes through `check_response`."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.watched: dict[int, dict[str, Any]] = {}  # chat -> the last message sent or edited
        self._message_ids = itertools.count(1)

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - the interface's signature
    ) -> TelegramType:
        name = method.__api_method__
        self.calls[name] += 1
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files={})
            if prepared:
                params[key] = prepared
        result: Any = True
        if name in ("sendMessage", "editMessageText"):
            chat_id = int(params["chat_id"])
            message_id = (
                int(params["message_id"]) if "message_id" in params else next(self._message_ids)
            )
            result = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "User"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "SMS bot"},
                "text": params.get("text", ""),
            }
            if "reply_markup" in params:
                result["reply_markup"] = json.loads(params["reply_markup"])
            if chat_id in self.watched:
                self.watched[chat_id] = result
        elif name == "getMe":
            result = {"id": BOT_ID, "is_bot": True, "first_name": "SMS bot", "username": "sms_bot"}
        response = self.check_response(bot, method, 200, json.dumps({"ok": True, "result": result}))
        return cast(TelegramType, response.result)

    async def close(self) -> None:
        pass

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - the interface's signature
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:  # pragma: no cover - nothing is downloaded
        yield b""


# --- updates -------------------------------------------------------------------------------


class Updates:
    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def user(self, user_id: int) -> User:
        return User(id=user_id, is_bot=False, first_name="Alice", language_code="en")

    def text(self, user_id: int, text: str) -> Update:
        message = Message(
            message_id=next(self._ids),
            date=datetime.now(UTC),
            chat=Chat(id=user_id, type="private", first_name="Alice"),
            from_user=self.user(user_id),
            text=text,
        )
        return Update(update_id=next(self._ids), message=message)

    def tap(
        self, user_id: int, data: str, message_id: int = 1, shown: dict[str, Any] | None = None
    ) -> Update:
        shown = shown or {}
        markup = shown.get("reply_markup")
        query = CallbackQuery(
            id=str(next(self._ids)),
            from_user=self.user(user_id),
            chat_instance=f"chat-{user_id}",
            message=Message(
                message_id=message_id,
                date=datetime.now(UTC),
                chat=Chat(id=user_id, type="private"),
                from_user=BOT_USER,
                text=str(shown.get("text") or "What would you like to do?"),
                reply_markup=InlineKeyboardMarkup.model_validate(markup) if markup else None,
            ),
            data=data,
        )
        return Update(update_id=next(self._ids), callback_query=query)


MENU = MenuCallback(action=MenuAction.MAIN).pack()
BUY = MenuCallback(action=MenuAction.BUY).pack()


def bare_dispatcher(replies: dict[str, tuple[str, InlineKeyboardMarkup | None]]) -> Dispatcher:
    """Plain aiogram answering with the bot's own texts and keyboards (same shape)."""
    dispatcher = Dispatcher()

    async def start(message: Message) -> None:
        text, markup = replies["/start"]
        await message.answer(text, reply_markup=markup)

    async def help_command(message: Message) -> None:
        text, markup = replies["/help"]
        await message.answer(text, reply_markup=markup)

    async def menu(callback: CallbackQuery) -> None:
        text, markup = replies["tap"]
        await callback.answer()
        assert isinstance(callback.message, Message)
        await callback.message.edit_text(text, reply_markup=markup)

    dispatcher.message.register(start, CommandStart())
    dispatcher.message.register(help_command, Command("help"))
    dispatcher.callback_query.register(menu, F.data == MENU)
    return dispatcher


# --- runs ----------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    updates: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    api_calls: int = 0
    taps: int = 0
    round_trips: int = 0
    commands: int = 0

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        n = max(1, self.updates)
        p50, p99 = percentile(self.latencies, 0.5), percentile(self.latencies, 0.99)
        return (
            f"{self.name:<24} {self.updates:>6} updates {self.rate:>7,.0f}/s "
            f"CPU {1e6 * self.cpu / n:>5,.0f} us/update  p50 {1e3 * p50:6.1f} ms "
            f"p99 {1e3 * p99:6.1f} ms  Bot API {self.api_calls / n:.2f}/update  "
            f"Redis {self.round_trips / n:.2f} round trips, {self.commands / n:.2f} commands/update"
        )


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.session = CountingSession()
        self.bot = Bot(
            BOT_TOKEN,
            session=self.session,
            default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
        )
        self.keep_response_types = KeepResponseTypes()
        self.updates = Updates()
        self.redis: Redis
        self.app: App
        self.dispatcher: Dispatcher

    async def measure(
        self,
        name: str,
        dispatcher: Dispatcher,
        jobs: Sequence[Update | Callable[[], Awaitable[int]]],
        concurrency: int,
        *,
        shipped: bool = True,
    ) -> Run:
        """Feed updates (or run conversations: a job returns its number of updates)
        `concurrency` at a time. `shipped`: the Bot API session has the request middlewares
        the bot's own session has (`bot.app.create_bot`); bare aiogram runs without them."""
        if shipped:
            self.session.middleware.register(self.keep_response_types)
        try:
            return await self._measure(name, dispatcher, jobs, concurrency)
        finally:
            if shipped:
                self.session.middleware.unregister(self.keep_response_types)

    async def _measure(
        self,
        name: str,
        dispatcher: Dispatcher,
        jobs: Sequence[Update | Callable[[], Awaitable[int]]],
        concurrency: int,
    ) -> Run:
        run = Run(name)
        pending = iter(jobs)
        taps_before = self.session.calls["answerCallbackQuery"]
        calls_before = sum(self.session.calls.values())
        trips_before = CountingConnection.round_trips
        commands_before = await redis_commands(self.redis)

        async def feed(update: Update) -> None:
            started = time.perf_counter()
            await dispatcher.feed_update(self.bot, update)
            run.latencies.append(time.perf_counter() - started)

        async def worker() -> None:
            for job in pending:
                if isinstance(job, Update):
                    await feed(job)
                    run.updates += 1
                else:
                    done = await job()
                    run.updates += done

        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.seconds = time.perf_counter() - started
        run.cpu = time.process_time() - cpu
        run.api_calls = sum(self.session.calls.values()) - calls_before
        run.taps = self.session.calls["answerCallbackQuery"] - taps_before
        run.round_trips = CountingConnection.round_trips - trips_before
        run.commands = await redis_commands(self.redis) - commands_before - 1  # our INFO
        print(run.line(), flush=True)
        return run

    # the conversation of one user, in order

    async def conversation(
        self,
        user_id: int,
        latencies: dict[str, list[float]],
        costs: dict[str, tuple[int, int]] | None = None,
    ) -> int:
        """One user's conversation; with `costs`, each step's Redis round trips and Bot API
        calls (meaningful only when nothing else runs meanwhile)."""
        session, updates = self.session, self.updates
        session.watched[user_id] = {}

        async def feed(kind: str, update: Update) -> dict[str, Any]:
            trips, calls = CountingConnection.round_trips, sum(session.calls.values())
            started = time.perf_counter()
            await self.dispatcher.feed_update(self.bot, update)
            latencies.setdefault(kind, []).append(time.perf_counter() - started)
            if costs is not None:
                costs[kind] = (
                    CountingConnection.round_trips - trips,
                    sum(session.calls.values()) - calls,
                )
            return session.watched[user_id]

        def button(shown: dict[str, Any], prefix: str) -> str:
            for row in shown.get("reply_markup", {}).get("inline_keyboard", []):
                for key in row:
                    if str(key.get("callback_data", "")).startswith(prefix):
                        return str(key["callback_data"])
            raise RuntimeError(f"no {prefix!r} button in {shown!r}")

        try:
            shown = await feed("/start", updates.text(user_id, "/start"))
            shown = await feed("tap: 🛒 Buy", updates.tap(user_id, BUY, shown["message_id"], shown))
            page = ServicePage(page=1).pack()
            shown = await feed(
                "tap: page 2", updates.tap(user_id, page, shown["message_id"], shown)
            )
            shown = await feed("typing “te”", updates.text(user_id, "te"))
            service = button(shown, "sv:")
            shown = await feed(
                "tap: a service", updates.tap(user_id, service, shown["message_id"], shown)
            )
            country = button(shown, "ct:")
            shown = await feed(
                "tap: a country (quote)", updates.tap(user_id, country, shown["message_id"], shown)
            )
            if "buy:" not in json.dumps(shown.get("reply_markup")):
                raise RuntimeError(f"no confirmation: {shown!r}")
            await feed("/numbers", updates.text(user_id, "/numbers"))
        finally:
            del session.watched[user_id]
        return 7

    async def run(self) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-updates-") as tmp, RedisServer() as server:
            state = SandboxState()
            async with SandboxServer(state) as sandbox:
                self.redis = counting_redis(server.url)
                settings = Settings(
                    _env_file=None,
                    bot_token=SecretStr(BOT_TOKEN),
                    smsman_protocol=Protocol.V2,
                    smsman_api_url=sandbox.v2_url,
                    smsman_max_rps=100_000,  # the limiter is not what is measured
                    data_dir=Path(tmp),
                    default_language="en",
                    admin_ids=frozenset(),
                )
                self.app = build_app(
                    settings, self.redis, cipher=TokenCipher(Fernet.generate_key())
                )
                try:
                    await self.bench(state)
                finally:
                    await close_app(self.app)
                    await self.redis.aclose()

    async def bench(self, state: SandboxState) -> None:
        args = self.args
        self.dispatcher = create_dispatcher(self.app)
        clock = itertools.count(time.time())  # a second per tap: a person's pace
        for middleware in self.dispatcher.callback_query.middleware:
            if isinstance(middleware, CallbackThrottle):
                middleware.clock = lambda: float(next(clock))
        users = range(FIRST_USER, FIRST_USER + args.users)
        for user_id in (FIRST_USER - 1, *users):
            state.add_account(token_of(user_id), Decimal(1000))

        # warm up: one user through everything (catalog cache, imports, pydantic schemas)
        await self.app.users.set_token(FIRST_USER - 1, token_of(FIRST_USER - 1))
        await self.conversation(FIRST_USER - 1, {})
        freeze_startup_heap()  # as `python -m bot` does once it has started
        await asyncio.sleep(2.5)  # the warm-up's tap counters expire
        memory_before, rss_before = await used_memory(self.redis), rss_bytes()
        keys_before = await self.redis.dbsize()

        print(f"== population: {args.users:,} users, a token and an FSM state each", flush=True)
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(args.concurrency)

        storage = self.dispatcher.storage

        async def populate(user_id: int) -> None:
            """What /start, /token and 🛒 Buy leave in Redis (the bench drives those
            updates through the dispatcher below; here they are written directly, fast)."""
            async with semaphore:
                await self.app.users.visit(user_id, private=True)  # as their first update
                await self.app.users.set_token(user_id, token_of(user_id))
                key = StorageKey(bot_id=BOT_ID, chat_id=user_id, user_id=user_id)
                await storage.set_state(key, BuyForm.choosing_service)
                await storage.set_data(key, {"service_query": ""})

        await asyncio.gather(*(populate(user_id) for user_id in users))
        print(f"users written in {time.perf_counter() - started:.1f} s", flush=True)
        gc.collect()
        memory_after, rss_after = await used_memory(self.redis), rss_bytes()
        keys_after = await self.redis.dbsize()
        sample = FIRST_USER
        sample_keys = await self.redis.keys(f"*:{sample}*")
        per_key = {k: await self.redis.memory_usage(k) for k in sample_keys}
        print(
            f"Redis used_memory +{memory_after - memory_before:,} B = "
            f"{(memory_after - memory_before) / args.users:,.0f} B/user "
            f"({(keys_after - keys_before) / args.users:.1f} keys/user; one user's keys, "
            f"MEMORY USAGE: {per_key})"
        )
        print(
            f"process RSS {rss_before / 2**20:.0f} MB -> {rss_after / 2**20:.0f} MB: "
            f"{(rss_after - rss_before) / args.users:,.0f} B/user (bot, sandbox and bench in "
            "one process)",
            flush=True,
        )

        # the same replies from a bare dispatcher
        user_ids = list(users)[: args.updates]
        probe = FIRST_USER
        self.session.watched[probe] = {}
        replies: dict[str, tuple[str, InlineKeyboardMarkup | None]] = {}
        for kind, update in (
            ("/start", self.updates.text(probe, "/start")),
            ("/help", self.updates.text(probe, "/help")),
            ("tap", self.updates.tap(probe, MENU)),
        ):
            await self.dispatcher.feed_update(self.bot, update)
            shown = self.session.watched[probe]
            markup = shown.get("reply_markup")
            replies[kind] = (
                str(shown["text"]),
                InlineKeyboardMarkup.model_validate(markup) if markup else None,
            )
        del self.session.watched[probe]
        bare = bare_dispatcher(replies)

        print(
            f"== throughput: {len(user_ids):,} distinct users per run, "
            f"{args.concurrency} updates at a time",
            flush=True,
        )
        results: dict[str, dict[str, list[Run]]] = {}
        kinds: dict[str, Callable[[int], Update]] = {
            "/start": lambda u: self.updates.text(u, "/start"),
            "/help": lambda u: self.updates.text(u, "/help"),
            "tap ‹ Menu": lambda u: self.updates.tap(u, MENU),
        }
        for round_ in range(args.rounds):
            for kind, make in kinds.items():
                for who, dispatcher in (("bare", bare), ("bot", self.dispatcher)):
                    updates = [make(u) for u in user_ids]
                    run = await self.measure(
                        f"{kind}, {who} #{round_ + 1}",
                        dispatcher,
                        updates,
                        args.concurrency,
                        shipped=who == "bot",
                    )
                    results.setdefault(kind, {}).setdefault(who, []).append(run)
        tap_alone = await self.measure(
            "tap ‹ Menu, bot, 1 at a time",
            self.dispatcher,
            [self.updates.tap(u, MENU) for u in user_ids[:500]],
            1,
        )

        print(f"== mix: {args.mix_users:,} conversations, {args.concurrency} at a time", flush=True)
        latencies: dict[str, list[float]] = {}
        mix_users = list(users)[: args.mix_users]
        mix = await self.measure(
            "mix (7 updates/user)",
            self.dispatcher,
            [functools.partial(self.conversation, u, latencies) for u in mix_users],
            args.concurrency,
        )
        for kind, values in latencies.items():
            print(
                f"  {kind:<24} p50 {1e3 * percentile(values, 0.5):6.1f} ms  "
                f"p99 {1e3 * percentile(values, 0.99):6.1f} ms"
            )
        mix_taps = [v for k, vs in latencies.items() if k.startswith("tap") for v in vs]
        costs: dict[str, tuple[int, int]] = {}
        await self.conversation(users[min(args.mix_users, len(users) - 1)], {}, costs)
        print(
            "  one conversation alone, Redis round trips / Bot API calls per step: "
            + ", ".join(f"{kind} {trips}/{calls}" for kind, (trips, calls) in costs.items())
        )

        print("\n== summary")
        for kind, runs in results.items():
            bot = statistics.mean(r.rate for r in runs["bot"])
            bare_rate = statistics.mean(r.rate for r in runs["bare"])
            last = runs["bot"][-1]
            # Each round's bot run right after its bare one: the machine moved least between.
            rounds = ", ".join(
                f"{b.rate / a.rate:.2f}" for a, b in zip(runs["bare"], runs["bot"], strict=True)
            )
            cpu = sum(r.cpu for r in runs["bot"]) / sum(r.updates for r in runs["bot"])
            bare_cpu = sum(r.cpu for r in runs["bare"]) / sum(r.updates for r in runs["bare"])
            print(
                f"{kind:<11} bot {bot:>6,.0f}/s  bare {bare_rate:>6,.0f}/s  "
                f"ratio {bot / bare_rate:.2f} (rounds {rounds}); CPU/update bot "
                f"{1e6 * cpu:,.0f} us, bare {1e6 * bare_cpu:,.0f} us: ratio {bare_cpu / cpu:.2f}"
                f"  | bot: Bot API {last.api_calls / last.updates:.2f}/update, Redis "
                f"{last.round_trips / last.updates:.2f} round trips "
                f"({last.commands / last.updates:.2f} commands)/update, "
                f"p50/p99 {1e3 * percentile(last.latencies, 0.5):.1f}/"
                f"{1e3 * percentile(last.latencies, 0.99):.1f} ms"
            )
        print(
            f"tap→reply (‹ Menu): alone p50/p99 {1e3 * percentile(tap_alone.latencies, 0.5):.1f}/"
            f"{1e3 * percentile(tap_alone.latencies, 0.99):.1f} ms; "
            f"{args.concurrency} at a time in the mix, every tap: "
            f"{1e3 * percentile(mix_taps, 0.5):.1f}/{1e3 * percentile(mix_taps, 0.99):.1f} ms"
        )
        print(
            f"mix: {mix.rate:,.0f} updates/s, Bot API {mix.api_calls / mix.updates:.2f} "
            "calls/update "
            f"({mix.taps} taps answered), Redis {mix.round_trips / mix.updates:.2f}"
            f" round trips ({mix.commands / mix.updates:.2f} commands)/update"
        )
        print(
            f"memory after {args.users:,} users: Redis "
            f"{(memory_after - memory_before) / args.users:,.0f} B/user, process RSS "
            f"{rss_after / 2**20:.0f} MB ({(rss_after - rss_before) / args.users:,.0f} B/user)"
        )
        print(f"Bot API calls by method: {dict(self.session.calls)}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000, help="users with a token and state")
    parser.add_argument("--updates", type=int, default=2_000, help="updates per throughput run")
    parser.add_argument("--mix-users", type=int, default=300, help="conversations in the mix")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    args.updates = min(args.updates, args.users)
    args.mix_users = min(args.mix_users, args.users)
    print(f"bench.updates: pid {os.getpid()}, {os.cpu_count()} CPUs, {vars(args)}", flush=True)
    asyncio.run(Bench(args).run())


if __name__ == "__main__":
    main()
