"""⭐ Favourites: service + country pairs a user saved from a confirmation card, offered first
in the service menu and one tap from a confirmation."""

from __future__ import annotations

from dataclasses import dataclass

from bot.provider.models import Country, Service
from bot.services.catalog import Catalog
from bot.store.favourites import FavouriteStore


@dataclass(frozen=True)
class Favourite:
    service: Service
    country: Country


class FavouritesService:
    def __init__(self, store: FavouriteStore, catalog: Catalog) -> None:
        self._store = store
        self._catalog = catalog

    async def toggle(self, user_id: int, service_id: str, country_id: str) -> bool:
        """Save the pair, or remove it when saved; whether it is a favourite now."""
        if await self._store.contains(user_id, service_id, country_id):
            await self._store.remove(user_id, service_id, country_id)
            return False
        await self._store.add(user_id, service_id, country_id)
        return True

    async def remove(self, user_id: int, service_id: str, country_id: str) -> None:
        await self._store.remove(user_id, service_id, country_id)

    async def contains(self, user_id: int, service_id: str, country_id: str) -> bool:
        return await self._store.contains(user_id, service_id, country_id)

    async def service_ids(self, user_id: int) -> list[str]:
        """The services of the user's favourites, latest saved first, each once."""
        return list(dict.fromkeys(sid for sid, _ in await self._store.list(user_id)))

    async def pairs(self, user_id: int, token: str) -> list[Favourite]:
        """The user's favourites the catalog still sells, latest saved first."""
        saved = await self._store.list(user_id)
        if not saved:
            return []
        services = {service.id: service for service in await self._catalog.services(token)}
        countries = await self._catalog.countries(token)
        return [
            Favourite(services[sid], countries[cid])
            for sid, cid in saved
            if sid in services and cid in countries
        ]
