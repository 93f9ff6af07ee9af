"""The runtime side of translations: the gettext catalogs the bot speaks with.

`bot.i18n` extracts and compiles the catalogs; this module loads them for the running bot
and the notifier. Handlers translate through aiogram's context (`gettext` as `_`); code that
runs outside an update (the notifier) asks for a translator bound to one language.
"""

from __future__ import annotations

import contextvars
import gettext
import io
from collections.abc import Callable
from pathlib import Path

from aiogram.utils.i18n import I18n

from bot.config import SHIPPED_LANGUAGES, Settings
from bot.i18n.catalogs import DOMAIN, LOCALES_DIR, compile_catalog

Translate = Callable[[str], str]
"""A function that translates one message id, as handlers' `_` does."""


class CatalogI18n(I18n):
    """aiogram's I18n that needs no compile step and writes nothing.

    aiogram loads only compiled `.mo` files and refuses a language that has just a `.po`.
    Here a `.mo` is loaded when it is at least as new as its `.po`; a missing or older one
    is replaced by compiling the `.po` in memory (a few milliseconds), so a fresh checkout,
    an installed package and a read-only image all start as they are.
    """

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        return load_catalogs(self.path, self.domain)

    # aiogram keeps "the current I18n" in a context variable of each class, and its `gettext`
    # (handlers' `_`) reads I18n's: the middleware must set that one, not a subclass's own.
    @classmethod
    def set_current(cls, value: I18n) -> contextvars.Token[I18n]:
        return I18n.set_current(value)

    @classmethod
    def reset_current(cls, token: contextvars.Token[I18n]) -> None:
        I18n.reset_current(token)


def load_catalogs(path: Path, domain: str = DOMAIN) -> dict[str, gettext.GNUTranslations]:
    """Every language under `path` (`<language>/LC_MESSAGES/<domain>.po` or `.mo`)."""
    translations: dict[str, gettext.GNUTranslations] = {}
    for directory in sorted(path.iterdir()):
        po = directory / "LC_MESSAGES" / f"{domain}.po"
        mo = po.with_suffix(".mo")
        if po.is_file() and not _fresh(mo, po):
            translations[directory.name] = gettext.GNUTranslations(
                io.BytesIO(compile_catalog(po, directory.name))
            )
        elif mo.is_file():
            with mo.open("rb") as file:
                translations[directory.name] = gettext.GNUTranslations(file)
    return translations


def _fresh(mo: Path, po: Path) -> bool:
    try:
        return mo.stat().st_mtime_ns >= po.stat().st_mtime_ns
    except FileNotFoundError:
        return False


def create_i18n(settings: Settings) -> I18n:
    """The shipped catalogs, defaulting to DEFAULT_LANGUAGE."""
    return CatalogI18n(path=LOCALES_DIR, default_locale=settings.default_language, domain=DOMAIN)


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
