"""Buying and the lifecycle of a number, against an in-memory provider and a real Redis server."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.provider.errors import NoNumbers
from bot.services.activations import ActivationService
from bot.services.balances import Balances
from bot.services.catalog import Catalog
from bot.services.errors import (
    AlreadyBought,
    CancelTooEarly,
    CodeAlreadyReceived,
    InsufficientBalance,
    NoCodeYet,
    NotYourActivation,
    PurchaseInProgress,
    PurchaseNotRecorded,
    QuoteExpired,
)
from bot.services.purchase import PurchaseService
from bot.store.activations import ActivationStore, State
from bot.store.balances import BalanceStore
from bot.store.catalog import CatalogCache
from bot.store.crypto import TokenCipher
from bot.store.users import UserStore
from tests.support.memory_provider import MemoryProvider

TOKEN = "good-token-123"
USER = 42


class World:
    def __init__(self, redis: Redis, balance: str = "100") -> None:
        self.provider = MemoryProvider(TOKEN, balance)
        self.cipher = TokenCipher(Fernet.generate_key())
        self.users = UserStore(redis, self.cipher)
        self.store = ActivationStore(redis)
        self.catalog = Catalog(self.provider, CatalogCache(redis, "mem"))
        self.balances = Balances(self.provider, BalanceStore(redis))
        self.purchase = PurchaseService(
            self.provider,
            redis,
            self.users,
            self.store,
            self.catalog,
            self.balances,
            activation_timeout=1200,
            poll_interval=3,
        )
        self.activations = ActivationService(
            self.provider, self.store, self.cipher, poll_interval=3
        )


@pytest.fixture
async def world(redis: Redis) -> World:
    world = World(redis)
    await world.users.set_token(USER, TOKEN)
    return world


async def test_quote_then_buy_records_the_number_and_debits_the_shown_price(world: World) -> None:
    quote = await world.purchase.quote(USER, "3", "1")
    assert quote.price == Decimal("15.50") and quote.affordable

    record = await world.purchase.buy(
        USER, chat_id=USER, message_id=7, nonce=quote.nonce, language="en"
    )

    assert record.number == "79001234567"
    assert world.provider.buy_calls == [{"service": "3", "country": "1", "max": Decimal("15.50")}]
    assert world.provider.balances[TOKEN] == Decimal("84.50")
    stored = await world.store.get(record.key)
    assert stored is not None and stored.message_id == 7 and stored.state is State.WAITING
    assert await world.store.watched_count() == 1
    assert await world.users.recent_services(USER) == ["3"]


async def test_a_double_tap_buys_once(world: World) -> None:
    world.provider.buy_delay = 0.05
    quote = await world.purchase.quote(USER, "3", "1")

    results = await asyncio.gather(
        *(world.purchase.buy(USER, USER, 7, quote.nonce, "en") for _ in range(5)),
        return_exceptions=True,
    )

    bought = [r for r in results if not isinstance(r, BaseException)]
    assert len(bought) == 1
    assert all(
        isinstance(r, PurchaseInProgress | AlreadyBought)
        for r in results
        if isinstance(r, BaseException)
    )
    assert len(world.provider.buy_calls) == 1
    # A later tap on the same confirmation names the number it already bought.
    with pytest.raises(AlreadyBought) as again:
        await world.purchase.buy(USER, USER, 7, quote.nonce, "en")
    assert again.value.activation_key == bought[0].key


async def test_insufficient_balance_is_said_before_buying(redis: Redis) -> None:
    world = World(redis, balance="5")
    await world.users.set_token(USER, TOKEN)
    quote = await world.purchase.quote(USER, "3", "1")
    assert not quote.affordable
    with pytest.raises(InsufficientBalance):
        await world.purchase.buy(USER, USER, 7, quote.nonce, "en")
    assert world.provider.buy_calls == []


async def test_no_numbers_releases_the_confirmation_for_a_retry(world: World) -> None:
    quote = await world.purchase.quote(USER, "3", "14")  # India: out of stock
    with pytest.raises(NoNumbers):
        await world.purchase.buy(USER, USER, 7, quote.nonce, "en")
    world.provider.prices[("3", "14")] = (Decimal("9"), 3)
    record = await world.purchase.buy(USER, USER, 7, quote.nonce, "en")
    assert record.country_name == "India"


async def test_unknown_confirmation_is_refused(world: World) -> None:
    with pytest.raises(QuoteExpired):
        await world.purchase.buy(USER, USER, 7, "forged-nonce", "en")
    assert world.provider.buy_calls == []


async def test_a_number_that_cannot_be_recorded_is_cancelled(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    quote = await world.purchase.quote(USER, "3", "1")

    async def redis_down(*args: object, **kwargs: object) -> None:
        raise RedisConnectionError("down")

    monkeypatch.setattr(world.store, "create", redis_down)
    with pytest.raises(PurchaseNotRecorded) as failed:
        await world.purchase.buy(USER, USER, 7, quote.nonce, "en")
    assert failed.value.cancelled
    assert world.provider.balances[TOKEN] == Decimal("100")  # cancelled: money back


async def test_cancel_returns_the_money_and_stops_watching(world: World) -> None:
    quote = await world.purchase.quote(USER, "3", "1")
    record = await world.purchase.buy(USER, USER, 7, quote.nonce, "en")

    cancelled = await world.activations.cancel(USER, record.key)

    assert cancelled.state is State.CANCELLED
    assert world.provider.balances[TOKEN] == Decimal("100")
    assert await world.store.watched_count() == 0


async def test_someone_elses_number_cannot_be_touched(world: World) -> None:
    quote = await world.purchase.quote(USER, "3", "1")
    record = await world.purchase.buy(USER, USER, 7, quote.nonce, "en")
    for action in (world.activations.cancel, world.activations.finish):
        with pytest.raises(NotYourActivation):
            await action(999, record.key)
    assert world.provider.cancel_calls == []
    assert (await world.store.get(record.key)).state is State.WAITING  # type: ignore[union-attr]


async def test_early_cancel_refusal_says_how_long_to_wait(world: World) -> None:
    quote = await world.purchase.quote(USER, "3", "1")
    record = await world.purchase.buy(USER, USER, 7, quote.nonce, "en")
    world.provider.early_cancel = True
    with pytest.raises(CancelTooEarly) as refused:
        await world.activations.cancel(USER, record.key)
    assert 0 < refused.value.retry_in <= 120
    assert (await world.store.get(record.key)).state is State.WAITING  # type: ignore[union-attr]


async def test_code_rules_for_finish_cancel_and_another_code(world: World) -> None:
    quote = await world.purchase.quote(USER, "3", "1")
    record = await world.purchase.buy(USER, USER, 7, quote.nonce, "en")
    with pytest.raises(NoCodeYet):
        await world.activations.finish(USER, record.key)

    await world.store.record_code(record, "1234", now=record.created_at + 5)
    record.state = State.CODE
    await world.store.save(record)

    with pytest.raises(CodeAlreadyReceived):
        await world.activations.cancel(USER, record.key)
    retry = await world.activations.another_code(USER, record.key)
    assert retry.state is State.WAIT_RETRY
    finished = await world.activations.finish(USER, record.key)
    assert finished.state is State.FINISHED
    assert world.provider.balances[TOKEN] == Decimal("84.50")


async def test_a_stale_low_balance_is_read_again_rather_than_refusing_the_purchase(
    world: World,
) -> None:
    quote = await world.purchase.quote(USER, "3", "1")
    await world.balances.remember(USER, Decimal("1"))  # e.g. a top-up since it was read

    record = await world.purchase.buy(
        USER, chat_id=USER, message_id=1, nonce=quote.nonce, language="en"
    )

    assert record.price == Decimal("15.50")
    assert world.provider.balances[TOKEN] == Decimal("84.50")
