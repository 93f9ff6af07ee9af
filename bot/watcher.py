"""The activation watcher: polls every pending activation and pushes each code to its chat.

How it works
------------
- **One schedule in Redis.** Every open activation is a member of the watch sorted set,
  scored by the unix time its next check is due. There is no task or timer per activation
  and nothing about an activation lives only in memory: a restarted (or second) watcher
  finds all of it in Redis.
- **Leased claims.** A claimer takes due members oldest first with one Lua call that moves
  their score to `now + lease` (10 s) and returns their records
  (`ActivationStore.claim_due_records`): a claimed activation is not due again for anyone
  until the lease ends, so a watcher that dies mid-check loses nothing; another picks its
  work up when the lease runs out.
- **One round trip per batch.** The same pipeline first sends the previous checks' next due
  times (`reschedule_claimed`), each applied only while the member's score is still the
  lease it was claimed with: a button pressed meanwhile ("another code", cancel) or a
  second watcher's claim wins over a stale decision.
- **A fixed pool of `capacity` workers** takes claimed work from a short queue, so no slot
  idles while the next batch is claimed and nothing is claimed that cannot start at once.
  Every provider call has a deadline of half a lease, enforced by one watchdog task rather
  than a timer per check.
- **FIFO by due time.** A checked activation is due again `poll_interval` after its claim.
  When the request budget (`SMSMAN_MAX_RPS`) or the machine cannot cover every activation
  at that interval, all are overdue, claims take the oldest first, and the interval
  stretches evenly for all of them; the watcher says so once in the log (and once when it
  has caught up). Another watcher process on the same Redis adds its throughput.
- **Provider budget.** Provider calls wait for the process's `RateLimiter`; the watcher
  paces its own checks at `rps_share` (0.9) of that budget, so that a user's button in the
  same process does not queue behind a backlog of status checks.

Exactly once
------------
Every change to an activation happens under its Redis lock (`ActivationStore.lock`, which the
buttons take too), with the record re-read under the lock:

1. a poll sees a code that is not among the record's codes → lock, re-read, append it and
   set the state to CODE (`record_code`), unlock: the code is safe in Redis before any push;
2. the delivery (a separate pool of `notify_concurrency`, so a slow Telegram never stalls
   polling) takes the lock, re-reads, pushes every code past `delivered`
   (`Notifier.code_received`), counts each one delivered right after its push, and
   schedules the activation for its expiry. The lock is renewed while a push waits out
   Telegram's flood control, so it never lapses under a live push;
3. an activation with `delivered < len(codes)` found by any check (after a crash, a failed
   push, a lost lease) goes to delivery again.

Two watchers can therefore both poll an activation (only after a lease ran out), but a code
is recorded once and pushed only by the lock holder after re-reading `delivered`. A code is
pushed twice only if the process dies between the push and saving `delivered` (or a push
that reached Telegram is reported failed); it is never lost.

After "another code" (state WAIT_RETRY) a code counts as new only when it differs from
every code already received: v2 keeps answering the previous code, compat answers
STATUS_WAIT_RETRY:<previous>.

Lifecycle and faults
--------------------
- No code by `expires_at` → cancelled at the provider (the money returns) and the card says
  so; a cancel refused as too early is retried with a growing pause. A code the user never
  finished → finished at expiry.
- Cancelled or unknown at the provider → closed (reason PROVIDER), the card says so.
- Provider errors, slow or malformed answers → the check backs off exponentially per
  activation (from `poll_interval` up to `max_backoff`); failures are logged as a summary
  at most every 30 s. After expiry, a provider that cannot be told for `abandon_after`
  seconds gets the record closed locally (the provider closes its own at its lifetime).
- The user blocked the bot (`RecipientGone`) → their open activations without a code are
  cancelled (money back). A code that arrived but cannot be pushed cannot be refunded (the
  provider refuses to cancel once an SMS arrived), so that activation is finished at once:
  nothing is left open and the code stays in the record, visible in the user's list if they
  come back. A cancel refused as too early is retried on the next checks (and failing that,
  the timeout cancels it).
- The card's "time left" is refreshed at most once per `card_refresh_every` per activation
  and at most `card_refresh_rate` per second in all; refreshes over the cap are skipped
  (a later check tries again). Code pushes are never dropped.
- Redis unreachable → the loop pauses, logs once, retries with backoff and resumes by
  itself; what it had claimed is due again when the leases end.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from redis.asyncio.lock import Lock
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, MaxConnectionsError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.provider.base import Provider
from bot.provider.errors import ActivationNotFound, ProviderError, ProviderUnavailable
from bot.provider.http import RateLimiter
from bot.provider.models import ActivationStatus
from bot.services.activations import ActivationService
from bot.services.errors import CancelTooEarly
from bot.services.notifications import Notifier, RecipientGone
from bot.store.activations import ActivationRecord, ActivationStore, CloseReason, State

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
P = ParamSpec("P")
T = TypeVar("T")

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
WAITING_STATES = (State.WAITING, State.WAIT_RETRY)

DEFAULT_CONCURRENCY = 128
DEFAULT_LEASE = 10.0


@dataclass
class WatcherStats:
    """Counters since the watcher was built (read by the benchmark and in logs)."""

    claimed: int = 0  # activations taken from the schedule
    polls: int = 0  # status requests to the provider
    codes: int = 0  # new codes recorded
    pushes: int = 0  # codes pushed into chats
    cards: int = 0  # card refreshes and closed-card updates sent
    cards_skipped: int = 0  # time-left refreshes over the global cap
    poll_failures: int = 0
    push_failures: int = 0
    expired: int = 0  # cancelled or finished at expiry
    closed_by_provider: int = 0
    blocked: int = 0  # closed because the user blocked the bot


@dataclass
class _Delivery:
    """A pending notifier job for one activation (codes first, then the card if asked)."""

    card: bool = False
    again: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class _LockBusy(Exception):
    """Someone else (a button, another watcher) holds the activation's lock."""


