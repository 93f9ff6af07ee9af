"""The buttons of a number card, which depend on the activation's state."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n.translator import Translate
from bot.store.activations import ActivationRecord, State
from keyboards.callbacks import CardAction, CardCallback, packable


def card_keyboard(record: ActivationRecord, _: Translate) -> InlineKeyboardMarkup | None:
    """❌ Cancel while no code came; 🔁 Another code and ✅ Finish after; none once closed."""
    if not record.is_open or not packable(CardCallback(action=CardAction.ANOTHER, key=record.key)):
        return None  # closed, or an id too long for a button (the number stays watched)
    builder = InlineKeyboardBuilder()
    if not record.codes:
        builder.button(
            text=_("❌ Cancel (money back)"),
            callback_data=CardCallback(action=CardAction.CANCEL, key=record.key),
        )
    else:
        if record.state is State.CODE:
            builder.button(
                text=_("🔁 Another code"),
                callback_data=CardCallback(action=CardAction.ANOTHER, key=record.key),
            )
        builder.button(
            text=_("✅ Finish"),
            callback_data=CardCallback(action=CardAction.FINISH, key=record.key),
        )
    builder.adjust(2)
    return builder.as_markup()
