"""aiogram's FSM over bot.store.conversations: read once per update, written only on change.

`ConversationStorage` is the Dispatcher's FSM storage, a `BaseStorage` as aiogram's
RedisStorage is, over `ConversationStore`: a private chat's state and data live in the user
hash. `LoadUser` (handlers.middlewares) reads them with the user, in the update's one round
trip, and hands handlers a `LoadedFSMContext` in place of aiogram's `FSMContext`: it answers
`get_state` and `get_data` from what was read, and writes only what changes (aiogram's
context reads Redis on every call and writes on every call, the same value included). A
change is written at once, so another bot process handling the user's next update sees it,
as with aiogram's storage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import DEFAULT_DESTINY, BaseStorage, StateType, StorageKey

from bot.store import keys
from bot.store.conversations import Conversation, ConversationStore


def state_name(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


def encode_data(data: Mapping[str, Any]) -> str | None:
    """Data as stored: compact JSON, None (no field) when empty."""
    if not isinstance(data, Mapping):
        raise DataNotDictLikeError(
            f"Data must be a dict or dict-like object, got {type(data).__name__}"
        )
    return json.dumps(dict(data), ensure_ascii=False, separators=(",", ":")) if data else None


def decode_data(text: str | None) -> dict[str, Any]:
    return dict(json.loads(text)) if text else {}


async def advance(context: FSMContext, state: StateType, **data: Any) -> None:
    """Move the conversation to `state` and merge `data` into its data: one write with the
    context `LoadUser` hands out (aiogram's own, in chats nobody is read for, takes two)."""
    if isinstance(context, LoadedFSMContext):
        await context.advance(state, data)
    else:
        await context.set_state(state)
        await context.update_data(data)


class ConversationStorage(BaseStorage):
    """The FSM storage. The bot id is not part of the key: one bot uses one keyspace."""

    def __init__(self, store: ConversationStore) -> None:
        self.store = store

    @staticmethod
    def redis_key(key: StorageKey) -> str:
        if (
            key.chat_id == key.user_id
            and key.thread_id is None
            and key.business_connection_id is None
            and key.destiny == DEFAULT_DESTINY
        ):
            return keys.user(key.user_id)
        return keys.conversation(
            key.chat_id, key.user_id, key.thread_id, key.business_connection_id, key.destiny
        )

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self.store.set_state(self.redis_key(key), state_name(state))

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self.store.get(self.redis_key(key))).state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self.store.set_data(self.redis_key(key), encode_data(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return decode_data((await self.store.get(self.redis_key(key))).data)

    async def close(self) -> None:
        """Nothing to close: the Redis client is the App's, which `open_app` closes. aiogram
        closes its storage as soon as polling stops, while handlers still running and the
        watcher use the same client."""


class LoadedFSMContext(FSMContext):
    """The FSM context of one update, starting from the state and data read with it."""

    def __init__(self, storage: ConversationStorage, key: StorageKey, loaded: Conversation) -> None:
        super().__init__(storage, key)
        self._conversations = storage
        self._redis_key = storage.redis_key(key)
        self._state = loaded.state
        self._data = loaded.data

    @property
    def current_state(self) -> str | None:
        return self._state

    async def get_state(self) -> str | None:
        return self._state

    async def set_state(self, state: StateType = None) -> None:
        name = state_name(state)
        if name != self._state:
            await self._conversations.store.set_state(self._redis_key, name)
            self._state = name

    async def get_data(self) -> dict[str, Any]:
        return decode_data(self._data)  # a fresh dict: the caller may change it

    async def get_value(self, key: str, default: Any | None = None) -> Any | None:
        return decode_data(self._data).get(key, default)

    async def set_data(self, data: Mapping[str, Any]) -> None:
        text = encode_data(data)
        if text != self._data:
            await self._conversations.store.set_data(self._redis_key, text)
            self._data = text

    async def update_data(
        self, data: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        if data:
            kwargs.update(data)  # as aiogram's FSMContext: `data` wins over keywords
        merged = decode_data(self._data)
        merged.update(kwargs)
        await self.set_data(merged)
        return merged

    async def advance(self, state: StateType, data: Mapping[str, Any]) -> None:
        """Set the state and merge `data` into the data, written together in one round trip
        (nothing is written when neither changes)."""
        name = state_name(state)
        merged = decode_data(self._data)
        merged.update(data)
        text = encode_data(merged)
        if name == self._state and text == self._data:
            return
        await self._conversations.store.set(self._redis_key, name, text)
        self._state, self._data = name, text

    async def clear(self) -> None:
        if self._state is None and self._data is None:
            return
        await self._conversations.store.clear(self._redis_key)
        self._state = self._data = None