class _Bucket:
    """A non-blocking token bucket: `take()` says yes `rate` times a second (burst `burst`)."""

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._clock = clock
        self._updated = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class _Summary:
    """Counts a recurring problem and logs it at most once per `every` seconds."""

    def __init__(self, message: str, every: float = 30.0) -> None:
        self._message = message
        self._every = every
        self._count = 0
        self._last_log = float("-inf")

    def add(self, detail: object) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._last_log >= self._every:
            logger.warning(self._message, self._count, detail)
            self._count = 0
            self._last_log = now


class ActivationWatcher:
    """Polls due activations, records codes and tells users through a `Notifier`.

    - `concurrency`: status checks in flight (the worker pool). With `max_rps`, the
      provider's budget, it is further capped so that checks waiting for the rate limiter
      still start well inside the lease (`capacity` is the result).
    - `lease`: how long a claim holds an activation; a dead watcher's work is picked up by
      another after it. Provider calls get half of it.
    - `notify_concurrency`, `notify_timeout`: the delivery pool, apart from the checks.
      The timeout is only a safety net: the notifier waits out flood control itself.
    - `redis_concurrency`: Redis work of checks at once (the client's pool is finite).
    - `card_refresh_every` per activation, `card_refresh_rate` per second in all.
    - `clock` gives unix time: the schedule is shared between processes.
    """

    def __init__(
        self,
        store: ActivationStore,
        activation_service: ActivationService,
        provider: Provider,
        notifier: Notifier,
        *,
        poll_interval: float,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_rps: float | None = None,
        rps_share: float = 0.9,
        lease: float = DEFAULT_LEASE,
        notify_concurrency: int = 16,
        notify_timeout: float = 300.0,
        stop_grace: float = 10.0,
        lock_timeout: float = 30.0,
        redis_concurrency: int = 32,
        card_refresh_every: float = 60.0,
        card_refresh_rate: float = 20.0,
        max_backoff: float = 60.0,
        abandon_after: float = 3600.0,
        health_every: float = 10.0,
        clock: Clock = time.time,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        if concurrency < 1 or notify_concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if lease <= 0:
            raise ValueError("lease must be positive")
        self._store = store
        self._service = activation_service
        self._provider = provider
        self._notifier = notifier
        self._interval = poll_interval
        self._lease = lease
        self._clock = clock
        self._notify_timeout = notify_timeout
        self._card_every = card_refresh_every
        self._max_backoff = max(max_backoff, poll_interval)
        self._abandon_after = abandon_after
        self._health_every = health_every

        budget = max_rps * rps_share if max_rps else None
        self._budget = budget
        capacity = concurrency
        if budget is not None:
            # A check may wait for the rate limiter; keep that wait under a quarter lease.
            capacity = min(capacity, max(1, int(budget * lease / 4)))
        self.capacity = capacity
        self._pacer = RateLimiter(budget) if budget is not None else None
        # Claimed work queued for the workers, claimed in batches of at least half the pool:
        # each claim is a Redis round trip, so the fewer per check the better.
        self._prefetch = 2 * capacity
        if budget is not None:  # queued work waits for the budget too: under a quarter lease
            self._prefetch = max(capacity, min(self._prefetch, int(budget * lease / 4)))
        self._batch_min = max(1, capacity // 2)
        self._poll_timeout = lease * 0.5
        self._lock_timeout = lock_timeout  # pushes renew it; a dead holder's lapses soon
        self._stop_grace = stop_grace
        self._lock_wait = min(2.0, lease / 4)
        self._delivery_lock_wait = min(10.0, lease)
        self._tick = min(0.05, poll_interval / 10)
        self._idle_max = min(1.0, poll_interval)

        self._notify_slots = asyncio.Semaphore(notify_concurrency)
        self._redis_slots = asyncio.Semaphore(redis_concurrency)
        self._cards = _Bucket(card_refresh_rate, burst=max(1.0, card_refresh_rate))
        self._deadlines: dict[asyncio.Task[Any], float] = {}  # provider calls in flight
        self._timed_out: set[asyncio.Task[Any]] = set()
        self._ready: asyncio.Queue[tuple[str, ActivationRecord, float] | None] = asyncio.Queue()
        self._room_waiter: asyncio.Future[None] | None = None
        self._jobs: dict[str, _Delivery] = {}
        self._parked: dict[str, tuple[float, float]] = {}  # key -> (lease_until, due_at)
        self._failures: dict[str, int] = {}  # key -> consecutive failed checks
        self._blocked_users: dict[int, float] = {}  # user id -> when RecipientGone was seen
        self._poll_errors = _Summary("%d status checks failed recently (last: %s)")
        self._push_errors = _Summary("%d notifications failed recently (last: %s)")
        self._redis_errors = _Summary("%d watcher steps hit a Redis error recently (last: %s)")
        self._foreign = _Summary("%d activations of another provider cannot be checked (%s)")
        self._behind = False
        self._late_streak = 0
        self._dispatch_lag = 0.0
        self._health_at = 0.0
        self._health_claimed = 0
        self.stats = WatcherStats()

    def __repr__(self) -> str:
        return (
            f"ActivationWatcher(poll_interval={self._interval}, capacity={self.capacity}, "
            f"lease={self._lease})"
        )

    # --- running ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until `stop` is set; then finish the checks and pushes in flight and return."""
        logger.info(
            "Activation watcher started: every %.1f s, %d checks at once, %s",
            self._interval,
            self.capacity,
            f"{self._budget:.0f} checks/s at most" if self._budget else "no request budget",
        )
        stopping = asyncio.ensure_future(stop.wait())
        workers = [asyncio.create_task(self._worker()) for _ in range(self.capacity)]
        watchdog = asyncio.create_task(self._watchdog())
        outage_since: float | None = None
        backoff = 0.5
        try:
            while not stop.is_set():
                try:
                    await self._step(stopping)
                except MaxConnectionsError as error:  # our own pool is busy: not an outage
                    self._redis_errors.add(error)
                    await self._sleep(stopping, self._tick)
                    continue
                except REDIS_DOWN as error:
                    if outage_since is None:
                        outage_since = time.monotonic()
                        logger.warning(
                            "Redis is unreachable (%s): the watcher pauses until it is back", error
                        )
                    await self._sleep(stopping, backoff * (0.5 + random.random() / 2))
                    backoff = min(backoff * 2, 10.0)
                    continue
                except RedisError as error:
                    self._redis_errors.add(error)
                    await self._sleep(stopping, 1.0)
                    continue
                if outage_since is not None:
                    logger.info(
                        "Redis is back after %.0f s: the watcher resumes",
                        time.monotonic() - outage_since,
                    )
                    outage_since = None
                    backoff = 0.5
            for _ in workers:
                self._ready.put_nowait(None)  # after what is queued: claimed work is checked
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._abort()
            raise
        finally:
            stopping.cancel()
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
        await self._drain()
        logger.info("Activation watcher stopped")

    async def run_once(self) -> int:
        """Claim what is due now, check it, wait for the resulting pushes; how many checked."""
        now = self._clock()
        parked, self._parked = self._parked, {}
        records = await self._store.claim_due_records(
            now, self._lease, self.capacity, reschedule=[(k, *v) for k, v in parked.items()]
        )
        self.stats.claimed += len(records)
        watchdog = asyncio.create_task(self._watchdog())
        try:
            await asyncio.gather(*(self._run_check(r.key, r, now) for r in records))
            await self._wait_for_deliveries(None)
        finally:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
        await self._flush()
        return len(records)

    async def _step(self, stopping: asyncio.Future[Any]) -> None:
        """One turn of the claimer: wait for room, claim, queue; or sleep when nothing is due.

        Claimed work waits in a short queue (`prefetch`) for the fixed pool of `capacity`
        workers, so no worker idles while the next batch is claimed.
        """
        room = self._prefetch - self._ready.qsize()
        if room < self._batch_min:
            waiter = self._room_waiter = asyncio.get_running_loop().create_future()
            await waiter
            room = self._prefetch - self._ready.qsize()
        now = self._clock()
        parked, self._parked = self._parked, {}
        records = await self._store.claim_due_records(
            now, self._lease, room, reschedule=[(k, *v) for k, v in parked.items()]
        )
        if not records:
            await self._health(now)
            due = await self._store.next_due_at()
            delay = self._idle_max if due is None else due - now
            await self._sleep(stopping, min(max(delay, self._tick), self._idle_max))
            return
        self.stats.claimed += len(records)
        for record in records:
            self._ready.put_nowait((record.key, record, now))
        await self._health(now)
        if len(records) < room:
            await self._sleep(stopping, self._tick)  # caught up: let due work gather a little

    async def _worker(self) -> None:
        """One of `capacity` check slots: take claimed work from the queue, check it."""
        ready = self._ready
        while True:
            item = await ready.get()
            if item is None:
                return
            waiter = self._room_waiter
            if (
                waiter is not None
                and not waiter.done()
                and self._prefetch - ready.qsize() >= self._batch_min
            ):
                waiter.set_result(None)
            key, record, claimed_at = item
            if self._pacer is not None:
                await self._pacer.acquire()
            # How late checks start after their claim (waiting for the budget counts).
            lag = self._clock() - claimed_at
            if lag > self._dispatch_lag:
                self._dispatch_lag = lag
            await self._run_check(key, record, claimed_at)

    @staticmethod
    async def _sleep(stopping: asyncio.Future[Any], seconds: float) -> None:
        if seconds > 0 and not stopping.done():
            await asyncio.wait((stopping,), timeout=seconds)

    async def _abort(self) -> None:
        tasks = [job.task for job in self._jobs.values() if job.task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self) -> None:
        with suppress(RedisError):
            await self._flush()
        await self._wait_for_deliveries(self._stop_grace)

    async def _wait_for_deliveries(self, within: float | None) -> None:
        deadline = None if within is None else time.monotonic() + within
        while self._jobs:
            tasks = [job.task for job in self._jobs.values() if job.task is not None]
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                logger.warning(
                    "Stopped with %d notifications unsent; they are sent on restart", len(tasks)
                )
                return
            await asyncio.wait(tasks, timeout=left)

    async def _flush(self) -> None:
        """Send the batch's next due times (one call); lost ones come back with the lease."""
        if not self._parked:
            return
        parked, self._parked = self._parked, {}
        await self._store.reschedule_claimed(
            [(key, lease_until, due_at) for key, (lease_until, due_at) in parked.items()]
        )

    def _park(self, key: str, claimed_at: float, due_at: float) -> None:
        self._parked[key] = (claimed_at + self._lease, due_at)

    async def _health(self, now: float) -> None:
        """Now and then: is every activation checked at the interval? Log changes once."""
        if now - self._health_at < self._health_every:
            return
        elapsed = now - self._health_at
        claimed = self.stats.claimed - self._health_claimed
        first = self._health_at == 0.0
        self._health_at, self._health_claimed = now, self.stats.claimed
        if first:
            return
        pending = await self._store.watched_count()
        oldest = await self._store.next_due_at()
        lag = max(0.0, self._clock() - oldest) if oldest is not None else 0.0
        lag, self._dispatch_lag = max(lag, self._dispatch_lag), 0.0
        rate = claimed / elapsed if elapsed > 0 else 0.0
        late = lag > max(self._interval / 2, 0.25)
        self._late_streak = self._late_streak + 1 if late else 0
        if not self._behind and self._late_streak >= 2:  # twice in a row: not a blip
            self._behind = True
            needed = pending / self._interval
            if self._budget is not None and needed > self._budget:
                cause = f"SMSMAN_MAX_RPS allows about {self._budget:.0f} status checks/s"
            else:
                cause = f"this watcher manages about {rate:.0f} status checks/s"
            logger.warning(
                "Falling behind: %d pending activations need %.0f checks/s to be checked every "
                "%.1f s, but %s; each is now checked about every %.1f s (all alike, oldest "
                "first). Raise SMSMAN_MAX_RPS or add a watcher process.",
                pending,
                needed,
                self._interval,
                cause,
                self._interval + lag,
            )
        elif self._behind and lag < max(self._interval / 10, 2 * self._tick):
            self._behind = False
            logger.info(
                "Caught up: all %d pending activations are checked every %.1f s again",
                pending,
                self._interval,
            )

    # --- one check -------------------------------------------------------------------------

    async def _run_check(self, key: str, record: ActivationRecord, claimed_at: float) -> None:
        try:
            await self._check(key, record, claimed_at)
        except RedisError as error:
            self._redis_errors.add(error)  # the lease brings it back
        except Exception:
            logger.exception("Checking activation %s failed", key)
            self._back_off(key, claimed_at)

    async def _check(self, key: str, record: ActivationRecord, claimed_at: float) -> None:
        if not record.is_open:
            await self._bounded(self._store.unwatch, key)  # closed: nothing to watch
            return
        if key in self._jobs:
            return  # a push is pending here; the lease keeps it parked until it is done
        now = self._clock()
        if record.delivered < len(record.codes):
            self._request_delivery(key)  # recorded but not pushed (a crash, a failed push)
            return
        if record.user_id in self._blocked_users and not record.codes:
            await self._bounded(self._cancel_for_blocked, key, now)
            return
        if record.state is State.CODE:
            if now >= record.expires_at:
                await self._bounded(self._expire, key, claimed_at, now)
            else:
                self._park(key, claimed_at, record.expires_at)
            return
        if record.provider != self._provider.name:  # SMSMAN_PROTOCOL changed with numbers open
            self._foreign.add(f"{key} belongs to provider {record.provider!r}")
            self._park(key, claimed_at, now + self._max_backoff)
            return

        self.stats.polls += 1
        polled_at = now  # the next poll is one full interval after this one goes out
        try:
            status = await self._timed(
                self._provider.get_activation, self._service.token_of(record), record.id
            )
        except ActivationNotFound:
            await self._bounded(self._closed_by_provider, key, now)
            return
        except ProviderError as error:
            self.stats.poll_failures += 1
            self._poll_errors.add(error)
            if now >= record.expires_at:
                await self._bounded(self._expire, key, claimed_at, now)
            else:
                self._back_off(key, claimed_at)
            return
        self._failures.pop(key, None)

        code = status.code
        if (
            code
            and status.status in (ActivationStatus.CODE, ActivationStatus.FINISHED)
            and code not in record.codes
        ):
            await self._bounded(self._received, key, code, claimed_at, now)
            return
        if status.status in (ActivationStatus.CANCELLED, ActivationStatus.FINISHED):
            await self._bounded(self._closed_by_provider, key, now)
            return
        if now >= record.expires_at:
            await self._bounded(self._expire, key, claimed_at, now)
            return
        if (
            record.message_id is not None
            and now - max(record.card_refreshed_at, record.created_at) >= self._card_every
        ):
            if self._cards.take():
                self._request_delivery(key, card=True)
            else:
                self.stats.cards_skipped += 1
        self._park(key, claimed_at, min(polled_at + self._interval, record.expires_at))

    async def _bounded(
        self, work: Callable[P, Awaitable[object]], *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Run Redis-bound work of a check within `redis_concurrency` (the pool is finite)."""
        async with self._redis_slots:
            await work(*args, **kwargs)

    def _back_off(self, key: str, claimed_at: float) -> None:
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        ceiling = min(self._max_backoff, self._interval * 2**failures)
        delay = ceiling / 2 + ceiling / 2 * random.random()
        self._park(key, claimed_at, self._clock() + delay)

    async def _timed(self, call: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """`call` within `poll_timeout` (well inside the lease); too slow is unavailable.

        One watchdog task enforces every deadline, instead of a timer per status check.
        """
        task = asyncio.current_task()
        assert task is not None
        self._deadlines[task] = time.monotonic() + self._poll_timeout
        try:
            result = await call(*args, **kwargs)
        except asyncio.CancelledError:
            if self._withdraw_cancel(task):
                raise ProviderUnavailable("the provider did not answer in time") from None
            raise
        except BaseException:
            self._withdraw_cancel(task)
            raise
        finally:
            del self._deadlines[task]
        self._withdraw_cancel(task)
        return result

    def _withdraw_cancel(self, task: asyncio.Task[Any]) -> bool:
        """Undo the watchdog's cancel of `task`, if any; True when nothing else cancelled it."""
        if task not in self._timed_out:
            return False
        self._timed_out.discard(task)
        return task.uncancel() == 0

    async def _watchdog(self) -> None:
        """Cancel the provider calls that overran their deadline (see `_timed`)."""
        every = min(0.5, self._poll_timeout / 5)
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for task, deadline in list(self._deadlines.items()):
                if now >= deadline and task not in self._timed_out:
                    self._timed_out.add(task)
                    task.cancel()

    @asynccontextmanager
    async def _provider_call(self) -> AsyncIterator[None]:
        """Bound a provider call well inside the lease; too slow counts as unavailable."""
        try:
            async with asyncio.timeout(self._poll_timeout):
                yield
        except TimeoutError:
            raise ProviderUnavailable("the provider did not answer in time") from None

    @asynccontextmanager
    async def _locked(self, key: str, wait: float, *, keep: bool = False) -> AsyncIterator[None]:
        """Hold the activation's lock; with `keep`, renewed for as long as the body runs."""
        lock = self._store.lock(key, timeout=self._lock_timeout, wait=wait)
        try:
            acquired = await lock.acquire()
        except LockError:
            acquired = False
        if not acquired:
            raise _LockBusy
        keeper = asyncio.create_task(self._keep_locked(key, lock)) if keep else None
        try:
            yield
        finally:
            if keeper is not None:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
            try:
                await lock.release()
            except LockError:
                logger.warning("The lock of activation %s expired before it was released", key)

    async def _keep_locked(self, key: str, lock: Lock) -> None:
        """Renew a lock held across a slow push (Telegram flood control can take minutes)."""
        while True:
            await asyncio.sleep(self._lock_timeout / 3)
            try:
                await lock.reacquire()
            except (LockError, RedisError) as error:
                logger.warning("Could not keep the lock of activation %s: %s", key, error)
                return

    async def _received(self, key: str, code: str, claimed_at: float, now: float) -> None:
        """A new code: record it under the lock (before any push), then hand it to delivery."""
        try:
            async with self._locked(key, self._lock_wait):
                record = await self._store.get(key)
                if record is None or not record.is_open:
                    return
                if record.state in WAITING_STATES and code not in record.codes:
                    record.state = State.CODE
                    await self._store.record_code(record, code, now)
                    self.stats.codes += 1
                pending = record.delivered < len(record.codes)
        except _LockBusy:
            self._park(key, claimed_at, now + min(self._interval, 1.0))
            return
        if pending:
            # The claim's lease keeps it parked; the delivery schedules it for its expiry.
            self._request_delivery(key)

    async def _expire(self, key: str, claimed_at: float, now: float) -> None:
        """Past `expires_at`: cancel (no code: refund) or finish (code received)."""
        try:
            async with self._locked(key, self._lock_wait):
                record = await self._store.get(key)
                if record is None or not record.is_open:
                    return
                if record.delivered < len(record.codes):
                    self._request_delivery(key)  # push first, finish afterwards
                    return
                try:
                    async with self._provider_call():
                        if record.codes:
                            await self._service.finish_at_provider(record, CloseReason.TIMEOUT)
                        else:
                            await self._service.cancel_at_provider(record, CloseReason.TIMEOUT)
                except CancelTooEarly:
                    late = now - record.expires_at
                    retry = max(self._interval, min(30.0, late / 2))
                    await self._store.schedule(key, now + retry)
                    return
                except ProviderError as error:
                    if now - record.expires_at < self._abandon_after:
                        raise
                    logger.warning(
                        "Activation %s could not be closed at the provider for %.0f s (%s); "
                        "closing it here",
                        key,
                        now - record.expires_at,
                        error,
                    )
                    state = State.FINISHED if record.codes else State.CANCELLED
                    await self._store.close(record, state, CloseReason.TIMEOUT, now)
        except _LockBusy:
            self._park(key, claimed_at, now + min(self._interval, 1.0))
            return
        except ProviderError as error:
            self._poll_errors.add(error)
            self._back_off(key, claimed_at)
            return
        self.stats.expired += 1
        self._failures.pop(key, None)
        self._request_delivery(key, card=True)

    async def _closed_by_provider(self, key: str, now: float) -> None:
        try:
            async with self._locked(key, self._lock_wait):
                record = await self._store.get(key)
                if record is None or not record.is_open:
                    return
                state = State.FINISHED if record.codes else State.CANCELLED
                await self._store.close(record, state, CloseReason.PROVIDER, now)
        except _LockBusy:
            return  # the lease brings it back
        logger.info("Activation %s was closed on the provider's side", key)
        self.stats.closed_by_provider += 1
        self._failures.pop(key, None)
        self._request_delivery(key, card=True)

    # --- telling the user ------------------------------------------------------------------

    def _request_delivery(self, key: str, *, card: bool = False) -> None:
        """Queue a notifier job for the activation; one per activation at a time."""
        job = self._jobs.get(key)
        if job is not None:
            job.card = job.card or card
            job.again = True
            return
        job = _Delivery(card=card)
        self._jobs[key] = job
        job.task = asyncio.create_task(self._deliver(key, job))

    async def _deliver(self, key: str, job: _Delivery) -> None:
        try:
            async with self._notify_slots:
                while True:
                    job.again = False
                    card, job.card = job.card, False
                    await self._deliver_once(key, card)
                    if not job.again:
                        break
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Notifying about activation %s failed", key)
        finally:
            self._jobs.pop(key, None)

    async def _deliver_once(self, key: str, card: bool) -> None:
        user_id: int | None = None
        try:
            async with self._locked(key, self._delivery_lock_wait, keep=True):
                record = await self._store.get(key)
                if record is None:
                    return
                user_id = record.user_id
                await self._push_codes(record, card)
        except _LockBusy:
            await self._store.schedule(key, self._clock() + min(self._interval, 1.0))
        except RecipientGone:
            if user_id is not None:
                await self._recipient_gone(user_id)
        except RedisError as error:
            self._redis_errors.add(error)  # the lease brings it back to a check
        except Exception as error:
            self.stats.push_failures += 1
            self._push_errors.add(error if str(error) else type(error).__name__)
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            delay = min(self._max_backoff, self._interval * 2**failures)
            await self._store.schedule(key, self._clock() + delay)

    async def _push_codes(self, record: ActivationRecord, card: bool) -> None:
        """Under the lock: push every undelivered code, counting each right after its push."""
        now = self._clock()
        pushed = False
        if record.close_reason is not CloseReason.BLOCKED:
            while record.delivered < len(record.codes):
                code = record.codes[record.delivered]
                async with asyncio.timeout(self._notify_timeout):
                    await self._notifier.code_received(record, code)
                record.delivered += 1
                self.stats.pushes += 1
                pushed = True
                if record.is_open:
                    await self._store.save(record)
                else:
                    await self._store.save_keeping_expiry(record)
        if record.is_open:
            if pushed:
                self._failures.pop(record.key, None)
                due = record.expires_at if record.state is State.CODE else now + self._interval
                await self._store.schedule(record.key, due)
            elif card and record.state in WAITING_STATES and record.message_id is not None:
                async with asyncio.timeout(self._notify_timeout):
                    await self._notifier.card_changed(record)
                self.stats.cards += 1
                record.card_refreshed_at = now
                await self._store.save(record)
        elif card and not pushed and record.close_reason is not CloseReason.BLOCKED:
            async with asyncio.timeout(self._notify_timeout):
                await self._notifier.card_changed(record)
            self.stats.cards += 1

    async def _recipient_gone(self, user_id: int) -> None:
        """The user blocked the bot: give back what can be given back, close the rest."""
        now = self._clock()
        self._blocked_users[user_id] = now
        for seen_user, since in list(self._blocked_users.items()):
            if now - since > 24 * 3600:
                del self._blocked_users[seen_user]
        logger.info("A user cannot be reached any more; closing their open activations")
        for record in await self._store.for_user(user_id):
            if record.is_open:
                await self._cancel_for_blocked(record.key, now)

    async def _cancel_for_blocked(self, key: str, now: float) -> None:
        try:
            await self._close_for_blocked(key, now)
        except ProviderError as error:
            self._poll_errors.add(error)
            await self._store.schedule(key, now + self._interval)

    async def _close_for_blocked(self, key: str, now: float) -> None:
        """Cancel an activation with no code (refund); finish one whose code is unpushable."""
        try:
            async with self._locked(key, self._delivery_lock_wait):
                record = await self._store.get(key)
                if record is None or not record.is_open:
                    return
                if not record.codes:
                    try:
                        async with self._provider_call():
                            await self._service.cancel_at_provider(record, CloseReason.BLOCKED)
                    except CancelTooEarly:
                        await self._store.schedule(key, now + self._interval)
                        return
                elif record.delivered < len(record.codes):
                    async with self._provider_call():
                        await self._service.finish_at_provider(record, CloseReason.BLOCKED)
                else:
                    return  # code delivered: finished at expiry like any other
        except _LockBusy:
            await self._store.schedule(key, now + min(self._interval, 1.0))
            return
        self.stats.blocked += 1


def create_watcher(app: App, notifier: Notifier) -> ActivationWatcher:
    """The watcher of a running bot or watcher process, on the App's parts and settings."""
    settings = app.settings
    return ActivationWatcher(
        app.activations,
        app.activation_service,
        app.provider,
        notifier,
        poll_interval=settings.poll_interval,
        max_rps=app.limiter.rate,
    )
