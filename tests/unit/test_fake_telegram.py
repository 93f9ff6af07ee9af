"""The fake Telegram Bot API, driven by a real aiogram Bot and Dispatcher over loopback HTTP.

Each rule is checked through the exception aiogram raises, because that is what the bot sees.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator, Callable
from typing import ClassVar

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    CallbackQuery,
    CopyTextButton,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.formatting import Bold, Text
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from tests.fakes.telegram import (
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    TEXT_BUTTONS_UNALLOWED,
    ApiCall,
    Button,
    FakeTelegram,
    FakeUser,
)

WEBHOOK_SECRET = "s3cret-Token_1"


def make_bot(fake: FakeTelegram, token: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.url))
    return Bot(
        token or fake.token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def ping_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Ping", callback_data="ping")]]
    )


def make_router() -> Router:
    router = Router(name="fake-telegram-test")

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        name = message.from_user.first_name if message.from_user else "stranger"
        await message.answer(f"Hello, <b>{html.escape(name)}</b>!", reply_markup=ping_keyboard())

    @router.message(F.text == "broken html")
    async def broken(message: Message) -> None:
        await message.answer("price < 5")

    @router.message(F.text == "reply in webhook")
    async def reply_in_webhook(message: Message) -> SendMessage:
        return message.answer("sent as the webhook reply")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {html.escape(message.text or '')}")

    @router.callback_query(F.data == "ping")
    async def pong(callback: CallbackQuery) -> None:
        await callback.answer("pong")
        if isinstance(callback.message, Message):
            await callback.message.edit_text("pressed", reply_markup=ping_keyboard())

    return router


def polls_waiting(fake: FakeTelegram) -> Callable[[], int]:
    return lambda: sum(1 for call in fake.calls_of("getUpdates") if call.status is None)


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    bot = make_bot(fake_telegram)
    yield bot
    await bot.session.close()


@pytest.fixture
async def user(fake_telegram: FakeTelegram) -> FakeUser:
    return fake_telegram.user(1001, "Alice", "en", started=True)


@pytest.fixture
async def polling(fake_telegram: FakeTelegram, bot: Bot) -> AsyncIterator[Dispatcher]:
    """The test router polling the fake, already holding a long poll open."""
    dispatcher = Dispatcher()
    dispatcher.include_router(make_router())
    task = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    await fake_telegram.wait_until(polls_waiting(fake_telegram), message="polling did not start")
    yield dispatcher
    await dispatcher.stop_polling()
    await task


# ------------------------------------------------------------------- users and the dispatcher


async def test_start_reaches_the_bot_and_the_user_sees_its_reply(
    fake_telegram: FakeTelegram, polling: Dispatcher
) -> None:
    alice = fake_telegram.user(1001, "Alice")

    sent = await alice.send("/start")
    reply = await alice.wait_for_message("Hello")

    assert reply.text == "Hello, Alice!"
    assert reply.html == "Hello, <b>Alice</b>!"
    assert reply.entities == [{"type": "bold", "offset": 7, "length": 5}]
    assert reply.buttons == [[Button("Ping", "ping")]]
    assert reply.from_bot and not sent.from_bot
    assert alice.last_message is reply
    assert fake_telegram.calls_of("getMe")[0].ok
    update = fake_telegram.calls_of("getUpdates")[0].params
    assert sorted(update["allowed_updates"]) == ["callback_query", "message"]


async def test_a_command_arrives_with_its_bot_command_entity(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    await user.send("hi /help@smsman_test_bot")

    (update,) = await bot.get_updates(timeout=0)

    assert update.message is not None
    assert update.message.entities is not None
    (entity,) = update.message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 3, 21)


async def test_pressing_a_button_by_label_runs_the_callback_handler(
    fake_telegram: FakeTelegram, polling: Dispatcher
) -> None:
    alice = fake_telegram.user()
    await alice.send("/start")
    menu = await alice.wait_for_message("Hello")

    query_id = await alice.press("Ping")
    answer = await alice.wait_for_answer(query_id)
    edited = await alice.wait_for_message("pressed")

    assert answer.text == "pong"
    assert not answer.show_alert
    assert answer.data == "ping"
    assert edited is menu
    assert menu.edits == 1
    assert menu.versions[0].text == "Hello, Alice!"
    assert alice.visible_messages == [menu]


async def test_a_missing_button_is_reported_with_the_buttons_on_screen(
    fake_telegram: FakeTelegram, polling: Dispatcher
) -> None:
    alice = fake_telegram.user()
    await alice.send("/start")
    await alice.wait_for_message("Hello")

    with pytest.raises(AssertionError, match=r"'Pong'.*\[\['Ping'\]\]"):
        await alice.press("Pong")
    assert await alice.press("in", contains=True)


async def test_long_polling_holds_the_request_until_an_update_arrives(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake_telegram.wait_until(polls_waiting(fake_telegram))
    assert not poll.done()

    message = await user.send("are you there?")
    (update,) = await poll

    assert update.message is not None
    assert update.message.message_id == message.message_id
    assert update.message.text == "are you there?"
    assert fake_telegram.pending_updates  # handed out, not yet confirmed
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []
    assert fake_telegram.pending_updates == []


async def test_a_second_poller_terminates_the_first_and_gets_the_update(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    other = make_bot(fake_telegram)
    try:
        first = asyncio.create_task(bot.get_updates(timeout=30))
        await fake_telegram.wait_until(polls_waiting(fake_telegram))
        second = asyncio.create_task(other.get_updates(timeout=30))

        with pytest.raises(TelegramConflictError) as conflict:
            await first
        await user.send("for whoever polls now")
        (update,) = await second
    finally:
        await other.session.close()

    assert conflict.value.message == (
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running"
    )
    assert update.message is not None
    assert update.message.text == "for whoever polls now"


async def test_updates_come_again_until_confirmed_with_offset(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    await user.send("first")
    await user.send("second")

    (once,) = await bot.get_updates(timeout=0, limit=1)
    again = await bot.get_updates(timeout=0)
    rest = await bot.get_updates(offset=once.update_id + 1, timeout=0)

    assert [update.update_id for update in again] == [once.update_id, once.update_id + 1]
    assert [update.message.text for update in rest if update.message] == ["second"]
    assert len(fake_telegram.pending_updates) == 1


async def test_updates_of_kinds_the_bot_did_not_ask_for_are_dropped(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    await bot.get_updates(timeout=0, allowed_updates=["message"])
    await bot.send_message(user.id, "menu", reply_markup=ping_keyboard())

    await user.press("Ping")
    await user.send("text still arrives")

    updates = await bot.get_updates(timeout=0)
    assert [update.message.text for update in updates if update.message] == ["text still arrives"]
    assert [
        update.get("callback_query", {}).get("data") for update in fake_telegram.dropped_updates
    ] == ["ping"]


# ------------------------------------------------------------------- messages


async def test_sent_message_is_recorded_with_plain_text_and_raw_html(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    source = (
        '<b>Balance:</b> <code>12.50</code> &lt;RUB&gt; &amp; <a href="https://sms-man.com">site'
        '</a> <tg-spoiler>s</tg-spoiler> <span class="tg-spoiler">t</span> <i>i</i><u>u</u>'
        '<s>s</s> <blockquote expandable>q</blockquote><pre><code class="language-py">x</code>'
        "</pre> &#128512;"
    )

    sent = await bot.send_message(user.id, source)

    recorded = user.last_message
    assert recorded.text == "Balance: 12.50 <RUB> & site s t ius qx 😀"
    assert recorded.html == source
    assert sent.text == recorded.text
    assert sent.message_id == recorded.message_id
    assert sent.from_user is not None and sent.from_user.username == "smsman_test_bot"
    assert {entity["type"] for entity in recorded.entities} == {
        "bold",
        "code",
        "text_link",
        "spoiler",
        "italic",
        "underline",
        "strikethrough",
        "expandable_blockquote",
        "pre",
    }
    assert fake_telegram.calls_of("sendmessage")[0].params["parse_mode"] == "HTML"


async def test_entities_sent_without_parse_mode_get_an_html_rendering(
    bot: Bot, user: FakeUser
) -> None:
    await bot.send_message(user.id, **Text("Total: ", Bold("5 <RUB>")).as_kwargs())

    assert user.last_message.text == "Total: 5 <RUB>"
    assert user.last_message.html == "Total: <b>5 &lt;RUB&gt;</b>"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("price < 5", 'Unsupported start tag "" at byte offset 6'),
        ("<br>line", 'Unsupported start tag "br" at byte offset 0'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("ok <b", "Unclosed start tag at byte offset 3"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("Привет <p>", 'Unsupported start tag "p" at byte offset 13'),
        ("AT&T", 'Character "&" at byte offset 2 starts no entity'),
    ],
)
async def test_html_telegram_cannot_parse_is_refused_with_its_reason(
    bot: Bot, user: FakeUser, source: str, reason: str
) -> None:
    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_message(user.id, source)

    assert refused.value.message.startswith(f"Bad Request: can't parse entities: {reason}")
    assert user.messages == []


async def test_a_bare_ampersand_passes_when_the_strict_check_is_off(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    fake_telegram.reject_bare_ampersand = False

    await bot.send_message(user.id, "AT&T &laquo;")

    assert user.last_message.text == "AT&T &laquo;"


async def test_text_length_is_counted_after_entity_parsing(bot: Bot, user: FakeUser) -> None:
    await bot.send_message(user.id, "<b>" + "я" * 4096 + "</b>")

    with pytest.raises(TelegramBadRequest) as too_long:
        await bot.send_message(user.id, "я" * 4097)
    assert too_long.value.message == "Bad Request: message is too long"
    assert len(user.messages) == 1


@pytest.mark.parametrize("text", ["", "   \n ", "<b> </b>"])
async def test_empty_text_is_refused(bot: Bot, user: FakeUser, text: str) -> None:
    with pytest.raises(TelegramBadRequest) as empty:
        await bot.send_message(user.id, text)

    assert empty.value.message == "Bad Request: message text is empty"


async def test_callback_data_is_limited_to_64_bytes(bot: Bot, user: FakeUser) -> None:
    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Buy", callback_data=data)]]
        )

    await bot.send_message(user.id, "fits", reply_markup=keyboard("я" * 32))  # 64 bytes

    with pytest.raises(TelegramBadRequest) as invalid:
        await bot.send_message(user.id, "too long", reply_markup=keyboard("я" * 32 + "x"))
    assert invalid.value.message == "Bad Request: BUTTON_DATA_INVALID"


async def test_a_button_without_an_action_is_refused(bot: Bot, user: FakeUser) -> None:
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Nothing")]])

    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_message(user.id, "menu", reply_markup=markup)

    assert refused.value.message == f"Bad Request: {TEXT_BUTTONS_UNALLOWED}"


async def test_copy_buttons_copy_1_to_256_characters(bot: Bot, user: FakeUser) -> None:
    def keyboard(text: str) -> InlineKeyboardMarkup:
        button = InlineKeyboardButton(text="📋 Copy", copy_text=CopyTextButton(text=text))
        return InlineKeyboardMarkup(inline_keyboard=[[button]])

    await bot.send_message(user.id, "fits", reply_markup=keyboard("7" * 256))
    assert user.last_message.buttons == [[Button("📋 Copy", None, "7" * 256)]]

    for text in ("", "7" * 257):
        with pytest.raises(TelegramBadRequest) as refused:
            await bot.send_message(user.id, "refused", reply_markup=keyboard(text))
        assert refused.value.message == "Bad Request: BUTTON_COPY_TEXT_INVALID"


async def test_button_styles_are_the_three_telegram_knows(bot: Bot, user: FakeUser) -> None:
    def keyboard(style: str) -> InlineKeyboardMarkup:
        button = InlineKeyboardButton(text="Go", callback_data="go", style=style)
        return InlineKeyboardMarkup(inline_keyboard=[[button]])

    for style in ("danger", "success", "primary"):
        await bot.send_message(user.id, style, reply_markup=keyboard(style))

    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_message(user.id, "red", reply_markup=keyboard("red"))
    assert "style" in refused.value.message


async def test_a_message_effect_is_an_effect_id(bot: Bot, user: FakeUser) -> None:
    await bot.send_message(user.id, "🎉", message_effect_id="5046509860389126442")

    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_message(user.id, "party", message_effect_id="party")
    assert refused.value.message == "Bad Request: EFFECT_ID_INVALID"


async def test_at_most_100_inline_buttons(bot: Bot, user: FakeUser) -> None:
    def keyboard(count: int) -> InlineKeyboardMarkup:
        buttons = [InlineKeyboardButton(text=str(n), callback_data=str(n)) for n in range(count)]
        return InlineKeyboardMarkup(
            inline_keyboard=[buttons[i : i + 5] for i in range(0, count, 5)]
        )

    await bot.send_message(user.id, "100", reply_markup=keyboard(100))

    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_message(user.id, "101", reply_markup=keyboard(101))
    assert refused.value.message == "Bad Request: reply markup is too long"
    assert len(user.last_message.button_texts) == 100


async def test_an_edit_that_changes_nothing_is_refused(bot: Bot, user: FakeUser) -> None:
    sent = await bot.send_message(user.id, "<b>Pick</b>", reply_markup=ping_keyboard())

    with pytest.raises(TelegramBadRequest) as unchanged:
        await bot.edit_message_text(
            "<b>Pick</b>", chat_id=user.id, message_id=sent.message_id, reply_markup=ping_keyboard()
        )
    assert unchanged.value.message == f"Bad Request: {NOT_MODIFIED}"

    edited = await bot.edit_message_text(
        "<i>Pick</i>", chat_id=user.id, message_id=sent.message_id, reply_markup=ping_keyboard()
    )
    assert isinstance(edited, Message)
    assert edited.edit_date is not None


async def test_editing_text_without_markup_drops_the_keyboard(bot: Bot, user: FakeUser) -> None:
    sent = await bot.send_message(user.id, "Pick", reply_markup=ping_keyboard())

    await bot.edit_message_text("Pick", chat_id=user.id, message_id=sent.message_id)

    assert user.last_message.buttons == []
    assert user.last_message.edits == 1
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=user.id, message_id=sent.message_id)
    await bot.edit_message_reply_markup(
        chat_id=user.id, message_id=sent.message_id, reply_markup=ping_keyboard()
    )
    assert user.last_message.buttons == [[Button("Ping", "ping")]]


async def test_unknown_messages_cannot_be_edited_or_deleted(bot: Bot, user: FakeUser) -> None:
    sent = await bot.send_message(user.id, "soon gone")
    assert await bot.delete_message(user.id, sent.message_id)
    assert user.messages[0].deleted

    with pytest.raises(TelegramBadRequest) as deleted_twice:
        await bot.delete_message(user.id, sent.message_id)
    with pytest.raises(TelegramBadRequest) as edit_missing:
        await bot.edit_message_text("x", chat_id=user.id, message_id=999)

    assert deleted_twice.value.message == "Bad Request: message to delete not found"
    assert edit_missing.value.message == "Bad Request: message to edit not found"


async def test_the_bot_can_delete_the_users_message_but_not_edit_it(
    bot: Bot, user: FakeUser
) -> None:
    token = await user.send("my secret token")

    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=token.message_id)
    await bot.delete_message(user.id, token.message_id)

    assert (await user.wait_for_deletion(token)).deleted


async def test_wait_for_message_sees_a_state_that_was_edited_away(bot: Bot, user: FakeUser) -> None:
    await user.send("/buy")
    card = await bot.send_message(user.id, "Waiting for the SMS…")
    await bot.edit_message_text(
        "Code: <code>123456</code>", chat_id=user.id, message_id=card.message_id
    )

    waiting = await user.wait_for_message("Waiting")
    code = await user.wait_for_message(lambda message: "123456" in message.text)

    assert waiting is code
    assert code.text == "Code: 123456"
    with pytest.raises(AssertionError, match="no message matching 'Waiting'"):
        await user.wait_for_message("Waiting", timeout=0)


async def test_a_failed_wait_names_the_call_telegram_refused(
    fake_telegram: FakeTelegram, polling: Dispatcher
) -> None:
    alice = fake_telegram.user()
    await alice.send("broken html")
    await fake_telegram.wait_until(
        lambda: any(call.status == 400 for call in fake_telegram.calls_of("sendMessage"))
    )

    with pytest.raises(AssertionError, match=r"sendMessage: Bad Request: can't parse entities"):
        await alice.wait_for_message(timeout=0)


# ------------------------------------------------------------------- chats and users


async def test_only_users_who_wrote_first_can_be_reached(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    bob = fake_telegram.user(2002, "Bob")

    for chat_id in (bob.id, 404):
        with pytest.raises(TelegramBadRequest) as missing:
            await bot.send_message(chat_id, "hello?")
        assert missing.value.message == "Bad Request: chat not found"

    await bob.send("/start")
    await bot.send_message(bob.id, "hello!")
    assert bob.last_message.text == "hello!"


async def test_a_user_who_blocked_the_bot_answers_403(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    sent = await bot.send_message(user.id, "before")
    user.block()

    with pytest.raises(TelegramForbiddenError) as blocked:
        await bot.send_message(user.id, "after")
    with pytest.raises(TelegramForbiddenError):
        await bot.edit_message_text("edit", chat_id=user.id, message_id=sent.message_id)
    with pytest.raises(AssertionError, match="unblock"):
        await user.send("hi")

    assert blocked.value.message == "Forbidden: bot was blocked by the user"
    (update,) = await bot.get_updates(timeout=0)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    user.unblock()
    await bot.send_message(user.id, "welcome back")


async def test_flood_answers_429_with_retry_after(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    fake_telegram.flood(retry_after=3, methods=["sendMessage"], count=2)

    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as flooded:
            await bot.send_message(user.id, "hi")
        assert flooded.value.retry_after == 3
        assert "Too Many Requests: retry after 3" in flooded.value.message
    await bot.get_me()
    await bot.send_message(user.id, "through")

    assert [call.status for call in fake_telegram.calls_of("sendMessage")] == [429, 429, 200]


# ------------------------------------------------------------------- callback queries


async def test_callback_queries_expire_and_answer_once(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    now = [1000.0]
    fake_telegram.clock = lambda: now[0]
    await bot.send_message(user.id, "menu", reply_markup=ping_keyboard())

    fresh = await user.press("Ping")
    assert await bot.answer_callback_query(fresh, text="ok", show_alert=True)
    with pytest.raises(TelegramBadRequest) as twice:
        await bot.answer_callback_query(fresh)

    stale = await user.press("Ping")
    now[0] += 15.5
    with pytest.raises(TelegramBadRequest) as too_old:
        await bot.answer_callback_query(stale)
    with pytest.raises(TelegramBadRequest) as unknown:
        await bot.answer_callback_query("12345")

    for refused in (twice, too_old, unknown):
        assert refused.value.message == f"Bad Request: {QUERY_TOO_OLD}"
    (answer,) = user.answers
    assert (answer.query_id, answer.text, answer.show_alert) == (fresh, "ok", True)


# ------------------------------------------------------------------- methods


class MadeUpMethod(TelegramMethod[bool]):
    __returning__: ClassVar[type] = bool
    __api_method__: ClassVar[str] = "makeCoffee"


async def test_unknown_and_unimplemented_methods(bot: Bot, user: FakeUser) -> None:
    with pytest.raises(TelegramNotFound) as unknown:
        await bot(MadeUpMethod())
    with pytest.raises(TelegramServerError, match="sendDice"):
        await bot.send_dice(user.id)

    assert unknown.value.message == "Not Found"


async def test_a_wrong_token_is_unauthorized(fake_telegram: FakeTelegram) -> None:
    stranger = make_bot(fake_telegram, token="654321:OTHER")
    try:
        with pytest.raises(TelegramUnauthorizedError) as refused:
            await stranger.get_me()
    finally:
        await stranger.session.close()

    assert refused.value.message == "Unauthorized"


async def test_commands_are_kept_per_scope_and_language(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands(
        [BotCommand(command="buy", description="Купить")],
        scope=BotCommandScopeAllPrivateChats(),
        language_code="ru",
    )
    russian = fake_telegram.user(3003, "Иван", "ru", started=True)

    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.get_my_commands(language_code="ru") == []
    assert [c["command"] for c in russian.commands] == ["buy"]
    assert [c["command"] for c in user.commands] == ["start"]
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.set_my_commands(
            [BotCommand(command="admin", description="Admin")],
            scope=BotCommandScopeChat(chat_id=7),
        )
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start", description="Start")])
    await bot.delete_my_commands()
    assert user.commands == []


# ------------------------------------------------------------------- webhook


@pytest.fixture
async def webhook_url(bot: Bot) -> AsyncIterator[str]:
    """The test router behind aiogram's webhook handler, on a free port."""
    dispatcher = Dispatcher()
    dispatcher.include_router(make_router())
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=WEBHOOK_SECRET).register(app, "/webhook")
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    await runner.cleanup()


