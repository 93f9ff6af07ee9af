"""The watcher's scheduler: claims due activations, feeds a fixed worker pool, paces it.

A claimer takes due activations oldest first from the Redis schedule, leasing them
(`ActivationStore.claim_due_records`), in the same round trip as the previous checks' next
due times (`Agenda.take`). Claimed work waits in a short queue (`prefetch`) for `capacity`
workers, so no worker idles while the next batch is claimed and nothing is claimed that
cannot start soon. The provider budget paces the checks: the watcher's providers wait in its
background lane, behind users' taps, and each key's checks are scheduled at its rate
(`pacing`). Redis outages pause the loop, logged once, and it resumes by itself. See
docs/watcher.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from redis.exceptions import MaxConnectionsError, RedisError

from bot.provider.budget import ProviderBudget, last_wait
from bot.services.activations import ActivationService
from bot.services.notifications import Notifier
from bot.store import REDIS_DOWN
from bot.store.activations import ActivationRecord, ActivationStore
from bot.store.blocked import BlockedStore
from bot.watcher.agenda import Agenda, backoff_delay
from bot.watcher.blocked import BlockedUsers
from bot.watcher.check import ActivationCheck
from bot.watcher.context import WatcherContext
from bot.watcher.deadlines import Deadlines
from bot.watcher.delivery import Delivery
from bot.watcher.health import Health, Problems, WatcherStats
from bot.watcher.pacing import AccountPacing
from bot.watcher.settings import WatcherSettings

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)

OUTAGE_PAUSE = (0.25, 10.0)
"""Back-off while Redis is unreachable: base and ceiling of `backoff_delay`, in seconds."""

Claimed = tuple[str, ActivationRecord, float]


class ActivationWatcher:
    """Polls due activations, records codes and tells users through a `Notifier`.

    `clock` gives unix time: the schedule is shared between processes. `budget` is the
    provider budget the service's providers wait for (in its background lane): with it, each
    key's checks are scheduled at the key's rate and the health report counts users' taps.
    """

    def __init__(
        self,
        store: ActivationStore,
        activation_service: ActivationService,
        notifier: Notifier,
        settings: WatcherSettings,
        *,
        blocked: BlockedStore,
        budget: ProviderBudget | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.capacity = settings.capacity
        self.stats = WatcherStats()
        self._store = store
        self._clock = clock
        self._prefetch = settings.prefetch
        self._batch_min = settings.batch_min
        spacing = settings.account_spacing
        pacing = None
        if budget is not None and spacing is not None:
            pacing = AccountPacing(
                budget, spacing=spacing, patience=settings.account_patience, clock=clock
            )

        problems = self._problems = Problems()
        self._deadlines = Deadlines(settings.call_timeout)
        self._agenda = Agenda(
            store,
            lease=settings.lease,
            interval=settings.poll_interval,
            ceiling=settings.longest_pause,
        )
        context = WatcherContext(settings, self.stats, problems, clock)
        blocked_users = BlockedUsers(store, blocked, activation_service, self._deadlines, context)
        self._delivery = Delivery(store, notifier, blocked_users, self._agenda, context)
        self._check = ActivationCheck(
            store,
            activation_service,
            self._delivery,
            blocked_users,
            self._agenda,
            self._deadlines,
            context,
            pacing,
        )
        self._health = Health(store, settings, self.stats, clock, budget)
        self._ready: asyncio.Queue[Claimed | None] = asyncio.Queue()
        self._room_waiter: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        settings = self.settings
        return (
            f"ActivationWatcher(poll_interval={settings.poll_interval}, "
            f"capacity={self.capacity}, lease={settings.lease})"
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until `stop` is set; then finish the checks and pushes in flight and return."""
        settings = self.settings
        logger.info(
            "Activation watcher started: every %.1f s, %d checks at once, %s",
            settings.poll_interval,
            self.capacity,
            (
                f"up to {settings.max_rps:.0f} requests/s after users' taps"
                if settings.max_rps
                else "no request budget"
            )
            + (f", {settings.account_rps:g}/s per SMS-man key" if settings.account_rps else ""),
        )
        stopping = asyncio.ensure_future(stop.wait())
        workers = [asyncio.create_task(self._worker()) for _ in range(self.capacity)]
        watchdog = asyncio.create_task(self._deadlines.watch())
        try:
            await self._claim_until(stop, stopping)
            for _ in workers:
                self._ready.put_nowait(None)  # after what is queued: claimed work is checked
            await asyncio.gather(*workers)
            with suppress(RedisError):
                await self._agenda.flush()
            await self._delivery.wait(settings.stop_grace)
        except asyncio.CancelledError:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._delivery.abort()
            raise
        finally:
            stopping.cancel()
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
        logger.info("Activation watcher stopped")

    async def _claim_until(self, stop: asyncio.Event, stopping: asyncio.Future[Any]) -> None:
        """The claimer's loop, riding out Redis outages."""
        tick = self.settings.tick
        outage_since: float | None = None
        outage_failures = 0
        while not stop.is_set():
            try:
                await self._step(stopping)
            except MaxConnectionsError as error:  # our own pool is busy: not an outage
                self._problems.redis.add(error)
                await self._sleep(stopping, tick)
                continue
            except REDIS_DOWN as error:
                if outage_since is None:
                    outage_since = time.monotonic()
                    logger.warning(
                        "Redis is unreachable (%s): the watcher pauses until it is back", error
                    )
                outage_failures += 1
                await self._sleep(stopping, backoff_delay(outage_failures, *OUTAGE_PAUSE))
                continue
            except RedisError as error:
                self._problems.redis.add(error)
                await self._sleep(stopping, 1.0)
                continue
            if outage_since is not None:
                logger.info(
                    "Redis is back after %.0f s: the watcher resumes",
                    time.monotonic() - outage_since,
                )
                outage_since = None
                outage_failures = 0

    async def _step(self, stopping: asyncio.Future[Any]) -> None:
        """One turn of the claimer: wait for room, claim, queue; or sleep when nothing is due."""
        settings = self.settings
        room = self._prefetch - self._ready.qsize()
        if room < self._batch_min:
            waiter = self._room_waiter = asyncio.get_running_loop().create_future()
            await waiter
            room = self._prefetch - self._ready.qsize()
        now = self._clock()
        records = await self._store.claim_due_records(
            now, settings.lease, room, reschedule=self._agenda.take()
        )
        if not records:
            await self._health.look(now)
            due = await self._store.next_due_at()
            delay = settings.idle_max if due is None else due - now
            await self._sleep(stopping, min(max(delay, settings.tick), settings.idle_max))
            return
        self.stats.claimed += len(records)
        for record in records:
            self._ready.put_nowait((record.key, record, now))
        await self._health.look(now)
        if len(records) < room:
            await self._sleep(stopping, settings.tick)  # caught up: let due work gather a little

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
            # How late checks go out after their claim: waiting for a worker and for the
            # provider budget (`last_wait`, set by the check's provider call) both count.
            lag = self._clock() - claimed_at
            last_wait.set(0.0)
            await self._check.run(key, record, claimed_at)
            self._health.started_late(lag + last_wait.get())

    @staticmethod
    async def _sleep(stopping: asyncio.Future[Any], seconds: float) -> None:
        if seconds > 0 and not stopping.done():
            await asyncio.wait((stopping,), timeout=seconds)


def create_watcher(app: App, notifier: Notifier) -> ActivationWatcher:
    """The watcher of a running bot or watcher process, on the App's parts and settings,
    with its own Redis client (`App.watcher_redis`) and the background lane of the process's
    provider budget (`App.background_provider`)."""
    store = ActivationStore(app.watcher_redis)
    settings = app.settings
    service = ActivationService(
        app.background_provider,
        store,
        app.cipher,
        poll_interval=settings.poll_interval,
        former=app.background_former_provider,
        balances=app.balances,  # a refund makes the next confirmation card read it again
        early_cancel=app.early_cancel,
    )
    return ActivationWatcher(
        store,
        service,
        notifier,
        WatcherSettings.from_settings(settings, app.budget),
        blocked=BlockedStore(app.watcher_redis),
        budget=app.budget,
    )
