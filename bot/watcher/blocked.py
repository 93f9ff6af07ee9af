"""The blocked-user policy: a user who blocked the bot gets back what can be given back.

Who blocked the bot lives in Redis (`BlockedStore`), shared by every process; the watcher
reads it at most every `SNAPSHOT_EVERY` seconds. When a push finds the user gone
(`RecipientGone`) they are marked there and their open activations are closed at once:
those without a code are cancelled (the money returns), those whose code arrived but cannot
be pushed are finished (the provider refuses to cancel once an SMS arrived; the code stays
in the record, shown when they come back). Numbers of a blocked user are still polled and
still expire like any other: a cancel refused (too early, provider down) is tried again at
the next check, and an SMS that arrives first is recorded. See docs/watcher.md.
"""

from __future__ import annotations

import logging
import time

from bot.provider.errors import ProviderError
from bot.services.activations import ActivationService
from bot.services.errors import CancelTooEarly
from bot.store.activations import ActivationStore, CloseReason
from bot.store.blocked import BlockedStore
from bot.store.locks import LockBusy, held
from bot.watcher.context import WatcherContext
from bot.watcher.deadlines import Deadlines

logger = logging.getLogger(__name__)

SNAPSHOT_EVERY = 2.0
"""Seconds a process trusts its copy of the blocked users before reading Redis again."""


class BlockedUsers:
    def __init__(
        self,
        store: ActivationStore,
        blocked: BlockedStore,
        service: ActivationService,
        deadlines: Deadlines,
        context: WatcherContext,
    ) -> None:
        self._store = store
        self._blocked = blocked
        self._service = service
        self._deadlines = deadlines
        self._settings = context.settings
        self._stats = context.stats
        self._problems = context.problems
        self._clock = context.clock
        self._snapshot: set[int] = set()
        self._loaded_at = float("-inf")

    async def includes(self, user_id: int) -> bool:
        """Has the user blocked the bot (as of a couple of seconds ago)?"""
        now = time.monotonic()
        if now - self._loaded_at >= SNAPSHOT_EVERY:
            self._snapshot = await self._blocked.members()
            self._loaded_at = now
        return user_id in self._snapshot

    async def recipient_gone(self, user_id: int) -> None:
        """The user blocked the bot: give back what can be given back, close the rest."""
        await self._blocked.mark(user_id)
        self._snapshot.add(user_id)
        logger.info("A user cannot be reached any more; closing their open activations")
        now = self._clock()
        for record in await self._store.for_user(user_id):
            if record.is_open:
                await self.close(record.key, now)

    async def close(self, key: str, now: float) -> bool:
        """Close one activation of a blocked user; True when it was closed. A refusal
        (too early, provider down) leaves it to the next check, which tries again."""
        try:
            return await self._close(key, now)
        except ProviderError as error:
            self._problems.polls.add(error)
            return False

    async def _close(self, key: str, now: float) -> bool:
        """Cancel an activation with no code (refund); finish one whose code is unpushable."""
        settings = self._settings
        lock = self._store.lock(
            key, timeout=settings.lock_timeout, wait=settings.delivery_lock_wait
        )
        try:
            async with held(lock):
                record = await self._store.get(key)
                if record is None or not record.is_open:
                    return False
                if not record.codes:
                    try:
                        await self._deadlines.call(
                            self._service.cancel_at_provider, record, CloseReason.BLOCKED
                        )
                    except CancelTooEarly:
                        return False
                elif record.delivered < len(record.codes):
                    await self._deadlines.call(
                        self._service.finish_at_provider, record, CloseReason.BLOCKED
                    )
                else:
                    return False  # code delivered: finished at expiry like any other
        except LockBusy:
            return False
        self._stats.blocked += 1
        return True
