"""The command lists Telegram shows in the menu, per language, and for operators."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import lazy_gettext as __
from babel.support import LazyProxy

from bot.config import Settings

logger = logging.getLogger(__name__)

USER_COMMANDS: tuple[tuple[str, LazyProxy], ...] = (
    ("start", __("Main menu")),
    ("buy", __("Buy a number")),
    ("numbers", __("My numbers and codes")),
    ("balance", __("My SMS-man balance")),
    ("token", __("Set my SMS-man API token")),
    ("logout", __("Forget my token")),
    ("language", __("Language")),
    ("help", __("How it works")),
)
ADMIN_COMMANDS: tuple[tuple[str, LazyProxy], ...] = (
    ("stats", __("Statistics")),
    ("balances", __("Balances of all users")),
)


def commands_for(i18n: I18n, language: str, *, admin: bool = False) -> list[BotCommand]:
    """The command menu in one language; operators also see their reports."""
    entries = USER_COMMANDS + (ADMIN_COMMANDS if admin else ())
    with i18n.context(), i18n.use_locale(language):
        return [BotCommand(command=name, description=str(text)) for name, text in entries]


async def set_bot_commands(bot: Bot, settings: Settings, i18n: I18n) -> None:
    """Register the command menus: everyone per language, each admin in their own chat."""
    languages = sorted(i18n.available_locales)
    await bot.set_my_commands(
        commands_for(i18n, settings.default_language), scope=BotCommandScopeDefault()
    )
    for language in languages:
        await bot.set_my_commands(
            commands_for(i18n, language), scope=BotCommandScopeDefault(), language_code=language
        )
    for admin_id in sorted(settings.admin_ids):
        scope = BotCommandScopeChat(chat_id=admin_id)
        try:
            await bot.set_my_commands(
                commands_for(i18n, settings.default_language, admin=True), scope=scope
            )
            for language in languages:
                await bot.set_my_commands(
                    commands_for(i18n, language, admin=True), scope=scope, language_code=language
                )
        except TelegramAPIError as error:
            # An operator who never opened the bot has no chat yet ("chat not found").
            logger.warning("Could not set the admin commands for %s: %s", admin_id, error)
