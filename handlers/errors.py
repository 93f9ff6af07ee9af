"""The last resort: log what broke (never what the user typed) and apologise."""

from __future__ import annotations

import logging
import traceback

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import gettext as _

from handlers.explain import EXPECTED_ERRORS
from keyboards.menu import back_to_menu

logger = logging.getLogger(__name__)


def describe(error: BaseException) -> str:
    """The error for the log. Only our own errors keep their message: other messages can
    quote input (a token pasted by the user), so they are reduced to the type and traceback."""
    if isinstance(error, (*EXPECTED_ERRORS, TelegramAPIError)):
        head = f"{type(error).__name__}: {error}"
    else:
        head = type(error).__name__
    return head + "\n" + "".join(traceback.format_tb(error.__traceback__))


async def on_error(event: ErrorEvent, bot: Bot) -> None:
    if isinstance(event.exception, TelegramForbiddenError):
        # The user blocked the bot (or left the chat) while it was answering: theirs to do,
        # nothing broke, and there is nobody to apologise to.
        logger.info("Update %s: the chat no longer accepts messages", event.update.update_id)
        return
    logger.error("Update %s failed: %s", event.update.update_id, describe(event.exception))
    update = event.update
    if update.callback_query is not None:
        message = update.callback_query.message
        chat_id = message.chat.id if message is not None else update.callback_query.from_user.id
    elif update.message is not None:
        chat_id = update.message.chat.id
    else:
        return
    try:
        await bot.send_message(
            chat_id,
            _("😔 Sorry, something went wrong on my side. Please try again in a moment."),
            reply_markup=back_to_menu(_),
        )
    except TelegramAPIError as error:
        logger.warning("Could not apologise for a failed update: %s", type(error).__name__)


def create_router() -> Router:
    router = Router(name=__name__)
    router.errors.register(on_error)
    return router
