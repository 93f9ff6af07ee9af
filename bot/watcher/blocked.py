"""The blocked-user policy: a user who blocked the bot gets back what can be given back.

When a push finds the user gone (`RecipientGone`), their open activations without a code are
cancelled (the money returns) and those whose code arrived but cannot be pushed are finished
(the provider refuses to cancel once an SMS arrived); the code stays in the record, visible
if they come back. A cancel refused as too early is retried on the next checks (and failing
that, the timeout cancels it). See docs/watcher.md ("Lifecycle and faults").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.provider.errors import ProviderError
from bot.services.activations import ActivationService
from bot.services.errors import CancelTooEarly
from bot.store.activations import ActivationStore, CloseReason
from bot.store.locks import LockBusy, held
from bot.watcher.deadlines import Deadlines
from bot.watcher.health import Problems, WatcherStats
from bot.watcher.settings import WatcherSettings

logger = logging.getLogger(__name__)

REMEMBERED = 24 * 3600.0
"""How long a user who blocked the bot is remembered as such."""


class BlockedUsers:
    def __init__(
        self,
        store: ActivationStore,
        service: ActivationService,
        deadlines: Deadlines,
        settings: WatcherSettings,
        stats: WatcherStats,
        problems: Problems,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._service = service
        self._deadlines = deadlines
        self._settings = settings
        self._stats = stats
        self._problems = problems
        self._clock = clock
        self._since: dict[int, float] = {}  # user id -> when RecipientGone was seen

    def __contains__(self, user_id: int) -> bool:
        return user_id in self._since

    async def recipient_gone(self, user_id: int) -> None:
        """The user blocked the bot: give back what can be given back, close the rest."""
        now = self._clock()
        self._since[user_id] = now
        for seen_user, since in list(self._since.items()):
            if now - since > REMEMBERED:
                del self._since[seen_user]
        logger.info("A user cannot be reached any more; closing their open activations")
        for record in await self._store.for_user(user_id):
            if record.is_open:
                await self.close(record.key, now)

    async def close(self, key: str, now: float) -> None:
        """Close one activation of a blocked user; a provider failure is tried again later."""
        try:
            await self._close(key, now)
        except ProviderError as error:
            self._problems.polls.add(error)
            await self._store.schedule(key, now + self._settings.poll_interval)

    async def _close(self, key: str, now: float) -> None:
        """Cancel an activation with no code (refund); finish one whose code is unpushable."""
        settings = self._settings
        lock = self._store.lock(
            key, timeout=settings.lock_timeout, wait=settings.delivery_lock_wait
        )
        try:
            async with held(lock):
                record = await self._store.get(key)
                if record is None or not record.is_open:
                    return
                if not record.codes:
                    try:
                        await self._deadlines.call(
                            self._service.cancel_at_provider, record, CloseReason.BLOCKED
                        )
                    except CancelTooEarly:
                        await self._store.schedule(key, now + settings.poll_interval)
                        return
                elif record.delivered < len(record.codes):
                    await self._deadlines.call(
                        self._service.finish_at_provider, record, CloseReason.BLOCKED
                    )
                else:
                    return  # code delivered: finished at expiry like any other
        except LockBusy:
            await self._store.schedule(key, now + settings.retry_soon)
            return
        self._stats.blocked += 1
