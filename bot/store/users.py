"""Users: language, encrypted API token, recently used services."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import WatchError

from bot.store import conversations, keys
from bot.store.conversations import Conversation
from bot.store.crypto import KeyMismatch, TokenCipher

RECENT_SERVICES_KEPT = 6

_VISIT_FIELDS = ("language", "token", "created_at")


@dataclass(frozen=True)
class Visit:
    """What one update needs to know about the user who sent it, read in one round trip
    (`UserStore.visit`), as it was when the update arrived."""

    language: str | None  # chosen with /language
    encrypted_token: str | None
    taps: int  # the user's button taps in this throttle window, this one included; 0 if none
    conversation: Conversation | None  # the FSM state and data of the update's conversation

    @property
    def has_token(self) -> bool:
        return self.encrypted_token is not None


class UserStore:
    def __init__(self, redis: Redis, cipher: TokenCipher) -> None:
        self._redis = redis
        self._cipher = cipher

    async def check_key(self) -> None:
        """Fail fast (KeyMismatch) when tokens in Redis were stored under another key; with
        older keys configured too, re-encrypt what they encrypted with the current one."""
        stored = await self._redis.get(keys.KEY_CHECK)
        if stored is None:
            await self._redis.set(keys.KEY_CHECK, self._cipher.encrypt("key-check"), nx=True)
            return
        text = stored.decode() if isinstance(stored, bytes) else stored
        if self._cipher.decrypt(text) != "key-check":
            raise KeyMismatch("stored token canary does not match")
        if self._cipher.has_older_keys:
            for user_id in await self.users_with_token():
                await self.get_token(user_id)  # re-encrypts a token of an older key
            rotated = self._cipher.rotate(text)
            if rotated is not None:
                await self._redis.set(keys.KEY_CHECK, rotated)

    async def register(self, user_id: int) -> bool:
        """Remember the user; True when this is their first visit. A user who writes to
        the bot can be reached again: they are no longer counted as having blocked it."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.sadd(keys.USERS, str(user_id))
            pipe.srem(keys.BLOCKED, str(user_id))
            pipe.hsetnx(keys.user(user_id), "created_at", str(time.time()))
            added, _, _ = await pipe.execute()
        return bool(added)

    async def visit(
        self,
        user_id: int,
        *,
        private: bool,
        conversation: str | None = None,
        tap_window: int | None = None,
        tap_ttl: float = 2.0,
    ) -> Visit:
        """Everything an update reads about its user, and what every update does, in one
        round trip (a second one only on the user's first visit, to `register` them).

        `private`: the update comes from the user's private chat, so the user is remembered
        and no longer counted as having blocked the bot. `conversation`: the key of the
        update's FSM state and data (bot.store.conversations; in a private chat the user
        hash itself), read along. `tap_window`: the update is a button tap, counted in that
        throttle window; a window's count lives `tap_ttl` seconds.
        """
        key = keys.user(user_id)
        own = conversation == key
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(key, _VISIT_FIELDS + (conversations.FIELDS if own else ()))
            if conversation is not None and not own:
                pipe.hmget(conversation, conversations.FIELDS)
            if private:
                pipe.srem(keys.BLOCKED, str(user_id))
            if tap_window is not None:  # shared by every process on this Redis
                pipe.incr(keys.taps(user_id, tap_window))
                pipe.expire(keys.taps(user_id, tap_window), max(1, math.ceil(tap_ttl)))
            replies = await pipe.execute()
        language, token, created_at, *fsm = replies[0]
        if conversation is not None and not own:
            fsm = replies[1]
        if private and created_at is None:
            await self.register(user_id)
        return Visit(
            language=language,
            encrypted_token=token,
            taps=int(replies[-2]) if tap_window is not None else 0,
            conversation=Conversation(*fsm) if conversation is not None else None,
        )

    async def get_language(self, user_id: int) -> str | None:
        value = await self._redis.hget(keys.user(user_id), "language")
        return str(value) if value is not None else None

    async def set_language(self, user_id: int, language: str) -> None:
        await self._redis.hset(keys.user(user_id), "language", language)

    async def set_token(self, user_id: int, token: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.user(user_id), "token", self._cipher.encrypt(token))
            pipe.sadd(keys.USERS, str(user_id))
            pipe.sadd(keys.USERS_WITH_TOKEN, str(user_id))
            await pipe.execute()

    async def get_encrypted_token(self, user_id: int) -> str | None:
        value = await self._redis.hget(keys.user(user_id), "token")
        return str(value) if value is not None else None

    async def get_token(self, user_id: int) -> str | None:
        """The user's token; one an older key encrypted is stored again under the current."""
        ciphertext = await self.get_encrypted_token(user_id)
        if not ciphertext:
            return None
        token = self.decrypt_token(ciphertext)
        rotated = self._cipher.rotate(ciphertext)
        if rotated is not None:
            await self._replace_token(user_id, ciphertext, rotated)
        return token

    async def _replace_token(self, user_id: int, old: str, new: str) -> None:
        """Store `new` only while `old` is still there (never bring back a deleted token)."""
        key = keys.user(user_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if await pipe.hget(key, "token") != old:
                    return
                pipe.multi()
                pipe.hset(key, "token", new)
                await pipe.execute()
            except WatchError:
                pass  # changed meanwhile (a new token, /logout): that change stands

    def decrypt_token(self, ciphertext: str) -> str:
        """The token inside what `get_encrypted_token` returned."""
        return self._cipher.decrypt(ciphertext)

    async def delete_token(self, user_id: int) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.user(user_id), "token")
            pipe.srem(keys.USERS_WITH_TOKEN, str(user_id))
            removed, _ = await pipe.execute()
        return bool(removed)

    async def users_with_token(self) -> list[int]:
        return sorted(int(member) for member in await self._redis.smembers(keys.USERS_WITH_TOKEN))

    async def count(self) -> tuple[int, int]:
        """(all users, users with a token)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.scard(keys.USERS)
            pipe.scard(keys.USERS_WITH_TOKEN)
            users, with_token = await pipe.execute()
        return int(users), int(with_token)

    async def recent_services(self, user_id: int) -> list[str]:
        return [str(s) for s in await self._redis.lrange(keys.user_recent_services(user_id), 0, -1)]

    async def add_recent_service(self, user_id: int, service_id: str) -> None:
        key = keys.user_recent_services(user_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrem(key, 0, service_id)
            pipe.lpush(key, service_id)
            pipe.ltrim(key, 0, RECENT_SERVICES_KEPT - 1)
            await pipe.execute()


__all__ = ["KeyMismatch", "UserStore", "Visit"]
