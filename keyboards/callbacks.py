"""Every button's callback data: ids and small numbers only, never prices or names.

Telegram keeps at most 64 bytes per button. Callback data is user input: handlers check
ownership and validity on the server side (a forged button changes nothing).
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class MenuAction(StrEnum):
    MAIN = "main"
    BUY = "buy"
    NUMBERS = "numbers"
    BALANCE = "balance"
    TOKEN = "token"  # noqa: S105 - the menu entry, not a secret
    LANGUAGE = "language"
    HELP = "help"


class MenuCallback(CallbackData, prefix="menu"):
    """A main-menu entry (also used by "back to the menu" buttons)."""

    action: MenuAction


class Noop(CallbackData, prefix="noop"):
    """A button that only shows something (the "page 2/5" label)."""


class ServicePage(CallbackData, prefix="sp"):
    """A page of the service menu (filtered by what the user typed, kept in the FSM)."""

    page: int


class ServicePick(CallbackData, prefix="sv"):
    service_id: str


class CountryPage(CallbackData, prefix="cp"):
    """A page of the country menu of one service."""

    service_id: str
    page: int


class CountryPick(CallbackData, prefix="ct"):
    """Service and country chosen: show the confirmation card (a fresh quote)."""

    service_id: str
    country_id: str


class BuyCallback(CallbackData, prefix="buy"):
    """✅ Buy: the nonce of a quote kept on the server (the price is never in the button)."""

    nonce: str


class CardAction(StrEnum):
    CANCEL = "cancel"
    ANOTHER = "another"
    FINISH = "finish"


class CardCallback(CallbackData, prefix="n", sep="|"):
    """A button of a number card. `key` is the activation key "<provider>:<id>"."""

    action: CardAction
    key: str


class LanguageCallback(CallbackData, prefix="lang"):
    language: str


class BalancesPage(CallbackData, prefix="abal"):
    """A page of the admin's list of users' balances."""

    page: int
