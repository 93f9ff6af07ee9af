"""Cutting a list into pages, and the ‹ Prev · n/N · Next › row under a paginated menu."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import ceil
from typing import Generic, TypeVar

from aiogram.types import InlineKeyboardButton

from bot.i18n.translator import Translate
from keyboards.callbacks import Noop

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int  # 0-based
    count: int  # how many pages (at least 1)
    total: int  # how many items on all pages

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number < self.count - 1


def paginate(items: Sequence[T], page: int, per_page: int) -> Page[T]:
    """The `page`-th slice of `items`; an out-of-range page number is clamped."""
    count = max(1, ceil(len(items) / per_page))
    number = min(max(page, 0), count - 1)
    start = number * per_page
    return Page(items[start : start + per_page], number, count, len(items))


def navigation_row(
    page: Page[T], to_page: Callable[[int], str], _: Translate
) -> list[InlineKeyboardButton]:
    """‹ Prev, "n/N", Next › — only the arrows that lead somewhere; empty for one page."""
    if page.count <= 1:
        return []
    row = []
    if page.has_previous:
        row.append(InlineKeyboardButton(text=_("‹ Prev"), callback_data=to_page(page.number - 1)))
    row.append(
        InlineKeyboardButton(
            text=_("page {page}/{pages}").format(page=page.number + 1, pages=page.count),
            callback_data=Noop().pack(),
        )
    )
    if page.has_next:
        row.append(InlineKeyboardButton(text=_("Next ›"), callback_data=to_page(page.number + 1)))
    return row
