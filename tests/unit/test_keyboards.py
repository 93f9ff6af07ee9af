"""Keyboards are pure: what buttons appear, and that their data fits Telegram's 64 bytes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiogram.types import InlineKeyboardMarkup

from bot.provider.models import Country, Service
from bot.services.catalog import CountryOffer
from bot.services.purchase import Quote
from bot.store.activations import ActivationRecord, CloseReason, State
from keyboards.buy import confirm_keyboard, countries_keyboard, services_keyboard
from keyboards.callbacks import CardAction, CardCallback, CountryPick
from keyboards.card import card_keyboard, code_keyboard
from keyboards.menu import back_to_menu, buy_more_keyboard, language_keyboard, main_menu
from keyboards.pagination import paginate


def same(text: str) -> str:
    return text


def record(**changes: object) -> ActivationRecord:
    values: dict[str, object] = {
        "provider": "compat",
        "id": "123456789",
        "user_id": 1,
        "chat_id": 1,
        "number": "79001234567",
        "service_id": "tg",
        "service_name": "Telegram",
        "country_id": "0",
        "country_name": "Russia",
        "country_iso": "ru",
        "price": Decimal("10"),
        "token": "encrypted",
        "created_at": 1000.0,
        "expires_at": 2200.0,
    }
    values.update(changes)
    return ActivationRecord.model_validate(values)


def labels(markup: InlineKeyboardMarkup | None) -> list[str]:
    assert markup is not None
    return [button.text for row in markup.inline_keyboard for button in row]


def all_data(markup: InlineKeyboardMarkup | None) -> list[str]:
    """The callback data of the buttons that send some (copy buttons send none)."""
    assert markup is not None
    return [
        button.callback_data
        for row in markup.inline_keyboard
        for button in row
        if button.callback_data is not None
    ]


def copied(markup: InlineKeyboardMarkup | None) -> list[str]:
    """What the copy buttons copy."""
    assert markup is not None
    return [
        button.copy_text.text
        for row in markup.inline_keyboard
        for button in row
        if button.copy_text is not None
    ]


def styles(markup: InlineKeyboardMarkup | None) -> dict[str, str | None]:
    assert markup is not None
    return {button.text: button.style for row in markup.inline_keyboard for button in row}


@pytest.mark.parametrize("action", list(CardAction))
def test_card_buttons_fit_64_bytes_with_long_activation_ids(action: CardAction) -> None:
    key = "compat:" + "9" * 40
    packed = CardCallback(action=action, key=key).pack()

    assert len(packed.encode()) <= 64
    assert CardCallback.unpack(packed).key == key


def test_card_buttons_follow_the_state_of_the_number() -> None:
    copy = "📋 Copy number"
    assert labels(card_keyboard(record(), same)) == [copy, "🔄 Replace", "❌ Cancel (money back)"]
    with_code = record(state=State.CODE, codes=["1234"])
    assert labels(card_keyboard(with_code, same)) == [copy, "🔁 Another code", "✅ Finish"]
    retrying = record(state=State.WAIT_RETRY, codes=["1234"])
    assert labels(card_keyboard(retrying, same)) == [copy, "✅ Finish"]
    closed = record(state=State.CANCELLED, close_reason=CloseReason.USER)
    assert labels(card_keyboard(closed, same)) == ["🔁 Buy again"]


def test_the_card_copies_the_number_as_shown_and_cancel_looks_dangerous() -> None:
    markup = card_keyboard(record(number="79001234567"), same)

    assert copied(markup) == ["+79001234567"]
    assert styles(markup) == {
        "📋 Copy number": None,
        "🔄 Replace": None,
        "❌ Cancel (money back)": "danger",
    }


def test_an_activation_id_too_long_for_buttons_still_gets_the_copy_button() -> None:
    long_id = record(id="1" * 80)

    markup = card_keyboard(long_id, same)

    assert labels(markup) == ["📋 Copy number"] and all_data(markup) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [("481516", ["481516"]), (" 1234 ", ["1234"]), ("7" * 256, ["7" * 256])],
)
def test_the_code_message_copies_the_code(code: str, expected: list[str]) -> None:
    markup = code_keyboard(code, same)

    assert labels(markup) == ["📋 Copy code"] and copied(markup) == expected


@pytest.mark.parametrize("code", ["", "   ", "7" * 257])
def test_no_copy_button_for_a_code_telegram_would_not_copy(code: str) -> None:
    assert code_keyboard(code, same) is None


def test_card_buttons_carry_the_activation_key_for_a_long_id() -> None:
    long_id = record(id="1" * 40, state=State.CODE, codes=["1"])

    data = all_data(card_keyboard(long_id, same))

    assert all(len(item.encode()) <= 64 for item in data)
    assert {CardCallback.unpack(item).key for item in data} == {long_id.key}


def quote(balance: str = "100", stock: int = 5) -> Quote:
    return Quote(
        nonce="AbCdEfGhIjK",
        service=Service(id="3", name="Telegram", code="tg"),
        country=Country(id="14", name="India", iso="in"),
        price=Decimal("23.75"),
        cap=Decimal("24"),
        stock=stock,
        balance=Decimal(balance),
    )


def test_the_buy_button_carries_the_nonce_never_the_price() -> None:
    markup = confirm_keyboard(quote(), same)

    assert labels(markup)[0] == "✅ Buy for 23.75 ₽"
    assert styles(markup)["✅ Buy for 23.75 ₽"] == "success"
    assert all("23.75" not in data for data in all_data(markup))
    assert "AbCdEfGhIjK" in all_data(markup)[0]


@pytest.mark.parametrize(("balance", "stock"), [("1", 5), ("100", 0)])
def test_no_buy_button_when_the_number_cannot_be_bought(balance: str, stock: int) -> None:
    markup = confirm_keyboard(quote(balance, stock), same)

    assert not any(label.startswith("✅") for label in labels(markup))
    assert "🔄 Check again" in labels(markup)


def test_pages_are_clamped_and_navigation_shows_only_useful_arrows() -> None:
    items = list(range(25))

    assert paginate(items, 99, 10).number == 2 and list(paginate(items, 99, 10).items) == [
        20,
        21,
        22,
        23,
        24,
    ]
    assert paginate([], 3, 10).count == 1
    first = labels(services_keyboard(paginate(services(25), 0, 16), same))
    last = labels(services_keyboard(paginate(services(25), 1, 16), same))
    assert "Next ›" in first and "‹ Prev" not in first and "page 1/2" in first
    assert "‹ Prev" in last and "Next ›" not in last


def services(count: int) -> list[Service]:
    return [Service(id=f"service-{n:012d}", name=f"Service {n}") for n in range(count)]


def test_menus_stay_within_telegram_limits_with_long_ids() -> None:
    menu = services_keyboard(paginate(services(500), 3, 16), same, filtered=True)
    offers = [
        CountryOffer(Country(id=f"{n:020d}", name=f"Country {n}", iso="de"), Decimal(n), n)
        for n in range(300)
    ]
    countries = countries_keyboard("service-000000000042", paginate(offers, 5, 10), same)

    for markup in (menu, countries):
        assert len(labels(markup)) <= 100
        assert all(len(data.encode()) <= 64 for data in all_data(markup))
    assert "🇩🇪 Country 50 · 50.00 ₽ · 50 pcs" in labels(countries)
    pick = CountryPick.unpack(all_data(countries)[0])
    assert (pick.service_id, pick.country_id) == ("service-000000000042", f"{50:020d}")


def test_the_menus_follow_the_language_they_are_asked_in() -> None:
    """The menus are built once per language and reused: a menu asked for in one language
    never comes back in another."""

    def upper(text: str) -> str:
        return text.upper()

    for _round in range(2):
        assert labels(main_menu(same))[0] == "🛒 Buy a number"
        assert labels(main_menu(upper))[0] == "🛒 BUY A NUMBER"
        assert labels(buy_more_keyboard(upper)) == ["🛒 BUY A NUMBER", "‹ MENU"]
        assert labels(back_to_menu(same)) == ["‹ Menu"]
    assert labels(language_keyboard(["en", "ru"], "ru")) == ["🇬🇧 English", "✅ 🇷🇺 Русский"]
    assert labels(language_keyboard(["en", "ru"], "en")) == ["✅ 🇬🇧 English", "🇷🇺 Русский"]
