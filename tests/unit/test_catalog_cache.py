"""The catalog cache: the price table and the stock totals the service menu is ranked by."""

from __future__ import annotations

from decimal import Decimal

from redis.asyncio import Redis

from bot.provider.models import Offer
from bot.store.catalog import CatalogCache


def offer(service: str, country: str, price: str, stock: int) -> Offer:
    return Offer(country_id=country, service_id=service, price=Decimal(price), stock=stock)


async def test_services_are_totalled_across_countries(fake_redis: Redis) -> None:
    cache = CatalogCache(fake_redis, "v2")
    await cache.put_offers(
        [offer("tg", "0", "10.5", 100), offer("tg", "1", "12", 23), offer("wa", "0", "8", 0)]
    )

    assert await cache.stock_by_service() == {"tg": 123, "wa": 0}
    assert [o.stock for o in await cache.get_offers("tg") or []] == [100, 23]


async def test_a_new_table_replaces_the_totals(fake_redis: Redis) -> None:
    cache = CatalogCache(fake_redis, "v2")
    await cache.put_offers([offer("tg", "0", "10.5", 100), offer("wa", "0", "8", 5)])
    await cache.put_offers([offer("wa", "0", "8", 7)])

    assert await cache.stock_by_service() == {"wa": 7}
    assert await cache.get_offers("tg") == []
