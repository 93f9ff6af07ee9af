"""Money paths when SMS-man or Redis misbehave: slow answers, lapsed locks, prices that move,
refusals that look like success. Each test is what a user would notice."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.config import Protocol
from bot.sandbox import StatusChange
from bot.store import keys
from bot.store.activations import ActivationRecord, CloseReason
from tests.fixtures.bot import BotHarness, ChatMessage, ChatUser, MakeHarness, Screen
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE, ALICE_TOKEN, with_token

INDIA_V2 = 14
TELEGRAM_V2 = 3
CLIENT_TIMEOUT = 1.0  # SMSMAN_TIMEOUT of these bots: SMS-man "hangs" past it


def alices_numbers(sandbox: SandboxHandle) -> int:
    return len([a for a in sandbox.state.activations.values() if a.token == ALICE_TOKEN])


async def open_confirmation(alice: ChatUser) -> Screen:
    """The confirmation of a Telegram number in India (whose price tests set)."""
    await alice.send("/buy")
    await alice.click("Telegram")
    await alice.send("India")
    return await alice.click("India")


async def buy_number(alice: ChatUser, harness: BotHarness) -> tuple[ChatMessage, ActivationRecord]:
    await open_confirmation(alice)
    bought = await alice.click("✅ Buy")
    [record] = await harness.open_activations(ALICE)
    return bought.last, record


async def at_provider(sandbox: SandboxHandle) -> None:
    """Until the slow request the sandbox's one-shot fault holds has arrived."""
    for _ in range(1000):
        if sandbox.state.faults.fault is None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the request never reached the sandbox")


@pytest.fixture
async def slow_bot(make_harness: MakeHarness) -> BotHarness:
    return await make_harness(smsman_timeout=CLIENT_TIMEOUT)


# --- item 3: the purchase lock ---------------------------------------------------------------


async def test_a_purchase_lock_that_lapses_mid_purchase_never_frees_the_confirmation(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle, redis: Redis
) -> None:
    confirmation = await open_confirmation(alice)
    buy = alice.button_data("✅ Buy")
    sandbox.set_fault("slow", delay=0.5, methods=["get-number"], count=1)

    async def lock_lapses() -> None:
        await at_provider(sandbox)  # the buy request is there
        await redis.delete(keys.user_lock(ALICE))

    first, _ = await asyncio.gather(alice.tap(buy, confirmation.last), lock_lapses())
    second = await alice.tap(buy, confirmation.last)

    assert "Waiting for the SMS" in first.text, "the number bought is shown, not “busy”"
    assert "already bought" in second.alert
    assert alices_numbers(sandbox) == 1


# --- slow provider: taps answered in time, the outcome told, nothing bought twice -----------


async def test_a_buy_that_hangs_is_answered_at_once_said_unknown_and_never_bought_again(
    slow_bot: BotHarness, sandbox: SandboxHandle
) -> None:
    alice = await with_token(slow_bot, sandbox, ALICE, ALICE_TOKEN, "500")
    confirmation = await open_confirmation(alice)
    buy = alice.button_data("✅ Buy")
    sandbox.set_fault("slow", delay=4 * CLIENT_TIMEOUT, methods=["get-number"], count=1)

    first = await alice.tap(buy, confirmation.last)

    assert first.alert == "⏳ Buying the number…", "answered before the purchase ended"
    assert "not known whether the number was bought" in first.text
    assert "/balance" in first.text and "sms-man.com" in first.text

    second = await alice.tap(buy, confirmation.last)

    card = alice.session.message(ALICE, confirmation.last.message_id)
    assert "not known whether the number was bought" in card.text, "never left at “⏳ Buying”"
    assert "Buying the number" not in second.text
    await asyncio.sleep(4 * CLIENT_TIMEOUT)  # the hung request reaches the provider
    assert alices_numbers(sandbox) == 1, "bought at most once"


async def test_a_balance_check_that_hangs_buys_nothing_and_keeps_the_confirmation(
    make_harness: MakeHarness, sandbox: SandboxHandle
) -> None:
    """With SMSMAN_VERIFY_DEBIT the balance is read before buying: that read hanging must
    neither buy nor use up the confirmation."""
    slow_bot = await make_harness(smsman_timeout=CLIENT_TIMEOUT, smsman_verify_debit=True)
    alice = await with_token(slow_bot, sandbox, ALICE, ALICE_TOKEN, "500")
    confirmation = await open_confirmation(alice)
    buy = alice.button_data("✅ Buy")
    sandbox.set_fault("slow", delay=4 * CLIENT_TIMEOUT, methods=["get-balance"])

    failed = await alice.tap(buy, confirmation.last)

    assert "not answering" in failed.text
    assert "not known whether" not in failed.text, "nothing was sent to buy"
    assert alices_numbers(sandbox) == 0
    sandbox.set_fault(None)
    again = await alice.tap(buy, confirmation.last)
    assert "Waiting for the SMS" in again.text, "the same confirmation still buys"
    assert alices_numbers(sandbox) == 1


# --- item 8: a number bought but not recorded ------------------------------------------------


