"""/numbers, /balance, /logout."""

from __future__ import annotations

from tests.fixtures.bot import BotHarness, ChatUser
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE, ALICE_TOKEN
from tests.handlers.test_number_card import buy_number


async def test_numbers_shows_open_cards_with_working_buttons_and_closed_ones_with_codes(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    _card, done = await buy_number(alice, harness)
    await harness.arrive_code(sandbox, done, "777001")
    await alice.click("✅ Finish")
    _card, open_record = await buy_number(alice, harness)

    screen = await alice.send("/numbers")

    [open_card, history] = screen.messages
    assert open_record.number in open_card.text and "Waiting for the SMS" in open_card.text
    assert "Recent numbers" in history.text and "777001" in history.text
    cancelled = await alice.click("❌ Cancel", on=open_card)
    assert "Cancelled" in cancelled.text
    assert sandbox.activation(open_record.id).status == "cancelled"


async def test_numbers_when_there_are_none(alice: ChatUser) -> None:
    screen = await alice.send("/numbers")

    assert "no numbers yet" in screen.text
    assert "🛒 Buy a number" in screen.labels


async def test_balance_command_and_menu_button(alice: ChatUser, sandbox: SandboxHandle) -> None:
    sandbox.add_account(ALICE_TOKEN, "123.40")

    by_command = await alice.send("/balance")
    await alice.send("/start")
    by_button = await alice.click("💰 Balance")

    assert "123.40 ₽" in by_command.text
    assert "123.40 ₽" in by_button.text


async def test_logout_forgets_the_token_and_mentions_pending_numbers(
    alice: ChatUser, harness: BotHarness
) -> None:
    screen = await alice.send("/logout")

    assert "deleted" in screen.text and "still get their codes" in screen.text
    assert await harness.app.users.get_token(ALICE) is None
    after = await alice.send("/balance")
    assert "send me your SMS-man API token" in after.text
