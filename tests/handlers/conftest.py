"""Users of the handler tests: one who has just set a working token."""

from __future__ import annotations

import pytest

from tests.fixtures.bot import BotHarness, ChatUser
from tests.fixtures.sandbox import SandboxHandle

ALICE = 1001
BOB = 2002
ALICE_TOKEN = "alice-api-token-0001"
BOB_TOKEN = "bob-api-token-0002"


async def with_token(
    harness: BotHarness, sandbox: SandboxHandle, user_id: int, token: str, balance: str, **user: str
) -> ChatUser:
    sandbox.add_account(token, balance)
    chat = harness.user(user_id, **user)
    screen = await chat.send(f"/token {token}")
    assert "Token saved" in screen.text or "Токен сохранён" in screen.text, screen.text
    return chat


@pytest.fixture
async def alice(harness: BotHarness, sandbox: SandboxHandle) -> ChatUser:
    return await with_token(harness, sandbox, ALICE, ALICE_TOKEN, "500", first_name="Alice")


@pytest.fixture
async def bob(harness: BotHarness, sandbox: SandboxHandle) -> ChatUser:
    return await with_token(harness, sandbox, BOB, BOB_TOKEN, "500", first_name="Bob")
