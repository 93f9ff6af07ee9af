"""Gettext catalogs: extract messages, update the .po files, compile them to .mo.

python -m bot.i18n extract   # scan the code, update locales/*/LC_MESSAGES/messages.po
python -m bot.i18n compile   # write the .mo files next to the .po files
python -m bot.i18n check     # exit 1 when any message lacks a translation

The bot needs no compile step: it reads a .mo only when it is at least as new as its .po,
and otherwise compiles the .po in memory (bot.i18n.translator). The catalogs are the
top-level `locales/` of a checkout, and `bot/locales/` of an installed package (setup.py
puts them there).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

PACKAGE_DIR = Path(__file__).resolve().parents[1]
ROOT = PACKAGE_DIR.parent


def find_locales_dir() -> Path:
    """`bot/locales` in an installed package, else the checkout's top-level `locales/`."""
    installed = PACKAGE_DIR / "locales"
    return installed if installed.is_dir() else ROOT / "locales"


LOCALES_DIR = find_locales_dir()
DOMAIN = "messages"
SOURCE_DIRS = ("bot", "handlers", "keyboards")
KEYWORDS = {"_": None, "__": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}


def po_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> list[str]:
    return sorted(p.name for p in LOCALES_DIR.iterdir() if po_path(p.name).exists())


def extract() -> Catalog:
    template = Catalog(project="smsman-bot", charset="utf-8")
    for directory in SOURCE_DIRS:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / directory, keywords=KEYWORDS, comment_tags=("i18n:",)
        ):
            template.add(
                message,
                None,
                [(f"{directory}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def update(template: Catalog) -> None:
    for language in languages():
        path = po_path(language)
        with path.open("rb") as file:
            catalog = read_po(file, locale=language)
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as file:
            write_po(file, catalog, width=100, omit_header=False, sort_output=True)


def compile_catalog(po: Path, language: str) -> bytes:
    """The .mo form of one .po catalog."""
    with po.open("rb") as file:
        catalog = read_po(file, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    return compiled.getvalue()


def compile_all() -> None:
    for language in languages():
        path = po_path(language)
        mo = path.with_suffix(".mo")
        partial = mo.with_name(f"{mo.name}.partial")  # a bot starting now never reads half
        partial.write_bytes(compile_catalog(path, language))
        partial.replace(mo)


def missing_translations() -> dict[str, list[str]]:
    """Messages in the code with no (or a fuzzy) translation, per language."""
    template = extract()
    missing: dict[str, list[str]] = {}
    for language in languages():
        with po_path(language).open("rb") as file:
            catalog = read_po(file, locale=language)
        for message in template:
            if not message.id:
                continue
            translated = catalog.get(message.id, context=message.context)
            strings = translated.string if translated is not None else None
            empty = not strings or (isinstance(strings, tuple) and not all(strings))
            if translated is None or empty or translated.fuzzy:
                missing.setdefault(language, []).append(str(message.id))
    return missing


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "compile"
    if command == "extract":
        update(extract())
    elif command == "compile":
        compile_all()
    elif command == "check":
        missing = missing_translations()
        for language, ids in missing.items():
            for message_id in ids:
                print(f"{language}: missing translation for {message_id!r}")
        return 1 if missing else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
