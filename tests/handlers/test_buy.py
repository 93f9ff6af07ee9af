"""Buying: service → country → confirmation → the confirmation becomes the number card."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from bot.config import Protocol
from tests.fixtures.bot import BotHarness, ChatUser, MakeHarness
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE, ALICE_TOKEN, with_token


def price_on(label: str) -> Decimal:
    """The price shown on a country button: "🇮🇳 India · 36.25 ₽ · 120 pcs"."""
    return Decimal(label.split(" · ")[1].removesuffix(" ₽"))


@pytest.mark.parametrize("protocol", [Protocol.V2, Protocol.COMPAT])
async def test_buying_a_number_edits_the_confirmation_into_the_number_card(
    make_harness: MakeHarness, sandbox: SandboxHandle, protocol: Protocol
) -> None:
    harness = await make_harness(protocol=protocol)
    alice = await with_token(harness, sandbox, ALICE, ALICE_TOKEN, "500")

    services = await alice.send("/buy")
    assert "Telegram" in services.last.labels
    countries = await alice.click("Telegram")
    assert "Telegram" in countries.text
    first_country = countries.last.labels[0]
    assert "₽" in first_country and "pcs" in first_country
    price = price_on(first_country)
    # the cheapest country comes first
    assert price == min(price_on(label) for label in countries.last.labels if " · " in label)

    confirmation = await alice.click(first_country)
    card_message = confirmation.last
    assert "Confirm the purchase" in confirmation.text
    assert f"{price:.2f} ₽" in confirmation.text and "500.00 ₽" in confirmation.text
    assert any(label.startswith("✅ Buy") for label in confirmation.labels)
    assert str(price) not in alice.button_data("✅ Buy"), "the price never travels in a button"

    bought = await alice.click("✅ Buy")

    assert bought.last.message_id == card_message.message_id, "the confirmation became the card"
    assert "Waiting for the SMS" in bought.text
    assert bought.labels == ["📋 Copy number", "🔄 Replace", "❌ Cancel (money back)"]
    assert "Number bought" in bought.alert
    [record] = await harness.open_activations(ALICE)
    assert f"<code>+{record.number}</code>" in bought.last.html
    assert record.message_id == card_message.message_id
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500") - price


async def test_service_menu_pages_forward_and_back(alice: ChatUser) -> None:
    first = await alice.send("/buy")
    assert "page 1/2" in first.labels and "‹ Prev" not in first.labels

    second = await alice.click("Next ›")
    assert "page 2/2" in second.labels and "Next ›" not in second.labels
    assert not set(second.last.labels) & {"Telegram", "WhatsApp"}, "page 2 shows other services"
    assert second.last.message_id == first.last.message_id, "paging edits the menu in place"

    back = await alice.click("‹ Prev")
    assert "page 1/2" in back.labels and "Telegram" in back.labels


async def test_typing_while_the_service_menu_is_open_filters_it(alice: ChatUser) -> None:
    await alice.send("/buy")

    found = await alice.send("tele")

    services = [label for label in found.labels if label not in ("🔍 All services", "‹ Menu")]
    assert services == ["Telegram"]
    everything = await alice.click("🔍 All services")
    assert "WhatsApp" in everything.labels


async def test_a_search_that_finds_nothing_says_so(alice: ChatUser) -> None:
    await alice.send("/buy")

    screen = await alice.send("zzzz")

    assert "No service matches" in screen.text and "zzzz" in screen.text


async def test_typing_in_the_country_menu_filters_countries_and_back_returns(
    alice: ChatUser,
) -> None:
    await alice.send("/buy")
    await alice.click("Telegram")

    found = await alice.send("ind")

    countries = [label for label in found.labels if " · " in label]
    assert countries and all("India" in label or "Indonesia" in label for label in countries)
    back = await alice.click("‹ Back to services")
    assert "Telegram" in back.labels


async def test_country_menu_pages(alice: ChatUser) -> None:
    await alice.send("/buy")
    first = await alice.click("Telegram")
    pages = next(label for label in first.labels if label.startswith("page "))
    assert pages.startswith("page 1/") and int(pages.split("/")[1]) > 1

    second = await alice.click("Next ›")
    assert "page 2/" in " ".join(second.labels)
    assert set(second.last.labels).isdisjoint(label for label in first.labels if " · " in label)


async def test_recently_used_services_come_first(alice: ChatUser, harness: BotHarness) -> None:
    await alice.send("/buy")
    await alice.send("tiktok")
    countries = await alice.click("TikTok")
    await alice.click(countries.last.labels[0])
    await alice.click("✅ Buy")

    menu = await alice.send("/buy")

    assert menu.last.labels[0] == "TikTok"


async def test_double_tap_on_buy_buys_once(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    await alice.send("/buy")
    countries = await alice.click("Telegram")
    confirmation = await alice.click(countries.last.labels[0])
    buy = alice.button_data("✅ Buy")

    first = await alice.tap(buy, confirmation.last)
    second = await alice.tap(buy, confirmation.last)

    assert "Number bought" in first.alert
    assert "already bought" in second.alert
    assert len(await harness.open_activations(ALICE)) == 1
    assert len([a for a in sandbox.state.activations.values() if a.token == ALICE_TOKEN]) == 1
    assert "Waiting for the SMS" in alice.session.message(ALICE, confirmation.last.message_id).text


async def test_insufficient_balance_is_said_before_buying(
    harness: BotHarness, sandbox: SandboxHandle
) -> None:
    poor = await with_token(harness, sandbox, ALICE, ALICE_TOKEN, "1.00")
    await poor.send("/buy")
    countries = await poor.click("Telegram")

    confirmation = await poor.click(countries.last.labels[0])

    assert "not enough" in confirmation.text
    assert not any(label.startswith("✅ Buy") for label in confirmation.labels)
    assert "🔄 Check again" in confirmation.labels
    assert sandbox.balance(ALICE_TOKEN) == Decimal("1.00")


async def test_no_numbers_on_buy_is_explained_with_a_way_back(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    await alice.send("/buy")
    countries = await alice.click("Telegram")
    await alice.click(countries.last.labels[0])
    sandbox.set_fault("no_numbers", methods=["get-number", "getNumber"])

    screen = await alice.click("✅ Buy")

    assert "No numbers left" in screen.text
    assert "‹ Back to countries" in screen.labels
    assert await harness.open_activations(ALICE) == []
    assert sandbox.balance(ALICE_TOKEN) == Decimal("500")


async def test_provider_failure_on_buy_says_the_outcome_is_unknown(
    alice: ChatUser, sandbox: SandboxHandle
) -> None:
    await alice.send("/buy")
    countries = await alice.click("Telegram")
    await alice.click(countries.last.labels[0])
    sandbox.set_fault("5xx", methods=["get-number", "getNumber"])

    screen = await alice.click("✅ Buy")

    assert "not known whether the number was bought" in screen.text
    assert "money returns" in screen.text
    assert "‹ Menu" in screen.labels


async def test_an_expired_confirmation_asks_to_choose_again(alice: ChatUser) -> None:
    await alice.send("/buy")

    screen = await alice.tap("buy:unknownnonce")

    assert "too old" in screen.text
    assert "‹ Menu" in screen.labels


async def test_buying_without_a_token_leads_to_setting_one(harness: BotHarness) -> None:
    newcomer = harness.user(ALICE)
    await newcomer.send("/help")

    screen = await newcomer.send("/buy")

    assert "send me your SMS-man API token" in screen.text


async def test_two_simultaneous_taps_on_buy_buy_once(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    await alice.send("/buy")
    countries = await alice.click("Telegram")
    confirmation = await alice.click(countries.last.labels[0])
    buy = alice.button_data("✅ Buy")

    screens = await asyncio.gather(
        alice.tap(buy, confirmation.last), alice.tap(buy, confirmation.last, pause=0.1)
    )

    alerts = sorted(screen.alert for screen in screens)
    assert any("Number bought" in alert for alert in alerts)
    assert any("Already buying" in alert or "already bought" in alert for alert in alerts)
    assert len([a for a in sandbox.state.activations.values() if a.token == ALICE_TOKEN]) == 1
    card = alice.session.message(ALICE, confirmation.last.message_id)
    assert "Waiting for the SMS" in card.text
    assert card.labels == ["📋 Copy number", "🔄 Replace", "❌ Cancel (money back)"]
