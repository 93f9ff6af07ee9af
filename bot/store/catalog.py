"""The catalog cache, shared by every process: countries and services (kept for hours) and
prices with stock (refreshed every minute or so).

Beside the data, one small hash holds when each part was stored (`stamps()`), so a process
that keeps the parsed catalog in memory learns in one round trip whether its copy is
current, and reads the data itself only when another process stored a newer one. Prices are
stored per service (one hash field each), so a country menu reads one field.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from bot.provider.models import Country, Offer, Service
from bot.store import keys

LISTS_KEPT_SECONDS = 24 * 3600  # hard expiry; freshness is decided by the caller
OFFERS_KEPT_SECONDS = 3600

SERVICES = "services"
COUNTRIES = "countries"
OFFERS = "offers"
PARTS = (SERVICES, COUNTRIES, OFFERS)

M = TypeVar("M", bound=BaseModel)


class CatalogCache:
    def __init__(self, redis: Redis, provider: str) -> None:
        self._redis = redis
        self._provider = provider

    def _key(self, what: str) -> str:
        return keys.catalog(self._provider, what)

    async def stamps(self) -> dict[str, float]:
        """When each part (`SERVICES`, `COUNTRIES`, `OFFERS`) was last stored, unix time;
        a part never stored (or expired) is missing."""
        raw = await self._redis.hgetall(self._key("stamps"))
        found: dict[str, float] = {}
        for part, value in raw.items():
            try:
                found[str(part)] = float(value)
            except ValueError:
                continue
        return found

    async def get_countries(self) -> tuple[list[Country], float] | None:
        return await self._get_list(COUNTRIES, Country)

    async def put_countries(self, countries: list[Country], at: float | None = None) -> None:
        await self._put_list(COUNTRIES, countries, at)

    async def get_services(self) -> tuple[list[Service], float] | None:
        return await self._get_list(SERVICES, Service)

    async def put_services(self, services: list[Service], at: float | None = None) -> None:
        await self._put_list(SERVICES, services, at)

    async def _get_list(self, what: str, model: type[M]) -> tuple[list[M], float] | None:
        """A cached list and the unix time it was stored, None when there is none."""
        raw = await self._redis.get(self._key(what))
        if not raw:
            return None
        data = json.loads(raw)
        return [model.model_validate(item) for item in data["items"]], float(data["at"])

    async def _put_list(self, what: str, items: Sequence[BaseModel], at: float | None) -> None:
        at = time.time() if at is None else at
        payload = {"at": at, "items": [item.model_dump() for item in items]}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(what), json.dumps(payload), ex=LISTS_KEPT_SECONDS)
            self._stamp(pipe, what, at, LISTS_KEPT_SECONDS)
            await pipe.execute()

    def _stamp(self, pipe: Redis, what: str, at: float, kept: int) -> None:
        # The stamp may outlive its part by a little; readers treat a missing part as cold.
        pipe.hset(self._key("stamps"), what, repr(at))
        pipe.expire(self._key("stamps"), max(LISTS_KEPT_SECONDS, kept))

    async def put_offers(self, offers: list[Offer], at: float | None = None) -> None:
        """Replace the whole price table; `at`: when it was fetched (unix time, default now)."""
        by_service: dict[str, list[list[str | int]]] = {}
        for offer in offers:
            by_service.setdefault(offer.service_id, []).append(
                [offer.country_id, str(offer.price), offer.stock]
            )
        at = time.time() if at is None else at
        mapping: dict[FieldT, EncodableT] = {
            sid: json.dumps(rows) for sid, rows in by_service.items()
        }
        mapping["@at"] = repr(at)
        # The service menu's ranking needs only each service's total stock: kept beside the
        # table, so a tap reads one small field rather than parsing the whole table.
        mapping["@stock"] = json.dumps(
            {sid: sum(int(row[2]) for row in rows) for sid, rows in by_service.items()}
        )
        key = self._key(OFFERS)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, OFFERS_KEPT_SECONDS)
            self._stamp(pipe, OFFERS, at, OFFERS_KEPT_SECONDS)
            await pipe.execute()

    async def offers_fetched_at(self) -> float | None:
        value = await self._redis.hget(self._key(OFFERS), "@at")
        return float(value) if value is not None else None

    async def get_offers(self, service_id: str) -> list[Offer] | None:
        """The offers of one service; [] when it sells nowhere, None when no table is stored."""
        key = self._key(OFFERS)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(key, service_id)
            pipe.hexists(key, "@at")
            raw, stored = await pipe.execute()
        if not stored:
            return None
        if not raw:
            return []
        return [
            Offer(country_id=str(c), service_id=service_id, price=Decimal(str(p)), stock=int(s))
            for c, p, s in json.loads(raw)
        ]

    async def stock_by_service(self) -> dict[str, int] | None:
        """Total stock of every service (for ordering the service menu by popularity); None
        when no table is stored."""
        totals = await self._redis.hget(self._key(OFFERS), "@stock")
        if totals is None:
            return None
        return {str(sid): int(stock) for sid, stock in json.loads(totals).items()}

    async def try_refresh_lock(self, what: str, seconds: float) -> bool:
        """True for the one process that should refresh `what` now."""
        return bool(
            await self._redis.set(
                self._key(f"refreshing:{what}"), "1", nx=True, px=int(seconds * 1000)
            )
        )

    async def release_refresh_lock(self, what: str) -> None:
        await self._redis.delete(self._key(f"refreshing:{what}"))
