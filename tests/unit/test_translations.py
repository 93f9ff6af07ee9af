"""Every message the bot can say is translated, and translations fit the code that uses them."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from babel.messages.pofile import read_po

from bot.i18n.catalogs import languages, missing_translations, po_path

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
        source, translated = str(message.id), str(message.string)
        if Counter(PLACEHOLDER.findall(source)) != Counter(PLACEHOLDER.findall(translated)):
            problems.append(f"placeholders differ: {source!r}")
        if Counter(TAG.findall(source)) != Counter(TAG.findall(translated)):
            problems.append(f"HTML tags differ: {source!r}")
    assert problems == []
