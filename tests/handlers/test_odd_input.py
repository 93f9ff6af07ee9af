"""Whatever shape of update a user can cause: answered politely or ignored, never a crash."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.types import (
    CallbackQuery,
    Chat,
    ChatMemberBanned,
    ChatMemberMember,
    ChatMemberUpdated,
    Contact,
    InaccessibleMessage,
    Message,
    MessageOriginUser,
    PhotoSize,
    Sticker,
    Update,
    User,
)

from tests.fixtures.bot import BotHarness, ChatUser
from tests.handlers.conftest import ALICE

BOT = User(id=4242, is_bot=True, first_name="SMS bot")


def message(user: ChatUser, **content: Any) -> Message:
    return Message(
        message_id=77,
        date=datetime.now(UTC),
        chat=user.chat,
        from_user=user.user,
        **content,
    )


def odd_messages(user: ChatUser) -> dict[str, Message]:
    sticker = Sticker(
        file_id="s",
        file_unique_id="s",
        type="regular",
        width=512,
        height=512,
        is_animated=False,
        is_video=False,
    )
    return {
        "sticker": message(user, sticker=sticker),
        "photo": message(
            user, photo=[PhotoSize(file_id="p", file_unique_id="p", width=1, height=1)]
        ),
        "photo with caption": message(
            user,
            photo=[PhotoSize(file_id="p", file_unique_id="p", width=1, height=1)],
            caption="<b>look</b>",
        ),
        "contact": message(user, contact=Contact(phone_number="+1555", first_name="A")),
        "forwarded": message(
            user,
            text="forwarded text",
            forward_origin=MessageOriginUser(
                date=datetime.now(UTC), sender_user=User(id=9, is_bot=False, first_name="X")
            ),
        ),
        "4096 characters": message(user, text="я" * 4096),
        "html": message(user, text="<b>bold</b> &amp; <script>alert(1)</script>"),
        "zero-width and rtl": message(user, text="\u200b\u202etele\u200f\u2066gram\u2069"),
    }


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert problems == [], [r.getMessage()[:300] for r in problems]


STATES = ["idle", "searching services", "waiting for a token"]


async def get_into(user: ChatUser, state: str) -> None:
    if state == "searching services":
        await user.send("/buy")
    elif state == "waiting for a token":
        await user.send("/token")


@pytest.mark.parametrize("state", STATES)
async def test_odd_messages_are_answered_politely_in_any_state(
    alice: ChatUser, harness: BotHarness, caplog: pytest.LogCaptureFixture, state: str
) -> None:
    await get_into(alice, state)
    for name, odd in odd_messages(alice).items():
        update = Update(update_id=harness.next_update_id(), message=odd)
        with caplog.at_level(logging.WARNING):
            await harness.dispatcher.feed_update(harness.bot, update)
        no_errors_logged(caplog)
        assert alice.last_message().text, name
    assert "<script>" not in "".join(m.html for m in alice.messages() if m.from_bot)


async def feed_callback(
    harness: BotHarness, user: ChatUser, data: str | None, **where: Any
) -> dict[str, Any]:
    """A callback query with `data` on `where` (message=…, inline_message_id=…); returns the
    answer the bot gave (exactly one)."""
    query_id = f"q{harness.next_update_id()}"
    query = CallbackQuery(id=query_id, from_user=user.user, chat_instance="ci", data=data, **where)
    harness.clock.advance(1.0)  # a person's pace: the tap throttle stays out of it
    await harness.dispatcher.feed_update(
        harness.bot, Update(update_id=harness.next_update_id(), callback_query=query)
    )
    answers = [
        a
        for a in harness.session.calls_of("answerCallbackQuery")
        if a["callback_query_id"] == query_id
    ]
    assert len(answers) == 1, f"{data!r} {where}: answered {len(answers)} times"
    return answers[0]


def inaccessible(user: ChatUser) -> InaccessibleMessage:
    return InaccessibleMessage(chat=user.chat, message_id=5, date=0)


CALLBACKS = [
    "menu:main",
    "menu:buy",
    "menu:numbers",
    "menu:balance",
    "menu:token",
    "menu:language",
    "menu:help",
    "menu:nope",
    "noop",
    "sp:0",
    "sp:-5",
    "sp:1e9",
    "sp:99999999999999999999",
    "sv:1",
    "sv:no-such-service",
    "sv:a:b",
    "cp:1:0",
    "cp:1:x",
    "ct:1:1",
    "ct:%3A:%ZZ",
    "buy:nonce",
    "n|cancel|v2:1",
    "n|another|v2:1",
    "n|finish|v2:1",
    "n|explode|v2:1",
    "lang:en",
    "lang:xx",
    "abal:0",
    "",
    ":",
    "|||",
    "\u202e\u200b",
    "<b>",
]


@pytest.mark.parametrize("data", CALLBACKS)
async def test_every_callback_is_answered_wherever_it_comes_from(
    alice: ChatUser, harness: BotHarness, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    await alice.send("/start")
    menu = alice.last_message()
    on_message = Message(
        message_id=menu.message_id,
        date=datetime.now(UTC),
        chat=alice.chat,
        from_user=BOT,
        text=menu.text,
    )
    with caplog.at_level(logging.WARNING):
        await feed_callback(harness, alice, data, message=on_message)
        await feed_callback(harness, alice, data, message=inaccessible(alice))
        await feed_callback(harness, alice, data, inline_message_id="inline-1")
    no_errors_logged(caplog)


async def test_a_callback_without_data_is_answered(
    alice: ChatUser, harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        await feed_callback(harness, alice, None, inline_message_id="inline-1")
        await feed_callback(harness, alice, None, game_short_name="game")
    no_errors_logged(caplog)


async def test_being_blocked_and_unblocked_crashes_nothing(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    user = User(id=ALICE, is_bot=False, first_name="Alice")
    member = ChatMemberMember(user=BOT)
    kicked = ChatMemberBanned(user=BOT, until_date=datetime.fromtimestamp(0, UTC))
    for old, new in ((member, kicked), (kicked, member)):
        update = Update(
            update_id=harness.next_update_id(),
            my_chat_member=ChatMemberUpdated(
                chat=Chat(id=ALICE, type="private"),
                from_user=user,
                date=datetime.now(UTC),
                old_chat_member=old,
                new_chat_member=new,
            ),
        )
        with caplog.at_level(logging.WARNING):
            await harness.dispatcher.feed_update(harness.bot, update)
    no_errors_logged(caplog)


async def test_a_user_who_blocked_the_bot_mid_answer_is_no_error(
    alice: ChatUser, harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.session.blocked.add(ALICE)

    with caplog.at_level(logging.INFO):
        await alice.send("/start")

    no_errors_logged(caplog)
    assert "no longer accepts messages" in caplog.text
    # The reply to /token, then the refused reply to /start; no apology after it.
    assert len(harness.session.calls_of("sendMessage")) == 2
