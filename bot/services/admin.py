"""Reports for the operators named in ADMIN_IDS: statistics and users' balances."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bot.provider.base import Provider
from bot.provider.errors import ProviderError, WrongToken
from bot.services.errors import NoToken
from bot.services.tokens import require_token
from bot.store.activations import ActivationStore, utc_day
from bot.store.crypto import KeyMismatch
from bot.store.users import UserStore

BALANCE_CONCURRENCY = 8


@dataclass(frozen=True)
class Stats:
    users: int
    users_with_token: int
    activations_today: int
    activations_all_time: int
    codes_delivered: int
    with_code: int
    cancelled: int
    finished: int
    watched_now: int
    median_seconds_to_code: float | None

    @property
    def cancel_rate(self) -> float | None:
        closed = self.cancelled + self.finished
        return self.cancelled / closed if closed else None


@dataclass(frozen=True)
class UserBalance:
    user_id: int
    balance: Decimal | None  # None when it could not be read
    problem: str | None = None  # "wrong_token" or "unavailable"


class AdminService:
    def __init__(
        self,
        provider: Provider,
        users: UserStore,
        activations: ActivationStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._provider = provider
        self._users = users
        self._activations = activations
        self._clock = clock

    async def stats(self) -> Stats:
        users, with_token = await self._users.count()
        total = await self._activations.counters()
        today = await self._activations.counters(utc_day(self._clock()))
        times = await self._activations.times_to_code()
        return Stats(
            users=users,
            users_with_token=with_token,
            activations_today=today.get("bought", 0),
            activations_all_time=total.get("bought", 0),
            codes_delivered=total.get("codes", 0),
            with_code=total.get("with_code", 0),
            cancelled=total.get("cancelled", 0),
            finished=total.get("finished", 0),
            watched_now=await self._activations.watched_count(),
            median_seconds_to_code=statistics.median(times) if times else None,
        )

    async def user_balance(self, user_id: int) -> Decimal:
        return await self._provider.get_balance(await require_token(self._users, user_id))

    async def balances(self) -> list[UserBalance]:
        """Every user with a token and their balance, fetched concurrently (rate-limited)."""
        semaphore = asyncio.Semaphore(BALANCE_CONCURRENCY)

        async def one(user_id: int) -> UserBalance:
            async with semaphore:
                try:
                    return UserBalance(user_id, await self.user_balance(user_id))
                except (WrongToken, KeyMismatch):
                    return UserBalance(user_id, None, "wrong_token")
                except (ProviderError, NoToken):
                    return UserBalance(user_id, None, "unavailable")

        user_ids = await self._users.users_with_token()
        return list(await asyncio.gather(*(one(user_id) for user_id in user_ids)))
