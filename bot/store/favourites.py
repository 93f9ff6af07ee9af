"""Each user's favourite service + country pairs: a short list, newest first."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.store import keys

FAVOURITES_KEPT = 8
_SEPARATOR = "\x1f"  # ids come from the provider and may hold any printable character


class FavouriteStore:
    def __init__(self, redis: Redis, kept: int = FAVOURITES_KEPT) -> None:
        self._redis = redis
        self._kept = kept

    async def list(self, user_id: int) -> list[tuple[str, str]]:
        """(service id, country id) pairs, the latest added first."""
        raw = await self._redis.lrange(keys.user_favourites(user_id), 0, self._kept - 1)
        pairs = []
        for item in raw:
            service_id, separator, country_id = str(item).partition(_SEPARATOR)
            if separator:
                pairs.append((service_id, country_id))
        return pairs

    async def add(self, user_id: int, service_id: str, country_id: str) -> None:
        """Keep the pair first; the oldest beyond the limit is dropped."""
        key = keys.user_favourites(user_id)
        item = f"{service_id}{_SEPARATOR}{country_id}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrem(key, 0, item)
            pipe.lpush(key, item)
            pipe.ltrim(key, 0, self._kept - 1)
            await pipe.execute()

    async def remove(self, user_id: int, service_id: str, country_id: str) -> None:
        await self._redis.lrem(
            keys.user_favourites(user_id), 0, f"{service_id}{_SEPARATOR}{country_id}"
        )

    async def contains(self, user_id: int, service_id: str, country_id: str) -> bool:
        return (service_id, country_id) in await self.list(user_id)
