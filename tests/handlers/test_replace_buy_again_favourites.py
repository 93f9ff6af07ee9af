"""🔄 Replace, 🔁 Buy again and ⭐ Favourites, as a user sees them (issue 12)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.store.activations import ActivationRecord, CloseReason
from tests.fixtures.bot import BotHarness, ChatMessage, ChatUser
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE, ALICE_TOKEN, with_token

INDIA_V2 = 14
TELEGRAM_V2 = 3


async def buy_in_india(user: ChatUser, harness: BotHarness) -> tuple[ChatMessage, ActivationRecord]:
    await user.send("/buy")
    await user.click("Telegram")
    await user.send("India")
    await user.click("India")
    bought = await user.click("✅ Buy")
    [record] = await harness.open_activations(user.id)
    return bought.last, record


def alices(sandbox: SandboxHandle) -> list[int]:
    return sorted(a.id for a in sandbox.state.activations.values() if a.token == ALICE_TOKEN)


# --- 🔄 Replace ------------------------------------------------------------------------------


async def test_replace_cancels_then_buys_the_same_pair_on_the_same_card(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="16", count=10)
    card, old = await buy_in_india(alice, harness)
    sandbox.state.requests.clear()

    screen = await alice.click("🔄 Replace", on=card)

    assert "New number" in screen.alert
    [new] = await harness.open_activations(ALICE)
    assert new.key != old.key
    assert (new.service_id, new.country_id) == (old.service_id, old.country_id)
    assert screen.last.message_id == card.message_id, "the card shows the new number"
    assert new.number[-6:] in screen.text.replace(" ", "") and "Waiting for the SMS" in screen.text
    assert sandbox.activation(old.id).status == "cancelled"
    assert sandbox.balance(ALICE_TOKEN) == Decimal("484"), "the first number's money came back"
    assert list(sandbox.state.requests) == ["set-status", "get-number"], "cancel, then buy"
    stored = await harness.app.activations.get(old.key)
    assert stored is not None and stored.close_reason is CloseReason.REPLACED


async def test_replace_refused_as_too_early_buys_nothing_and_the_card_counts_down(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    sandbox.configure(early_cancel_seconds=120)
    card, old = await buy_in_india(alice, harness)

    screen = await alice.click("🔄 Replace", on=card)

    assert "try again in about" in screen.alert
    assert alices(sandbox) == [int(old.id)], "nothing bought"
    now = alice.session.message(ALICE, card.message_id)
    assert "Replace available in" in now.text and "🔄 Replace" in now.labels
    # a number bought later shows the countdown from the start: the refusal was learned
    await alice.click("❌ Cancel", on=card)  # still too early: refused again
    sandbox.advance(200)
    await alice.click("❌ Cancel", on=card)
    _, second = await buy_in_india(alice, harness)
    assert second.cancel_after > second.created_at
    assert "available in" in alice.session.message(ALICE, second.message_id or 0).text


async def test_a_double_tap_on_replace_replaces_once(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    card, _ = await buy_in_india(alice, harness)
    replace = alice.button_data("🔄 Replace", on=card)

    screens = await asyncio.gather(alice.tap(replace, card), alice.tap(replace, card, pause=0))

    assert len(alices(sandbox)) == 2, "one new number, not two"
    assert len(await harness.open_activations(ALICE)) == 1
    alerts = " | ".join(screen.alert for screen in screens)
    assert "New number" in alerts, alerts


async def test_replace_when_the_price_went_up_cancels_and_says_no_new_number(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="16", count=10)
    card, old = await buy_in_india(alice, harness)
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="18", count=10)

    screen = await alice.click("🔄 Replace", on=card)

    assert "money is back, but no new one was bought" in screen.text
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500")
    assert alices(sandbox) == [int(old.id)]
    assert await harness.open_activations(ALICE) == []
    check = await alice.click("🔄 Check again", on=screen.last)
    assert "18.00 ₽" in check.text, "the way on shows today's price"


async def test_a_number_with_a_code_offers_no_replace(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    card, record = await buy_in_india(alice, harness)
    await harness.arrive_code(sandbox, record, "123456")

    labels = alice.session.message(ALICE, card.message_id).labels
    assert "🔄 Replace" not in labels and "✅ Finish" in labels


async def test_replace_in_russian(harness: BotHarness, sandbox: SandboxHandle) -> None:
    ivan = await with_token(harness, sandbox, ALICE, ALICE_TOKEN, "500", language_code="ru")
    await ivan.send("/buy")
    await ivan.click("Telegram")
    await ivan.send("инд")
    await ivan.click("Индия")
    card = (await ivan.click("✅ Купить")).last

    screen = await ivan.click("🔄 Заменить", on=card)

    assert "Новый номер" in screen.alert
    assert "Ждём SMS" in screen.text and "🔄 Заменить" in screen.labels


# --- 🔁 Buy again ----------------------------------------------------------------------------


async def test_buy_again_from_a_closed_card_opens_a_new_confirmation_with_todays_price(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="16", count=10)
    card, _ = await buy_in_india(alice, harness)
    closed = await alice.click("❌ Cancel", on=card)
    assert closed.labels == ["🔁 Buy again"]

    again = await alice.click("🔁 Buy again", on=card)

    assert again.last.message_id != card.message_id, "the closed card stays as it was"
    assert "Confirm the purchase" in again.text and "16.00 ₽" in again.text
    assert "Cancelled" in alice.session.message(ALICE, card.message_id).text
    bought = await alice.click("✅ Buy", on=again.last)
    assert "Waiting for the SMS" in bought.text


async def test_numbers_offers_buy_again_for_what_was_bought(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    card, _ = await buy_in_india(alice, harness)
    await alice.click("❌ Cancel", on=card)

    listing = await alice.send("/numbers")

    again = [label for label in listing.last.labels if label.startswith("🔁 Buy again")]
    assert again == ["🔁 Buy again: Telegram · 🇮🇳 India"]
    confirmation = await alice.click(again[0], on=listing.last)
    assert "Confirm the purchase" in confirmation.text and "India" in confirmation.text


# --- ⭐ Favourites ---------------------------------------------------------------------------


async def open_india(user: ChatUser) -> ChatMessage:
    await user.send("/buy")
    await user.click("Telegram")
    await user.send("India")
    return (await user.click("India")).last


async def test_a_favourite_comes_first_and_leads_straight_to_its_confirmation(
    alice: ChatUser, sandbox: SandboxHandle
) -> None:
    confirmation = await open_india(alice)
    saved = await alice.click("⭐ Add to favourites", on=confirmation)
    assert "Saved" in saved.alert
    assert (
        "★ Remove from favourites" in alice.session.message(ALICE, confirmation.message_id).labels
    )

    menu = await alice.send("/buy")

    assert menu.last.labels[:2] == ["⭐ Favourites", "Telegram"]
    favourites = await alice.click("⭐ Favourites", on=menu.last)
    assert favourites.last.labels[0] == "⭐ Telegram · 🇮🇳 India"
    straight = await alice.click("⭐ Telegram · 🇮🇳 India", on=favourites.last)
    assert "Confirm the purchase" in straight.text and "✅ Buy" in " ".join(straight.labels)


async def test_favourites_are_removed_from_the_list_or_the_card(alice: ChatUser) -> None:
    confirmation = await open_india(alice)
    await alice.click("⭐ Add to favourites", on=confirmation)
    menu = await alice.send("/buy")
    favourites = await alice.click("⭐ Favourites", on=menu.last)

    emptied = await alice.click("✖", on=favourites.last)

    assert "No favourites yet" in emptied.text
    assert "⭐ Favourites" not in (await alice.send("/buy")).last.labels
    confirmation = await open_india(alice)
    await alice.click("⭐ Add to favourites", on=confirmation)
    removed = await alice.click("★ Remove from favourites", on=confirmation)
    assert "Removed" in removed.alert
    assert "⭐ Favourites" not in (await alice.send("/buy")).last.labels


async def test_favourites_keep_the_latest_eight(alice: ChatUser, harness: BotHarness) -> None:
    service = "3"
    offers = await harness.app.catalog.offers_for_service(ALICE_TOKEN, service)
    countries = [offer.country.id for offer in offers][:9]
    for country in countries:
        await harness.app.favourites.toggle(ALICE, service, country)

    menu = await alice.send("/buy")
    favourites = await alice.click("⭐ Favourites", on=menu.last)

    listed = [label for label in favourites.last.labels if label.startswith("⭐ ")]
    assert len(listed) == 8


async def test_favourites_in_russian(harness: BotHarness, sandbox: SandboxHandle) -> None:
    ivan = await with_token(harness, sandbox, ALICE, ALICE_TOKEN, "500", language_code="ru")
    await ivan.send("/buy")
    await ivan.click("Telegram")
    await ivan.send("инд")
    confirmation = (await ivan.click("Индия")).last
    await ivan.click("⭐ В избранное", on=confirmation)

    menu = await ivan.send("/buy")
    favourites = await ivan.click("⭐ Избранное", on=menu.last)

    assert favourites.last.labels[0] == "⭐ Telegram · 🇮🇳 Индия"
