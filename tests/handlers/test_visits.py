"""What every update does about the user who sent it (read once per update: `LoadUser`)."""

from __future__ import annotations

from bot.store.blocked import BlockedStore
from tests.fixtures.bot import BotHarness, ChatUser
from tests.handlers.conftest import ALICE, BOB
from tests.handlers.test_secrets_and_groups import REAL_LOOKING_TOKEN


async def test_a_user_is_remembered_from_their_first_message_and_only_in_private(
    harness: BotHarness,
) -> None:
    alice, bob = harness.user(ALICE), harness.user(BOB)

    await alice.send("hello")
    await bob.send("/start", chat=bob.group())

    assert await harness.app.users.count() == (1, 0)
    await alice.send("/help")  # a returning user is not counted twice
    assert await harness.app.users.count() == (1, 0)


async def test_any_update_from_a_user_counted_as_blocked_makes_them_reachable_again(
    alice: ChatUser, harness: BotHarness
) -> None:
    blocked = BlockedStore(harness.app.redis)
    menu = (await alice.send("/start")).last

    await blocked.mark(ALICE)
    await alice.click("❓ Help", on=menu)
    assert ALICE not in await blocked.members()

    await blocked.mark(ALICE)
    await alice.send("hi")
    assert ALICE not in await blocked.members()


async def test_a_token_in_the_users_own_store_is_recognised_in_any_text(
    alice: ChatUser, harness: BotHarness
) -> None:
    """The user's token is read with the update, encrypted, and recognised even where it
    would not look like a token (short, inside other words)."""
    await harness.app.users.set_token(ALICE, "short-key-1")

    screen = await alice.send("my key is short-key-1 ok?")

    assert screen.deleted and "looked like an API token" in screen.text
    assert "short-key-1" not in screen.text


async def test_a_token_glued_to_the_token_command_at_the_prompt_is_deleted(
    harness: BotHarness,
) -> None:
    """A command starts over before any filter looks at it: "/token" and the key pasted
    without a space, at the token prompt, is an unknown command carrying a token, and it is
    deleted, not left in the chat."""
    alice = harness.user(ALICE)
    await alice.send("/token")

    screen = await alice.send("/token" + REAL_LOOKING_TOKEN)

    assert screen.deleted and "looked like an API token" in screen.text
    assert await harness.app.users.get_token(ALICE) is None
