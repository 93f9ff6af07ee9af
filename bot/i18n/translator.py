"""The runtime side of translations: the gettext catalogs the bot speaks with.

`bot.i18n` extracts and compiles the catalogs; this module loads them for the running bot
and the notifier. Handlers translate through aiogram's context (`gettext` as `_`); code that
runs outside an update (the notifier) asks for a translator bound to one language.
"""

from __future__ import annotations

from collections.abc import Callable

from aiogram.utils.i18n import I18n

from bot.config import SHIPPED_LANGUAGES, Settings
from bot.i18n.catalogs import DOMAIN, LOCALES_DIR

Translate = Callable[[str], str]
"""A function that translates one message id, as handlers' `_` does."""


def create_i18n(settings: Settings) -> I18n:
    """The compiled catalogs in `locales/`, defaulting to DEFAULT_LANGUAGE."""
    return I18n(path=LOCALES_DIR, default_locale=settings.default_language, domain=DOMAIN)


def supported_language(code: str | None) -> str | None:
    """The shipped language a Telegram `language_code` (e.g. "ru", "en-US") asks for."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    return base if base in SHIPPED_LANGUAGES else None


def translator(i18n: I18n, language: str) -> Translate:
    """A `_` bound to one language, for messages sent outside an update."""

    def translate(message: str) -> str:
        return i18n.gettext(message, locale=language)

    return translate
