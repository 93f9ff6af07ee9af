"""The menus' lists: served from the cache while fresh, refetched when stale, stale over none."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from decimal import Decimal

import pytest
from redis.asyncio import Redis

from bot.provider.errors import WrongToken
from bot.provider.models import Country, Offer, Service
from bot.services.catalog import Catalog
from bot.store.catalog import CatalogCache
from tests.support.memory_provider import MemoryProvider

TOKEN = "good-token-123"
MENUS = ["services", "countries"]


async def menu_of(catalog: Catalog, menu: str, token: str = TOKEN) -> list[str]:
    """The ids the menu lists, in its order."""
    if menu == "services":
        return [service.id for service in await catalog.services(token)]
    return list(await catalog.countries(token))


def add_one_of_each(provider: MemoryProvider) -> None:
    provider.services.append(Service(id="9", name="Viber", code="vi"))
    provider.countries.append(Country(id="7", name="Kazakhstan", iso="kz"))


@pytest.mark.parametrize("menu", MENUS)
async def test_a_fresh_list_is_served_from_the_cache(fake_redis: Redis, menu: str) -> None:
    provider = MemoryProvider(TOKEN)
    catalog = Catalog(provider, CatalogCache(fake_redis, "mem"))
    first = await menu_of(catalog, menu)
    add_one_of_each(provider)
    assert await menu_of(catalog, menu) == first


@pytest.mark.parametrize("menu", MENUS)
async def test_a_stale_list_is_served_at_once_and_refreshed_behind_it(
    fake_redis: Redis, menu: str
) -> None:
    provider = MemoryProvider(TOKEN)
    catalog = Catalog(provider, CatalogCache(fake_redis, "mem"), lists_fresh=-1)
    first = await menu_of(catalog, menu)
    add_one_of_each(provider)
    assert await menu_of(catalog, menu) == first  # the tap does not wait for the provider
    await catalog.settle()
    assert len(await menu_of(catalog, menu)) == len(first) + 1
    await catalog.aclose()


@pytest.mark.parametrize("menu", MENUS)
async def test_a_stale_list_is_served_when_the_provider_fails(fake_redis: Redis, menu: str) -> None:
    catalog = Catalog(MemoryProvider(TOKEN), CatalogCache(fake_redis, "mem"), lists_fresh=-1)
    first = await menu_of(catalog, menu)
    assert await menu_of(catalog, menu, token="revoked-token") == first
    await catalog.settle()
    assert await menu_of(catalog, menu, token="revoked-token") == first
    await catalog.aclose()


@pytest.mark.parametrize("menu", MENUS)
async def test_with_nothing_cached_the_providers_error_is_raised(
    fake_redis: Redis, menu: str
) -> None:
    catalog = Catalog(MemoryProvider(TOKEN), CatalogCache(fake_redis, "mem"))
    with pytest.raises(WrongToken):
        await menu_of(catalog, menu, token="revoked-token")


class CountingProvider(MemoryProvider):
    """The memory provider, counting catalog calls (and able to make them slow)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.calls: Counter[str] = Counter()
        self.delay = 0.0

    async def _count(self, method: str) -> None:
        self.calls[method] += 1
        await asyncio.sleep(self.delay)

    async def get_services(self, token: str) -> list[Service]:
        await self._count("services")
        return await super().get_services(token)

    async def get_countries(self, token: str) -> list[Country]:
        await self._count("countries")
        return await super().get_countries(token)

    async def get_offers(
        self, token: str, *, country_id: str | None = None, service_id: str | None = None
    ) -> list[Offer]:
        await self._count("offers")
        return await super().get_offers(token, country_id=country_id, service_id=service_id)


async def open_every_menu(catalog: Catalog, token: str = TOKEN) -> None:
    """What one user's way to a confirmation card asks of the catalog."""
    await catalog.services(token)
    await catalog.service(token, "3")
    await catalog.offers_for_service(token, "3")
    await catalog.countries(token)
    await catalog.offer(token, "3", "1")


async def test_warm_menus_cost_no_provider_call_in_any_process(fake_redis: Redis) -> None:
    provider = CountingProvider(TOKEN)
    first = Catalog(provider, CatalogCache(fake_redis, "mem"))
    await open_every_menu(first)
    assert provider.calls == {"services": 1, "countries": 1, "offers": 1}

    second = Catalog(provider, CatalogCache(fake_redis, "mem"))  # another process
    for _ in range(5):
        await open_every_menu(first)
        await open_every_menu(second)

    assert provider.calls == {"services": 1, "countries": 1, "offers": 1}
    await first.aclose()
    await second.aclose()


async def test_a_crowd_of_first_taps_shares_one_fetch(fake_redis: Redis) -> None:
    provider = CountingProvider(TOKEN)
    provider.delay = 0.05
    catalog = Catalog(provider, CatalogCache(fake_redis, "mem"))

    menus = await asyncio.gather(*(catalog.services(TOKEN) for _ in range(50)))

    assert all(menu == menus[0] for menu in menus) and menus[0]
    assert provider.calls == {"services": 1, "offers": 1}
    await catalog.aclose()


async def test_a_first_tap_is_not_failed_by_another_users_revoked_token(
    fake_redis: Redis,
) -> None:
    provider = CountingProvider(TOKEN)
    provider.delay = 0.05
    catalog = Catalog(provider, CatalogCache(fake_redis, "mem"))

    revoked, good = await asyncio.gather(
        catalog.services("revoked-token"), catalog.services(TOKEN), return_exceptions=True
    )

    assert isinstance(revoked, WrongToken)
    assert isinstance(good, list) and good
    await catalog.aclose()


async def test_prices_are_refreshed_before_they_go_stale_while_the_bot_is_used(
    fake_redis: Redis,
) -> None:
    provider = CountingProvider(TOKEN)
    now = [time.time()]
    catalog = Catalog(
        provider,
        CatalogCache(fake_redis, "mem"),
        prices_fresh=60,
        refresh_tick=0.01,
        clock=lambda: now[0],
    )
    await open_every_menu(catalog)
    provider.prices[("3", "1")] = (Decimal("17"), 10)

    now[0] += 50  # past 3/4 of the prices' freshness: the refresher fetches them
    for _ in range(100):
        if provider.calls["offers"] == 2:
            break
        await asyncio.sleep(0.01)
    await catalog.settle()

    offer = await catalog.offer(TOKEN, "3", "1")
    assert offer is not None and offer.price == Decimal("17")
    assert provider.calls["offers"] == 2  # the tap itself asked nothing
    await catalog.aclose()
