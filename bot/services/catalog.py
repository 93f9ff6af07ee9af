"""What the menus show: services, countries, prices and stock, from a Redis cache.

Lists are kept for hours and prices for about a minute. A stale price table is served at
once while one process refreshes it in the background, so a menu tap costs no provider call
on a warm cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from bot.provider.base import Provider
from bot.provider.errors import ProviderError
from bot.provider.models import Country, Offer, Service
from bot.store.catalog import CatalogCache

logger = logging.getLogger(__name__)

T = TypeVar("T")

LISTS_FRESH_SECONDS = 6 * 3600
PRICES_FRESH_SECONDS = 60

# Services people come for most, first in the menu when the provider gives no better order.
POPULAR_CODES = ("tg", "wa", "go", "vk", "ig", "fb", "tt", "tw", "vi", "wb", "ds", "oi")
POPULAR_NAMES = ("telegram", "whatsapp", "google", "vk", "instagram", "facebook", "tiktok")


@dataclass(frozen=True)
class CountryOffer:
    """One line of the country menu."""

    country: Country
    price: Decimal
    stock: int


class Catalog:
    def __init__(
        self,
        provider: Provider,
        cache: CatalogCache,
        *,
        lists_fresh: float = LISTS_FRESH_SECONDS,
        prices_fresh: float = PRICES_FRESH_SECONDS,
    ) -> None:
        self._provider = provider
        self._cache = cache
        self._lists_fresh = lists_fresh
        self._prices_fresh = prices_fresh
        self._refreshing: set[asyncio.Task[None]] = set()

    async def services(self, token: str) -> list[Service]:
        """Every service, most popular first, then by name."""
        services = await self._list(
            token,
            cached=self._cache.get_services,
            fetch=self._provider.get_services,
            keep=self._cache.put_services,
        )
        await self._ensure_offers(token)
        stock = await self._cache.stock_by_service()
        return sorted(services, key=lambda s: _service_rank(s, stock.get(s.id, 0)))

    async def countries(self, token: str) -> dict[str, Country]:
        countries = await self._list(
            token,
            cached=self._cache.get_countries,
            fetch=self._provider.get_countries,
            keep=self._cache.put_countries,
        )
        return {country.id: country for country in countries}

    async def service(self, token: str, service_id: str) -> Service | None:
        return next((s for s in await self.services(token) if s.id == service_id), None)

    async def offers_for_service(self, token: str, service_id: str) -> list[CountryOffer]:
        """Countries selling this service: in stock first, cheapest first."""
        await self._ensure_offers(token)
        countries = await self.countries(token)
        lines = [
            CountryOffer(countries[offer.country_id], offer.price, offer.stock)
            for offer in await self._cache.get_offers(service_id)
            if offer.country_id in countries
        ]
        return cheapest_first(lines)

    async def fresh_offer(self, token: str, service_id: str, country_id: str) -> Offer | None:
        """The current price and stock, asked from the provider (for the confirmation)."""
        offers = await self._provider.get_offers(
            token, country_id=country_id, service_id=service_id
        )
        return next(
            (o for o in offers if o.service_id == service_id and o.country_id == country_id),
            None,
        )

    async def _list(
        self,
        token: str,
        *,
        cached: Callable[[], Awaitable[tuple[list[T], float] | None]],
        fetch: Callable[[str], Awaitable[list[T]]],
        keep: Callable[[list[T]], Awaitable[None]],
    ) -> list[T]:
        """A list from the cache while fresh; else fetched and kept in the cache again, or,
        when the provider fails, the stale cached one (with nothing cached, the error)."""
        found = await cached()
        if found is not None and time.time() - found[1] <= self._lists_fresh:
            return found[0]
        try:
            items = await fetch(token)
            await keep(items)
        except ProviderError:
            if found is None:
                raise
            return found[0]
        return items

    async def _ensure_offers(self, token: str) -> None:
        fetched_at = await self._cache.offers_fetched_at()
        if fetched_at is None:
            await self._refresh_offers(token)  # cold cache: the user waits once
        elif time.time() - fetched_at > self._prices_fresh and await self._cache.try_refresh_lock(
            30
        ):
            task = asyncio.create_task(self._refresh_offers(token, quiet=True))
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)

    async def _refresh_offers(self, token: str, quiet: bool = False) -> None:
        try:
            await self._cache.put_offers(await self._provider.get_offers(token))
        except ProviderError as error:
            if not quiet:
                raise
            logger.warning("Refreshing prices failed, serving the cached ones: %s", error)

    async def aclose(self) -> None:
        for task in list(self._refreshing):
            task.cancel()
        await asyncio.gather(*self._refreshing, return_exceptions=True)


def recent_first(services: Sequence[Service], recent_ids: Sequence[str]) -> list[Service]:
    """The user's recently used services first (most recent first), then the rest in order."""
    by_id = {service.id: service for service in services}
    recent = [by_id[service_id] for service_id in recent_ids if service_id in by_id]
    seen = {service.id for service in recent}
    return recent + [service for service in services if service.id not in seen]


def matches(query: str, name: str, code: str | None = None, *, aliases: Iterable[str] = ()) -> bool:
    """What the user typed finds this name or one of its `aliases` ("tele" finds Telegram,
    "инд" finds India shown as "Индия") or the exact short code ("tg")."""
    wanted = fold(query.strip())
    if not wanted:
        return True
    return any(wanted in fold(text) for text in (name, *aliases)) or (
        code is not None and wanted == code.casefold()
    )


def cheapest_first(
    offers: Iterable[CountryOffer], names: Mapping[str, str] | None = None
) -> list[CountryOffer]:
    """In stock first, cheapest first, then by the country's name: its shown name from
    `names` (by country id) when given, else the provider's."""

    def name(offer: CountryOffer) -> str:
        country = offer.country
        return fold(names.get(country.id, country.name) if names else country.name)

    return sorted(offers, key=lambda offer: (offer.stock <= 0, offer.price, name(offer)))


def fold(text: str) -> str:
    """Text as search and sorting compare it: case-folded, "ё" as "е", ’ as '."""
    return text.casefold().replace("ё", "е").replace("’", "'")


def _service_rank(service: Service, stock: int) -> tuple[int, int, str]:
    code = (service.code or "").lower()
    name = service.name.lower()
    if code in POPULAR_CODES:
        popular = POPULAR_CODES.index(code)
    elif any(name.startswith(p) for p in POPULAR_NAMES):
        popular = len(POPULAR_CODES) + next(
            i for i, p in enumerate(POPULAR_NAMES) if name.startswith(p)
        )
    else:
        popular = 1000
    return popular, -stock, name
