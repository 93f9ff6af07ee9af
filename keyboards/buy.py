"""Keyboards of the buying flow: services, countries, the confirmation card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from aiogram.enums import ButtonStyle
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n.translator import Translate
from bot.provider.models import Country, Service
from bot.services.catalog import CountryOffer
from bot.services.purchase import Quote
from bot.telegram.cards import format_money
from keyboards.callbacks import (
    BuyAgain,
    BuyCallback,
    CountryPage,
    CountryPick,
    FavouriteRemove,
    FavouritesMenu,
    FavouriteToggle,
    MenuAction,
    MenuCallback,
    ServicePage,
    ServicePick,
    packable,
)
from keyboards.pagination import Page, navigation_row

SERVICES_PER_PAGE = 16  # two columns
COUNTRIES_PER_PAGE = 10  # one column: flag, name, price and stock need the width


def _button(text: str, callback_data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=callback_data.pack())


def _markup(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """The markup of the non-empty `rows`. The menus a tap redraws are built as plain lists:
    aiogram's KeyboardBuilder deep-copies the whole keyboard on every button it adds, which
    was a tenth of the bot's CPU under a crowd of taps."""
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def services_keyboard(
    page: Page[Service], _: Translate, *, filtered: bool = False, favourites: bool = False
) -> InlineKeyboardMarkup:
    """Two services a row; a ⭐ Favourites row first when the user saved any."""
    buttons = [
        _service_button(service.id, service.name)
        for service in page.items
        if _choosable(service.id)
    ]
    return _markup(
        [_button(_("⭐ Favourites"), FavouritesMenu())] if favourites and not filtered else [],
        *(buttons[i : i + 2] for i in range(0, len(buttons), 2)),
        navigation_row(page, lambda n: ServicePage(page=n).pack(), _),
        [_button(_("🔍 All services"), MenuCallback(action=MenuAction.BUY))] if filtered else [],
        [_button(_("‹ Menu"), MenuCallback(action=MenuAction.MAIN))],
    )


@lru_cache(maxsize=4096)
def _service_button(service_id: str, name: str) -> InlineKeyboardButton:
    """A service's button, made once: the same few hundred appear in every user's menus (a
    button is never changed once made)."""
    return _button(name, ServicePick(service_id=service_id))


@lru_cache(maxsize=4096)
def _choosable(service_id: str) -> bool:
    """A service whose id fits every button of its country menu (a provider could send an id
    too long for Telegram's 64 bytes: such a service is left out rather than break the menu)."""
    return packable(ServicePick(service_id=service_id)) and packable(
        CountryPage(service_id=service_id, page=9999)
    )


@lru_cache(maxsize=65536)
def _country_pick(service_id: str, country_id: str) -> str | None:
    """The data of a country's button in a service's menu; None when the ids are too long
    for a button (packed once per pair: every menu of the service shows them)."""
    pick = CountryPick(service_id=service_id, country_id=country_id)
    return pick.pack() if packable(pick) else None


def country_label(offer: CountryOffer, _: Translate, name: str | None = None) -> str:
    """A country's button: "🇮🇳 India · 36.25 ₽ · 120 pcs", with its shown `name` (by default
    the provider's)."""
    return _("{flag} {country} · {price} · {stock} pcs").format(
        flag=offer.country.flag,
        country=name or offer.country.name,
        price=format_money(offer.price),
        stock=offer.stock,
    )


def countries_keyboard(
    service_id: str,
    page: Page[CountryOffer],
    _: Translate,
    *,
    names: Mapping[str, str] | None = None,
    filtered: bool = False,
) -> InlineKeyboardMarkup:
    """One country a row; `names` are the shown country names by id (bot.i18n.countries)."""
    rows = []
    for offer in page.items:
        data = _country_pick(service_id, offer.country.id)
        if data is not None:  # ids too long for a button cannot be chosen
            name = names.get(offer.country.id) if names else None
            label = country_label(offer, _, name)
            rows.append([InlineKeyboardButton(text=label, callback_data=data)])
    return _markup(
        *rows,
        navigation_row(page, lambda n: CountryPage(service_id=service_id, page=n).pack(), _),
        [_button(_("🔍 All countries"), ServicePick(service_id=service_id))] if filtered else [],
        [_button(_("‹ Back to services"), ServicePage(page=0))],
    )


def confirm_keyboard(
    quote: Quote, _: Translate, *, favourite: bool = False
) -> InlineKeyboardMarkup:
    """✅ Buy only when the number can be bought (the button carries the quote's nonce); ⭐
    saves the pair as a favourite, or removes it when `favourite`."""
    if quote.affordable and quote.stock > 0:
        first = InlineKeyboardButton(
            text=_("✅ Buy for {price}").format(price=format_money(quote.price)),
            style=ButtonStyle.SUCCESS,
            callback_data=BuyCallback(nonce=quote.nonce).pack(),
        )
    else:
        first = _button(
            _("🔄 Check again"),
            CountryPick(service_id=quote.service.id, country_id=quote.country.id),
        )
    toggle = FavouriteToggle(service_id=quote.service.id, country_id=quote.country.id)
    return _markup(
        [first],
        [_button(_("★ Remove from favourites") if favourite else _("⭐ Add to favourites"), toggle)]
        if packable(toggle)
        else [],
        [_button(_("‹ Back to countries"), CountryPage(service_id=quote.service.id, page=0))],
    )


def favourites_keyboard(
    pairs: Sequence[tuple[Service, Country, str]], _: Translate
) -> InlineKeyboardMarkup:
    """A saved pair a row, "Telegram · 🇮🇳 India" (its shown country name given), straight to
    its confirmation card, with ✖ to remove it."""
    rows = []
    for service, country, name in pairs:
        pick = CountryPick(service_id=service.id, country_id=country.id)
        remove = FavouriteRemove(service_id=service.id, country_id=country.id)
        if packable(pick) and packable(remove):
            rows.append(
                [_button(f"⭐ {service.name} · {country.flag} {name}", pick), _button("✖", remove)]
            )
    return _markup(
        *rows,
        [_button(_("🛒 All services"), MenuCallback(action=MenuAction.BUY))],
        [_button(_("‹ Menu"), MenuCallback(action=MenuAction.MAIN))],
    )


def buy_again_keyboard(pairs: Sequence[tuple[str, str, str]], _: Translate) -> InlineKeyboardMarkup:
    """Under /numbers: 🔁 a button per (service id, country id, label) bought before, then the
    way to buy something else."""
    rows = []
    for service_id, country_id, label in pairs:
        again = BuyAgain(service_id=service_id, country_id=country_id)
        if packable(again):
            rows.append([_button(_("🔁 Buy again: {what}").format(what=label), again)])
    return _markup(
        *rows,
        [
            _button(_("🛒 Buy a number"), MenuCallback(action=MenuAction.BUY)),
            _button(_("‹ Menu"), MenuCallback(action=MenuAction.MAIN)),
        ],
    )


def after_failed_buy(
    _: Translate, *, service_id: str | None = None, country_id: str | None = None
) -> InlineKeyboardMarkup:
    """Ways on after a purchase that did not happen: try again, other countries, menu."""
    again = (
        [_button(_("🔄 Check again"), CountryPick(service_id=service_id, country_id=country_id))]
        if service_id is not None and country_id is not None
        else []
    )
    back = (
        [_button(_("‹ Back to countries"), CountryPage(service_id=service_id, page=0))]
        if service_id is not None
        else []
    )
    return _markup(again, back, [_button(_("‹ Menu"), MenuCallback(action=MenuAction.MAIN))])
