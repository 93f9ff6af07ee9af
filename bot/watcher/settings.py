"""How a watcher is tuned: one settings object instead of twenty keywords.

The knobs are the operator-facing ones (interval, request budget) and the internal ones
(lease, pools, caps) with their defaults; the derived figures (`capacity`, `prefetch`, the
provider-call deadline, ...) are computed here once, so the rest of the watcher reads them
by name. See docs/watcher.md for what each mechanism does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.provider.budget import ProviderBudget

DEFAULT_CONCURRENCY = 128
DEFAULT_LEASE = 10.0


@dataclass(frozen=True, slots=True)
class WatcherSettings:
    """
    - `poll_interval`: how often each pending activation is checked.
    - `concurrency`: status checks in flight (the worker pool). With `max_rps`, the
      process's provider budget (`SMSMAN_MAX_RPS`), it is further capped so that checks
      waiting for the budget still start well inside the lease (`capacity` is the result).
      The watcher's calls are the budget's background lane: users' taps go first and the
      watcher takes what they leave, so no share of the budget is set aside for either.
    - `account_rps`: the budget per SMS-man key (`SMSMAN_TOKEN_RPS`): the checks of one key
      are scheduled no closer together than that (`bot.watcher.pacing`).
    - `lease`: how long a claim holds an activation; a dead watcher's work is picked up by
      another after it. Provider calls get half of it.
    - `notify_concurrency`, `notify_timeout`: the delivery pool, apart from the checks. The
      timeout is only a safety net: the bot's session waits out flood control itself.
    - `stop_grace`: how long pushes in flight may finish at shutdown.
    - `lock_timeout`: an activation lock held by the watcher lapses after it (pushes renew it).
    - `redis_concurrency`: Redis work of checks at once (the client's pool is finite).
    - `card_refresh_every` per activation, `card_refresh_rate` per second in all.
    - `max_backoff`: the longest pause after repeated failures of one activation.
    - `abandon_after`: past expiry, how long a provider that cannot be told is tried before
      the record is closed locally.
    - `health_every`: how often the watcher checks whether it keeps up.
    """

    poll_interval: float
    concurrency: int = DEFAULT_CONCURRENCY
    max_rps: float | None = None
    account_rps: float | None = None
    lease: float = DEFAULT_LEASE
    notify_concurrency: int = 16
    notify_timeout: float = 180.0
    stop_grace: float = 10.0
    lock_timeout: float = 30.0
    redis_concurrency: int = 32
    card_refresh_every: float = 60.0
    card_refresh_rate: float = 20.0
    max_backoff: float = 60.0
    abandon_after: float = 3600.0
    health_every: float = 10.0

    def __post_init__(self) -> None:
        if self.poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        if self.concurrency < 1 or self.notify_concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.lease <= 0:
            raise ValueError("lease must be positive")

    @classmethod
    def from_settings(cls, settings: Settings, budget: ProviderBudget) -> WatcherSettings:
        """A running bot's watcher: the operator's interval and the process's budget."""
        return cls(
            poll_interval=settings.poll_interval,
            max_rps=budget.rate,
            account_rps=budget.account_rate,
        )

    # --- derived -------------------------------------------------------------------------

    @property
    def budget(self) -> float | None:
        """Status checks per second the watcher can count on while taps take up to half of
        `max_rps` (they go first); None: no limit."""
        return self.max_rps / 2 if self.max_rps else None

    @property
    def capacity(self) -> int:
        """Workers: `concurrency`, capped so a check waits for the budget under a quarter
        lease even while taps take half of it."""
        budget = self.budget
        if budget is None:
            return self.concurrency
        return min(self.concurrency, max(1, int(budget * self.lease / 4)))

    @property
    def prefetch(self) -> int:
        """Claimed work queued for the workers (claims are round trips: the fewer the better).

        Under a budget, queued work waits for it too: kept under a quarter lease.
        """
        capacity = self.capacity
        budget = self.budget
        if budget is None:
            return 2 * capacity
        return max(capacity, min(2 * capacity, int(budget * self.lease / 4)))

    @property
    def account_spacing(self) -> float | None:
        """The least time between two scheduled checks of one key; None: no limit."""
        return 1 / self.account_rps if self.account_rps else None

    @property
    def account_patience(self) -> float:
        """How long a check may wait for its key's limiter (taps of that key go first, and
        retries or expiry calls spend its rate too): half a second, or two of its slots. A
        check that would wait longer is not sent but scheduled after the key's others, so a
        busy key holds a few workers at most and never holds up anyone else's checks."""
        spacing = self.account_spacing
        return 0.0 if spacing is None else min(max(2 * spacing, 0.5), self.lease / 8)

    @property
    def batch_min(self) -> int:
        """The claimer waits until at least this much room is free (half the pool)."""
        return max(1, self.capacity // 2)

    @property
    def call_timeout(self) -> float:
        """The deadline of one provider call: half a lease."""
        return self.lease * 0.5

    @property
    def lock_wait(self) -> float:
        """How long a check waits for an activation's lock before trying again later."""
        return min(2.0, self.lease / 4)

    @property
    def delivery_lock_wait(self) -> float:
        return min(10.0, self.lease)

    @property
    def retry_soon(self) -> float:
        """When work that found the lock busy is tried again."""
        return min(self.poll_interval, 1.0)

    @property
    def longest_pause(self) -> float:
        return max(self.max_backoff, self.poll_interval)

    @property
    def tick(self) -> float:
        return min(0.05, self.poll_interval / 10)

    @property
    def idle_max(self) -> float:
        return min(1.0, self.poll_interval)
