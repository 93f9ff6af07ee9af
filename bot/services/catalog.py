"""What the menus show: services, countries, prices and stock, the same for every account.

The catalog is fetched once for every process sharing the Redis (`CatalogCache`) and kept
parsed in each process's memory, checked against the cache's stamps at most once a second.
A user's tap costs no provider call unless nothing was ever fetched (the first tap after a
fresh start waits once, and a crowd of first taps shares that one fetch):

- while the bot is in use, a background refresher fetches each part again before it goes
  stale (prices after 3/4 of `prices_fresh`, lists after 3/4 of `lists_fresh`), one process
  at a time (a Redis lock), with the token of the latest user who opened a menu;
- a part found stale anyway (the bot was idle) is served as it is while a background task
  refreshes it; when the provider fails, the stale copy stays in use.

The confirmation card shows the cached price; the purchase sends it as `maxPrice` (and
checks the debit where the protocol cannot cap it), so a price that went up meanwhile is
refused, never charged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.provider.base import Provider
from bot.provider.errors import ProviderError, WrongToken
from bot.provider.models import Country, Offer, Service
from bot.store.catalog import COUNTRIES, OFFERS, SERVICES, CatalogCache

logger = logging.getLogger(__name__)

LISTS_FRESH_SECONDS = 6 * 3600
PRICES_FRESH_SECONDS = 60
REFRESH_AHEAD = 0.75
"""A part is refreshed in the background once this share of its freshness has passed."""
STAMPS_TTL = 1.0
"""How long a process trusts its last look at the cache's stamps (a tap then reads nothing)."""
REFRESH_TICK = 5.0
IDLE_AFTER = 600.0
"""The refresher stops fetching when no menu was opened for this long (and starts again at
the next tap)."""
REFRESH_LOCK_SECONDS = 30.0

# Services people come for most, first in the menu when the provider gives no better order.
POPULAR_CODES = ("tg", "wa", "go", "vk", "ig", "fb", "tt", "tw", "vi", "wb", "ds", "oi")
POPULAR_NAMES = ("telegram", "whatsapp", "google", "vk", "instagram", "facebook", "tiktok")


@dataclass(frozen=True)
class CountryOffer:
    """One line of the country menu."""

    country: Country
    price: Decimal
    stock: int


@dataclass
class _Copy:
    """One part of the catalog as this process last read it, and when it was stored."""

    stamp: float
    value: Any
    index: dict[str, Any] | None = None  # the items by id, built at first need


