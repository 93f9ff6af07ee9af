"""The balance each user was last shown, for a minute or two, shared by every process.

A user who sets their token, opens the confirmation card and buys causes one balance read,
not three: the card shows the balance read within the last minute, and a purchase lowers it
by what it cost instead of asking the provider again.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from redis.asyncio import Redis

from bot.store import keys

BALANCE_KEPT_SECONDS = 300


class BalanceStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get(self, user_id: int) -> tuple[Decimal, float] | None:
        """The balance last stored and the unix time it was read at the provider."""
        raw = await self._redis.get(keys.user_balance(user_id))
        if not raw:
            return None
        amount, _, at = str(raw).partition("@")
        try:
            return Decimal(amount), float(at)
        except (InvalidOperation, ValueError):
            return None

    async def put(self, user_id: int, amount: Decimal, at: float) -> None:
        await self._redis.set(
            keys.user_balance(user_id), f"{amount}@{at!r}", ex=BALANCE_KEPT_SECONDS
        )

    async def lower(self, user_id: int, by: Decimal) -> None:
        """A purchase spent `by`: the stored balance (if any) drops by it, its age unchanged.

        Only the user's purchase lock holder calls this, so read-then-write does not race
        with another purchase; a refund meanwhile deletes the key instead (`forget`).
        """
        found = await self.get(user_id)
        if found is None:
            return
        amount, at = found
        await self._redis.set(
            keys.user_balance(user_id), f"{amount - by}@{at!r}", xx=True, keepttl=True
        )

    async def forget(self, user_id: int) -> None:
        await self._redis.delete(keys.user_balance(user_id))
