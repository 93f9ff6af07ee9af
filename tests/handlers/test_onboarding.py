"""A new user: greeting, being led to the token, the token checked, stored and deleted."""

from __future__ import annotations

from tests.fixtures.bot import BotHarness
from tests.fixtures.sandbox import SandboxHandle

ALICE = 1001


async def test_start_greets_and_asks_a_new_user_for_the_token(harness: BotHarness) -> None:
    alice = harness.user(ALICE, first_name="Alice")

    screen = await alice.send("/start")

    assert "Hello, Alice" in screen.text
    assert "API token" in screen.text
    assert {"🛒 Buy a number", "📱 My numbers", "💰 Balance", "🔑 Token"} <= set(screen.labels)


async def test_token_sent_after_start_is_checked_stored_and_deleted(
    harness: BotHarness, sandbox: SandboxHandle
) -> None:
    alice = harness.user(ALICE)
    await alice.send("/start")

    screen = await alice.send(sandbox.token)

    assert screen.deleted, "the message with the token must be deleted"
    assert "Token saved" in screen.text and "1000.00 ₽" in screen.text
    assert await harness.app.users.get_token(ALICE) == sandbox.token
    assert all(sandbox.token not in m.text for m in alice.messages())


async def test_token_in_one_message_is_deleted_and_answered_with_the_balance(
    harness: BotHarness, sandbox: SandboxHandle
) -> None:
    alice = harness.user(ALICE)

    screen = await alice.send(f"/token {sandbox.token}")

    assert screen.deleted
    assert "1000.00 ₽" in screen.text
    assert await harness.app.users.get_token(ALICE) == sandbox.token


async def test_token_command_then_the_token_as_the_next_message(
    harness: BotHarness, sandbox: SandboxHandle
) -> None:
    alice = harness.user(ALICE)
    await alice.send("/token")

    screen = await alice.send(sandbox.token)

    assert screen.deleted and "Token saved" in screen.text
    assert await harness.app.users.get_token(ALICE) == sandbox.token


async def test_a_wrong_token_is_deleted_refused_and_not_stored(harness: BotHarness) -> None:
    alice = harness.user(ALICE)

    screen = await alice.send("/token not-a-real-token-123")

    assert screen.deleted, "even a wrong token is deleted from the chat"
    assert "does not accept this token" in screen.text and "nothing was saved" in screen.text
    assert await harness.app.users.get_token(ALICE) is None
    assert all("not-a-real-token-123" not in m.text for m in alice.messages())


async def test_after_a_wrong_token_the_next_message_is_taken_as_the_token(
    harness: BotHarness, sandbox: SandboxHandle
) -> None:
    alice = harness.user(ALICE)
    await alice.send("/token wrong-token-0000")

    screen = await alice.send(sandbox.token)

    assert "Token saved" in screen.text


async def test_something_that_is_no_token_at_all(harness: BotHarness) -> None:
    alice = harness.user(ALICE)
    await alice.send("/token")

    screen = await alice.send("hi there")

    assert screen.deleted and "does not look like" in screen.text


async def test_a_command_while_the_bot_waits_for_the_token_is_a_command(
    harness: BotHarness,
) -> None:
    alice = harness.user(ALICE)
    await alice.send("/token")

    screen = await alice.send("/help")

    assert "How it works" in screen.text and not screen.deleted
    after = await alice.send("just text")
    assert "use the menu" in after.text and not after.deleted


async def test_unknown_command(harness: BotHarness) -> None:
    screen = await harness.user(ALICE).send("/frobnicate")

    assert "don't know this command" in screen.text