async def test_a_number_that_cannot_be_recorded_nor_cancelled_yet_is_left_to_be_cancelled(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.configure(early_cancel_seconds=120)
    await open_confirmation(alice)
    store = harness.app.activations
    create = store.create
    failures = iter([True])

    async def redis_hiccup(record: ActivationRecord, first_check_at: float) -> None:
        if next(failures, False):
            raise RedisConnectionError("Redis went away")
        await create(record, first_check_at)

    monkeypatch.setattr(store, "create", redis_hiccup)

    screen = await alice.click("✅ Buy")

    assert "could not save it" in screen.text and "money returns" in screen.text
    [record] = await harness.open_activations(ALICE)
    assert record.expires_at <= time.time(), "due to be cancelled by the watcher"
    assert await store.watched_count() == 1
    sandbox.advance(121)  # once SMS-man allows it, the watcher's expiry cancels it
    closed = await harness.app.activation_service.cancel_at_provider(record, CloseReason.TIMEOUT)
    assert not closed.is_open
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500")


# --- item 5: a v2 cancel that did not cancel -------------------------------------------------


async def test_cancel_of_a_number_closed_with_a_code_at_sms_man_does_not_promise_a_refund(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    card, record = await buy_number(alice, harness)
    paid = Decimal("500") - sandbox.balance(ALICE_TOKEN)
    sandbox.deliver_sms(record.id, "777111")  # the watcher has not seen it yet
    sandbox.state.change_status(ALICE_TOKEN, int(record.id), StatusChange.FINISH)

    screen = await alice.click("❌ Cancel", on=card)

    assert "money is back" not in screen.alert
    assert "did not cancel" in screen.alert
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500") - paid
    assert await harness.open_activations(ALICE), "not shown as cancelled"


# --- item 6: never more than the price shown -------------------------------------------------


async def test_v2_a_price_with_kopecks_is_capped_at_the_rouble_above_and_says_so(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="15.50", count=10)
    confirmation = await open_confirmation(alice)
    assert "15.50 ₽ now, at most 16.00 ₽" in confirmation.text
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="20", count=10)

    screen = await alice.click("✅ Buy")

    assert "Waiting for the SMS" not in screen.text
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500")
    assert await harness.open_activations(ALICE) == []


@pytest.mark.parametrize(
    ("protocol", "cost"), [(Protocol.V2, "16"), (Protocol.V2, "15.50"), (Protocol.COMPAT, "15.55")]
)
async def test_a_buy_is_one_provider_call_and_the_balance_shown_follows_it(
    make_harness: MakeHarness, sandbox: SandboxHandle, protocol: Protocol, cost: str
) -> None:
    harness = await make_harness(protocol=protocol)
    alice = await with_token(harness, sandbox, ALICE, ALICE_TOKEN, "500")
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost=cost, count=10)
    confirmation = await open_confirmation(alice)
    assert "500.00 ₽" in confirmation.text
    sandbox.state.requests.clear()

    screen = await alice.click("✅ Buy")

    assert "Waiting for the SMS" in screen.text
    assert sandbox.state.requests.total() == 1  # the buy, nothing else
    left = Decimal("500") - Decimal(cost)
    assert sandbox.balance(ALICE_TOKEN) == left
    second = await open_confirmation(alice)
    assert f"{left:.2f} ₽" in second.text
    assert sandbox.state.requests.total() == 1


@pytest.fixture
async def checking_bot(make_harness: MakeHarness, sandbox: SandboxHandle) -> BotHarness:
    """A bot told its provider may ignore maxPrice, and a provider that does."""
    sandbox.configure(ignore_max_price=True)
    return await make_harness(smsman_verify_debit=True)


async def test_a_provider_ignoring_the_cap_has_the_dearer_number_cancelled_at_once(
    checking_bot: BotHarness, sandbox: SandboxHandle
) -> None:
    alice = await with_token(checking_bot, sandbox, ALICE, ALICE_TOKEN, "500")
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="15.50", count=10)
    await open_confirmation(alice)
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="20", count=10)

    screen = await alice.click("✅ Buy")

    assert "charged 20.00 ₽" in screen.text and "16.00 ₽" in screen.text
    assert "money is back" in screen.text
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500")
    assert await checking_bot.open_activations(ALICE) == []


async def test_checking_the_debit_the_record_keeps_what_was_really_paid(
    checking_bot: BotHarness, sandbox: SandboxHandle
) -> None:
    alice = await with_token(checking_bot, sandbox, ALICE, ALICE_TOKEN, "500")
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="16.50", count=10)
    await open_confirmation(alice)
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="12", count=10)

    screen = await alice.click("✅ Buy")

    [record] = await checking_bot.open_activations(ALICE)
    assert record.price == Decimal("12")
    assert "12.00 ₽" in screen.text
    assert sandbox.balance(ALICE_TOKEN) == Decimal("488")


async def test_compat_a_price_that_rose_is_refused_by_the_cap(
    make_harness: MakeHarness, sandbox: SandboxHandle
) -> None:
    harness = await make_harness(protocol=Protocol.COMPAT)
    alice = await with_token(harness, sandbox, ALICE, ALICE_TOKEN, "500")
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="15.55", count=10)
    await open_confirmation(alice)
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="15.56", count=10)

    screen = await alice.click("✅ Buy")

    assert "price has just gone up" in screen.text
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500")


# --- item 7: a button's write never loses the watcher's --------------------------------------


async def test_a_button_whose_lock_lapsed_does_not_overwrite_a_code_recorded_meanwhile(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle, redis: Redis
) -> None:
    card, record = await buy_number(alice, harness)
    await harness.arrive_code(sandbox, record, "111111")
    sandbox.set_fault("slow", delay=0.5, methods=["set-status"], count=1)

    async def meanwhile() -> None:
        await at_provider(sandbox)  # the button's request is there
        await redis.delete(keys.activation_lock(record.key))  # its lock lapses
        await harness.arrive_code(sandbox, record, "222222")  # the watcher records a code

    await asyncio.gather(alice.click("🔁 Another code", on=card), meanwhile())

    stored = await harness.app.activations.get(record.key)
    assert stored is not None
    assert stored.codes == ["111111", "222222"]
    card_now = alice.session.message(ALICE, card.message_id)
    assert "222222" in card_now.text
