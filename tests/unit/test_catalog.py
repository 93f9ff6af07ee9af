"""The menus' lists: served from the cache while fresh, refetched when stale, stale over none."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.provider.errors import WrongToken
from bot.provider.models import Country, Service
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
async def test_a_stale_list_is_fetched_again(fake_redis: Redis, menu: str) -> None:
    provider = MemoryProvider(TOKEN)
    catalog = Catalog(provider, CatalogCache(fake_redis, "mem"), lists_fresh=-1)
    first = await menu_of(catalog, menu)
    add_one_of_each(provider)
    assert len(await menu_of(catalog, menu)) == len(first) + 1


@pytest.mark.parametrize("menu", MENUS)
async def test_a_stale_list_is_served_when_the_provider_fails(fake_redis: Redis, menu: str) -> None:
    catalog = Catalog(MemoryProvider(TOKEN), CatalogCache(fake_redis, "mem"), lists_fresh=-1)
    first = await menu_of(catalog, menu)
    assert await menu_of(catalog, menu, token="revoked-token") == first


@pytest.mark.parametrize("menu", MENUS)
async def test_with_nothing_cached_the_providers_error_is_raised(
    fake_redis: Redis, menu: str
) -> None:
    catalog = Catalog(MemoryProvider(TOKEN), CatalogCache(fake_redis, "mem"))
    with pytest.raises(WrongToken):
        await menu_of(catalog, menu, token="revoked-token")
