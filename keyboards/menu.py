"""The main menu and the small keyboards around it (back to the menu, language choice)."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n.translator import Translate
from keyboards.callbacks import LanguageCallback, MenuAction, MenuCallback

# Each language is offered in its own name, whatever language the bot speaks now.
LANGUAGE_NAMES = {"en": "🇬🇧 English", "ru": "🇷🇺 Русский"}


def main_menu(_: Translate) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    entries = (
        (_("🛒 Buy a number"), MenuAction.BUY),
        (_("📱 My numbers"), MenuAction.NUMBERS),
        (_("💰 Balance"), MenuAction.BALANCE),
        (_("🔑 Token"), MenuAction.TOKEN),
        (_("🌐 Language"), MenuAction.LANGUAGE),
        (_("❓ Help"), MenuAction.HELP),
    )
    for text, action in entries:
        builder.button(text=text, callback_data=MenuCallback(action=action))
    builder.adjust(2)
    return builder.as_markup()


def back_to_menu(_: Translate) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("‹ Menu"), callback_data=MenuCallback(action=MenuAction.MAIN))
    return builder.as_markup()


def buy_more_keyboard(_: Translate) -> InlineKeyboardMarkup:
    """Under messages after which buying (again) is the natural next step."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🛒 Buy a number"), callback_data=MenuCallback(action=MenuAction.BUY))
    builder.button(text=_("‹ Menu"), callback_data=MenuCallback(action=MenuAction.MAIN))
    builder.adjust(2)
    return builder.as_markup()


def private_chat_keyboard(bot_username: str, _: Translate) -> InlineKeyboardMarkup:
    """Under the reply in a group: a button opening a private chat with the bot."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("💬 Open a private chat"), url=f"https://t.me/{bot_username}")
    return builder.as_markup()


def language_keyboard(languages: list[str], current: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for language in languages:
        name = LANGUAGE_NAMES.get(language, language)
        text = f"✅ {name}" if language == current else name
        builder.button(text=text, callback_data=LanguageCallback(language=language))
    builder.adjust(2)
    return builder.as_markup()
