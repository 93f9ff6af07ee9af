"""The number card's buttons and the watcher's updates, as the user sees them."""

from __future__ import annotations

from decimal import Decimal

from bot.store.activations import ActivationRecord, State
from tests.fixtures.bot import BotHarness, ChatMessage, ChatUser
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE, ALICE_TOKEN, BOB


async def buy_number(user: ChatUser, harness: BotHarness) -> tuple[ChatMessage, ActivationRecord]:
    await user.send("/buy")
    countries = await user.click("Telegram")
    await user.click(countries.last.labels[0])
    bought = await user.click("✅ Buy")
    records = await harness.open_activations(user.id)
    return bought.last, records[0]


async def test_cancel_gives_the_money_back(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    card, record = await buy_number(alice, harness)
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500") - record.price

    screen = await alice.click("❌ Cancel", on=card)

    assert "money is back" in screen.alert
    assert "Cancelled" in screen.text and screen.labels == ["🔁 Buy again"]
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500")
    assert sandbox.activation(record.id).status == "cancelled"


async def test_cancel_refused_early_says_how_long_to_wait(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    sandbox.configure(early_cancel_seconds=120)
    card, record = await buy_number(alice, harness)

    screen = await alice.click("❌ Cancel", on=card)

    assert "try again in about" in screen.alert and screen.answer is not None
    assert screen.answer.get("show_alert") is True
    assert "❌ Cancel (money back)" in alice.session.message(ALICE, card.message_id).labels
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500") - record.price


async def test_a_code_arrives_as_a_new_message_and_the_card_offers_another_or_finish(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    card, record = await buy_number(alice, harness)
    before = len(alice.messages())

    await harness.arrive_code(sandbox, record, "481516")

    pushed = alice.messages()[before:]
    assert len(pushed) == 1 and "<code>481516</code>" in pushed[0].html
    assert pushed[0].reply_to == card.message_id
    card_now = alice.session.message(ALICE, card.message_id)
    assert "481516" in card_now.text and "Code received" in card_now.text
    assert card_now.labels == ["📋 Copy number", "🔁 Another code", "✅ Finish"]


async def test_cancel_after_a_code_is_refused_and_the_card_is_brought_up_to_date(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    card, record = await buy_number(alice, harness)
    stale = alice.button_data("❌ Cancel", on=card)
    await harness.arrive_code(sandbox, record, "1234")

    screen = await alice.tap(stale, card)

    assert "cannot be cancelled" in screen.alert
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500") - record.price


async def test_another_code_then_finish(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    card, record = await buy_number(alice, harness)
    await harness.arrive_code(sandbox, record, "111111")

    again = await alice.click("🔁 Another code", on=card)

    assert "another SMS" in again.alert
    assert "Waiting for another SMS" in again.text
    assert again.labels == ["📋 Copy number", "✅ Finish"]
    assert sandbox.activation(record.id).status == "wait_retry"

    await harness.arrive_code(sandbox, record, "222222")
    card_now = alice.session.message(ALICE, card.message_id)
    assert "111111" in card_now.text and "222222" in card_now.text

    done = await alice.click("✅ Finish", on=card)

    assert "closed" in done.alert
    assert "Finished" in done.text and done.labels == ["🔁 Buy again"]
    assert sandbox.activation(record.id).status == "finished"
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500") - record.price
    stored = await harness.app.activations.get(record.key)
    assert stored is not None and stored.state is State.FINISHED


async def test_a_forged_button_from_another_user_changes_nothing(
    alice: ChatUser, bob: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    card, record = await buy_number(alice, harness)
    alices_cancel = alice.button_data("❌ Cancel", on=card)
    bobs_message = (await bob.send("/help")).last

    screen = await bob.tap(alices_cancel, bobs_message)

    assert "not for you" in screen.alert
    assert screen.messages == []
    assert sandbox.activation(record.id).status == "waiting"
    assert "Waiting for the SMS" in alice.session.message(ALICE, card.message_id).text
    assert BOB not in {r.user_id for r in await harness.open_activations(ALICE)}


async def test_a_closed_number_says_so(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    card, _record = await buy_number(alice, harness)
    cancel = alice.button_data("❌ Cancel", on=card)
    await alice.tap(cancel, card)

    screen = await alice.tap(cancel, card)

    assert "already closed" in screen.alert


async def test_garbage_callback_data_is_answered_politely(alice: ChatUser) -> None:
    screen = await alice.tap("n|explode|v2:1")

    assert "no longer works" in screen.alert
