"""Where a conversation stands: the FSM state and its data, for the next update to go on from.

A private chat's state and data are two fields of the user's own hash (`keys.user`), so the
one read of the user that every update makes (`UserStore.visit`) brings them along, and they
cost no keys of their own. A conversation anywhere else (a group, a forum topic, a business
chat) has a hash of its own (`keys.conversation`) with the same two fields. The data is JSON
text; no state and empty data are stored as no field at all.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from bot.store import as_text

STATE = "fsm_state"
DATA = "fsm_data"
FIELDS = (STATE, DATA)


@dataclass(frozen=True)
class Conversation:
    state: str | None = None
    data: str | None = None  # a JSON object; None for no data


class ConversationStore:
    """Reads and writes the two fields in the hash `key` (`keys.user` or
    `keys.conversation`); each call is one command."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get(self, key: str) -> Conversation:
        state, data = await self._redis.hmget(key, FIELDS)
        return Conversation(
            as_text(state) if state is not None else None,
            as_text(data) if data is not None else None,
        )

    async def set_state(self, key: str, state: str | None) -> None:
        await self._set(key, STATE, state)

    async def set_data(self, key: str, data: str | None) -> None:
        await self._set(key, DATA, data)

    async def set(self, key: str, state: str | None, data: str | None) -> None:
        """Both fields at once: the ones with a value set and the others deleted, sent
        together (with the bot's pipelining client, one round trip)."""
        fields = {STATE: state, DATA: data}
        present: dict[FieldT, EncodableT] = {f: v for f, v in fields.items() if v is not None}
        absent = [f for f, v in fields.items() if v is None]
        commands = []
        if present:
            commands.append(self._redis.hset(key, mapping=present))
        if absent:
            commands.append(self._redis.hdel(key, *absent))
        await asyncio.gather(*commands)

    async def clear(self, key: str) -> None:
        await self._redis.hdel(key, *FIELDS)

    async def _set(self, key: str, field: str, value: str | None) -> None:
        if value is None:
            await self._redis.hdel(key, field)
        else:
            await self._redis.hset(key, field, value)
