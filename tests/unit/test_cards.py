"""The number card and the confirmation card, rendered from data."""

from __future__ import annotations

from decimal import Decimal

from bot.config import Settings
from bot.i18n.translator import Translate, create_i18n, translator
from bot.store.activations import CloseReason, State
from bot.telegram.cards import (
    format_duration,
    format_money,
    render_card,
    render_code_message,
    render_history,
    render_quote,
)
from tests.unit.test_keyboards import quote, record


def same(text: str) -> str:
    return text


def test_card_shows_the_number_to_copy_and_what_it_is_for() -> None:
    card = render_card(record(), same, now=1060.0)

    assert "<code>+79001234567</code>" in card
    assert "Telegram" in card and "🇷🇺 Russia" in card and "10.00 ₽" in card
    assert "Waiting for the SMS… 19:00 left" in card


def test_card_escapes_what_the_provider_sends() -> None:
    card = render_card(
        record(service_name="<b>Evil & Co</b>", country_name="A<B", codes=["<1>"]), same, 1000.0
    )

    assert "&lt;b&gt;Evil &amp; Co&lt;/b&gt;" in card and "A&lt;B" in card
    assert "<code>&lt;1&gt;</code>" in card


def test_card_status_after_codes_and_after_closing() -> None:
    with_codes = render_card(record(state=State.CODE, codes=["1111", "2222"]), same, 1000.0)
    timed_out = render_card(
        record(state=State.CANCELLED, close_reason=CloseReason.TIMEOUT), same, 3000.0
    )
    cancelled = render_card(
        record(state=State.CANCELLED, close_reason=CloseReason.USER), same, 1100.0
    )

    assert "Code received" in with_codes
    assert "Code: <code>2222</code>\nEarlier codes: <code>1111</code>" in with_codes
    assert "No SMS in time" in timed_out and "money is back" in timed_out
    assert "Cancelled: the money is back" in cancelled


def russian() -> Translate:
    return translator(create_i18n(Settings(bot_token="1:x", _env_file=None)), "ru")


def test_card_in_russian() -> None:
    card = render_card(record(language="ru"), russian(), now=1000.0)

    assert "Номер: <code>+79001234567</code>" in card and "Ждём SMS… осталось 20:00" in card
    assert "Страна: 🇷🇺 Россия" in card


def test_the_country_on_a_card_is_in_the_language_it_is_drawn_in() -> None:
    bought_in_english = record(language="en", country_name="India", country_iso="in")

    assert "🇮🇳 India" in render_card(bought_in_english, same, 1000.0)
    assert "🇮🇳 Индия" in render_card(bought_in_english, russian(), 1000.0, language="ru")


def test_a_card_shows_the_newest_code_and_up_to_four_before_it() -> None:
    codes = [f"{n}{n}{n}{n}" for n in range(1, 8)]

    card = render_card(record(state=State.WAIT_RETRY, codes=codes), same, 1000.0)

    assert "Code: <code>7777</code>" in card
    assert "Earlier codes: <code>3333</code>, <code>4444</code>, <code>5555</code>, " in card
    assert "2222" not in card


def test_the_code_message_starts_with_the_code() -> None:
    text = render_code_message(record(), "481516", same)

    assert text.startswith("🔑 <code>481516</code>\n")
    assert "Telegram" in text and "<code>+79001234567</code>" in text


def test_quote_in_russian_names_the_country_in_russian() -> None:
    text = render_quote(quote(), russian(), "ru")

    assert "Страна: 🇮🇳 Индия" in text


def test_quote_says_how_much_is_missing_when_the_balance_is_short() -> None:
    text = render_quote(quote(balance="20.00"), same, "en")

    assert "23.75 ₽" in text and "20.00 ₽" in text
    assert "by at least 3.75 ₽" in text


def test_history_lists_closed_numbers_with_codes() -> None:
    text = render_history(
        [record(state=State.FINISHED, close_reason=CloseReason.USER, codes=["424242"])], same
    )

    assert "<code>+79001234567</code>" in text and "finished" in text and "424242" in text


def test_money_and_durations() -> None:
    assert format_money(Decimal("5")) == "5.00 ₽"
    assert format_money(Decimal("2.345")) == "2.35 ₽"
    assert format_duration(65) == "1:05"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(-3) == "0:00"
