"""Users: language, encrypted API token, recently used services."""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import WatchError

from bot.store import as_text, conversations, keys
from bot.store.conversations import Conversation
from bot.store.crypto import KeyMismatch, TokenCipher

RECENT_SERVICES_KEPT = 6

_FERNET_FRAME = 1 + 8 + 16 + 32  # version, timestamp, IV, HMAC
_FERNET_BLOCK = 16

# What every update reads and does about its user, in one command.
# KEYS: the user hash, the blocked set, the users set, the conversation hash (the user hash
# itself in a private chat), then, for a button tap, the tap counter of its window.
# ARGV: the user id; "1" in the user's private chat; the time (first visit); "own", "other"
# or "" for no conversation; the tap counter's lifetime in seconds; the names of the FSM
# state and data fields; "1" when the update starts the conversation over (a command):
# a state, if any, is then cleared with its data.
# Returns one string, "\n" between: taps (0 when not a tap), language, encrypted token, FSM
# state, FSM data ("" for none). One string because redis-py (without hiredis) parses each
# element of an array reply in Python; only the data, last, could hold a "\n".
_VISIT_SCRIPT = r"""
local user = redis.call('HMGET', KEYS[1], 'language', 'token', 'created_at', ARGV[6], ARGV[7])
if ARGV[2] == '1' then
    redis.call('SREM', KEYS[2], ARGV[1])
    if not user[3] then
        redis.call('SADD', KEYS[3], ARGV[1])
        redis.call('HSETNX', KEYS[1], 'created_at', ARGV[3])
    end
end
local state, data = user[4], user[5]
if ARGV[4] == 'other' then
    local conversation = redis.call('HMGET', KEYS[4], ARGV[6], ARGV[7])
    state, data = conversation[1], conversation[2]
end
if ARGV[8] == '1' and ARGV[4] ~= '' and state then
    redis.call('HDEL', KEYS[4], ARGV[6], ARGV[7])
    state, data = false, false
end
local taps = 0
if KEYS[5] then
    taps = redis.call('INCR', KEYS[5])
    redis.call('EXPIRE', KEYS[5], ARGV[5])
end
return table.concat({taps, user[1] or '', user[2] or '', state or '', data or ''}, '\n')
"""


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


@dataclass
class _ReadInUpdate:
    """A user's encrypted token as the update being handled read it (`UserStore.reading`)."""

    user_id: int
    encrypted_token: str | None
    open: bool = True


_read_in_update: ContextVar[_ReadInUpdate | None] = ContextVar("read_in_update", default=None)


class UserStore:
    def __init__(self, redis: Redis, cipher: TokenCipher) -> None:
        self._redis = redis
        self._cipher = cipher
        self._visit = redis.register_script(_VISIT_SCRIPT)

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

    async def visit(
        self,
        user_id: int,
        *,
        private: bool,
        conversation: str | None = None,
        start_over: bool = False,
        tap_window: int | None = None,
        tap_ttl: float = 2.0,
    ) -> Visit:
        """Everything an update reads about its user, and what every update does: one
        command (a script), so one round trip.

        `private`: the update comes from the user's private chat, so the user is remembered
        (in the users set, with the time of their first visit) and no longer counted as
        having blocked the bot.
        `conversation`: the key of the update's FSM state and data (bot.store.conversations;
        in a private chat the user hash itself), read along; with `start_over` (a command)
        a state found there is cleared with its data. `tap_window`: the update is a
        button tap, counted in that throttle window, shared by every process on this Redis;
        a window's count lives `tap_ttl` seconds.
        """
        user_key = keys.user(user_id)
        visit_keys = [user_key, keys.BLOCKED, keys.USERS, conversation or user_key]
        if tap_window is not None:
            visit_keys.append(keys.taps(user_id, tap_window))
        mode = "" if conversation is None else "own" if conversation == user_key else "other"
        reply = await self._visit(
            keys=visit_keys,
            args=[
                user_id,
                "1" if private else "",
                str(time.time()),
                mode,
                max(1, math.ceil(tap_ttl)),
                *conversations.FIELDS,
                "1" if start_over else "",
            ],
        )
        taps, language, token, state, data = as_text(reply).split("\n", 4)
        return Visit(
            language=language or None,
            encrypted_token=token or None,
            taps=int(taps),
            conversation=Conversation(state or None, data or None)
            if conversation is not None
            else None,
        )

    @contextmanager
    def reading(self, user_id: int, visit: Visit) -> Iterator[None]:
        """While an update is handled: its user's token as `visit` read it answers this
        store's `get_encrypted_token` and `get_token` for that user, which the use cases
        call once or twice per step (a round trip each). Changes made meanwhile through
        this store keep it current. It ends with the update, for the tasks the update
        started too; outside it, and for other users, the store reads Redis."""
        read = _ReadInUpdate(user_id, visit.encrypted_token)
        reset = _read_in_update.set(read)
        try:
            yield
        finally:
            read.open = False
            _read_in_update.reset(reset)

    @staticmethod
    def _read_in_update(user_id: int) -> _ReadInUpdate | None:
        read = _read_in_update.get()
        return read if read is not None and read.open and read.user_id == user_id else None

    async def get_language(self, user_id: int) -> str | None:
        value = await self._redis.hget(keys.user(user_id), "language")
        return str(value) if value is not None else None

    async def set_language(self, user_id: int, language: str) -> None:
        await self._redis.hset(keys.user(user_id), "language", language)

    async def set_token(self, user_id: int, token: str) -> None:
        ciphertext = self._cipher.encrypt(token)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.user(user_id), "token", ciphertext)
            pipe.sadd(keys.USERS, str(user_id))
            pipe.sadd(keys.USERS_WITH_TOKEN, str(user_id))
            await pipe.execute()
        self._note_token(user_id, ciphertext)

    async def get_encrypted_token(self, user_id: int) -> str | None:
        read = self._read_in_update(user_id)
        if read is not None:
            return read.encrypted_token
        value = await self._redis.hget(keys.user(user_id), "token")
        return str(value) if value is not None else None

    def _note_token(self, user_id: int, ciphertext: str | None) -> None:
        read = self._read_in_update(user_id)
        if read is not None:
            read.encrypted_token = ciphertext

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
                self._note_token(user_id, new)
            except WatchError:
                pass  # changed meanwhile (a new token, /logout): that change stands

    def decrypt_token(self, ciphertext: str) -> str:
        """The token inside what `get_encrypted_token` returned."""
        return self._cipher.decrypt(ciphertext)

    @staticmethod
    def token_may_be_in(text: str, ciphertext: str) -> bool:
        """Whether `text` is long enough to hold the token `ciphertext` encrypts; when not,
        there is no need to decrypt it to look (a decryption costs ~50 us, and most texts
        are commands and short searches). A Fernet token is a 57-byte frame around the
        plaintext padded to whole 16-byte blocks (PKCS7 adds 1 to 16 bytes), so its length
        tells the token's within 16 bytes."""
        try:
            padded = len(base64.urlsafe_b64decode(ciphertext)) - _FERNET_FRAME
        except ValueError:  # not a Fernet token: let decryption say what it is
            return True
        return len(text.encode()) >= padded - _FERNET_BLOCK

    async def delete_token(self, user_id: int) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.user(user_id), "token")
            pipe.srem(keys.USERS_WITH_TOKEN, str(user_id))
            removed, _ = await pipe.execute()
        self._note_token(user_id, None)
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
