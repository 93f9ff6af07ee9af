"""When each claimed activation is checked next, and how far a failing one backs off.

A check decides its activation's next due time in memory (`park`); the claimer sends the
batch with its next claim, in the same Redis round trip (`take`), or `flush` sends it on its
own. Each decision applies only while the activation is still under the lease it was
claimed with, so a button pressed meanwhile wins (`ActivationStore.reschedule_claimed`).
See docs/watcher.md ("Leased claims", "One round trip per batch").
"""

from __future__ import annotations

import random

from bot.store.activations import ActivationStore


def backoff_delay(failures: int, base: float, ceiling: float) -> float:
    """The pause after `failures` failures in a row: exponential with jitter.

    Uniformly random in [d/2, d] where d = min(ceiling, base * 2**failures), so activations
    (or processes) that failed together do not come back together.
    """
    longest = min(ceiling, base * 2**failures)
    return longest / 2 + longest / 2 * random.random()


class Agenda:
    """Next due times decided by checks, not yet sent; consecutive failures per activation."""

    def __init__(self, store: ActivationStore, *, lease: float, interval: float, ceiling: float):
        self._store = store
        self._lease = lease
        self._interval = interval
        self._ceiling = ceiling
        self._parked: dict[str, tuple[float, float]] = {}  # key -> (lease_until, due_at)
        self._failures: dict[str, int] = {}

    def park(self, key: str, claimed_at: float, due_at: float) -> None:
        """Check `key` (claimed at `claimed_at`) again at `due_at`."""
        self._parked[key] = (claimed_at + self._lease, due_at)

    def take(self) -> list[tuple[str, float, float]]:
        """The parked decisions as (key, lease_until, due_at), to send with the next claim."""
        parked, self._parked = self._parked, {}
        return [(key, lease_until, due_at) for key, (lease_until, due_at) in parked.items()]

    async def flush(self) -> None:
        """Send the parked decisions now (one call); lost ones come back with the lease."""
        if self._parked:
            await self._store.reschedule_claimed(self.take())

    def failed(self, key: str) -> float:
        """One more failure of `key`: the pause before its next try."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        return backoff_delay(failures, self._interval, self._ceiling)

    def back_off(self, key: str, claimed_at: float, now: float) -> None:
        """A failed check: park the activation for its back-off pause."""
        self.park(key, claimed_at, now + self.failed(key))

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