class Catalog:
    def __init__(
        self,
        provider: Provider,
        cache: CatalogCache,
        *,
        background: Provider | None = None,
        lists_fresh: float = LISTS_FRESH_SECONDS,
        prices_fresh: float = PRICES_FRESH_SECONDS,
        stamps_ttl: float = STAMPS_TTL,
        refresh_tick: float = REFRESH_TICK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._provider = provider
        self._background = background or provider  # refreshes nobody waits for
        self._cache = cache
        self._fresh = {SERVICES: lists_fresh, COUNTRIES: lists_fresh, OFFERS: prices_fresh}
        self._stamps_ttl = stamps_ttl
        self._refresh_tick = refresh_tick
        self._clock = clock
        self._stamps: dict[str, float] = {}
        self._stamps_read_at = float("-inf")
        self._copies: dict[str, _Copy] = {}
        self._rows: dict[str, list[Offer]] = {}  # per service, for `_copies[OFFERS].stamp`
        self._ranked: tuple[tuple[float, float], list[Service]] | None = None
        self._flights: dict[str, asyncio.Task[None]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._refresher: asyncio.Task[None] | None = None
        self._token: str | None = None  # the latest menu user's, for background refreshes
        self._last_used = float("-inf")

    # --- what the menus ask ----------------------------------------------------------------

    async def services(self, token: str) -> list[Service]:
        """Every service, most popular first, then by name."""
        await self._use(token)
        services = await self._list(SERVICES, token)
        stock = await self._stock(token)
        key = (self._copies[SERVICES].stamp, self._copies[OFFERS].stamp)
        if self._ranked is None or self._ranked[0] != key:
            ranked = sorted(services, key=lambda s: _service_rank(s, stock.get(s.id, 0)))
            self._ranked = (key, ranked)
        return list(self._ranked[1])

    async def countries(self, token: str) -> dict[str, Country]:
        await self._use(token)
        copy = await self._copy(COUNTRIES, token)
        if copy.index is None:
            copy.index = {country.id: country for country in copy.value}
        return dict(copy.index)

    async def service(self, token: str, service_id: str) -> Service | None:
        """One service by id (no ranking: every country tap and confirmation asks this)."""
        await self._use(token)
        copy = await self._copy(SERVICES, token)
        if copy.index is None:
            copy.index = {service.id: service for service in copy.value}
        found: Service | None = copy.index.get(service_id)
        return found

    async def offers_for_service(self, token: str, service_id: str) -> list[CountryOffer]:
        """Countries selling this service: in stock first, cheapest first."""
        countries = await self.countries(token)
        lines = [
            CountryOffer(countries[offer.country_id], offer.price, offer.stock)
            for offer in await self._offers(token, service_id)
            if offer.country_id in countries
        ]
        return cheapest_first(lines)

    async def offer(self, token: str, service_id: str, country_id: str) -> Offer | None:
        """The price and stock of one service in one country, from the shared cache."""
        return next(
            (o for o in await self._offers(token, service_id) if o.country_id == country_id),
            None,
        )

    async def prices_changed(self, token: str) -> None:
        """A purchase was refused at the price shown (it rose, or the stock ran out): fetch
        the prices now, so the next card shows what the provider asks. Best effort: a
        failure leaves the cached ones, which a refusal then reports again."""
        try:
            await self._fetch(OFFERS, token)
        except ProviderError as error:
            logger.warning("Refreshing the prices after a refused purchase failed: %s", error)

    # --- the cache and this process's copy of it -------------------------------------------

    async def _use(self, token: str) -> None:
        """A menu was opened: remember the token for refreshes and keep the refresher going."""
        self._token = token
        self._last_used = self._clock()
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh_ahead(), name="catalog-refresh")

    async def _current_stamps(self) -> dict[str, float]:
        now = self._clock()
        if now - self._stamps_read_at >= self._stamps_ttl:
            self._stamps = await self._cache.stamps()
            self._stamps_read_at = now
        return self._stamps

    async def _copy(self, what: str, token: str) -> _Copy:
        """This process's copy of `what`, read again when the cache holds a newer one,
        fetched from the provider when the cache holds none (the caller waits)."""
        stamps = await self._current_stamps()
        stamp = stamps.get(what)
        copy = self._copies.get(what)
        if stamp is None:
            await self._fetch_shared(what, token)
            stamp = (await self._read_stamps()).get(what)
        if stamp is not None and (copy is None or copy.stamp != stamp):
            loaded = await self._load(what)
            if loaded is None:  # the part expired under its stamp
                await self._fetch_shared(what, token)
                loaded = await self._load(what)
            if loaded is not None:
                copy = self._copies[what] = loaded
                if what == OFFERS:
                    self._rows.clear()
        if copy is None:
            raise ProviderError("the catalog could not be read", code="catalog_missing")
        if self._clock() - copy.stamp > self._fresh[what]:
            self._refresh_later(what)
        return copy

    async def _read_stamps(self) -> dict[str, float]:
        self._stamps_read_at = float("-inf")
        return await self._current_stamps()

    async def _load(self, what: str) -> _Copy | None:
        if what == OFFERS:
            stock = await self._cache.stock_by_service()
            at = await self._cache.offers_fetched_at()
            return None if stock is None or at is None else _Copy(at, stock)
        found = await (
            self._cache.get_services() if what == SERVICES else self._cache.get_countries()
        )
        return None if found is None else _Copy(found[1], found[0])

    async def _list(self, what: str, token: str) -> Any:
        return (await self._copy(what, token)).value

    async def _stock(self, token: str) -> dict[str, int]:
        stock: dict[str, int] = (await self._copy(OFFERS, token)).value
        return stock

    async def _offers(self, token: str, service_id: str) -> list[Offer]:
        await self._use(token)
        copy = await self._copy(OFFERS, token)
        rows = self._rows.get(service_id)
        if rows is None:
            found = await self._cache.get_offers(service_id)
            if found is None:  # the table expired since: fetch it again and read once more
                await self._fetch_shared(OFFERS, token)
                found = await self._cache.get_offers(service_id) or []
            if self._copies.get(OFFERS) is copy:
                self._rows[service_id] = found
            rows = found
        return rows

    # --- fetching ---------------------------------------------------------------------------

    async def _fetch_shared(self, what: str, token: str) -> None:
        """Fetch `what` into the cache once for every tap of this process waiting for it.

        A tap that joined someone else's fetch and saw it fail tries again with its own token
        (the failure may have been the other user's revoked token)."""
        flight = self._flights.get(what)
        if flight is not None:
            try:
                await asyncio.shield(flight)
                return
            except ProviderError:
                pass
        flight = asyncio.create_task(self._fetch(what, token), name=f"catalog-{what}")
        self._flights[what] = flight
        try:
            await asyncio.shield(flight)
        finally:
            if self._flights.get(what) is flight and flight.done():
                del self._flights[what]

    async def _fetch(self, what: str, token: str, *, waited_for: bool = True) -> None:
        """Fetch `what` into the cache: in the taps' lane of the provider budget when a tap
        waits for it, else in the background lane."""
        provider = self._provider if waited_for else self._background
        if what == SERVICES:
            await self._cache.put_services(await provider.get_services(token), self._clock())
        elif what == COUNTRIES:
            countries = await provider.get_countries(token)
            await self._cache.put_countries(countries, self._clock())
        else:
            await self._cache.put_offers(await provider.get_offers(token), self._clock())
        self._stamps_read_at = float("-inf")

    def _refresh_later(self, what: str) -> None:
        """Refresh `what` in the background, unless this process already is."""
        token = self._token
        running = self._refreshing.get(what)
        if token is None or (running is not None and not running.done()):
            return
        task = asyncio.create_task(self._refresh(what, token), name=f"catalog-refresh-{what}")
        self._refreshing[what] = task

    async def _refresh(self, what: str, token: str) -> None:
        """One background refresh, by the one process that takes the lock."""
        try:
            if not await self._cache.try_refresh_lock(what, REFRESH_LOCK_SECONDS):
                return
            try:
                await self._fetch(what, token, waited_for=False)
            finally:
                await self._cache.release_refresh_lock(what)
        except WrongToken:
            if self._token == token:
                self._token = None  # revoked: wait for the next user's tap
            logger.warning("Refreshing the %s failed: a user's token was refused", what)
        except ProviderError as error:
            logger.warning("Refreshing the %s failed, serving the cached ones: %s", what, error)
        except Exception:
            logger.exception("Refreshing the %s failed", what)

    async def _refresh_ahead(self) -> None:
        """While menus are in use, refresh each part before it goes stale."""
        while self._clock() - self._last_used < IDLE_AFTER:
            try:
                stamps = await self._read_stamps()
            except Exception as error:  # Redis away: the taps report it; try again later
                logger.debug("The catalog refresher could not read the stamps: %s", error)
            else:
                now = self._clock()
                for what, fresh in self._fresh.items():
                    stamp = stamps.get(what)
                    if stamp is not None and now - stamp > fresh * REFRESH_AHEAD:
                        self._refresh_later(what)
            await asyncio.sleep(self._refresh_tick)

    async def settle(self) -> None:
        """Wait for the background refreshes running now (tests)."""
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    async def aclose(self) -> None:
        tasks = [*self._refreshing.values(), *self._flights.values()]
        if self._refresher is not None:
            tasks.append(self._refresher)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
