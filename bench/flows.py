"""Provider calls per conversation flow, and tap -> reply latency with 40 users buying at once.

    python -m bench.flows [--users 40] [--numbers 2] [--poll-interval 1] [--max-rps 100]

The bot is `python -m bot`, a subprocess, as an operator runs it; around it, in this process:
the SMS-man sandbox (`bot.sandbox`, v2 protocol) with a middleware that counts every request
by provider method, the strict fake Bot API (`tests.fakes.telegram.FakeTelegram`, noting
when each tap is first delivered in a getUpdates answer and when the bot answers it), and the
users. Redis is a `RedisServer` of its own.

1. Flows, one user at a time: onboarding (/start + /token), the service menu (/buy), the
   country menu (tap the service), the confirmation card (tap the country) and the buy (tap
   Buy), each counted at the sandbox. "cold" is the first user after Redis was emptied (no
   catalog cache), "warm" a second user right after.
2. The 40-user run: Redis emptied, 40 users each set a token, then all buy `--numbers`
   numbers at once (each user's buys one after another). Printed: provider calls per number
   that are not status calls (get-sms, set-status), by method, and the latency from a tap's
   delivery to the bot's first answerCallbackQuery or edit for it, while the watcher polls
   the codes of every number bought so far.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.fernet import Fernet
from redis.asyncio import Redis

from bot.runtime.redis_server import RedisServer
from bot.sandbox import SandboxState, create_app
from tests.fakes.telegram import ChatMessage, FakeTelegram, FakeUser, _Params
from tests.fixtures.e2e import BotProcess, wait_for

ROOT = Path(__file__).resolve().parents[1]
STATUS_METHODS = frozenset({"get-sms", "set-status"})
STEP = 30.0  # bound of one wait for the bot; only a broken run waits that long
SERVICE, COUNTRY = "Telegram", "India"


# --- the sandbox, counted -------------------------------------------------------------------


class CountedSandbox:
    """The sandbox app with a middleware counting requests per provider method."""

    def __init__(self) -> None:
        self.state = SandboxState()
        self.counts: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = create_app(self.state)

        @web.middleware
        async def count(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            if request.path.startswith("/control/"):
                self.counts[request.path.removeprefix("/control/")] += 1
            return await handler(request)

        app.middlewares.append(count)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/control/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def snapshot(self) -> Counter[str]:
        return Counter(self.counts)


# --- the fake Bot API, timed ----------------------------------------------------------------


class TimedTelegram(FakeTelegram):
    """Notes when a tap is first delivered to the bot and when the bot first reacts to it
    (answerCallbackQuery, or an edit of the tapped message)."""

    def __init__(self) -> None:
        super().__init__(callback_query_ttl=60.0)
        self.delivered: dict[str, float] = {}  # query id -> first getUpdates answer with it
        self.answered: dict[str, float] = {}
        self.edited: dict[tuple[int, int], float] = {}  # (chat, message) -> first edit after
        self.taps: dict[str, tuple[int, int]] = {}  # query id -> (chat, message)
        self.tracking = False

    async def _get_updates(self, params: _Params) -> list[dict[str, Any]]:
        batch = await super()._get_updates(params)
        now = time.monotonic()
        for update in batch:
            query = update.get("callback_query")
            if query is not None and query["id"] not in self.delivered:
                self.delivered[query["id"]] = now
                self.taps[query["id"]] = (query["from"]["id"], query["message"]["message_id"])
                self.edited.pop(self.taps[query["id"]], None)
        return batch

    async def _execute(self, method: str, params: _Params) -> Any:
        now = time.monotonic()
        if method == "answerCallbackQuery":
            self.answered.setdefault(str(params.values.get("callback_query_id")), now)
        elif method in ("editMessageText", "editMessageReplyMarkup"):
            target = (params.values.get("chat_id"), params.values.get("message_id"))
            if isinstance(target[0], int) and isinstance(target[1], int):
                self.edited.setdefault((target[0], target[1]), now)
        return await super()._execute(method, params)

    def latencies(self, query_ids: Sequence[str]) -> list[float]:
        found = []
        for query_id in query_ids:
            delivered = self.delivered.get(query_id)
            if delivered is None:
                continue
            reactions = [self.answered.get(query_id), self.edited.get(self.taps[query_id])]
            first = min((t for t in reactions if t is not None and t >= delivered), default=None)
            if first is not None:
                found.append(first - delivered)
        return found


# --- what a user does -----------------------------------------------------------------------


class User:
    def __init__(self, fake: TimedTelegram, n: int, token: str) -> None:
        self.fake = fake
        self.user: FakeUser = fake.user(100_000 + n, f"User{n}")
        self.token = token
        self.taps: list[str] = []  # query ids of the taps that were not "slow down"
        self.pressed: dict[str, str] = {}  # query id -> the button's label, as looked for

    async def press(self, label: str, message: ChatMessage | None = None) -> None:
        """Press a button by part of its label, again if the bot says to slow down."""
        deadline = time.monotonic() + STEP
        while True:
            query_id = await self.user.press(label, contains=True, message=message)
            answer = await self.user.wait_for_answer(query_id, timeout=STEP)
            if "Slow down" not in (answer.text or ""):
                self.taps.append(query_id)
                self.pressed[query_id] = label
                return
            if time.monotonic() > deadline:
                raise AssertionError("the bot kept asking to slow down")
            await asyncio.sleep(0.35)

    async def onboard(self) -> None:
        await self.user.send("/start")
        await self.user.wait_for_message("", timeout=STEP)
        sent = await self.user.send(f"/token {self.token}")
        await self.user.wait_for_deletion(sent, timeout=STEP)
        await self.user.wait_for_message("Token saved", timeout=STEP)

    async def service_menu(self) -> ChatMessage:
        await self.user.send("/buy")
        return await self.user.wait_for_message("Choose a service", timeout=STEP)

    async def country_menu(self, menu: ChatMessage) -> ChatMessage:
        if not any(SERVICE in text for text in menu.button_texts):
            await self.user.send(SERVICE)  # not on the first page: search for it
            menu = await self.user.wait_for_message("Services matching", timeout=STEP)
        await self.press(SERVICE, menu)
        return await self.user.wait_for_message("choose a country", timeout=STEP)

    async def confirmation(self, menu: ChatMessage) -> ChatMessage:
        if not any(COUNTRY in text for text in menu.button_texts):
            await self.user.send(COUNTRY)
            menu = await self.user.wait_for_message("countries matching", timeout=STEP)
        await self.press(COUNTRY, menu)
        return await self.user.wait_for_message("Confirm the purchase", timeout=STEP)

    async def buy(self, card: ChatMessage) -> ChatMessage:
        await self.press("Buy for", card)
        return await self.user.wait_for_message("Waiting for the SMS", timeout=STEP)

    async def buy_number(self) -> None:
        menu = await self.service_menu()
        countries = await self.country_menu(menu)
        card = await self.confirmation(countries)
        await self.buy(card)


# --- the run --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def delta(after: Counter[str], before: Counter[str]) -> Counter[str]:
    return Counter({k: after[k] - before[k] for k in after if after[k] - before[k] > 0})


def show(counts: Counter[str], per: float = 1.0) -> str:
    if not counts:
        return "none"
    return ", ".join(
        f"{method} {count / per:.2f}" if per != 1.0 else f"{method} {count}"
        for method, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.sandbox = CountedSandbox()
        self.fake = TimedTelegram()
        self.redis_server = RedisServer()
        self.redis: Redis | None = None
        self.bot: BotProcess | None = None
        self.users = 0

    def new_user(self) -> User:
        self.users += 1
        token = f"bench-user-{self.users:05d}-0123456789abcdef"
        self.sandbox.state.add_account(token, Decimal("100000.00"))
        return User(self.fake, self.users, token)

    async def settle(self, seconds: float = 0.3) -> None:
        """Let background calls a step started land before its count is taken."""
        await asyncio.sleep(seconds)

    async def start(self) -> None:
        await self.sandbox.start()
        await self.fake.start()
        await asyncio.to_thread(self.redis_server.start)
        self.redis = Redis.from_url(self.redis_server.url)
        env = {
            key: value
            for key, value in os.environ.items()
            if key in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}
        }
        env.update(
            BOT_TOKEN=self.fake.token,
            TELEGRAM_API_URL=self.fake.url,
            SMSMAN_PROTOCOL="v2",
            SMSMAN_API_URL=self.sandbox.url,
            REDIS_URL=self.redis_server.url,
            DATA_DIR=str(self.workdir / "data"),
            TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode(),
            POLL_INTERVAL=str(self.args.poll_interval),
            SMSMAN_MAX_RPS=str(self.args.max_rps),
            ACTIVATION_TIMEOUT="1200",
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        await self.flush()
        polls = len(self.fake.calls_of("getUpdates"))
        self.bot = BotProcess([], env, ROOT, self.workdir / "bot.log")
        await wait_for(
            lambda: len(self.fake.calls_of("getUpdates")) > polls, 30.0, self.bot, "getUpdates"
        )

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.terminate()
            self.bot.kill_group()
        if self.redis is not None:
            await self.redis.aclose()
        await asyncio.to_thread(self.redis_server.stop)
        await self.fake.stop()
        await self.sandbox.stop()

    async def flush(self) -> None:
        assert self.redis is not None
        await self.redis.flushall()

    async def flows(self, label: str) -> list[tuple[str, Counter[str]]]:
        user = self.new_user()
        rows: list[tuple[str, Counter[str]]] = []

        async def step(name: str, action: Callable[[], Awaitable[Any]]) -> Any:
            before = self.sandbox.snapshot()
            result = await action()
            await self.settle()
            rows.append((name, delta(self.sandbox.snapshot(), before)))
            return result

        await step("onboarding (/start + /token)", user.onboard)
        menu = await step("service menu (/buy)", user.service_menu)
        countries = await step("country menu (tap service)", lambda: user.country_menu(menu))
        card = await step("confirmation card (tap country)", lambda: user.confirmation(countries))
        await step("buy (tap Buy)", lambda: user.buy(card))
        print(f"{label}:", flush=True)
        for name, counts in rows:
            other = {k: v for k, v in counts.items() if k not in STATUS_METHODS}
            print(f"  {name:<34} {sum(other.values()):3d}  ({show(counts)})", flush=True)
        taps = ", ".join(f"{t * 1000:.0f}" for t in self.fake.latencies(user.taps))
        print(f"  tap -> reply, one user alone (service, country, Buy): {taps} ms", flush=True)
        return rows

    async def crowd(self) -> None:
        n, per_user = self.args.users, self.args.numbers
        await self.flush()
        users = [self.new_user() for _ in range(n)]
        before_onboarding = self.sandbox.snapshot()
        started = time.monotonic()
        await asyncio.gather(*(user.onboard() for user in users))
        onboarded = time.monotonic()
        before_buys = self.sandbox.snapshot()
        for user in users:
            user.taps.clear()
            user.pressed.clear()

        async def buys(user: User) -> None:
            for _ in range(per_user):
                await user.buy_number()

        assert self.bot is not None
        cpu_bot, cpu_here = cpu_seconds(self.bot.pid), time.process_time()
        await asyncio.gather(*(buys(user) for user in users))
        bought = time.monotonic()
        cpu_bot = cpu_seconds(self.bot.pid) - cpu_bot
        cpu_here = time.process_time() - cpu_here
        await self.settle(1.0)
        after = self.sandbox.snapshot()
        numbers = n * per_user
        buys_only = delta(after, before_buys)
        everything = delta(after, before_onboarding)

        def non_status(counts: Counter[str]) -> Counter[str]:
            return Counter({k: v for k, v in counts.items() if k not in STATUS_METHODS})

        latencies = self.fake.latencies([q for user in users for q in user.taps])
        print(
            f"the {n}-user run: {n} users onboarded in {onboarded - started:.1f} s, then "
            f"{numbers} numbers bought in {bought - onboarded:.1f} s ({per_user} per user, "
            "all users at once)",
            flush=True,
        )
        print(
            f"  non-status provider calls per number, buys only ...... "
            f"{sum(non_status(buys_only).values()) / numbers:.2f}  "
            f"({show(non_status(buys_only), numbers)})",
            flush=True,
        )
        print(
            f"  non-status provider calls per number, with onboarding  "
            f"{sum(non_status(everything).values()) / numbers:.2f}  "
            f"({show(non_status(everything), numbers)})",
            flush=True,
        )
        status = {k: v for k, v in buys_only.items() if k in STATUS_METHODS}
        print(
            f"  status calls meanwhile ................................ {show(Counter(status))}",
            flush=True,
        )
        print(
            f"  CPU s per s while buying ............................... bot "
            f"{cpu_bot / (bought - onboarded):.2f}, this process (users, fake Bot API, "
            f"sandbox) {cpu_here / (bought - onboarded):.2f}",
            flush=True,
        )
        if latencies:
            print(
                f"  tap -> reply latency .................................. "
                f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms  "
                f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms  "
                f"max {max(latencies) * 1000:.0f} ms  mean "
                f"{statistics.fmean(latencies) * 1000:.0f} ms  ({len(latencies)} taps)",
                flush=True,
            )
            by_button: dict[str, list[str]] = {}
            for user in users:
                for query_id, label in user.pressed.items():
                    by_button.setdefault(label, []).append(query_id)
            print(
                "  ... by button ........................................ "
                + ", ".join(
                    f"{label} p50 {percentile(found, 0.5) * 1000:.0f} / p99 "
                    f"{percentile(found, 0.99) * 1000:.0f} ms"
                    for label, ids in by_button.items()
                    if (found := self.fake.latencies(ids))
                ),
                flush=True,
            )


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-flows-"))
    print(
        f"POLL_INTERVAL={args.poll_interval}  SMSMAN_MAX_RPS={args.max_rps}  "
        f"cores={os.cpu_count()}  logs: {workdir}",
        flush=True,
    )
    bench = Bench(args, workdir)
    try:
        await bench.start()
        await bench.flows("cold (Redis emptied, first user)")
        await bench.flows("warm (a second user right after)")
        if args.users:
            await bench.crowd()
    finally:
        await bench.stop()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.flows", description=__doc__)
    parser.add_argument("--users", type=int, default=40, help="0 skips the crowd run")
    parser.add_argument("--numbers", type=int, default=2, help="numbers each user buys")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--max-rps", type=float, default=100.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
