"""One-tap copy: the number card copies the number, the code message the code; Buy looks
like going ahead and Cancel like a warning."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from tests.fixtures.bot import BotHarness, ChatMessage, ChatUser
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE, ALICE_TOKEN, with_token

COPY_TEXT_LIMIT = 256  # Telegram's: copy_text.text is 1-256 characters


def buttons(message: ChatMessage) -> dict[str, dict[str, Any]]:
    return {button["text"]: button for row in message.buttons for button in row}


def copy_fits(text: str) -> bool:
    return 1 <= len(text) <= COPY_TEXT_LIMIT


async def test_the_card_copies_the_number_and_the_code_message_the_code(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    await alice.send("/buy")
    countries = await alice.click("Telegram")
    confirmation = await alice.click(countries.last.labels[0])
    assert buttons(confirmation.last)[confirmation.last.labels[0]]["style"] == "success"

    card = (await alice.click("✅ Buy")).last
    [record] = await harness.open_activations(ALICE)

    number = alice.copied("📋 Copy number", on=card)
    assert number == f"+{record.number}" and copy_fits(number)
    assert f"<code>{number}</code>" in card.html, "older clients copy the <code> number"
    assert buttons(card)["❌ Cancel (money back)"]["style"] == "danger"

    await harness.arrive_code(sandbox, record, "481516")

    push = alice.last_message()
    assert push.reply_to == card.message_id
    assert push.html.startswith("🔑 <code>481516</code>"), "the code comes first"
    assert "Telegram" in push.text and number in push.text
    assert push.labels == ["📋 Copy code"] and alice.copied("📋 Copy code", on=push) == "481516"
    [sent] = [p for p in harness.session.calls_of("sendMessage") if "481516" in p["text"]]
    assert sent.get("message_effect_id"), "a private chat gets the message effect"
    card_now = harness.session.message(ALICE, card.message_id)
    assert alice.copied("📋 Copy number", on=card_now) == number


async def test_another_code_keeps_the_first_on_the_card_and_copies_the_new_one(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    await alice.send("/buy")
    countries = await alice.click("Telegram")
    await alice.click(countries.last.labels[0])
    card = (await alice.click("✅ Buy")).last
    [record] = await harness.open_activations(ALICE)
    await harness.arrive_code(sandbox, record, "111111")
    await alice.click("🔁 Another code", on=card)

    await harness.arrive_code(sandbox, record, "222222")

    assert alice.copied("📋 Copy code", on=alice.last_message()) == "222222"
    card_now = harness.session.message(ALICE, card.message_id)
    assert "Code: 222222" in card_now.text and "Earlier codes: 111111" in card_now.text


async def test_a_refused_message_effect_does_not_cost_the_code(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    await alice.send("/buy")
    countries = await alice.click("Telegram")
    await alice.click(countries.last.labels[0])
    await alice.click("✅ Buy")
    [record] = await harness.open_activations(ALICE)
    harness.session.fail("sendMessage", HTTPStatus.BAD_REQUEST, "Bad Request: EFFECT_ID_INVALID")

    await harness.arrive_code(sandbox, record, "777001")

    push = alice.last_message()
    assert push.html.startswith("🔑 <code>777001</code>")
    assert alice.copied("📋 Copy code", on=push) == "777001"
    tries = [p for p in harness.session.calls_of("sendMessage") if "777001" in p["text"]]
    assert [bool(p.get("message_effect_id")) for p in tries] == [True, False]


async def test_copy_buttons_in_russian(harness: BotHarness, sandbox: SandboxHandle) -> None:
    ivan = await with_token(harness, sandbox, ALICE, ALICE_TOKEN, "500", language_code="ru")
    await ivan.send("/buy")
    countries = await ivan.click("Telegram")
    await ivan.click(countries.last.labels[0])
    card = (await ivan.click("✅ Купить")).last
    [record] = await harness.open_activations(ALICE)

    assert ivan.copied("📋 Скопировать номер", on=card) == f"+{record.number}"
    await harness.arrive_code(sandbox, record, "5555")
    push = ivan.last_message()
    assert "Код для Telegram" in push.text
    assert ivan.copied("📋 Скопировать код", on=push) == "5555"
