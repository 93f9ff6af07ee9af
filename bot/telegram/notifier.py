"""The Telegram side of the watcher's Notifier: push codes and keep number cards current.

Texts are rendered in the language the number was bought in (`record.language`), since
this runs outside any update. A user who blocked the bot raises RecipientGone; flood
control (RetryAfter) is waited out by the bot's session (bot.telegram.flood), and a flood
longer than that reaches the watcher, which retries later; a card the user deleted is sent
again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from html import escape
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
)
from aiogram.methods import EditMessageText, SendMessage
from aiogram.methods.base import Response
from aiogram.types import InlineKeyboardMarkup, ReplyParameters
from aiogram.utils.i18n import I18n

from bot.i18n.translator import translator
from bot.services.notifications import PushRefused, RecipientGone
from bot.store.activations import ActivationRecord, ActivationStore
from bot.telegram.cards import format_phone, render_card, render_code_message
from keyboards.card import card_keyboard, code_keyboard

logger = logging.getLogger(__name__)

T = TypeVar("T")

# 🎉, one of the message effects every bot may send (Bot API `message_effect_id`).
CODE_EFFECT_ID = "5046509860389126442"

_GONE_CHAT = ("chat not found", "user not found", "peer_id_invalid", "user is deactivated")
_GONE_MESSAGE = ("message to edit not found", "message can't be edited", "message_id_invalid")

# aiogram parses every Bot API answer with `Response[<result type>]`, a pydantic generic that
# pydantic caches only weakly: once a garbage collection frees it, the next call builds it
# again (a schema build, tens to hundreds of microseconds). Held here, it is built once.
_RESULT_MODELS: tuple[object, ...] = tuple(
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (SendMessage, EditMessageText)
)


class TelegramNotifier:
    """Implements bot.services.notifications.Notifier.

    `activations` is where a re-sent card's new message id is saved; without it the new id
    is only set on the record (the caller then saves the record).
    """

    def __init__(
        self,
        bot: Bot,
        i18n: I18n,
        activations: ActivationStore | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bot = bot
        self._i18n = i18n
        self._activations = activations
        self._clock = clock

    async def code_received(self, record: ActivationRecord, code: str) -> None:
        """A new message with the code and a button that copies it, in reply to the card (the
        phone notifies), with a 🎉 effect in a private chat.

        Only the message: once it is sent the code counts as delivered, and the card is
        updated apart (`card_changed`), so a slow or failing card edit never re-sends it.
        """
        _ = translator(self._i18n, record.language)
        reply = (
            ReplyParameters(message_id=record.message_id, allow_sending_without_reply=True)
            if record.message_id is not None
            else None
        )
        text, markup = render_code_message(record, code, _), code_keyboard(code, _)

        async def send(effect: str | None) -> None:
            await self._call(
                lambda: self._bot.send_message(
                    record.chat_id,
                    text,
                    reply_parameters=reply,
                    reply_markup=markup,
                    message_effect_id=effect,
                )
            )

        effect = CODE_EFFECT_ID if record.chat_id > 0 else None  # effects: private chats only
        try:
            await send(effect)
        except PushRefused as error:
            if effect is None or "effect" not in str(error).lower():
                raise
            logger.warning("Telegram refused the message effect, sending without: %s", error)
            await send(None)  # the code matters, the effect does not

    async def token_rejected(self, record: ActivationRecord) -> None:
        _ = translator(self._i18n, record.language)
        text = _(
            "🔑 SMS-man no longer accepts your API token, so I cannot check your number "
            "<code>{number}</code> for its SMS. Send /token with your new token: your open "
            "numbers are then watched with it."
        ).format(number=escape(format_phone(record.number)))
        await self._call(lambda: self._bot.send_message(record.chat_id, text))

    async def card_changed(self, record: ActivationRecord) -> None:
        """Edit the card; a card that is gone is sent again and its new id saved."""
        _ = translator(self._i18n, record.language)
        text = render_card(record, _, self._clock())
        markup = card_keyboard(record, _)
        if record.message_id is not None and await self._edit(record, text, markup):
            return
        sent = await self._call(
            lambda: self._bot.send_message(record.chat_id, text, reply_markup=markup)
        )
        record.message_id = sent.message_id
        if self._activations is not None:
            await self._activations.save_keeping_expiry(record)

    async def _edit(
        self, record: ActivationRecord, text: str, markup: InlineKeyboardMarkup | None
    ) -> bool:
        """True when the card shows `text`; False when the card message is gone."""
        assert record.message_id is not None
        message_id = record.message_id
        try:
            await self._call(
                lambda: self._bot.edit_message_text(
                    text=text, chat_id=record.chat_id, message_id=message_id, reply_markup=markup
                )
            )
        except PushRefused as error:
            description = str(error).lower()
            if "message is not modified" in description:
                return True
            if any(part in description for part in _GONE_MESSAGE):
                logger.info("The card of %s is gone; sending a new one", record.key)
                return False
            raise
        return True

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        """Make one Bot API call; a user who cannot be reached raises RecipientGone."""
        try:
            return await request()
        except TelegramForbiddenError as error:
            raise RecipientGone(str(error)) from error
        except (TelegramBadRequest, TelegramNotFound) as error:
            if any(part in error.message.lower() for part in _GONE_CHAT):
                raise RecipientGone(str(error)) from error
            raise PushRefused(error.message) from error
