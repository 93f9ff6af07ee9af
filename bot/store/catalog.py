"""The catalog cache: countries and services (kept for hours) and prices with stock (a minute).

Prices are stored per service (one hash field each), so opening a country menu reads one field.
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

M = TypeVar("M", bound=BaseModel)


class CatalogCache:
    def __init__(self, redis: Redis, provider: str) -> None:
        self._redis = redis
        self._provider = provider

    def _key(self, what: str) -> str:
        return keys.catalog(self._provider, what)

    async def get_countries(self) -> tuple[list[Country], float] | None:
        return await self._get_list("countries", Country)

    async def put_countries(self, countries: list[Country]) -> None:
        await self._put_list("countries", countries)

    async def get_services(self) -> tuple[list[Service], float] | None:
        return await self._get_list("services", Service)

    async def put_services(self, services: list[Service]) -> None:
        await self._put_list("services", services)

    async def _get_list(self, what: str, model: type[M]) -> tuple[list[M], float] | None:
        """A cached list and the unix time it was stored, None when there is none."""
        raw = await self._redis.get(self._key(what))
        if not raw:
            return None
        data = json.loads(raw)
        return [model.model_validate(item) for item in data["items"]], float(data["at"])

    async def _put_list(self, what: str, items: Sequence[BaseModel]) -> None:
        payload = {"at": time.time(), "items": [item.model_dump() for item in items]}
        await self._redis.set(self._key(what), json.dumps(payload), ex=LISTS_KEPT_SECONDS)

    async def put_offers(self, offers: list[Offer]) -> None:
        """Replace the whole price table."""
        by_service: dict[str, list[list[str | int]]] = {}
        for offer in offers:
            by_service.setdefault(offer.service_id, []).append(
                [offer.country_id, str(offer.price), offer.stock]
            )
        mapping: dict[FieldT, EncodableT] = {
            sid: json.dumps(rows) for sid, rows in by_service.items()
        }
        mapping["@at"] = str(time.time())
        # The service menu's ranking needs only each service's total stock: kept beside the
        # table, so a tap reads one small field rather than parsing the whole table.
        mapping["@stock"] = json.dumps(
            {sid: sum(int(row[2]) for row in rows) for sid, rows in by_service.items()}
        )
        key = self._key("offers")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, OFFERS_KEPT_SECONDS)
            await pipe.execute()

    async def offers_fetched_at(self) -> float | None:
        value = await self._redis.hget(self._key("offers"), "@at")
        return float(value) if value is not None else None

    async def get_offers(self, service_id: str) -> list[Offer]:
        raw = await self._redis.hget(self._key("offers"), service_id)
        if not raw:
            return []
        return [
            Offer(country_id=str(c), service_id=service_id, price=Decimal(str(p)), stock=int(s))
            for c, p, s in json.loads(raw)
        ]

    async def stock_by_service(self) -> dict[str, int]:
        """Total stock of every service (for ordering the service menu by popularity)."""
        totals = await self._redis.hget(self._key("offers"), "@stock")
        if totals is None:
            return {}
        return {str(sid): int(stock) for sid, stock in json.loads(totals).items()}

    async def try_refresh_lock(self, seconds: float) -> bool:
        """True for the one process that should refresh prices now."""
        return bool(
            await self._redis.set(self._key("refreshing"), "1", nx=True, px=int(seconds * 1000))
        )
