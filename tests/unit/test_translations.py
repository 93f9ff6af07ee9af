"""Every message the bot can say is translated, and translations fit the code that uses them."""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n.catalogs import compile_catalog, languages, missing_translations, po_path
from bot.i18n.translator import CatalogI18n

PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")
TAG = re.compile(r"</?[a-z-]+")


def test_every_message_is_translated_in_every_language() -> None:
    assert missing_translations() == {}


def test_english_and_russian_are_shipped() -> None:
    assert {"en", "ru"} <= set(languages())


@pytest.mark.parametrize("language", languages())
def test_translations_keep_placeholders_and_markup(language: str) -> None:
    with po_path(language).open("rb") as file:
        catalog = read_po(file, locale=language)
    problems = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        # A plural has a form per number (3 in Russian): each form is checked on its own.
        source = str(message.id[0] if isinstance(message.id, (tuple, list)) else message.id)
        strings = message.string
        forms = [str(form) for form in strings] if isinstance(strings, (tuple, list)) else [strings]
        for translated in forms:
            if Counter(PLACEHOLDER.findall(source)) != Counter(PLACEHOLDER.findall(translated)):
                problems.append(f"placeholders differ: {source!r}")
            if Counter(TAG.findall(source)) != Counter(TAG.findall(translated)):
                problems.append(f"HTML tags differ: {source!r}")
    assert problems == []


# --- loading: no compile step, nothing written --------------------------------------------

MENU = "What would you like to do?"
MENU_RU = "Что хотите сделать?"


def _po(translation: str) -> str:
    return (
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        f'msgid "{MENU}"\nmsgstr "{translation}"\n'
    )


def _files(root: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in root.rglob("*")}


def test_shipped_catalogs_load_from_the_po_files_alone(tmp_path: Path) -> None:
    for language in languages():
        target = tmp_path / language / "LC_MESSAGES" / "messages.po"
        target.parent.mkdir(parents=True)
        shutil.copy(po_path(language), target)
    before = _files(tmp_path)

    i18n = CatalogI18n(path=tmp_path, default_locale="en")

    assert set(i18n.available_locales) == set(languages())
    assert i18n.gettext(MENU, locale="ru") == MENU_RU
    assert _files(tmp_path) == before  # compiled in memory: a read-only tree is fine


def test_a_mo_older_than_its_po_is_ignored(tmp_path: Path) -> None:
    messages = tmp_path / "ru" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    po, mo = messages / "messages.po", messages / "messages.mo"
    po.write_text(_po("Старый перевод"))
    mo.write_bytes(compile_catalog(po, "ru"))
    po.write_text(_po(MENU_RU))  # the translator edits the .po and forgets to compile
    os.utime(mo, ns=(po.stat().st_mtime_ns - 10**9,) * 2)

    assert CatalogI18n(path=tmp_path).gettext(MENU, locale="ru") == MENU_RU


def test_a_mo_as_new_as_its_po_is_used(tmp_path: Path) -> None:
    messages = tmp_path / "ru" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    po, mo = messages / "messages.po", messages / "messages.mo"
    po.write_text(_po("Из .po"))
    mo.write_bytes(compile_catalog(messages / "messages.po", "ru"))
    po.write_text(_po("Из .po, изменённого позже"))
    os.utime(po, ns=(mo.stat().st_mtime_ns,) * 2)  # as when both come from one package

    assert CatalogI18n(path=tmp_path).gettext(MENU, locale="ru") == "Из .po"
