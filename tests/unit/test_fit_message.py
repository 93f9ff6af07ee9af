"""A long HTML message is cut where Telegram would still parse it."""

from __future__ import annotations

from html import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.replies import MAX_MESSAGE_LENGTH, fit_message
from tests.fakes.telegram_html import parse_html

plain = st.text(min_size=1, max_size=60).map(escape)
tagged = st.builds(
    lambda tag, inner: f"<{tag[0]}>{inner}</{tag[1]}>",
    st.sampled_from([("b", "b"), ("i", "i"), ("code", "code"), ('a href="https://t.me/x"', "a")]),
    plain,
)
nested = st.builds(lambda outer, inner: f"<b>{outer}{inner}</b>", plain, tagged)
html_texts = st.lists(st.one_of(plain, tagged, nested), min_size=1, max_size=40).map("".join)


@given(html_texts, st.integers(min_value=120, max_value=400))
def test_a_cut_message_still_parses_and_fits(text: str, limit: int) -> None:
    visible, _entities = parse_html(text, reject_bare_ampersand=True)

    fitted = fit_message(text, limit)

    shown, _entities = parse_html(fitted, reject_bare_ampersand=True)  # no HtmlParseError
    assert len(shown) <= limit
    if fitted == text:
        assert len(text) <= limit
    else:
        assert shown.endswith("…") and visible.startswith(shown[:-1])


@pytest.mark.parametrize(
    "tail",
    ["<b>bold</b>", "&amp;&amp;&amp;", "<code>123456</code>", '<a href="https://t.me/x">a</a>'],
)
@pytest.mark.parametrize("at", [MAX_MESSAGE_LENGTH - 3, MAX_MESSAGE_LENGTH - 105])
def test_a_cut_through_a_tag_or_an_entity_backs_off(tail: str, at: int) -> None:
    text = "x" * at + tail * 50

    fitted = fit_message(text)

    shown, _entities = parse_html(fitted, reject_bare_ampersand=True)
    assert len(shown) <= MAX_MESSAGE_LENGTH and shown.endswith("…")
