"""The balance a user was shown: read once, reused for a minute, lowered by purchases,
forgotten when money comes back."""

from __future__ import annotations

from decimal import Decimal

from redis.asyncio import Redis

from bot.services.balances import Balances
from bot.store.balances import BalanceStore
from tests.support.memory_provider import MemoryProvider

TOKEN = "good-token-123"
USER = 7


class Counted(MemoryProvider):
    def __init__(self) -> None:
        super().__init__(TOKEN, "100")
        self.balance_calls = 0

    async def get_balance(self, token: str) -> Decimal:
        self.balance_calls += 1
        return await super().get_balance(token)


def balances_at(redis: Redis, provider: Counted, now: list[float]) -> Balances:
    return Balances(provider, BalanceStore(redis), fresh=60, clock=lambda: now[0])


async def test_a_balance_read_within_a_minute_is_not_asked_again(fake_redis: Redis) -> None:
    provider, now = Counted(), [1000.0]
    balances = balances_at(fake_redis, provider, now)
    assert await balances.read(USER, TOKEN) == Decimal("100")
    now[0] += 59
    assert await balances.recent(USER, TOKEN) == Decimal("100")
    assert provider.balance_calls == 1

    now[0] += 2
    provider.balances[TOKEN] = Decimal("80")
    assert await balances.recent(USER, TOKEN) == Decimal("80")
    assert provider.balance_calls == 2


async def test_a_purchase_lowers_the_balance_shown_and_a_refund_makes_it_read_again(
    fake_redis: Redis,
) -> None:
    provider, now = Counted(), [1000.0]
    balances = balances_at(fake_redis, provider, now)
    await balances.read(USER, TOKEN)
    await balances.spent(USER, Decimal("15.50"))
    assert await balances.recent(USER, TOKEN) == Decimal("84.50")
    assert provider.balance_calls == 1

    await balances.changed(USER)
    assert await balances.recent(USER, TOKEN) == Decimal("100")
    assert provider.balance_calls == 2


async def test_each_user_has_their_own(fake_redis: Redis) -> None:
    provider, now = Counted(), [1000.0]
    balances = balances_at(fake_redis, provider, now)
    await balances.remember(USER, Decimal("5"))
    assert await balances.recent(USER + 1, TOKEN) == Decimal("100")
    assert await balances.recent(USER, TOKEN) == Decimal("5")
