"""Tokens pasted at the wrong moment or in a group, and what the bot says in groups."""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus

from aiogram.types import Chat, Message, Update

from tests.fixtures.bot import BotHarness, ChatUser
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE, ALICE_TOKEN

REAL_LOOKING_TOKEN = "vY3mVjYSUasDYJh7yEJ1Xj1nIeZ4mhBv"


async def test_a_token_pasted_into_the_service_search_is_deleted_never_echoed(
    alice: ChatUser,
) -> None:
    await alice.send("/buy")
    typed = await alice.send("tele")  # the search works as before
    assert "Services matching “tele”" in typed.text

    screen = await alice.send(REAL_LOOKING_TOKEN)

    assert screen.deleted, "the message with the token is deleted"
    assert REAL_LOOKING_TOKEN not in screen.html
    assert all(REAL_LOOKING_TOKEN not in m.text for m in alice.messages())
    assert "looked like an API token, so I deleted it" in screen.text


async def test_the_users_own_token_is_deleted_wherever_it_is_pasted(alice: ChatUser) -> None:
    await alice.send("/start")

    screen = await alice.send(f"my key is {ALICE_TOKEN}, right?")

    assert screen.deleted and ALICE_TOKEN not in screen.html
    assert "looked like an API token" in screen.text


async def test_the_token_prompt_still_takes_the_token(
    harness: BotHarness, sandbox: SandboxHandle
) -> None:
    sandbox.add_account(REAL_LOOKING_TOKEN, "10")
    user = harness.user(ALICE)
    await user.send("/token")

    screen = await user.send(REAL_LOOKING_TOKEN)

    assert screen.deleted and "Token saved" in screen.text
    assert await harness.app.users.get_token(ALICE) == REAL_LOOKING_TOKEN


async def test_a_token_posted_in_a_group_is_deleted_and_nothing_is_stored(
    harness: BotHarness, sandbox: SandboxHandle
) -> None:
    sandbox.add_account(REAL_LOOKING_TOKEN, "10")
    user = harness.user(ALICE, language_code="ru")
    group = user.group()

    screen = await user.send(f"/token {REAL_LOOKING_TOKEN}", chat=group)
    pasted = await user.send(f"вот мой ключ {REAL_LOOKING_TOKEN}", chat=group)

    assert screen.deleted and pasted.deleted
    assert "удалил" in screen.text and "в группе" in screen.text, screen.text
    assert REAL_LOOKING_TOKEN not in screen.html + pasted.html
    assert await harness.app.users.get_token(ALICE) is None


async def test_a_token_the_bot_cannot_delete_in_a_group_is_pointed_out(
    harness: BotHarness,
) -> None:
    user = harness.user(ALICE)
    group = user.group()
    harness.session.fail(
        "deleteMessage", HTTPStatus.BAD_REQUEST, "Bad Request: message can't be deleted"
    )

    screen = await user.send(REAL_LOOKING_TOKEN, chat=group)

    assert "could not delete it: please delete it yourself" in screen.text


async def test_a_command_in_a_group_gets_one_pointer_to_a_private_chat(
    harness: BotHarness,
) -> None:
    user = harness.user(ALICE, language_code="ru")
    group = user.group()

    screen = await user.send("/buy@sms_test_bot", chat=group)
    other_bot = await user.send("/start@another_bot", chat=group)
    chatter = await user.send("hello everyone", chat=group)

    assert len(screen.messages) == 1
    assert "только в личных сообщениях" in screen.text, screen.text
    [button] = screen.last.buttons[0]
    assert button["url"] == "https://t.me/sms_test_bot"
    assert other_bot.messages == [] and chatter.messages == []
    assert await harness.app.redis.keys("*") == []  # nothing about the user, no FSM state
    assert await harness.app.users.get_token(ALICE) is None


async def test_channel_posts_are_ignored(harness: BotHarness) -> None:
    channel = Chat(id=-100999, type="channel", title="News")
    post = Message(message_id=1, date=datetime.now(UTC), chat=channel, text="/start")

    await harness.dispatcher.feed_update(harness.bot, Update(update_id=1, channel_post=post))

    assert harness.session.calls == []
