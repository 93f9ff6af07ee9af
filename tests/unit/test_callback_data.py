"""Callback data is user input: any id packs and unpacks to itself, anything forged is
refused the way aiogram's callback filter expects (TypeError or ValueError, nothing else)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiogram.types import InlineKeyboardMarkup
from hypothesis import given
from hypothesis import strategies as st

from bot.provider.models import Country, Service
from bot.services.catalog import CountryOffer
from keyboards.buy import countries_keyboard, services_keyboard
from keyboards.callbacks import (
    BalancesPage,
    BuyCallback,
    CardAction,
    CardCallback,
    CountryPage,
    CountryPick,
    EscapedCallbackData,
    LanguageCallback,
    MenuAction,
    MenuCallback,
    Noop,
    ServicePage,
    ServicePick,
)
from keyboards.pagination import paginate

ids = st.text(max_size=40)  # any characters: ':', '|', '%', unicode, zero-width, RTL
pages = st.integers(min_value=0, max_value=10**6)

any_button = st.one_of(
    st.builds(MenuCallback, action=st.sampled_from(MenuAction)),
    st.just(Noop()),
    st.builds(ServicePage, page=pages),
    st.builds(ServicePick, service_id=ids),
    st.builds(CountryPage, service_id=ids, page=pages),
    st.builds(CountryPick, service_id=ids, country_id=ids),
    st.builds(BuyCallback, nonce=ids),
    st.builds(CardCallback, action=st.sampled_from(CardAction), key=ids),
    st.builds(LanguageCallback, language=ids),
    st.builds(BalancesPage, page=pages),
)
BUTTON_TYPES: list[type[EscapedCallbackData]] = [
    MenuCallback,
    Noop,
    ServicePage,
    ServicePick,
    CountryPage,
    CountryPick,
    BuyCallback,
    CardCallback,
    LanguageCallback,
    BalancesPage,
]


@given(any_button)
def test_every_button_that_fits_64_bytes_unpacks_to_itself(data: EscapedCallbackData) -> None:
    try:
        packed = data.pack()
    except ValueError as error:  # only what does not fit a button fails to pack
        assert "too long" in str(error)
        return
    assert len(packed.encode()) <= 64
    assert type(data).unpack(packed) == data


@given(st.text(max_size=64), st.sampled_from(BUTTON_TYPES))
def test_forged_data_is_refused_cleanly(forged: str, button: type[EscapedCallbackData]) -> None:
    unpacked = unpack_or_refuse(button, forged)

    assert unpacked is None or isinstance(unpacked, button)


@given(st.sampled_from(BUTTON_TYPES), st.lists(st.text(max_size=12), max_size=4))
def test_forged_data_with_the_right_prefix_is_refused_cleanly(
    button: type[EscapedCallbackData], parts: list[str]
) -> None:
    forged = button.__separator__.join([button.__prefix__, *parts])

    unpacked = unpack_or_refuse(button, forged)

    assert unpacked is None or isinstance(unpacked, button)


@pytest.mark.parametrize("service_id", ["tg:1", "a|b", "50%", "телеграм", "x\u200by"])
def test_ids_with_separators_and_unicode_make_working_menus(service_id: str) -> None:
    service = Service(id=service_id, name="Odd", code="odd")
    menu = services_keyboard(paginate([service], 0, 16), str)
    offer = CountryOffer(country=Country(id="c:1", name="Land"), price=Decimal(1), stock=3)
    countries = countries_keyboard(service_id, paginate([offer], 0, 10), str)

    assert ServicePick.unpack(first_data(menu)).service_id == service_id
    pick = CountryPick.unpack(first_data(countries))
    assert (pick.service_id, pick.country_id) == (service_id, "c:1")


def test_an_id_too_long_for_a_button_is_left_out_of_the_menu() -> None:
    services = [Service(id="9" * 70, name="Too long", code="x"), Service(id="1", name="Ok")]
    menu = services_keyboard(paginate(services, 0, 16), str)

    assert [b.text for b in menu.inline_keyboard[0]] == ["Ok"]


def unpack_or_refuse(button: type[EscapedCallbackData], data: str) -> EscapedCallbackData | None:
    """The button's data, or None when refused the way aiogram's filter expects (any other
    exception fails the test)."""
    try:
        return button.unpack(data)
    except (TypeError, ValueError):
        return None


def first_data(markup: InlineKeyboardMarkup) -> str:
    return str(markup.inline_keyboard[0][0].callback_data)
