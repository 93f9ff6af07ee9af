"""/language: English or Russian, remembered per user."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import BotCommandScopeChat, CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.store.users import UserStore
from handlers.commands import commands_for
from handlers.replies import show
from keyboards.callbacks import LanguageCallback, MenuAction, MenuCallback
from keyboards.menu import language_keyboard, main_menu

logger = logging.getLogger(__name__)


async def choose_language(event: Message | CallbackQuery, i18n: I18n) -> None:
    keyboard = language_keyboard(sorted(i18n.available_locales), i18n.current_locale)
    await show(event, _("🌐 Choose your language:"), keyboard)


async def set_language(
    callback: CallbackQuery,
    callback_data: LanguageCallback,
    bot: Bot,
    users: UserStore,
    settings: Settings,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    language = callback_data.language
    if language not in i18n.available_locales:
        callback_answer.text = _("This language is not available.")
        return
    await users.set_language(callback.from_user.id, language)
    with i18n.use_locale(language):
        callback_answer.text = _("Language: English")
        await show(
            callback,
            _("Done! I will speak English now.") + "\n\n" + _("What would you like to do?"),
            main_menu(_),
        )
    await _set_chat_commands(
        bot,
        i18n,
        callback.from_user.id,
        language,
        admin=callback.from_user.id in settings.admin_ids,
    )


async def _set_chat_commands(
    bot: Bot, i18n: I18n, chat_id: int, language: str, admin: bool
) -> None:
    """The command menu of this chat in the chosen language, whatever the client's language."""
    scope = BotCommandScopeChat(chat_id=chat_id)
    commands = commands_for(i18n, language, admin=admin)
    try:
        await bot.set_my_commands(commands, scope=scope)
        for code in i18n.available_locales:
            await bot.set_my_commands(commands, scope=scope, language_code=code)
    except TelegramAPIError as error:
        logger.warning("Could not set the chat's commands: %s", type(error).__name__)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(choose_language, Command("language"))
    router.callback_query.register(
        choose_language, MenuCallback.filter(F.action == MenuAction.LANGUAGE)
    )
    router.callback_query.register(set_language, LanguageCallback.filter())
    return router
