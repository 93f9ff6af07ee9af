"""Telegram's HTML parse mode, as the Bot API server parses it.

A port of tdlib's `parse_html` (td/telegram/MessageEntity.cpp): it walks the UTF-8 bytes, so the
error descriptions carry the same byte offsets Telegram reports ("Unsupported start tag "br" at
byte offset 12"), and entity offsets are counted in UTF-16 code units like the Bot API's.

One deliberate difference, switchable: Telegram shows a `&` that starts no entity literally.
With `reject_bare_ampersand=True` such a `&` is an error here, because in a bot that builds HTML
it almost always means a user- or provider-supplied string went out unescaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

Entity = dict[str, Any]

_SPACE = frozenset(b" \t\r\n\v\0")  # tdlib's is_space() counts the terminating NUL as a space
_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES = {b"lt": ord("<"), b"gt": ord(">"), b"amp": ord("&"), b"quot": ord('"')}


class HtmlParseError(ValueError):
    """Telegram's reason, as it follows "Bad Request: can't parse entities: "."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _is_alpha(c: int) -> bool:
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _is_digit(c: int) -> bool:
    return 0x30 <= c <= 0x39


def _is_hex_digit(c: int) -> bool:
    return _is_digit(c) or 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66


class _Bytes:
    """The source as bytes, reading NUL past the end like tdlib's C string."""

    def __init__(self, source: str) -> None:
        self.data = source.encode("utf-8")

    def __getitem__(self, index: int) -> int:
        return self.data[index] if index < len(self.data) else 0

    def __len__(self) -> int:
        return len(self.data)

    def text(self, begin: int, end: int) -> str:
        return self.data[begin:end].decode("utf-8", "replace")


def _decode_entity(text: _Bytes, pos: int) -> tuple[int, int] | None:
    """The code point of the character reference at `pos` and where it ends, or None."""
    end = pos + 1
    code = 0
    if text[pos + 1] == ord("#"):
        end += 1
        if text[pos + 2] == ord("x"):
            end += 1
            while _is_hex_digit(text[end]):
                code = code * 16 + int(chr(text[end]), 16)
                end += 1
        else:
            while _is_digit(text[end]):
                code = code * 10 + text[end] - 0x30
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
    else:
        while _is_alpha(text[end]):
            end += 1
        named = _NAMED_ENTITIES.get(text.data[pos + 1 : end])
        if named is None:
            return None
        code = named
    if text[end] == ord(";"):
        end += 1
    return code, end


