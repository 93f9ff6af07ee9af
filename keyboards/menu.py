"""The main menu and the small keyboards around it (back to the menu, language choice).

These keyboards never change for a given language, and almost every answer carries one, so
each is built once per set of labels (`functools.cache`, a few entries per language) and the
same markup is handed out again: aiogram's builder deep-copies every button on export, which
cost more than anything else in answering /help. The markups are shared: callers pass them
to Telegram and never modify them.
"""

from __future__ import annotations

from functools import cache

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n.translator import Translate
from keyboards.callbacks import LanguageCallback, MenuAction, MenuCallback

# Each language is offered in its own name, whatever language the bot speaks now.
LANGUAGE_NAMES = {"en": "🇬🇧 English", "ru": "🇷🇺 Русский"}

_MAIN_MENU_ACTIONS = (
    MenuAction.BUY,
    MenuAction.NUMBERS,
    MenuAction.BALANCE,
    MenuAction.TOKEN,
    MenuAction.LANGUAGE,
    MenuAction.HELP,
)


def main_menu(_: Translate) -> InlineKeyboardMarkup:
    labels = (
        _("🛒 Buy a number"),
        _("📱 My numbers"),
        _("💰 Balance"),
        _("🔑 Token"),
        _("🌐 Language"),
        _("❓ Help"),
    )
    return _main_menu(labels)


@cache
def _main_menu(labels: tuple[str, ...]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for text, action in zip(labels, _MAIN_MENU_ACTIONS, strict=True):
        builder.button(text=text, callback_data=MenuCallback(action=action))
    builder.adjust(2)
    return builder.as_markup()


def back_to_menu(_: Translate) -> InlineKeyboardMarkup:
    return _back_to_menu(_("‹ Menu"))


@cache
def _back_to_menu(label: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=label, callback_data=MenuCallback(action=MenuAction.MAIN))
    return builder.as_markup()


def buy_more_keyboard(_: Translate) -> InlineKeyboardMarkup:
    """Under messages after which buying (again) is the natural next step."""
    return _buy_more_keyboard(_("🛒 Buy a number"), _("‹ Menu"))


@cache
def _buy_more_keyboard(buy: str, menu: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=buy, callback_data=MenuCallback(action=MenuAction.BUY))
    builder.button(text=menu, callback_data=MenuCallback(action=MenuAction.MAIN))
    builder.adjust(2)
    return builder.as_markup()


def private_chat_keyboard(bot_username: str, _: Translate) -> InlineKeyboardMarkup:
    """Under the reply in a group: a button opening a private chat with the bot."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("💬 Open a private chat"), url=f"https://t.me/{bot_username}")
    return builder.as_markup()


def language_keyboard(languages: list[str], current: str) -> InlineKeyboardMarkup:
    return _language_keyboard(tuple(languages), current)


@cache
def _language_keyboard(languages: tuple[str, ...], current: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for language in languages:
        name = LANGUAGE_NAMES.get(language, language)
        text = f"✅ {name}" if language == current else name
        builder.button(text=text, callback_data=LanguageCallback(language=language))
    builder.adjust(2)
    return builder.as_markup()
