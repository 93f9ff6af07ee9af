"""Keyboards of the operators' reports."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n.translator import Translate
from keyboards.callbacks import BalancesPage
from keyboards.pagination import Page, T, navigation_row


def balances_keyboard(page: Page[T], _: Translate) -> InlineKeyboardMarkup | None:
    row = navigation_row(page, lambda n: BalancesPage(page=n).pack(), _)
    if not row:
        return None
    builder = InlineKeyboardBuilder()
    builder.row(*row)
    return builder.as_markup()
