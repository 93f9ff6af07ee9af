"""Things a user is told once, not at every check: a flag per user and kind, in Redis.

`first()` says whether this is the first time (and remembers it for a day); `clear()`
forgets it when the cause is gone (e.g. the user set a new token).
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.store import keys

REMEMBERED = 24 * 3600

TOKEN_REJECTED = "token_rejected"  # noqa: S105 - the name of a notice, not a secret
"""The provider refused the token an open number is watched with."""


class NoticeStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def first(self, user_id: int, kind: str) -> bool:
        """True once per `kind` for the user (until `clear` or a day has passed)."""
        return bool(await self._redis.set(keys.notice(user_id, kind), "1", nx=True, ex=REMEMBERED))

    async def clear(self, user_id: int, kind: str) -> None:
        await self._redis.delete(keys.notice(user_id, kind))
