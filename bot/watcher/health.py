"""What the watcher tells the operator: counters, throttled problem summaries, "falling behind".

See docs/watcher.md ("FIFO by due time").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.provider.budget import Lane

if TYPE_CHECKING:
    from bot.provider.budget import ProviderBudget
    from bot.store.activations import ActivationStore
    from bot.watcher.settings import WatcherSettings

logger = logging.getLogger(__name__)


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
    spaced: int = 0  # checks scheduled later than the interval: their key is over its rate
    deferred: int = 0  # checks not sent because their key's limiter was busy (re-scheduled)


class Summary:
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


class Problems:
    """The watcher's recurring problems, each summarised apart."""

    def __init__(self) -> None:
        self.polls = Summary("%d status checks failed recently (last: %s)")
        self.pushes = Summary("%d notifications failed recently (last: %s)")
        self.cards = Summary("%d codes were sent but their cards not updated (last: %s)")
        self.redis = Summary("%d watcher steps hit a Redis error recently (last: %s)")
        self.foreign = Summary("%d activations of another provider cannot be checked (%s)")
        self.spaced = Summary(
            "%d status checks were spaced out to keep one SMS-man key under SMSMAN_TOKEN_RPS "
            "(last: %s); raise SMSMAN_TOKEN_RPS if the provider allows that key more"
        )


class Health:
    """Now and then: is every activation checked at the interval? Logs changes once."""

    def __init__(
        self,
        store: ActivationStore,
        settings: WatcherSettings,
        stats: WatcherStats,
        clock: Callable[[], float],
        budget: ProviderBudget | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._interval = settings.poll_interval
        self._max_rps = settings.max_rps
        self._budget = budget
        self._taps_sent = 0
        self._every = settings.health_every
        self._tick = settings.tick
        self._stats = stats
        self._at = 0.0
        self._claimed = 0
        self._behind = False
        self._late_streak = 0
        self.dispatch_lag = 0.0
        """How late checks started after their claim since the last look (workers raise it)."""

    def started_late(self, lag: float) -> None:
        if lag > self.dispatch_lag:
            self.dispatch_lag = lag

    async def look(self, now: float) -> None:
        if now - self._at < self._every:
            return
        elapsed = now - self._at
        claimed = self._stats.claimed - self._claimed
        first = self._at == 0.0
        self._at, self._claimed = now, self._stats.claimed
        taps = self._taps_since_last_look()
        if first:
            return
        pending = await self._store.watched_count()
        oldest = await self._store.next_due_at()
        lag = max(0.0, self._clock() - oldest) if oldest is not None else 0.0
        lag, self.dispatch_lag = max(lag, self.dispatch_lag), 0.0
        rate = claimed / elapsed if elapsed > 0 else 0.0
        taps_rate = taps / elapsed if elapsed > 0 else 0.0
        late = lag > max(self._interval / 2, 0.25)
        self._late_streak = self._late_streak + 1 if late else 0
        if not self._behind and self._late_streak >= 2:  # twice in a row: not a blip
            self._behind = True
            needed = pending / self._interval
            max_rps = self._max_rps
            if max_rps is not None and needed + taps_rate > 0.95 * max_rps:
                cause = f"SMSMAN_MAX_RPS allows {max_rps:.0f} requests/s in all"
                if taps_rate >= 1:
                    cause += f", of which users' taps (served first) took about {taps_rate:.0f}"
            else:
                cause = f"this watcher manages about {rate:.0f} status checks/s"
            logger.warning(
                "Falling behind: %d pending activations need %.0f checks/s to be checked every "
                "%.1f s, but %s; each is now checked about every %.1f s (all alike, oldest "
                "first). Raise SMSMAN_MAX_RPS (the watcher takes what taps leave of it) or "
                "add a watcher process.",
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

    def _taps_since_last_look(self) -> int:
        """Provider calls users' taps made in this process since the last look."""
        if self._budget is None:
            return 0
        sent = self._budget.sent(Lane.INTERACTIVE)
        taps, self._taps_sent = sent - self._taps_sent, sent
        return taps
