"""Groups and channels: the bot works in private chats only.

A command addressed to the bot in a group gets one short reply pointing to a private chat
(with a button that opens it); anything else there is ignored, and nothing is stored.
Channel posts are not handled at all.
"""

from __future__ import annotations

import logging
import re

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from keyboards.menu import private_chat_keyboard

logger = logging.getLogger(__name__)

GROUP_CHATS = {ChatType.GROUP, ChatType.SUPERGROUP}
ANY_COMMAND = Command(re.compile(r"[a-z0-9_]{1,32}", re.IGNORECASE))
"""Any command, when addressed to this bot (a "/cmd@other_bot" is not)."""


async def write_to_me_privately(message: Message, bot: Bot) -> None:
    me = await bot.me()
    text = _("👋 I work in private chats only: write to me there.")
    markup = private_chat_keyboard(me.username, _) if me.username else None
    try:
        await message.answer(text, reply_markup=markup)
    except TelegramAPIError as error:  # a group where the bot may not write
        logger.info("Could not answer in a group: %s", type(error).__name__)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type.in_(GROUP_CHATS))
    router.message.register(write_to_me_privately, ANY_COMMAND)
    return router
