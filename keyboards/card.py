"""The buttons of a number card, which depend on the activation's state, and of a code message.

📋 buttons copy the number or the code to the clipboard in one tap; the texts keep both in
<code> too, which clients without copy buttons copy on a tap.
"""

from __future__ import annotations

from aiogram.enums import ButtonStyle
from aiogram.types import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n.translator import Translate
from bot.store.activations import ActivationRecord, State
from bot.telegram.cards import format_phone
from keyboards.callbacks import BuyAgain, CardAction, CardCallback, packable

COPY_TEXT_LIMIT = 256  # Telegram copies 1–256 characters


def card_keyboard(record: ActivationRecord, _: Translate) -> InlineKeyboardMarkup | None:
    """📋 Copy the number while it is open, above 🔄 Replace and ❌ Cancel while no code came,
    or 🔁 Another code and ✅ Finish after; 🔁 Buy again once closed."""
    if not record.is_open:
        again = BuyAgain(service_id=record.service_id, country_id=record.country_id)
        if not packable(again):
            return None
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=_("🔁 Buy again"), callback_data=again.pack())]
            ]
        )
    rows = []
    number = format_phone(record.number) if record.number.strip() else ""
    if _copyable(number):
        rows.append(
            [InlineKeyboardButton(text=_("📋 Copy number"), copy_text=CopyTextButton(text=number))]
        )
    # an id too long for a button gets no action buttons (the number stays watched)
    if packable(CardCallback(action=CardAction.ANOTHER, key=record.key)):
        rows.append(_actions(record, _))
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def _actions(record: ActivationRecord, _: Translate) -> list[InlineKeyboardButton]:
    def button(
        text: str, action: CardAction, style: ButtonStyle | None = None
    ) -> InlineKeyboardButton:
        data = CardCallback(action=action, key=record.key).pack()
        return InlineKeyboardButton(text=text, callback_data=data, style=style)

    if not record.codes:
        return [
            button(_("🔄 Replace"), CardAction.REPLACE),
            button(_("❌ Cancel (money back)"), CardAction.CANCEL, ButtonStyle.DANGER),
        ]
    another = (
        [button(_("🔁 Another code"), CardAction.ANOTHER)] if record.state is State.CODE else []
    )
    return [*another, button(_("✅ Finish"), CardAction.FINISH)]


def code_keyboard(code: str, _: Translate) -> InlineKeyboardMarkup | None:
    """📋 Copy the code, under the message that brings it (none for a code Telegram would not
    copy: empty or longer than 256 characters)."""
    code = code.strip()
    if not _copyable(code):
        return None
    button = InlineKeyboardButton(text=_("📋 Copy code"), copy_text=CopyTextButton(text=code))
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


def _copyable(text: str) -> bool:
    return 1 <= len(text) <= COPY_TEXT_LIMIT