def _checked_url(url: str) -> str | None:
    """The link a `<a>` tag gets, or None when Telegram would drop the entity."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    if "://" not in url and not url.startswith(("tg:", "mailto:")):
        if "." not in url:
            return None
        url = "http://" + url
    return url


def parse_html(source: str, *, reject_bare_ampersand: bool = False) -> tuple[str, list[Entity]]:
    """The plain text and Bot API entities of `source`, or HtmlParseError with Telegram's words."""
    text = _Bytes(source)
    size = len(text)
    out = bytearray()
    entities: list[Entity] = []
    # (tag name, argument, UTF-16 offset in the result, byte offset in the result)
    nested: list[tuple[str, str, int, int]] = []
    utf16_offset = 0
    has_surrogate = False
    i = 0
    while i < size:
        c = text[i]
        if c == ord("&"):
            decoded = _decode_entity(text, i)
            if decoded is not None:
                code, i = decoded
                utf16_offset += 2 if code > 0xFFFF else 1
                has_surrogate = has_surrogate or 0xD800 <= code <= 0xDFFF
                out += chr(code).encode("utf-8", "surrogatepass")
                continue
            if reject_bare_ampersand:
                raise HtmlParseError(
                    f'Character "&" at byte offset {i} starts no entity; escape it as "&amp;" '
                    "(the fake's strict check: Telegram itself would show it as is)"
                )
        if c != ord("<"):
            if c & 0xC0 != 0x80:
                utf16_offset += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue

        begin_pos = i
        i += 1
        if text[i] != ord("/"):
            while text[i] not in _SPACE and text[i] != ord(">"):
                i += 1
            if text[i] == 0:
                raise HtmlParseError(f"Unclosed start tag at byte offset {begin_pos}")
            tag_name = text.text(begin_pos + 1, i).lower()
            if tag_name not in _TAGS:
                raise HtmlParseError(
                    f'Unsupported start tag "{tag_name}" at byte offset {begin_pos}'
                )
            argument = ""
            while text[i] != ord(">"):
                while text[i] != 0 and text[i] in _SPACE:
                    i += 1
                if text[i] == ord(">"):
                    break
                attribute_begin = i
                while text[i] not in _SPACE and text[i] != ord("=") and text[i] != ord(">"):
                    i += 1
                attribute_name = text.text(attribute_begin, i)
                if not attribute_name:
                    raise HtmlParseError(
                        f'Empty attribute name in the tag "{tag_name}" at byte offset {begin_pos}'
                    )
                while text[i] != 0 and text[i] in _SPACE:
                    i += 1
                if text[i] != ord("="):
                    if tag_name == "blockquote" and attribute_name == "expandable":
                        argument = "1"
                        continue
                    if text[i] == 0:
                        raise HtmlParseError(
                            f'Unclosed start tag "{tag_name}" at byte offset {begin_pos}'
                        )
                    raise HtmlParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag_name}" at byte offset {begin_pos}'
                    )
                i += 1
                while text[i] != 0 and text[i] in _SPACE:
                    i += 1
                if text[i] == 0:
                    raise HtmlParseError(
                        f'Unclosed start tag "{tag_name}" at byte offset {begin_pos}'
                    )
                if text[i] not in (ord("'"), ord('"')):
                    token_begin = i
                    while _is_alpha(text[i]) or _is_digit(text[i]) or text[i] in b".-":
                        i += 1
                    value = text.text(token_begin, i).lower()
                    if text[i] not in _SPACE and text[i] != ord(">"):
                        raise HtmlParseError(
                            f"Unexpected end of name token at byte offset {token_begin}"
                        )
                else:
                    quote = text[i]
                    i += 1
                    raw = bytearray()
                    while text[i] != quote and text[i] != 0:
                        if text[i] == ord("&"):
                            decoded = _decode_entity(text, i)
                            if decoded is not None:
                                code, i = decoded
                                raw += chr(code).encode("utf-8", "surrogatepass")
                                continue
                        raw.append(text[i])
                        i += 1
                    if text[i] == quote:
                        i += 1
                    value = raw.decode("utf-8", "replace")
                if text[i] == 0:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {begin_pos}")
                if tag_name == "a" and attribute_name == "href":
                    argument = value
                elif tag_name == "code" and attribute_name == "class":
                    if value.startswith("language-"):
                        argument = value[len("language-") :]
                elif tag_name == "span" and attribute_name == "class":
                    if value.startswith("tg-"):
                        argument = value[len("tg-") :]
                elif tag_name == "tg-emoji" and attribute_name == "emoji-id":
                    argument = value
                elif tag_name == "blockquote" and attribute_name == "expandable":
                    argument = "1"
            if tag_name == "span" and argument != "spoiler":
                raise HtmlParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin_pos}'
                )
            nested.append((tag_name, argument, utf16_offset, len(out)))
        else:
            if not nested:
                raise HtmlParseError(f"Unexpected end tag at byte offset {begin_pos}")
            while text[i] not in _SPACE and text[i] != ord(">"):
                i += 1
            end_tag_name = text.text(begin_pos + 2, i).lower()
            while text[i] != 0 and text[i] in _SPACE:
                i += 1
            if text[i] != ord(">"):
                raise HtmlParseError(f"Unclosed end tag at byte offset {begin_pos}")
            tag_name, argument, entity_offset, entity_begin = nested.pop()
            if end_tag_name and end_tag_name != tag_name:
                raise HtmlParseError(
                    f'Unmatched end tag at byte offset {begin_pos}, expected "</{tag_name}>", '
                    f'found "</{end_tag_name}>"'
                )
            if utf16_offset > entity_offset:
                inner = out[entity_begin:].decode("utf-8", "replace")
                _close_entity(entities, tag_name, argument, entity_offset, utf16_offset, inner)
        i += 1
    if nested:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"')
    if has_surrogate:
        raise HtmlParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"], entity["type"] != "pre"))
    return out.decode("utf-8"), entities


