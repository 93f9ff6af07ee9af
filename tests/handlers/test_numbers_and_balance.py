"""/numbers, /balance, /logout."""

from __future__ import annotations

from bot.store import keys
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


async def test_logout_forgets_the_token(alice: ChatUser, harness: BotHarness) -> None:
    screen = await alice.send("/logout")

    assert "token is deleted; nothing here keeps it" in screen.text
    assert await harness.app.users.get_token(ALICE) is None
    after = await alice.send("/balance")
    assert "send me your SMS-man API token" in after.text
    again = await alice.send("/logout")
    assert "You have no token stored" in again.text


async def test_closed_numbers_keep_no_token_and_logout_says_which_still_do(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    _card, finished = await buy_number(alice, harness)
    await harness.arrive_code(sandbox, finished, "777001")
    await alice.click("✅ Finish")
    _card, legacy = await buy_number(alice, harness)
    await alice.click("❌ Cancel")
    # A record closed before closing dropped the token still holds it.
    stale = await harness.app.activations.get(legacy.key)
    assert stale is not None and stale.token == ""
    stale.token = legacy.token
    await harness.app.activations.save_keeping_expiry(stale)
    _card, still_open = await buy_number(alice, harness)

    screen = await alice.send("/logout")

    assert "1 open number still keeps it" in screen.text, screen.text
    records = {r.key: r for r in await harness.app.activations.for_user(ALICE)}
    assert records[finished.key].token == ""
    assert records[legacy.key].token == ""
    assert records[still_open.key].token == still_open.token != ""
    assert await harness.app.redis.ttl(keys.activation(legacy.key)) > 0  # retention kept
