"""The provider budget: how fast this process may call the provider, per key and in all, and
who goes first.

Providers limit a client per account (the API key) and per address; SMS-man publishes no
figures (docs/provider-api.md, "Request budget"). Every provider request waits here before
it is sent (`bot.provider.http.post_form`): first for its key's `RateLimiter`
(`SMSMAN_TOKEN_RPS`), then for the process's (`SMSMAN_MAX_RPS`), each time in its `Lane`:

- `Lane.INTERACTIVE`: whatever a user's tap causes (balance, catalog, buy, cancel, another
  code, finish). Served before any background call that is waiting, so a tap waits at most
  about one slot of each limiter, however long the watcher's backlog; the limiters' bursts
  are for taps only (a tap's few calls, a crowd tapping together).
- `Lane.BACKGROUND`: the watcher's status checks and its own work. First come, first
  served, evenly at the rate, with what the taps leave.

Providers do not see the budget itself but a `BudgetLane`, a view of the one budget in one
lane: the app's providers are interactive, the watcher's are background ones.

Keys are held by a hash, never as text, and the limiter of a key nobody used for a while is
dropped (an idle limiter is a full bucket: dropping it changes nothing).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from enum import IntEnum

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

PROCESS_BURST = 0.5
"""The process's burst, in seconds of its rate: the calls of that many taps at once (a crowd
of users tapping together: 40 buys at once at a rate of 100) go out without queueing behind
each other. So the process sends at most 1.5 times its rate in any second."""

ACCOUNT_BURST = 5.0
"""Calls one key may send at once after a quiet moment (never more than its rate per second):
the few calls of one tap (a purchase reads the balance, buys, reads the balance again) go
out without waiting for each other. So one key sends at most twice its rate in any second."""

SLACK = 1e-9
"""A slot is free when all but this much of it has accrued (float rounding of the refill)."""

SHORTEST_SLEEP = 1e-6
"""The pump sleeps at least this long: a deficit finer than the clock's resolution must not
wake it again and again at the same instant."""

SWEEP_STEP = 2
"""Per-key limiters looked at for idleness on each call: the sweep costs O(1) per call and
still visits every limiter while calls come."""


last_wait: ContextVar[float] = ContextVar("last_wait", default=0.0)
"""Seconds the current task's latest provider call waited for the budget: the watcher dates
a poll from when it went out, not from when it began to wait."""


class Lane(IntEnum):
    """Who a provider call is for; a lower value is served first."""

    INTERACTIVE = 0
    BACKGROUND = 1


class RateLimiter:
    """A token bucket with two lanes: `rate` calls per second, up to `burst` at once.

    A caller that finds a free slot takes it at once, unless someone in its lane or a lane
    before it is already waiting; otherwise it waits in its lane's queue. Whenever a slot
    comes free it goes to the first interactive waiter, else to the first background one,
    so an interactive call waits at most about one slot (1 / `rate`) behind any number of
    background ones. The burst is the interactive lane's: a background call takes a slot
    only when the bucket is full, so background calls are paced evenly at `rate` and a tap
    that comes while they keep the limiter busy still finds `burst` slots free. A cancelled
    waiter neither takes a slot nor loses one: a slot granted to a caller cancelled before
    it could use it is given back.

    Costs are O(1) per call: a caller with a free slot returns at once; the others wait on
    a future each, and one task per busy limiter (the pump) sleeps until the next slot and
    hands it out. Over any window of `t` seconds at most `burst + rate * t` calls get
    through, give or take the event loop's own lateness: a pump woken late hands out the
    slots it missed rather than losing them, so the rate holds on a busy loop.

    `clock` and `sleep` are injectable so tests can run on virtual time.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._updated = clock()
        # Free slots a call of each lane needs: one for a tap, a full bucket for the rest
        # (compared with a little slack for float rounding; pumps sleep until the whole).
        self._needs = (1.0, burst)
        self._queues: tuple[deque[asyncio.Future[None]], ...] = tuple(deque() for _ in Lane)
        self._pump: asyncio.Task[None] | None = None

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> float:
        return self._burst

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self._rate}, burst={self._burst})"

    # -- taking a slot ---------------------------------------------------------------------

    def try_acquire(self) -> bool:
        """Take a slot if one is free now and nobody waits; False otherwise (never waits)."""
        self._refill()
        if self._tokens < 1 - SLACK or self._waiting(Lane.BACKGROUND):
            return False
        self._tokens -= 1
        return True

    async def acquire(self, lane: Lane = Lane.INTERACTIVE) -> None:
        """Wait until this call may go out: at once when a slot is free for `lane` and nobody
        in `lane` or before it waits, else in `lane`'s queue."""
        self._refill()
        if self._tokens >= self._needs[lane] - SLACK and not self._waiting(lane):
            self._tokens -= 1
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._queues[lane].append(waiter)
        if self._pump is None:
            self._pump = loop.create_task(self._run_pump())
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give_back()  # granted, but the caller is gone: the slot is not lost
            else:
                waiter.cancel()
                if not self._waiting(Lane.BACKGROUND):
                    self._stop_pump()  # nobody left to serve: no task outlives its callers
            raise

    def give_back(self) -> None:
        """Return a slot taken but not used (its call was cancelled before it went out)."""
        self._refill()
        self._tokens += 1
        if not self._waiting(Lane.BACKGROUND):
            self._tokens = min(self._tokens, self._burst)
        self._grant()

    # -- what the watcher asks -------------------------------------------------------------

    def background_wait(self) -> float:
        """About how long a background call arriving now would wait here, in seconds."""
        self._refill()
        queued = sum(len(queue) for queue in self._queues)  # cancelled ones count: an estimate
        return max(0.0, queued + self._burst - self._tokens) / self._rate

    def waiting(self, lane: Lane) -> int:
        """Callers waiting in `lane` now (counts them one by one: for reports and tests)."""
        return sum(1 for waiter in self._queues[lane] if not waiter.done())

    @property
    def idle(self) -> bool:
        """Full and unused: indistinguishable from a new limiter."""
        self._refill()
        return self._tokens >= self._burst - SLACK and self._pump is None

    # -- inside ----------------------------------------------------------------------------

    def _refill(self) -> None:
        now = self._clock()
        tokens = self._tokens + (now - self._updated) * self._rate
        self._updated = now
        # Slots missed while callers waited (a late pump) are kept for them; otherwise a
        # quiet limiter fills up to `burst` and no further.
        if tokens > self._burst and not self._waiting(Lane.BACKGROUND):
            tokens = self._burst
        self._tokens = tokens

    def _waiting(self, lane: Lane) -> bool:
        """Does a live caller wait in `lane` or a lane served before it?"""
        for queue in self._queues[: lane + 1]:
            while queue and queue[0].done():  # cancelled waiters leave lazily
                queue.popleft()
            if queue:
                return True
        return False

    def _first(self) -> Lane | None:
        """The lane of the first live waiter, interactive before background."""
        for lane in Lane:
            queue = self._queues[lane]
            while queue and queue[0].done():  # cancelled waiters leave lazily
                queue.popleft()
            if queue:
                return lane
        return None

    def _grant(self) -> None:
        """Hand the free slots to the first waiters, interactive ones first."""
        while (lane := self._first()) is not None and self._tokens >= self._needs[lane] - SLACK:
            self._tokens -= 1
            self._queues[lane].popleft().set_result(None)

    async def _run_pump(self) -> None:
        try:
            while True:
                self._refill()
                self._grant()
                lane = self._first()
                if lane is None:
                    return
                short = self._needs[lane] - self._tokens
                await self._sleep(max(short / self._rate, SHORTEST_SLEEP))
        finally:
            if self._pump is asyncio.current_task():
                self._pump = None

    def _stop_pump(self) -> None:
        pump, self._pump = self._pump, None  # the next waiter starts a new one
        if pump is not None:
            pump.cancel()


