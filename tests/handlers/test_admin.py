"""Operators' commands, and how they look to everyone else."""

from __future__ import annotations

import pytest

from tests.fixtures.bot import BotHarness, ChatUser, MakeHarness
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE, ALICE_TOKEN, BOB, BOB_TOKEN, with_token
from tests.handlers.test_number_card import buy_number

ADMIN = 9009


@pytest.fixture
async def admin_harness(make_harness: MakeHarness) -> BotHarness:
    return await make_harness(admin_ids=frozenset({ADMIN}))


async def test_stats_counts_users_numbers_and_codes(
    admin_harness: BotHarness, sandbox: SandboxHandle
) -> None:
    alice = await with_token(admin_harness, sandbox, ALICE, ALICE_TOKEN, "500")
    await with_token(admin_harness, sandbox, BOB, BOB_TOKEN, "500")
    _card, record = await buy_number(alice, admin_harness)
    await admin_harness.arrive_code(sandbox, record, "4242")
    await alice.click("✅ Finish")
    _card, _other = await buy_number(alice, admin_harness)
    await alice.click("❌ Cancel")
    admin = admin_harness.user(ADMIN)

    screen = await admin.send("/stats")

    assert "Users: 3, with a token: 2" in screen.text  # the admin counts once they write
    assert "today (UTC): 2, all time: 2" in screen.text
    assert "Codes delivered: 1" in screen.text
    assert "cancel rate: 50%" in screen.text
    assert "Median time to the first code: 0:0" in screen.text


async def test_balances_lists_every_user_with_a_token_and_the_total(
    admin_harness: BotHarness, sandbox: SandboxHandle
) -> None:
    await with_token(admin_harness, sandbox, ALICE, ALICE_TOKEN, "100.50")
    await with_token(admin_harness, sandbox, BOB, BOB_TOKEN, "20")

    screen = await admin_harness.user(ADMIN).send("/balances")

    assert f"{ALICE} — 100.50 ₽" in screen.text and f"{BOB} — 20.00 ₽" in screen.text
    assert "2 users with a token, total 120.50 ₽" in screen.text


async def test_balances_are_paginated(admin_harness: BotHarness, sandbox: SandboxHandle) -> None:
    for n in range(35):
        await admin_harness.app.users.set_token(5000 + n, f"user-token-{n:04d}")
        sandbox.add_account(f"user-token-{n:04d}", n)
    admin = admin_harness.user(ADMIN)

    first = await admin.send("/balances")
    second = await admin.click("Next ›")

    assert "35 users with a token" in first.text
    assert "5000 —" in first.text and "5034 —" not in first.text
    assert "5034 — 34.00 ₽" in second.text and "page 2/2" in second.labels


async def test_balance_of_one_user(admin_harness: BotHarness, sandbox: SandboxHandle) -> None:
    await with_token(admin_harness, sandbox, ALICE, ALICE_TOKEN, "77")
    admin = admin_harness.user(ADMIN)

    known = await admin.send(f"/balance {ALICE}")
    unknown = await admin.send("/balance 31337")

    assert "77.00 ₽" in known.text
    assert "31337 has no token" in unknown.text


async def test_admin_commands_are_unknown_to_other_users(
    admin_harness: BotHarness, sandbox: SandboxHandle
) -> None:
    alice = await with_token(admin_harness, sandbox, ALICE, ALICE_TOKEN, "500")
    await with_token(admin_harness, sandbox, BOB, BOB_TOKEN, "31.00")

    stats = await alice.send("/stats")
    balances = await alice.send("/balances")
    someone_else = await alice.send(f"/balance {BOB}")

    assert "don't know this command" in stats.text and "Users:" not in stats.text
    assert "don't know this command" in balances.text
    assert "31.00" not in someone_else.text and "500.00 ₽" in someone_else.text


async def test_admins_get_their_commands_in_the_menu(
    admin_harness: BotHarness, sandbox: SandboxHandle
) -> None:
    from handlers import set_bot_commands

    await set_bot_commands(admin_harness.bot, admin_harness.app.settings, admin_harness.i18n)

    commands = admin_harness.session.commands
    everyone = [c["command"] for c in commands[("default", "en")]]
    assert everyone == ["start", "buy", "numbers", "balance", "token", "logout", "language", "help"]
    assert commands[("default", "ru")][1]["description"] == "Купить номер"
    admin = [c["command"] for c in commands[(f"chat:{ADMIN}", "en")]]
    assert {"stats", "balances"} <= set(admin)
    assert "stats" not in everyone


async def test_user_alice_fixture_is_not_an_admin(alice: ChatUser) -> None:
    screen = await alice.send("/stats")

    assert "don't know this command" in screen.text
