"""Every button's callback data: ids and small numbers only, never prices or names.

Telegram keeps at most 64 bytes per button. Callback data is user input: handlers check
ownership and validity on the server side (a forged button changes nothing).

Ids come from the provider and may contain anything, the separator included: values are
escaped (`%` and the separator become `%25` and `%XX`) so that any id packs and unpacks to
itself. Packing data longer than Telegram's 64 bytes (a very long id) raises ValueError;
keyboards leave such an item out (`packable`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Self

from aiogram.filters.callback_data import CallbackData


class EscapedCallbackData(CallbackData, prefix="escaped"):
    """CallbackData whose values may contain the separator (and anything else). The base of
    every button here; never packed itself."""

    def _encode_value(self, key: str, value: Any) -> str:
        return _escape(super()._encode_value(key, value), self.__separator__)

    @classmethod
    def unpack(cls, value: str) -> Self:
        """The data a button carries; TypeError or ValueError for anything else (a forged or
        stale button), which aiogram's callback filter treats as "not this button"."""
        prefix, *parts = value.split(cls.__separator__)
        if prefix != cls.__prefix__:
            raise ValueError(f"Bad prefix ({prefix!r} != {cls.__prefix__!r})")
        names = list(cls.model_fields)
        if len(parts) != len(names):
            raise TypeError(f"{cls.__name__} takes {len(names)} values, got {len(parts)}")
        return cls(**{name: _unescape(part) for name, part in zip(names, parts, strict=True)})


def _escape(text: str, separator: str) -> str:
    return text.replace("%", "%25").replace(separator, f"%{ord(separator):02X}")


_ESCAPED = re.compile(r"%([0-9A-F]{2})")


def _unescape(text: str) -> str:
    return _ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), text)


def packable(data: CallbackData) -> bool:
    """Whether the button's data fits Telegram's limit (a provider id may be too long)."""
    try:
        data.pack()  # raises ValueError beyond MAX_CALLBACK_LENGTH bytes
    except ValueError:
        return False
    return True


class MenuAction(StrEnum):
    MAIN = "main"
    BUY = "buy"
    NUMBERS = "numbers"
    BALANCE = "balance"
    TOKEN = "token"  # noqa: S105 - the menu entry, not a secret
    LANGUAGE = "language"
    HELP = "help"


class MenuCallback(EscapedCallbackData, prefix="menu"):
    """A main-menu entry (also used by "back to the menu" buttons)."""

    action: MenuAction


class Noop(EscapedCallbackData, prefix="noop"):
    """A button that only shows something (the "page 2/5" label)."""


class ServicePage(EscapedCallbackData, prefix="sp"):
    """A page of the service menu (filtered by what the user typed, kept in the FSM)."""

    page: int


class ServicePick(EscapedCallbackData, prefix="sv"):
    service_id: str


class CountryPage(EscapedCallbackData, prefix="cp"):
    """A page of the country menu of one service."""

    service_id: str
    page: int


class CountryPick(EscapedCallbackData, prefix="ct"):
    """Service and country chosen: show the confirmation card (a fresh quote)."""

    service_id: str
    country_id: str


class BuyCallback(EscapedCallbackData, prefix="buy"):
    """✅ Buy: the nonce of a quote kept on the server (the price is never in the button)."""

    nonce: str


class BuyAgain(EscapedCallbackData, prefix="again"):
    """🔁 Buy again: a new confirmation card (fresh price) for a pair bought before."""

    service_id: str
    country_id: str


class FavouriteToggle(EscapedCallbackData, prefix="fav"):
    """⭐ on a confirmation card: save the pair, or remove it when saved."""

    service_id: str
    country_id: str


class FavouritesMenu(EscapedCallbackData, prefix="favs"):
    """The ⭐ Favourites screen: one button a saved pair, straight to its confirmation."""


class FavouriteRemove(EscapedCallbackData, prefix="favrm"):
    """✖ beside a pair on the ⭐ Favourites screen."""

    service_id: str
    country_id: str


class CardAction(StrEnum):
    CANCEL = "cancel"
    REPLACE = "replace"
    ANOTHER = "another"
    FINISH = "finish"


class CardCallback(EscapedCallbackData, prefix="n", sep="|"):
    """A button of a number card. `key` is the activation key "<provider>:<id>"."""

    action: CardAction
    key: str


class LanguageCallback(EscapedCallbackData, prefix="lang"):
    language: str


class BalancesPage(EscapedCallbackData, prefix="abal"):
    """A page of the admin's list of users' balances."""

    page: int
