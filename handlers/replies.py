"""Putting text on the screen: edit the message a button is on, or send a new one.

"message is not modified" is never an error: the screen already shows what we wanted.
"""

from __future__ import annotations

import re

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

MAX_MESSAGE_LENGTH = 4096
MAX_ALERT_LENGTH = 200


def is_not_modified(error: TelegramBadRequest) -> bool:
    return "message is not modified" in error.message


_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^<>]*>")
_CLOSING_RESERVE = 100
"""Room kept for the closing tags of a cut text (a message nests a few tags at most)."""


def fit_message(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """Cut an HTML text to Telegram's limit of one message (callers keep texts short anyway).

    The cut never falls inside a tag or an entity (`&amp;`), and tags left open are closed,
    so the text still parses; Telegram counts the text without its tags, which is shorter.
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - 1 - _CLOSING_RESERVE]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]  # a tag cut in half
    if cut.rfind("&") > cut.rfind(";"):
        cut = cut[: cut.rfind("&")]  # an entity cut in half
    still_open: list[str] = []
    for tag in _TAG.finditer(cut):
        closing, name = tag.group(1), tag.group(2).lower()
        if not closing:
            still_open.append(name)
        elif name in still_open:
            del still_open[len(still_open) - 1 - still_open[::-1].index(name)]
    return cut + "…" + "".join(f"</{name}>" for name in reversed(still_open))


def fit_alert(text: str) -> str:
    return text if len(text) <= MAX_ALERT_LENGTH else text[: MAX_ALERT_LENGTH - 1] + "…"


async def edit_message(
    message: Message, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Edit a message's text and buttons; unchanged content is fine."""
    try:
        await message.edit_text(fit_message(text), reply_markup=markup)
    except TelegramBadRequest as error:
        if not is_not_modified(error):
            raise


async def edit_by_id(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
) -> bool:
    """Edit a message known by id; False when it cannot be edited (deleted, too old)."""
    try:
        await bot.edit_message_text(
            text=fit_message(text), chat_id=chat_id, message_id=message_id, reply_markup=markup
        )
    except TelegramBadRequest as error:
        return is_not_modified(error)
    return True


async def show(
    event: Message | CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """After a button: edit its message (or send one if that fails); after a message: reply.

    Returns the message now showing `text` (None when an edit kept an inaccessible one).
    """
    if isinstance(event, Message):
        return await event.answer(fit_message(text), reply_markup=markup)
    message = event.message
    if isinstance(message, Message):
        try:
            await edit_message(message, text, markup)
            return message
        except TelegramBadRequest:
            pass  # deleted or too old to edit: say it in a new message
    bot = event.bot
    assert bot is not None
    chat_id = message.chat.id if message is not None else event.from_user.id
    return await bot.send_message(chat_id, fit_message(text), reply_markup=markup)
