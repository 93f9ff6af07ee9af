"""English and Russian: from the Telegram client, by choice, and in the number card."""

from __future__ import annotations

from tests.fixtures.bot import BotHarness, MakeHarness
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE, ALICE_TOKEN, with_token


async def test_a_russian_client_is_greeted_in_russian(harness: BotHarness) -> None:
    ivan = harness.user(ALICE, first_name="Иван", language_code="ru")

    screen = await ivan.send("/start")

    assert "Здравствуйте, Иван" in screen.text
    assert "🛒 Купить номер" in screen.labels


async def test_an_unshipped_client_language_gets_the_configured_default(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(default_language="ru")

    screen = await harness.user(ALICE, language_code="de").send("/start")

    assert "Здравствуйте" in screen.text


async def test_the_chosen_language_wins_over_the_client_language(harness: BotHarness) -> None:
    alice = harness.user(ALICE, language_code="en")
    await alice.send("/language")

    chosen = await alice.click("🇷🇺 Русский")

    assert "по-русски" in chosen.text
    assert "Язык" in chosen.alert
    assert await harness.app.users.get_language(ALICE) == "ru"
    later = await alice.send("/help")
    assert "Как это работает" in later.text
    menu = harness.session.commands[(f"chat:{ALICE}", "")]
    assert menu[1]["description"] == "Купить номер"


async def test_buying_in_russian_shows_a_russian_card_and_pushes_in_russian(
    harness: BotHarness, sandbox: SandboxHandle
) -> None:
    ivan = await with_token(harness, sandbox, ALICE, ALICE_TOKEN, "500", language_code="ru")
    await ivan.send("/buy")
    countries = await ivan.click("Telegram")
    assert "шт." in countries.last.labels[0]
    confirmation = await ivan.click(countries.last.labels[0])
    assert "Подтвердите покупку" in confirmation.text

    card = await ivan.click("✅ Купить")

    assert "Ждём SMS" in card.text and "❌ Отменить (деньги вернутся)" in card.labels
    [record] = await harness.open_activations(ALICE)
    assert record.language == "ru"
    await harness.arrive_code(sandbox, record, "5555")
    assert "Код для Telegram" in ivan.messages()[-1].text