async def test_webhook_delivers_updates_with_the_secret(
    fake_telegram: FakeTelegram, bot: Bot, webhook_url: str
) -> None:
    alice = fake_telegram.user()
    await bot.set_webhook(webhook_url, secret_token=WEBHOOK_SECRET)

    await alice.send("/start")
    await alice.wait_for_message("Hello, Alice")
    await alice.press("Ping")
    answer = await alice.wait_for_answer()

    assert answer.text == "pong"
    info = await bot.get_webhook_info()
    assert info.url == webhook_url
    assert info.pending_update_count == 0
    with pytest.raises(TelegramConflictError) as conflict:
        await bot.get_updates()
    assert conflict.value.message == (
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )


async def test_webhook_without_the_right_secret_is_rejected_by_the_bot(
    fake_telegram: FakeTelegram, bot: Bot, webhook_url: str
) -> None:
    alice = fake_telegram.user(started=True)

    assert await fake_telegram.post_raw_update(webhook_url, alice.build_message_update("a")) == 401
    wrong = alice.build_message_update("b")
    assert await fake_telegram.post_raw_update(webhook_url, wrong, secret="wrong") == 401
    right = alice.build_message_update("c")
    assert await fake_telegram.post_raw_update(webhook_url, right, secret=WEBHOOK_SECRET) == 200

    reply = await alice.wait_for_message("echo")
    assert reply.text == "echo: c"
    assert [message.text for message in alice.messages] == ["echo: c"]


async def test_a_method_returned_in_the_webhook_response_is_executed(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    dispatcher = Dispatcher()
    dispatcher.include_router(make_router())
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, handle_in_background=False).register(app, "/hook")
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        alice = fake_telegram.user()

        await alice.send("reply in webhook")
        reply = await alice.wait_for_message()
    finally:
        await runner.cleanup()

    assert reply.text == "sent as the webhook reply"
    call: ApiCall = fake_telegram.calls_of("sendMessage")[-1]
    assert (call.via, call.ok) == ("webhook_reply", True)


async def test_deleting_the_webhook_can_drop_pending_updates(
    fake_telegram: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    await user.send("old news")
    assert (await bot.get_webhook_info()).pending_update_count == 1

    await bot.delete_webhook(drop_pending_updates=True)

    assert await bot.get_updates(timeout=0) == []