def account_key(token: str) -> bytes:
    """What the budget holds instead of a key: a hash that cannot be turned back into it."""
    return hashlib.blake2b(token.encode(), digest_size=16).digest()


class ProviderBudget:
    """The process's provider budget: `rate` calls per second in all (`SMSMAN_MAX_RPS`), and
    `account_rate` per API key (`SMSMAN_TOKEN_RPS`), each with an interactive lane served
    before the background one. One instance per process; providers get a `BudgetLane`.

    A call waits for its key's limiter first, then for the process's: a key over its rate
    waits on its own, without holding a slot of the process's that others could use.
    """

    def __init__(
        self,
        rate: float,
        account_rate: float,
        *,
        burst: float | None = None,
        account_burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if account_rate <= 0:
            raise ValueError("account_rate must be positive")
        if burst is None:
            burst = max(1.0, rate * PROCESS_BURST)
        self._process = RateLimiter(rate, burst=burst, clock=clock, sleep=sleep)
        self._account_rate = account_rate
        if account_burst is None:
            account_burst = min(ACCOUNT_BURST, account_rate)
        self._account_burst = max(1.0, account_burst)
        self._clock = clock
        self._sleep = sleep
        self._accounts: OrderedDict[bytes, RateLimiter] = OrderedDict()
        self._sent = [0 for _ in Lane]
        self.interactive = BudgetLane(self, Lane.INTERACTIVE)
        self.background = BudgetLane(self, Lane.BACKGROUND)

    @classmethod
    def unlimited(cls) -> ProviderBudget:
        """A budget that never makes anyone wait (tests and benchmarks of other things)."""
        return cls(1e9, 1e9, burst=1.0, account_burst=1.0)

    @property
    def rate(self) -> float:
        return self._process.rate

    @property
    def account_rate(self) -> float:
        return self._account_rate

    def __repr__(self) -> str:
        return f"ProviderBudget(rate={self.rate}, account_rate={self._account_rate})"

    @property
    def keys_held(self) -> int:
        """Per-key limiters held now (idle ones are dropped as calls come)."""
        return len(self._accounts)

    async def acquire(self, token: str, lane: Lane) -> None:
        """Wait until a call with API key `token` may go out in `lane` (`last_wait` says how
        long that took)."""
        started = self._clock()
        account = self._account(account_key(token))
        await account.acquire(lane)
        try:
            await self._process.acquire(lane)
        except asyncio.CancelledError:
            account.give_back()
            raise
        self._sent[lane] += 1
        last_wait.set(self._clock() - started)

    def sent(self, lane: Lane) -> int:
        """Calls let through in `lane` so far (the watcher's health report reads the taps')."""
        return self._sent[lane]

    def waiting(self, lane: Lane) -> int:
        """Calls waiting for the process's limiter in `lane` now (for reports and tests)."""
        return self._process.waiting(lane)

    def background_wait(self, token: str) -> float:
        """About how long a background call with `token` would wait for its key's limiter."""
        account = self._accounts.get(account_key(token))
        return 0.0 if account is None else account.background_wait()

    def _account(self, key: bytes) -> RateLimiter:
        accounts = self._accounts
        for _ in range(min(SWEEP_STEP, len(accounts))):
            oldest, limiter = next(iter(accounts.items()))
            if oldest != key and limiter.idle:
                del accounts[oldest]
            else:
                accounts.move_to_end(oldest)
        account = accounts.get(key)
        if account is None:
            account = accounts[key] = RateLimiter(
                self._account_rate,
                burst=self._account_burst,
                clock=self._clock,
                sleep=self._sleep,
            )
        return account


@dataclass(frozen=True, slots=True)
class BudgetLane:
    """One lane of a `ProviderBudget`: what a provider waits on before each request."""

    budget: ProviderBudget
    lane: Lane

    async def acquire(self, token: str) -> None:
        await self.budget.acquire(token, self.lane)