def _close_entity(
    entities: list[Entity], tag: str, argument: str, offset: int, end: int, inner: str
) -> None:
    length = end - offset
    last = entities[-1] if entities else None
    same_span = last is not None and last["offset"] == offset and last["length"] == length
    if tag in _SIMPLE_TYPES:
        entities.append({"type": _SIMPLE_TYPES[tag], "offset": offset, "length": length})
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise HtmlParseError("Invalid custom emoji identifier specified")
        entities.append(
            {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": argument,
            }
        )
    elif tag == "a":
        url = _checked_url(argument or inner)
        if url is not None:
            entities.append({"type": "text_link", "offset": offset, "length": length, "url": url})
    elif tag == "blockquote":
        kind = "expandable_blockquote" if argument else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})
    elif tag == "pre":
        if last is not None and same_span and last["type"] == "code" and last.get("language"):
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    else:  # code
        if last is not None and same_span and last["type"] == "pre" and argument:
            last["language"] = argument
        else:
            entity: Entity = {"type": "code", "offset": offset, "length": length}
            if argument:
                entity["language"] = argument  # dropped at the end unless a <pre> claims it
            entities.append(entity)


_OPEN_TAGS = {
    "bold": "<b>",
    "italic": "<i>",
    "underline": "<u>",
    "strikethrough": "<s>",
    "spoiler": "<tg-spoiler>",
    "code": "<code>",
    "blockquote": "<blockquote>",
    "expandable_blockquote": "<blockquote expandable>",
}
_CLOSE_TAGS = {
    "bold": "</b>",
    "italic": "</i>",
    "underline": "</u>",
    "strikethrough": "</s>",
    "spoiler": "</tg-spoiler>",
    "code": "</code>",
    "blockquote": "</blockquote>",
    "expandable_blockquote": "</blockquote>",
    "pre": "</pre>",
    "text_link": "</a>",
    "text_mention": "</a>",
    "custom_emoji": "</tg-emoji>",
}


def _open_tag(entity: Mapping[str, Any]) -> str:
    kind = entity["type"]
    if kind == "pre":
        language = entity.get("language")
        if language:
            return f'<pre><code class="language-{html.escape(str(language))}">'
        return "<pre>"
    if kind == "text_link":
        return f'<a href="{html.escape(str(entity.get("url", "")))}">'
    if kind == "text_mention":
        user = entity.get("user") or {}
        return f'<a href="tg://user?id={user.get("id", "")}">'
    if kind == "custom_emoji":
        return f'<tg-emoji emoji-id="{html.escape(str(entity.get("custom_emoji_id", "")))}">'
    return _OPEN_TAGS[kind]


def _close_tag(entity: Mapping[str, Any]) -> str:
    if entity["type"] == "pre" and entity.get("language"):
        return "</code></pre>"
    return _CLOSE_TAGS[entity["type"]]


def entities_to_html(text: str, entities: Sequence[Mapping[str, Any]]) -> str:
    """HTML for text sent with explicit entities, so every recorded message has an `html`."""
    index_of: dict[int, int] = {}
    position = 0
    for index, char in enumerate(text):
        index_of[position] = index
        position += 2 if ord(char) > 0xFFFF else 1
    index_of[position] = len(text)
    shown = [
        (index_of[entity["offset"]], index_of[entity["offset"] + entity["length"]], order, entity)
        for order, entity in enumerate(entities)
        if entity.get("type") in _CLOSE_TAGS
        and entity.get("offset") in index_of
        and entity.get("offset", 0) + entity.get("length", 0) in index_of
    ]
    shown.sort(key=lambda item: (item[0], -item[1], item[2]))
    pieces: list[str] = []
    open_stack: list[tuple[int, Mapping[str, Any]]] = []
    for index in range(len(text) + 1):
        for _end, entity in reversed([item for item in open_stack if item[0] == index]):
            pieces.append(_close_tag(entity))
        open_stack = [item for item in open_stack if item[0] != index]
        for start, end, _, entity in shown:
            if start == index:
                pieces.append(_open_tag(entity))
                open_stack.append((end, entity))
        if index < len(text):
            pieces.append(html.escape(text[index], quote=False))
    return "".join(pieces)
