"""Who blocked the bot, shared by every process in Redis until they come back.

Set when Telegram refuses a message with "bot was blocked by the user" or sends the
`my_chat_member` update that says so; cleared by any update from the user (see
`UserStore.register`) or the update that says they restarted the bot.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.store import keys


class BlockedStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def mark(self, user_id: int) -> None:
        await self._redis.sadd(keys.BLOCKED, str(user_id))

    async def clear(self, user_id: int) -> bool:
        """The user can be reached again; True when they were counted as blocked."""
        return bool(await self._redis.srem(keys.BLOCKED, str(user_id)))

    async def members(self) -> set[int]:
        return {int(member) for member in await self._redis.smembers(keys.BLOCKED)}
