"""Whether a user can be reached: what Telegram says when they block the bot or come back.

A user who blocks the bot gets back the money of their numbers without a code: their
numbers are brought to the watcher at once (it cancels them within a check, see
bot/watcher/blocked.py). A user who comes back is reachable again, and the numbers closed
while they were away are listed so their cards can say what happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.store.activations import ActivationRecord, ActivationStore, CloseReason
from bot.store.blocked import BlockedStore

SHOWN_AGAIN_WITHIN = 24 * 3600.0
"""Numbers closed this long ago or less get their card updated when the user comes back."""


class Reachability:
    def __init__(
        self,
        blocked: BlockedStore,
        activations: ActivationStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._blocked = blocked
        self._activations = activations
        self._clock = clock

    async def blocked(self, user_id: int) -> int:
        """The user blocked the bot: remember it (every process sees it) and make their open
        numbers due now, so the watcher cancels those without a code at once. How many."""
        await self._blocked.mark(user_id)
        now = self._clock()
        due = 0
        for record in await self._activations.for_user(user_id):
            if record.is_open:
                await self._activations.schedule(record.key, now)
                due += 1
        return due

    async def returned(self, user_id: int) -> list[ActivationRecord]:
        """The user restarted the bot: reachable again. The numbers closed because they had
        blocked it, recently enough to show again."""
        await self._blocked.clear(user_id)
        since = self._clock() - SHOWN_AGAIN_WITHIN
        return [
            record
            for record in await self._activations.for_user(user_id)
            if record.close_reason is CloseReason.BLOCKED and (record.closed_at or 0) >= since
        ]
