"""The FSM storage: a private chat's state and data in the user hash, read once per update
(`LoadedFSMContext`) and written only when they change."""

from __future__ import annotations

from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis

from bot.store import keys
from bot.store.conversations import Conversation, ConversationStore
from handlers.fsm import ConversationStorage, LoadedFSMContext, advance
from handlers.states import BuyForm, TokenForm

PRIVATE = StorageKey(bot_id=42, chat_id=7, user_id=7)
IN_GROUP = StorageKey(bot_id=42, chat_id=-100, user_id=7)


class CountingStore(ConversationStore):
    """Counts the writes that reach Redis."""

    def __init__(self, redis: Redis) -> None:
        super().__init__(redis)
        self.writes = 0

    async def set_state(self, key: str, state: str | None) -> None:
        self.writes += 1
        await super().set_state(key, state)

    async def set_data(self, key: str, data: str | None) -> None:
        self.writes += 1
        await super().set_data(key, data)

    async def clear(self, key: str) -> None:
        self.writes += 1
        await super().clear(key)

    async def set(self, key: str, state: str | None, data: str | None) -> None:
        self.writes += 1
        await ConversationStore.set_state(self, key, state)  # uncounted: one write
        await ConversationStore.set_data(self, key, data)


async def loaded(storage: ConversationStorage, key: StorageKey = PRIVATE) -> LoadedFSMContext:
    """The context an update gets, from what is in Redis now."""
    return LoadedFSMContext(storage, key, await storage.store.get(storage.redis_key(key)))


async def test_a_private_chats_state_lives_in_the_user_hash_and_a_groups_in_its_own(
    fake_redis: Redis,
) -> None:
    storage = ConversationStorage(ConversationStore(fake_redis))
    await fake_redis.hset(keys.user(7), "language", "ru")

    await storage.set_state(PRIVATE, BuyForm.choosing_service)
    await storage.set_data(PRIVATE, {"service_query": "теле"})
    await storage.set_state(IN_GROUP, "elsewhere")

    user = await fake_redis.hgetall(keys.user(7))
    assert user["language"] == "ru" and user["fsm_state"] == BuyForm.choosing_service.state
    assert await storage.get_data(PRIVATE) == {"service_query": "теле"}
    assert await storage.get_state(IN_GROUP) == "elsewhere"
    assert await storage.get_state(StorageKey(bot_id=42, chat_id=-100, user_id=8)) is None
    await storage.set_state(PRIVATE, None)
    await storage.set_data(PRIVATE, {})
    assert await fake_redis.hgetall(keys.user(7)) == {"language": "ru"}  # the rest stays


async def test_an_update_writes_only_what_changes(fake_redis: Redis) -> None:
    store = CountingStore(fake_redis)
    storage = ConversationStorage(store)
    await storage.set_state(PRIVATE, BuyForm.choosing_service)
    await storage.set_data(PRIVATE, {"service_query": ""})
    store.writes = 0

    state = await loaded(storage)
    assert await state.get_state() == BuyForm.choosing_service
    await state.set_state(BuyForm.choosing_service)  # 🛒 Buy again: where the user already is
    await state.update_data(service_query="")
    assert store.writes == 0

    await state.update_data(service_query="te")
    await state.set_state(BuyForm.choosing_country)
    assert store.writes == 2
    again = await loaded(storage)  # the next update, maybe in another process
    assert await again.get_state() == BuyForm.choosing_country
    assert await again.get_value("service_query") == "te"

    await again.clear()
    await again.clear()
    await (await loaded(storage)).clear()
    assert store.writes == 3
    assert await storage.get_state(PRIVATE) is None and await storage.get_data(PRIVATE) == {}


async def test_data_handed_out_is_the_callers_to_change(fake_redis: Redis) -> None:
    storage = ConversationStorage(ConversationStore(fake_redis))
    await storage.set_data(PRIVATE, {"quote": {"nonce": "a"}})
    state = await loaded(storage)

    data = await state.get_data()
    data["quote"]["nonce"] = "b"  # changed in place, then saved: a change all the same
    await state.set_data(data)
    merged: dict[str, Any] = await state.update_data({"x": 1}, x=2, y=3)

    assert merged == {"quote": {"nonce": "b"}, "x": 1, "y": 3}  # as aiogram: `data` wins
    assert await storage.get_data(PRIVATE) == merged
    await state.set_state(TokenForm.waiting_token)
    assert await storage.get_state(PRIVATE) == TokenForm.waiting_token.state


async def test_a_step_moves_the_state_and_its_data_in_one_write(fake_redis: Redis) -> None:
    store = CountingStore(fake_redis)
    storage = ConversationStorage(store)
    context = await loaded(storage)

    await advance(context, BuyForm.choosing_service, service_query="")
    await advance(context, BuyForm.choosing_country, service_id="3", country_query="")
    assert store.writes == 2
    await advance(context, BuyForm.choosing_country, service_id="3")  # nothing changes
    assert store.writes == 2
    await advance(context, None, quote={"nonce": "n"})  # the state ends, the data stays
    await advance(context, None, quote={"nonce": "n"}, country_query="in")  # data alone
    assert store.writes == 4

    again = await loaded(storage)  # the next update reads what was written
    assert await again.get_state() is None
    assert await again.get_data() == {
        "service_query": "",
        "service_id": "3",
        "country_query": "in",
        "quote": {"nonce": "n"},
    }
    await advance(again, TokenForm.waiting_token)  # the state alone
    assert await (await loaded(storage)).get_state() == TokenForm.waiting_token.state


async def test_both_fields_are_written_together_whichever_of_them_is_empty(
    fake_redis: Redis,
) -> None:
    store = ConversationStore(fake_redis)
    key = keys.user(7)
    for state, data in (("s", "{}"), (None, "{}"), ("s", None), (None, None), ("t", '{"a":1}')):
        await store.set(key, state, data)
        assert await store.get(key) == Conversation(state, data)


async def test_outside_the_loaded_context_a_step_still_sets_both(fake_redis: Redis) -> None:
    """aiogram's own context (chats nobody is read for) takes the same step in two writes."""
    storage = ConversationStorage(ConversationStore(fake_redis))
    context = FSMContext(storage, IN_GROUP)
    await advance(context, BuyForm.choosing_service, service_query="x")
    assert await context.get_state() == BuyForm.choosing_service.state
    assert await context.get_data() == {"service_query": "x"}
