"""A strict fake of the Telegram Bot API, served over real HTTP for end-to-end tests.

The bot under test talks to it exactly as to api.telegram.org (`TELEGRAM_API_URL=fake.url`,
aiogram's `TelegramAPIServer.from_base`), whether it runs in-process or as `python -m bot`.
Tests act as Telegram users through `FakeUser` and read back what the bot sent.

What makes it strict: the rules Telegram enforces are enforced here with Telegram's own error
descriptions, so a bot that passes against the fake does not trip on them in production:
HTML that Telegram cannot parse, text over 4096 characters, callback data over 64 bytes, more
than 100 inline buttons, copy buttons outside 1-256 characters, button styles other than
"danger", "success" and "primary", unknown message effects, edits that change nothing, answers
to expired callback queries, messages to chats the bot cannot reach, two pollers at once,
getUpdates while a webhook is set. (Where Telegram's wording is not known, that of a malformed
copy button or style, the description is the fake's own, in Telegram's manner.)

getUpdates is Telegram's: real long polling, updates sent again until confirmed with `offset`,
and a new poll ends a pending one with 409 Conflict, so of two bot processes polling one fake
only the one holding the poll gets an update (and the other sees the conflict in its log).

Deviations from Telegram, all on purpose:
- a `&` that starts no HTML entity is rejected (Telegram shows it as is), because in a bot that
  builds HTML it means something went out unescaped; `reject_bare_ampersand=False` turns it off;
- only the methods a text bot uses are implemented; other real methods answer 501 naming the
  method (aiogram raises TelegramServerError), unknown ones 404 like Telegram.

Nothing here sleeps to let things happen: every wait is on a change of state, with a timeout
that only bounds a failing test.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import json
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, NamedTuple, TypeVar

import aiohttp
from aiohttp import web

from tests.fakes.telegram_html import HtmlParseError, entities_to_html, parse_html, utf16_len

__all__ = [
    "ApiCall",
    "Button",
    "CallbackAnswer",
    "ChatMessage",
    "FakeTelegram",
    "FakeUser",
    "MessageVersion",
]

T = TypeVar("T")

MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_COPY_TEXT_LENGTH = 256
BUTTON_STYLES = frozenset({"danger", "success", "primary"})

UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"
BLOCKED = "Forbidden: bot was blocked by the user"
TERMINATED_BY_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_IS_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
TEXT_BUTTONS_UNALLOWED = (
    "can't parse InlineKeyboardButton: Text buttons are not allowed in the inline keyboard"
)

# Telegram leaves these out when allowed_updates was never set or was set to [].
_NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "commands",
        "scope",
        "message_ids",
        "menu_button",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "max_connections",
        "message_thread_id",
        "cache_time",
        "user_id",
        "reply_to_message_id",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "allow_paid_broadcast",
        "for_channels",
    }
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BOT_COMMAND_IN_TEXT = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_API_PATH = re.compile(r"/bot([^/]+)/([^/]*)")


def _known_methods() -> dict[str, str]:
    """Every Bot API method name (lower case → canonical), as aiogram knows them."""
    from aiogram import methods

    names: dict[str, str] = {}
    for value in vars(methods).values():
        name = getattr(value, "__api_method__", None)
        if isinstance(value, type) and isinstance(name, str):
            names[name.lower()] = name
    return names


_KNOWN_METHODS = _known_methods()


class TelegramError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional retry_after."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad_request(reason: str) -> TelegramError:
    return TelegramError(400, f"Bad Request: {reason}")


class Button(NamedTuple):
    """One inline button as the user sees it; `callback_data` is None for URL and other kinds,
    `copy_text` what a copy button puts on the clipboard."""

    text: str
    callback_data: str | None
    copy_text: str | None = None


@dataclass(frozen=True)
class MessageVersion:
    """The content of a message as sent, or as it became after one edit."""

    text: str
    """Plain text: tags stripped, entities decoded, trimmed like Telegram trims it."""
    html: str
    """The HTML as the bot sent it (rebuilt from entities when it sent no parse_mode)."""
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    parse_mode: str | None = None
    edit_date: int | None = None


@dataclass(eq=False)
class ChatMessage:
    """A message in a private chat, from the bot or from the user; updated in place."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    versions: list[MessageVersion]
    reply_to: ChatMessage | None = None
    deleted: bool = False

    @property
    def current(self) -> MessageVersion:
        return self.versions[-1]

    @property
    def text(self) -> str:
        return self.current.text

    @property
    def html(self) -> str:
        return self.current.html

    @property
    def entities(self) -> list[dict[str, Any]]:
        return self.current.entities

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        return self.current.reply_markup

    @property
    def edits(self) -> int:
        return len(self.versions) - 1

    @property
    def buttons(self) -> list[list[Button]]:
        """Rows of inline buttons as (text, callback_data); empty without an inline keyboard."""
        markup = self.reply_markup or {}
        return [
            [
                Button(
                    str(button.get("text", "")),
                    button.get("callback_data"),
                    (button.get("copy_text") or {}).get("text"),
                )
                for button in row
            ]
            for row in markup.get("inline_keyboard", [])
        ]

    @property
    def button_texts(self) -> list[str]:
        return [button.text for row in self.buttons for button in row]

    @property
    def keyboard(self) -> list[list[str]]:
        """Rows of a reply keyboard (the one under the input field), if the message set one."""
        markup = self.reply_markup or {}
        return [
            [button if isinstance(button, str) else str(button.get("text", "")) for button in row]
            for row in markup.get("keyboard", [])
        ]

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else "user"
        state = " deleted" if self.deleted else ""
        return f"<ChatMessage #{self.message_id} from {who}{state}: {self.text[:60]!r}>"


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a button press (answerCallbackQuery)."""

    query_id: str
    data: str
    message_id: int
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


@dataclass
class ApiCall:
    """One Bot API request, with its parameters decoded and, once answered, the outcome."""

    method: str
    params: dict[str, Any]
    via: str = "http"
    """"http", or "webhook_reply" for a method the bot returned in its webhook response."""
    status: int | None = None
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class _PendingUpdate:
    update_id: int
    data: dict[str, Any]


@dataclass
class _Poll:
    terminated: bool = False


@dataclass
class _CallbackQuery:
    query_id: str
    user: FakeUser
    message_id: int
    data: str
    created_at: float
    answered: bool = False


@dataclass
class _Flood:
    retry_after: int
    methods: frozenset[str] | None
    remaining: int | None

    def applies_to(self, method: str) -> bool:
        if self.methods is None:
            return method != "getupdates"
        return method in self.methods


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


class _Params:
    """Request parameters, decoded: JSON fields parsed, numbers and flags converted."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> _Params:
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str):
                if key in _JSON_FIELDS:
                    with contextlib.suppress(ValueError):
                        value = json.loads(value)
                elif key in _INT_FIELDS and re.fullmatch(r"\s*-?\d+\s*", value):
                    value = int(value)
                elif key in _BOOL_FIELDS and value.lower() in ("true", "false", "1", "0"):
                    value = value.lower() in ("true", "1")
            values[key] = value
        return cls(values)

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise _bad_request(f'field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _bad_request(f'field "{name}" must be of type Integer')

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return False
        if isinstance(value, bool):
            return value
        raise _bad_request(f'field "{name}" must be of type Boolean')

    def json(self, name: str, what: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            raise _bad_request(f"can't parse {what} JSON object")
        return value


def inline_button_error(button: Any) -> str | None:
    """Why Telegram refuses this inline keyboard button (what follows "Bad Request: "), or None.

    Shared with the handler tests' recording session (tests.fixtures.bot)."""
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        return 'can\'t parse InlineKeyboardButton: Field "text" must be of type String'
    if not any(button.get(action) not in (None, "") for action in _BUTTON_ACTIONS):
        return TEXT_BUTTONS_UNALLOWED
    style = button.get("style")
    if style is not None and style not in BUTTON_STYLES:
        return f'can\'t parse InlineKeyboardButton: unknown button style "{style}"'
    data = button.get("callback_data")
    if data is not None and (
        not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
    ):
        return "BUTTON_DATA_INVALID"
    url = button.get("url")
    if url is not None and (
        not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https", "tg")
    ):
        return f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
    copy = button.get("copy_text")
    if copy is not None:
        if not isinstance(copy, dict) or not isinstance(copy.get("text"), str):
            return 'can\'t parse InlineKeyboardButton: Field "copy_text" must be of type Object'
        if not 1 <= len(copy["text"]) <= MAX_COPY_TEXT_LENGTH:
            return "BUTTON_COPY_TEXT_INVALID"
    return None


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Drop leading and trailing whitespace like Telegram does, keeping entities in place."""
    stripped = text.strip(" \t\r\n")
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip(" \t\r\n"))])
    limit = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _scope_key(scope: Mapping[str, Any] | None) -> str:
    scope = dict(scope or {"type": "default"})
    return json.dumps(scope, sort_keys=True)


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query string and body, the way Telegram accepts them: form, multipart or JSON."""
    values: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return values
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _bad_request("can't parse JSON encoded request") from None
        if not isinstance(body, dict):
            raise _bad_request("can't parse JSON encoded request")
        values.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                values[key] = f"<file {value.filename}>"
            elif isinstance(value, str):
                values[key] = value
            else:
                values[key] = bytes(value).decode("utf-8", "replace")
    return values


def _parse_webhook_reply(body: bytes, content_type: str) -> dict[str, Any] | None:
    """The method a bot may return in its webhook response (JSON or multipart), if any."""
    if not body.strip():
        return None
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            return None
        return data if isinstance(data, dict) and "method" in data else None
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        if not isinstance(message, EmailMessage):
            return None
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            if not isinstance(part, EmailMessage):
                continue
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload.decode("utf-8", "replace")
        return fields if "method" in fields else None
    return None


class FakeUser:
    """A Telegram user in a private chat with the bot; what an end-to-end test acts through."""

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        started: bool,
    ) -> None:
        self.fake = fake
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.started = started
        """Whether the user ever wrote to the bot; until then the bot gets "chat not found"."""
        self.blocked = False
        self.history: list[ChatMessage] = []
        """Every message of the chat, both sides, in order (deleted ones flagged)."""
        self.answers: list[CallbackAnswer] = []
        self._next_message_id = 1
        self._events: list[tuple[ChatMessage, int]] = []
        self._cursor = 0

    @property
    def chat_id(self) -> int:
        return self.id

    def as_dict(self) -> dict[str, Any]:
        """The Telegram `User` object."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def chat_dict(self) -> dict[str, Any]:
        """The Telegram `Chat` object of the private chat."""
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    @property
    def messages(self) -> list[ChatMessage]:
        """Every message the bot sent here, in order, deleted ones included (see `.deleted`)."""
        return [message for message in self.history if message.from_bot]

    @property
    def visible_messages(self) -> list[ChatMessage]:
        return [message for message in self.messages if not message.deleted]

    @property
    def last_message(self) -> ChatMessage:
        """The newest bot message still in the chat."""
        visible = self.visible_messages
        if not visible:
            raise AssertionError(f"the bot has no message in the chat with user {self.id}")
        return visible[-1]

    @property
    def commands(self) -> list[dict[str, str]]:
        """The command menu this user sees, resolved over scopes and languages like Telegram."""
        scopes: list[dict[str, Any]] = [
            {"type": "chat", "chat_id": self.id},
            {"type": "all_private_chats"},
            {"type": "default"},
        ]
        languages = [self.language_code, ""] if self.language_code else [""]
        for scope in scopes:
            for language in languages:
                found = self.fake.commands(scope, language or "")
                if found:
                    return found
        return []

    async def send(self, text: str, *, reply_to: ChatMessage | None = None) -> ChatMessage:
        """Write to the bot; returns the user's message (its id lets a test check deletion)."""
        if self.blocked:
            raise AssertionError(f"user {self.id} has blocked the bot; call unblock() first")
        self.started = True
        message = self._add_message(
            from_bot=False,
            version=MessageVersion(
                text=text,
                html=html.escape(text, quote=False),
                entities=self._command_entities(text),
                reply_markup=None,
            ),
            reply_to=reply_to,
        )
        self._cursor = len(self._events)
        self.fake._enqueue("message", self.fake._message_payload(message))
        return message

    def build_message_update(self, text: str) -> dict[str, Any]:
        """A message update from this user that is not queued, to post to a webhook by hand."""
        message = {
            "message_id": self._next_message_id,
            "from": self.as_dict(),
            "chat": self.chat_dict(),
            "date": int(time.time()),
            "text": text,
        }
        entities = self._command_entities(text)
        if entities:
            message["entities"] = entities
        return {"update_id": self.fake._take_update_id(), "message": message}

    async def press(
        self, label: str, *, message: ChatMessage | int | None = None, contains: bool = False
    ) -> str:
        """Press the inline button labelled `label` on the newest bot message that has one.

        `contains=True` matches a part of the label; `message` picks the message. Returns the
        callback query id (see `wait_for_answer`).
        """
        candidates = (
            [self._find_message(message)]
            if message is not None
            else list(reversed(self.visible_messages))
        )
        for candidate in candidates:
            if candidate.deleted:
                raise AssertionError(f"{candidate!r} was deleted; its buttons are gone")
            for button in (button for row in candidate.buttons for button in row):
                if (label in button.text) if contains else (button.text == label):
                    if button.callback_data is None:
                        raise AssertionError(
                            f"button {button.text!r} on {candidate!r} sends no callback "
                            "(a URL or other kind of button)"
                        )
                    self._cursor = len(self._events)
                    return self.fake._press(self, candidate, button.callback_data)
        raise AssertionError(
            f"no inline button {'containing' if contains else 'labelled'} {label!r} "
            f"for user {self.id}; visible buttons: {self._describe_buttons(candidates)}"
        )

    def block(self) -> None:
        """Block the bot: its calls to this chat answer 403 from now on."""
        if not self.blocked:
            self.blocked = True
            self.fake._enqueue("my_chat_member", self._member_update("member", "kicked"))

    def unblock(self) -> None:
        if self.blocked:
            self.blocked = False
            self.fake._enqueue("my_chat_member", self._member_update("kicked", "member"))

    async def wait_for_message(
        self,
        match: str | Callable[[ChatMessage], bool] | None = None,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - a bound for a failing test, not a deadline
    ) -> ChatMessage:
        """Wait for a message the bot sends or edits here after the user's last action.

        `match` is a substring of the plain text or a predicate; it is checked against the
        content as of each send or edit, so a state that was replaced quickly is still seen.
        Each message found moves the start for the next wait past it. Returns the message
        (live: its `.text` is the latest).
        """

        def find() -> ChatMessage | None:
            for index in range(self._cursor, len(self._events)):
                message, version = self._events[index]
                snapshot = dataclasses.replace(
                    message, versions=message.versions[: version + 1], deleted=False
                )
                if self._matches(snapshot, match):
                    self._cursor = index + 1
                    return message
            return None

        try:
            return await self.fake.wait_until(find, timeout=timeout)
        except AssertionError:
            raise AssertionError(self._describe_wait(match, timeout)) from None

    async def wait_for_answer(
        self,
        query_id: str | None = None,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - as in wait_for_message
    ) -> CallbackAnswer:
        """Wait until the bot answers the callback query (the newest press by default)."""
        if query_id is None:
            pressed = [query for query in self.fake._queries.values() if query.user is self]
            if not pressed:
                raise AssertionError(f"user {self.id} has pressed no button yet")
            query_id = pressed[-1].query_id

        def find() -> CallbackAnswer | None:
            return next((answer for answer in self.answers if answer.query_id == query_id), None)

        return await self.fake.wait_until(
            find, timeout=timeout, message=f"the bot did not answer callback query {query_id}"
        )

    async def wait_for_deletion(
        self,
        message: ChatMessage | int,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - as in wait_for_message
    ) -> ChatMessage:
        found = self._find_message(message)
        await self.fake.wait_until(
            lambda: found.deleted, timeout=timeout, message=f"{found!r} was not deleted"
        )
        return found

    def _find_message(self, message: ChatMessage | int) -> ChatMessage:
        message_id = message if isinstance(message, int) else message.message_id
        for candidate in self.history:
            if candidate.message_id == message_id:
                return candidate
        raise AssertionError(f"no message #{message_id} in the chat with user {self.id}")

    def _add_message(
        self, *, from_bot: bool, version: MessageVersion, reply_to: ChatMessage | None = None
    ) -> ChatMessage:
        message = ChatMessage(
            message_id=self._next_message_id,
            chat_id=self.id,
            from_bot=from_bot,
            date=int(time.time()),
            versions=[version],
            reply_to=reply_to,
        )
        self._next_message_id += 1
        self.history.append(message)
        if from_bot:
            self._events.append((message, 0))
        return message

    def _record_edit(self, message: ChatMessage, version: MessageVersion) -> None:
        message.versions.append(version)
        self._events.append((message, len(message.versions) - 1))

    @staticmethod
    def _command_entities(text: str) -> list[dict[str, Any]]:
        return [
            {
                "type": "bot_command",
                "offset": utf16_len(text[: found.start()]),
                "length": utf16_len(found.group()),
            }
            for found in _BOT_COMMAND_IN_TEXT.finditer(text)
        ]

    def _member_update(self, old: str, new: str) -> dict[str, Any]:
        def member(status: str) -> dict[str, Any]:
            # ChatMemberBanned requires until_date; Telegram sends 0 (for ever) on a block.
            fields: dict[str, Any] = {"status": status, "user": self.fake.bot_user}
            if status == "kicked":
                fields["until_date"] = 0
            return fields

        return {
            "chat": self.chat_dict(),
            "from": self.as_dict(),
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }

    @staticmethod
    def _matches(message: ChatMessage, match: str | Callable[[ChatMessage], bool] | None) -> bool:
        if match is None:
            return True
        if isinstance(match, str):
            return match in message.text
        return bool(match(message))

    @staticmethod
    def _describe_buttons(messages: Iterable[ChatMessage]) -> str:
        shown = [
            f"#{message.message_id} {message.text[:40]!r}: "
            f"{[[button.text for button in row] for row in message.buttons]}"
            for message in messages
            if message.buttons
        ]
        return "; ".join(shown[:5]) or "none"

    def _describe_wait(self, match: object, timeout: float) -> str:
        wanted = "message" if match is None else f"message matching {match!r}"
        seen = [repr(message) for message, _ in self._events[self._cursor :]]
        failures = [
            f"{call.method}: {call.error}"
            for call in self.fake.calls
            if call.status not in (None, 200) and call.params.get("chat_id") == self.id
        ]
        return (
            f"user {self.id} got no {wanted} from the bot within {timeout}s; "
            f"new since the last action: {', '.join(seen) or 'nothing'}; "
            f"failed calls to this chat: {'; '.join(failures[-5:]) or 'none'}"
        )


class FakeTelegram:
    """The fake Bot API server. `await start()`, point the bot at `.url`, `await stop()`."""

    def __init__(
        self,
        token: str = "123456:TEST",  # noqa: S107 - a fake bot's token
        *,
        bot_username: str = "smsman_test_bot",
        bot_name: str = "SMS-man Test Bot",
        callback_query_ttl: float = 15.0,
        reject_bare_ampersand: bool = True,
        webhook_retry_delay: float = 0.25,
        require_https_webhook: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.callback_query_ttl = callback_query_ttl
        """Seconds a callback query can still be answered (Telegram's limit is about 15)."""
        self.reject_bare_ampersand = reject_bare_ampersand
        self.webhook_retry_delay = webhook_retry_delay
        self.require_https_webhook = require_https_webhook
        self.clock = clock
        self.calls: list[ApiCall] = []
        """Every API request in the order it arrived, answered or still pending."""
        self.users: dict[int, FakeUser] = {}
        self.dropped_updates: list[dict[str, Any]] = []
        """Updates not queued because the bot's allowed_updates leaves their kind out."""
        self._updates: list[_PendingUpdate] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._polls: list[_Poll] = []
        self._queries: dict[str, _CallbackQuery] = {}
        self._next_query_id = 4_000_000_000_000_001
        self._floods: list[_Flood] = []
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._menu_buttons: dict[int | None, dict[str, Any]] = {}
        self._webhook: _Webhook | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._url: str | None = None
        self._handlers: dict[str, Callable[[_Params], Any]] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._bot_text_setter("description"),
            "getMyDescription": self._bot_text_getter("description"),
            "setMyShortDescription": self._bot_text_setter("short_description"),
            "getMyShortDescription": self._bot_text_getter("short_description"),
            "setMyName": self._bot_text_setter("name"),
            "getMyName": self._bot_text_getter("name"),
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        # handler_cancellation: a poller that hangs up stops waiting for updates at once,
        # so it cannot take an update away from the poller that replaced it.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._url = f"http://{host}:{self._runner.addresses[0][1]}"
        self._client = aiohttp.ClientSession()

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        await self._stop_webhook_delivery()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The base URL for TELEGRAM_API_URL / `TelegramAPIServer.from_base`."""
        if self._url is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._url

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    # ----------------------------------------------------------------- test-side API

    def user(
        self,
        user_id: int = 1001,
        first_name: str = "Alice",
        language_code: str | None = "en",
        *,
        last_name: str | None = None,
        username: str | None = None,
        started: bool = False,
    ) -> FakeUser:
        """A new user. The bot can write to them once they wrote first (or `started=True`)."""
        if user_id in self.users:
            raise ValueError(f"user {user_id} exists already; use fake.users[{user_id}]")
        user = FakeUser(
            self,
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            started=started,
        )
        self.users[user_id] = user
        return user

    def calls_of(self, method: str) -> list[ApiCall]:
        """The calls of one method (case-insensitive), failed ones included (see `.ok`)."""
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def flood(
        self, retry_after: int = 1, methods: Iterable[str] | None = None, count: int | None = 1
    ) -> None:
        """Answer the next `count` calls (of `methods`; all but getUpdates by default) with 429.

        `count=None` keeps flooding until `clear_faults()`.
        """
        names = None if methods is None else frozenset(name.lower() for name in methods)
        self._floods.append(_Flood(retry_after, names, count))

    def clear_faults(self) -> None:
        self._floods.clear()

    def commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The commands the bot set for exactly this scope and language (like getMyCommands)."""
        return [
            dict(command)
            for command in self._commands.get(self._commands_key(scope, language_code), [])
        ]

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (or delivered to its webhook)."""
        return [update.data for update in self._updates]

    @property
    def webhook_url(self) -> str | None:
        return None if self._webhook is None else self._webhook.url

    async def wait_until(
        self,
        condition: Callable[[], T | None],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - as in FakeUser.wait_for_message
        message: str = "condition not met",
    ) -> T:
        """Re-check `condition` on every change of the fake's state until it returns a truthy
        value, which is returned; AssertionError after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = condition()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{message} within {timeout}s")
            await self._wait_for_change(remaining)

    async def post_raw_update(
        self, url: str, update: Mapping[str, Any], secret: str | None = None
    ) -> int:
        """POST an update to a webhook like Telegram would, with `secret` as the secret-token
        header (no header when None); returns the HTTP status the bot answered."""
        status, _, _ = await self._post_update(url, update, secret)
        return status

    # ----------------------------------------------------------------- state changes

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_for_change(self, seconds: float | None) -> None:
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await changed.wait()

    def _take_update_id(self) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        return update_id

    def _allows(self, kind: str) -> bool:
        if not self._allowed_updates:
            return kind not in _NOT_SENT_BY_DEFAULT
        return kind in self._allowed_updates

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> None:
        update_id = self._take_update_id()
        update: dict[str, Any] = {"update_id": update_id, kind: payload}
        if self._allows(kind):
            self._updates.append(_PendingUpdate(update_id, update))
        else:
            self.dropped_updates.append(update)
        self._notify()

    def _press(self, user: FakeUser, message: ChatMessage, data: str) -> str:
        query_id = str(self._next_query_id)
        self._next_query_id += 1
        self._queries[query_id] = _CallbackQuery(
            query_id, user, message.message_id, data, self.clock()
        )
        self._enqueue(
            "callback_query",
            {
                "id": query_id,
                "from": user.as_dict(),
                "message": self._message_payload(message),
                "chat_instance": str(-7_000_000_000_000 - user.id),
                "data": data,
            },
        )
        return query_id

    def _message_payload(self, message: ChatMessage, *, with_reply: bool = True) -> dict[str, Any]:
        user = self.users[message.chat_id]
        version = message.current
        payload: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self.bot_user if message.from_bot else user.as_dict(),
            "chat": user.chat_dict(),
            "date": message.date,
            "text": version.text,
        }
        if version.entities:
            payload["entities"] = version.entities
        if version.edit_date is not None:
            payload["edit_date"] = version.edit_date
        if version.reply_markup is not None and "inline_keyboard" in version.reply_markup:
            payload["reply_markup"] = version.reply_markup
        if with_reply and message.reply_to is not None:
            payload["reply_to_message"] = self._message_payload(message.reply_to, with_reply=False)
        return payload

    # ----------------------------------------------------------------- HTTP

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        found = _API_PATH.fullmatch(request.path)
        if found is None:
            return web.json_response(TelegramError(404, NOT_FOUND).envelope(), status=404)
        token, requested = found.groups()
        canonical = _KNOWN_METHODS.get(requested.lower(), requested)
        call = ApiCall(method=canonical, params={})
        self.calls.append(call)
        try:
            params = _Params.decode(await _read_params(request))
            call.params = params.values
            if token != self.token:
                raise TelegramError(401, UNAUTHORIZED)
            if canonical == "getUpdates":
                result = await self._get_updates(params)
            else:
                result = await self._execute(canonical, params)
        except TelegramError as error:
            return self._answer_error(call, error)
        return self._answer(call, result)

    def _answer(self, call: ApiCall, result: Any) -> web.Response:
        call.status, call.result = 200, result
        self._notify()
        return web.json_response({"ok": True, "result": result})

    def _answer_error(self, call: ApiCall, error: TelegramError) -> web.Response:
        call.status, call.error = error.status, error.description
        self._notify()
        return web.json_response(error.envelope(), status=error.status)

    async def _execute(self, method: str, params: _Params) -> Any:
        lowered = method.lower()
        if lowered not in _KNOWN_METHODS:
            raise TelegramError(404, NOT_FOUND)
        for flood in self._floods:
            if flood.applies_to(lowered):
                if flood.remaining is not None:
                    flood.remaining -= 1
                    if flood.remaining <= 0:
                        self._floods.remove(flood)
                raise TelegramError(
                    429,
                    f"Too Many Requests: retry after {flood.retry_after}",
                    retry_after=flood.retry_after,
                )
        handler = self._handlers.get(_KNOWN_METHODS[lowered])
        if handler is None:
            raise TelegramError(501, f"Not Implemented: the fake Telegram has no {method}")
        return handler(params)

    # ----------------------------------------------------------------- getUpdates

    async def _get_updates(self, params: _Params) -> list[dict[str, Any]]:
        """Telegram's getUpdates: unconfirmed updates from the oldest, held up to `timeout`
        seconds when there are none; a newer poll ends an older one with 409."""
        if self._webhook is not None:
            raise TelegramError(409, WEBHOOK_IS_ACTIVE)
        offset = params.integer("offset") or 0
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = max(params.integer("timeout") or 0, 0)
        allowed = params.json("allowed_updates", "allowed updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        if offset > 0:
            self._updates = [update for update in self._updates if update.update_id >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        for other in self._polls:
            other.terminated = True
        poll = _Poll()
        self._polls.append(poll)
        self._notify()
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                if poll.terminated:
                    raise TelegramError(409, TERMINATED_BY_OTHER_POLL)
                if self._webhook is not None:
                    raise TelegramError(409, WEBHOOK_IS_ACTIVE)
                if self._closing:
                    return []
                batch = [update.data for update in self._updates[:limit]]
                remaining = deadline - asyncio.get_running_loop().time()
                if batch or remaining <= 0:
                    return batch
                await self._wait_for_change(remaining)
        finally:
            self._polls.remove(poll)

    # ----------------------------------------------------------------- webhook

    def _set_webhook(self, params: _Params) -> bool:
        url = params.text("url") or ""
        if not url:
            return self._delete_webhook(params)
        parts = urllib.parse.urlsplit(url)
        schemes = ("https",) if self.require_https_webhook else ("http", "https")
        if parts.scheme not in schemes or not parts.hostname:
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.text("secret_token") or None
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise _bad_request("secret token contains unallowed characters")
        max_connections = params.integer("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise _bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = params.json("allowed_updates", "allowed updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        self._webhook = _Webhook(url, secret, max_connections)
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._deliver_to_webhook())
        return True

    def _delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        self._webhook = None
        task, self._webhook_task = self._webhook_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        return True

    async def _stop_webhook_delivery(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _get_webhook_info(self, params: _Params) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info.update(url=self._webhook.url, max_connections=self._webhook.max_connections)
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook.last_error_date is not None:
                info["last_error_date"] = self._webhook.last_error_date
                info["last_error_message"] = self._webhook.last_error_message
        return info

    async def _deliver_to_webhook(self) -> None:
        """Send queued updates to the webhook one at a time, in order, retrying failures."""
        while True:
            webhook = self._webhook
            if webhook is None or self._closing:
                return
            if not self._updates:
                await self._wait_for_change(None)
                continue
            update = self._updates[0]
            failure: str | None = None
            body, content_type = b"", ""
            try:
                try:
                    status, body, content_type = await self._post_update(
                        webhook.url, update.data, webhook.secret_token
                    )
                except (aiohttp.ClientError, OSError, TimeoutError) as error:
                    failure = str(error) or type(error).__name__
                else:
                    if not 200 <= status < 300:
                        failure = f"Wrong response from the webhook: {status}"
            finally:
                if failure is None and update in self._updates:
                    self._updates.remove(update)
                self._notify()
            if failure is None:
                reply = _parse_webhook_reply(body, content_type)
                if reply is not None:
                    await self._run_webhook_reply(reply)
            else:
                webhook.last_error_date = int(time.time())
                webhook.last_error_message = failure
                await asyncio.sleep(self.webhook_retry_delay)

    async def _post_update(
        self, url: str, update: Mapping[str, Any], secret: str | None
    ) -> tuple[int, bytes, str]:
        if self._client is None:
            raise RuntimeError("FakeTelegram is not started")
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with self._client.post(
            url, json=dict(update), headers=headers, timeout=aiohttp.ClientTimeout(total=30)
        ) as response:
            return response.status, await response.read(), response.headers.get("Content-Type", "")

    async def _run_webhook_reply(self, reply: dict[str, Any]) -> None:
        method = str(reply.pop("method"))
        canonical = _KNOWN_METHODS.get(method.lower(), method)
        params = _Params.decode(reply)
        call = ApiCall(method=canonical, params=params.values, via="webhook_reply")
        self.calls.append(call)
        try:
            if canonical == "getUpdates":
                raise _bad_request("method is not available in webhook replies")
            call.result = await self._execute(canonical, params)
            call.status = 200
        except TelegramError as error:
            call.status, call.error = error.status, error.description
        self._notify()

    # ----------------------------------------------------------------- chats and messages

    def _chat_user(self, params: _Params, name: str = "chat_id") -> FakeUser:
        chat_id = params.values.get(name)
        if chat_id is None or chat_id == "":
            raise _bad_request(f"{name} is empty")
        user = self.users.get(chat_id) if isinstance(chat_id, int) else None
        if user is None or not user.started:
            raise _bad_request("chat not found")
        if user.blocked:
            raise TelegramError(403, BLOCKED)
        return user

    def _message_of(self, user: FakeUser, params: _Params, missing: str) -> ChatMessage:
        message_id = params.integer("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        for message in user.history:
            if message.message_id == message_id and not message.deleted:
                return message
        raise _bad_request(missing)

    def _content(self, params: _Params) -> MessageVersion:
        source = params.text("text")
        if not source:
            raise _bad_request("message text is empty")
        parse_mode = params.text("parse_mode") or None
        given_entities = params.json("entities", "entities")
        if given_entities:
            if not isinstance(given_entities, list) or not all(
                isinstance(entity, dict) for entity in given_entities
            ):
                raise _bad_request("can't parse entities JSON object")
            text, entities = source, [dict(entity) for entity in given_entities]
            parse_mode = None
        elif parse_mode is None:
            text, entities = source, []
        elif parse_mode.lower() == "html":
            try:
                text, entities = parse_html(
                    source, reject_bare_ampersand=self.reject_bare_ampersand
                )
            except HtmlParseError as error:
                raise _bad_request(f"can't parse entities: {error}") from None
        elif parse_mode.lower() in ("markdown", "markdownv2"):
            raise TelegramError(
                501, f"Not Implemented: the fake Telegram parses only HTML, not {parse_mode}"
            )
        else:
            raise _bad_request("unsupported parse_mode")
        text, entities = _trim(text, entities)
        if not text:
            raise _bad_request("message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        shown_html = source if parse_mode is not None else entities_to_html(text, entities)
        return MessageVersion(
            text=text,
            html=shown_html,
            entities=entities,
            reply_markup=self._reply_markup(params),
            parse_mode=parse_mode,
        )

    def _reply_markup(self, params: _Params) -> dict[str, Any] | None:
        markup = params.json("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        markup = _without_nulls(markup)
        if "inline_keyboard" in markup:
            self._check_inline_keyboard(markup["inline_keyboard"])
        elif "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad_request('field "keyboard" of the ReplyKeyboardMarkup must be an Array')
        elif not markup.get("remove_keyboard") and not markup.get("force_reply"):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        return markup

    @staticmethod
    def _check_inline_keyboard(rows: Any) -> None:
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        if sum(len(row) for row in rows) > MAX_INLINE_BUTTONS:
            raise _bad_request("reply markup is too long")
        for button in (button for row in rows for button in row):
            reason = inline_button_error(button)
            if reason is not None:
                raise _bad_request(reason)

    def _reply_target(self, user: FakeUser, params: _Params) -> ChatMessage | None:
        reply = params.json("reply_parameters", "reply parameters")
        message_id = params.integer("reply_to_message_id")
        allow_missing = params.flag("allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        for message in user.history:
            if message.message_id == message_id and not message.deleted:
                return message
        if allow_missing:
            return None
        raise _bad_request("message to be replied not found")

    # ----------------------------------------------------------------- methods

    def _true(self, params: _Params) -> bool:
        return True

    def _get_me(self, params: _Params) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _send_message(self, params: _Params) -> dict[str, Any]:
        user = self._chat_user(params)
        version = self._content(params)
        effect = params.text("message_effect_id")  # the fake's chats are all private ones
        if effect is not None and not effect.isdigit():
            raise _bad_request("EFFECT_ID_INVALID")
        reply_to = self._reply_target(user, params)
        message = user._add_message(from_bot=True, version=version, reply_to=reply_to)
        return self._message_payload(message)

    def _edit_message_text(self, params: _Params) -> dict[str, Any]:
        if params.has("inline_message_id"):
            raise TelegramError(501, "Not Implemented: the fake Telegram has no inline messages")
        user = self._chat_user(params)
        message = self._message_of(user, params, "message to edit not found")
        if not message.from_bot:
            raise _bad_request("message can't be edited")
        version = self._content(params)
        return self._edit(user, message, version)

    def _edit_message_reply_markup(self, params: _Params) -> dict[str, Any]:
        if params.has("inline_message_id"):
            raise TelegramError(501, "Not Implemented: the fake Telegram has no inline messages")
        user = self._chat_user(params)
        message = self._message_of(user, params, "message to edit not found")
        if not message.from_bot:
            raise _bad_request("message can't be edited")
        version = dataclasses.replace(message.current, reply_markup=self._reply_markup(params))
        return self._edit(user, message, version)

    def _edit(
        self, user: FakeUser, message: ChatMessage, version: MessageVersion
    ) -> dict[str, Any]:
        current = message.current
        if (
            version.text == current.text
            and version.entities == current.entities
            and version.reply_markup == current.reply_markup
        ):
            raise _bad_request(NOT_MODIFIED)
        user._record_edit(message, dataclasses.replace(version, edit_date=int(time.time())))
        return self._message_payload(message)

    def _delete_message(self, params: _Params) -> bool:
        user = self._chat_user(params)
        message = self._message_of(user, params, "message to delete not found")
        message.deleted = True
        return True

    def _delete_messages(self, params: _Params) -> bool:
        user = self._chat_user(params)
        ids = params.json("message_ids", "message identifiers")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad_request("message identifiers are not specified")
        for message in user.history:
            if message.message_id in ids:
                message.deleted = True
        return True

    def _answer_callback_query(self, params: _Params) -> bool:
        query = self._queries.get(params.text("callback_query_id") or "")
        if (
            query is None
            or query.answered
            or self.clock() - query.created_at > self.callback_query_ttl
        ):
            raise _bad_request(QUERY_TOO_OLD)
        text = params.text("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        query.user.answers.append(
            CallbackAnswer(
                query_id=query.query_id,
                data=query.data,
                message_id=query.message_id,
                text=text,
                show_alert=params.flag("show_alert"),
                url=params.text("url"),
                cache_time=params.integer("cache_time"),
            )
        )
        return True

    def _send_chat_action(self, params: _Params) -> bool:
        self._chat_user(params)
        if params.text("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    def _get_chat(self, params: _Params) -> dict[str, Any]:
        user = self._chat_user(params)
        return {
            **user.chat_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    def _commands_key(self, scope: Mapping[str, Any] | None, language_code: str) -> tuple[str, str]:
        return _scope_key(scope), language_code

    def _command_scope(self, params: _Params) -> tuple[str, str]:
        scope = params.json("scope", "BotCommandScope")
        if scope is not None and (not isinstance(scope, dict) or "type" not in scope):
            raise _bad_request("can't parse BotCommandScope JSON object")
        if scope is not None and "chat_id" in scope:
            chat_id = scope["chat_id"]
            if not isinstance(chat_id, int) or chat_id not in self.users:
                raise _bad_request("chat not found")
        return self._commands_key(scope, params.text("language_code") or "")

    def _set_my_commands(self, params: _Params) -> bool:
        commands = params.json("commands", "bot commands")
        if not isinstance(commands, list) or not all(isinstance(item, dict) for item in commands):
            raise _bad_request("can't parse bot commands JSON object")
        if len(commands) > 100:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        stored: list[dict[str, str]] = []
        for item in commands:
            command = str(item.get("command", "")).removeprefix("/")
            description = item.get("description")
            if not _COMMAND.fullmatch(command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": command, "description": description})
        self._commands[self._command_scope(params)] = stored
        return True

    def _get_my_commands(self, params: _Params) -> list[dict[str, str]]:
        return [dict(command) for command in self._commands.get(self._command_scope(params), [])]

    def _delete_my_commands(self, params: _Params) -> bool:
        self._commands.pop(self._command_scope(params), None)
        return True

    def _bot_text_setter(self, kind: str) -> Callable[[_Params], bool]:
        def setter(params: _Params) -> bool:
            self._bot_texts[(kind, params.text("language_code") or "")] = params.text(kind) or ""
            return True

        return setter

    def _bot_text_getter(self, kind: str) -> Callable[[_Params], dict[str, str]]:
        def getter(params: _Params) -> dict[str, str]:
            language = params.text("language_code") or ""
            text = self._bot_texts.get((kind, language), self._bot_texts.get((kind, ""), ""))
            if kind == "name" and not text:
                text = self.bot_name
            return {kind: text}

        return getter

    def _set_chat_menu_button(self, params: _Params) -> bool:
        chat_id = params.integer("chat_id")
        if chat_id is not None:
            self._chat_user(params)
        button = params.json("menu_button", "menu button")
        self._menu_buttons[chat_id] = button if isinstance(button, dict) else {"type": "default"}
        return True

    def _get_chat_menu_button(self, params: _Params) -> dict[str, Any]:
        chat_id = params.integer("chat_id")
        if chat_id is not None:
            self._chat_user(params)
        return dict(
            self._menu_buttons.get(chat_id) or self._menu_buttons.get(None) or {"type": "default"}
        )
