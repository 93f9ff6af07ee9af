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
