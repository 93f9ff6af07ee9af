"""How much money a user has at the provider, asked as seldom as the user can tell apart.

`recent()` answers from a reading no older than `fresh` seconds (the confirmation card);
`read()` always asks the provider (/balance, the token check) and remembers the answer. A
purchase lowers the remembered balance by its price; a refund (a cancelled number) forgets
it, so the next card reads it again. Losing the remembered balance costs one provider call,
never a wrong purchase: the provider refuses a number the balance cannot pay for, and a
remembered balance below the price is read again before the user is told it is too low.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal

from redis.exceptions import RedisError

from bot.provider.base import Provider
from bot.store.balances import BalanceStore

logger = logging.getLogger(__name__)

BALANCE_FRESH_SECONDS = 60.0


class Balances:
    def __init__(
        self,
        provider: Provider,
        store: BalanceStore,
        *,
        fresh: float = BALANCE_FRESH_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._provider = provider
        self._store = store
        self._fresh = fresh
        self._clock = clock

    async def read(self, user_id: int, token: str) -> Decimal:
        """The balance, asked of the provider now, and remembered."""
        amount = await self._provider.get_balance(token)
        await self.remember(user_id, amount)
        return amount

    async def recent(self, user_id: int, token: str) -> Decimal:
        """The balance read within the last `fresh` seconds, else asked now."""
        remembered = await self.remembered(user_id)
        if remembered is not None:
            return remembered
        return await self.read(user_id, token)

    async def remembered(self, user_id: int) -> Decimal | None:
        """The balance read within the last `fresh` seconds (lowered by purchases since),
        None when there is none."""
        found = await self._store.get(user_id)
        if found is not None and 0 <= self._clock() - found[1] <= self._fresh:
            return found[0]
        return None

    async def remember(self, user_id: int, amount: Decimal) -> None:
        try:
            await self._store.put(user_id, amount, self._clock())
        except RedisError as error:
            logger.warning("Could not remember a balance: %s", error)

    async def spent(self, user_id: int, amount: Decimal) -> None:
        """A purchase took `amount`; never raises (the purchase is done whatever happens)."""
        try:
            await self._store.lower(user_id, amount)
        except RedisError as error:
            logger.warning("Could not lower a remembered balance: %s", error)
            await self.changed(user_id)

    async def changed(self, user_id: int) -> None:
        """Money came back or moved in a way not known here: read it again next time."""
        try:
            await self._store.forget(user_id)
        except RedisError as error:
            logger.warning("Could not forget a remembered balance: %s", error)
