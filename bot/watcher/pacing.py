"""Each SMS-man key's status checks at its rate, by when they are scheduled, not by waiting.

The provider budget caps every key at `SMSMAN_TOKEN_RPS` (`bot.provider.budget`). A user
with more numbers than that rate can check at the interval would otherwise fill the
watcher's workers with checks waiting for that one key, and every other user's checks would
wait behind them. Instead the watcher books each key's checks in a schedule of its own: the
next check of a number is due one interval after its poll, or one spacing (1 / the key's
rate) after the key's last booked check, whichever is later. A key within its rate is never
moved; a key over it has its numbers checked in turn, each about every
`numbers / rate` seconds, evenly, and nobody else's checks change.

Taps of that key (served first by the budget), retries and expiry calls spend its rate too;
a check that would wait for its key's limiter longer than `WatcherSettings.account_patience`
is not sent but booked after the key's others (`deferred_until`).

The schedule is per process, in memory, keyed by a hash of the key, and forgets keys whose
bookings are all in the past; with several watcher processes each keeps its own, so their
rates add up (docs/watcher.md, "Provider budget").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from bot.provider.budget import ProviderBudget, account_key

SWEEP_STEP = 2
"""Bookings looked at for staleness on each call (O(1) per call, and every one is visited)."""


class AccountPacing:
    """Books each key's checks no closer together than `spacing` seconds (unix time)."""

    def __init__(
        self,
        budget: ProviderBudget,
        *,
        spacing: float,
        patience: float,
        clock: Callable[[], float],
    ) -> None:
        self._budget = budget
        self._spacing = spacing
        self._patience = patience
        self._clock = clock
        self._last: OrderedDict[bytes, float] = OrderedDict()  # key hash -> last booked check

    def next_check(self, token: str, not_before: float) -> float:
        """Book the next check of a number with key `token`, at `not_before` or later."""
        key = account_key(token)
        self._sweep(key)
        last = self._last.get(key)
        at = not_before if last is None else max(not_before, last + self._spacing)
        self._last[key] = at
        self._last.move_to_end(key)
        return at

    def deferred_until(self, token: str, now: float) -> float | None:
        """None when a check with `token` may be sent now; else when to check instead (booked
        after the key's others), because its key's limiter is busy for longer than patience."""
        wait = self._budget.background_wait(token)
        if wait <= self._patience:
            return None
        return self.next_check(token, now + wait)

    def _sweep(self, key: bytes) -> None:
        """Forget keys whose last booking is past: they constrain nothing any more."""
        last = self._last
        stale_before = self._clock() - self._spacing
        for _ in range(min(SWEEP_STEP, len(last))):
            oldest, at = next(iter(last.items()))
            if oldest != key and at < stale_before:
                del last[oldest]
            else:
                last.move_to_end(oldest)
