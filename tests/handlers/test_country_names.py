"""Countries in the user's language: the menu, its search in both scripts, the confirmation,
the number card and /numbers. SMS-man names countries in English only; the bot names them
from their ISO code."""

from __future__ import annotations

import pytest

from tests.fixtures.bot import BotHarness, ChatUser
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE, ALICE_TOKEN, with_token


def countries_on(labels: list[str]) -> list[str]:
    """The country names on the menu's buttons: "🇮🇳 Индия · 36.25 ₽ · 120 шт." → "Индия"."""
    return [label.split(" · ")[0].split(" ", 1)[1] for label in labels if " · " in label]


@pytest.fixture
async def ivan(harness: BotHarness, sandbox: SandboxHandle) -> ChatUser:
    return await with_token(harness, sandbox, ALICE, ALICE_TOKEN, "500", language_code="ru")


async def test_the_country_menu_speaks_russian(ivan: ChatUser) -> None:
    await ivan.send("/buy")

    menu = await ivan.click("Telegram")

    names = countries_on(menu.labels)
    assert names and not any(name.isascii() for name in names), names
    assert "Индия" in names


@pytest.mark.parametrize("query", ["инд", "ИНД", "ind"])
async def test_search_finds_russian_and_english_names_alike(ivan: ChatUser, query: str) -> None:
    await ivan.send("/buy")
    await ivan.click("Telegram")

    found = await ivan.send(query)

    assert sorted(countries_on(found.labels)) == ["Индия", "Индонезия"]


async def test_the_country_stays_russian_from_confirmation_to_numbers(ivan: ChatUser) -> None:
    await ivan.send("/buy")
    await ivan.click("Telegram")
    await ivan.send("india")

    confirmation = await ivan.click("Индия")
    assert "Страна: 🇮🇳 Индия" in confirmation.text
    card = await ivan.click("✅ Купить")
    assert "Страна: 🇮🇳 Индия" in card.text

    numbers = await ivan.send("/numbers")
    assert "Страна: 🇮🇳 Индия" in numbers.text


async def test_english_users_see_the_providers_names(alice: ChatUser) -> None:
    await alice.send("/buy")
    await alice.click("Telegram")

    found = await alice.send("ind")

    assert sorted(countries_on(found.labels)) == ["India", "Indonesia"]
