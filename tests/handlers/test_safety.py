"""Floods of taps, unexpected failures, and the notifier's dealings with Telegram."""

from __future__ import annotations

import logging
from http import HTTPStatus

import pytest

from bot.services.notifications import RecipientGone
from bot.store.activations import State
from handlers.middlewares import CallbackThrottle
from tests.fixtures.bot import BotHarness, ChatUser, MakeHarness
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE
from tests.handlers.test_number_card import buy_number


async def test_a_flood_of_taps_is_slowed_down_before_reaching_the_provider(
    alice: ChatUser, harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    menu = (await alice.send("/start")).last
    balance_calls = 0
    real_balance = harness.app.tokens.balance

    async def counting_balance(user_id: int):  # type: ignore[no-untyped-def]
        nonlocal balance_calls
        balance_calls += 1
        return await real_balance(user_id)

    monkeypatch.setattr(harness.app.tokens, "balance", counting_balance)

    tap = alice.button_data("💰 Balance", on=menu)

    screens = [await alice.tap(tap, menu, pause=0.05) for _ in range(10)]

    slowed = [s for s in screens if "Slow down" in s.alert]
    assert len(slowed) == 7
    assert balance_calls == 3
    harness.clock.advance(1.0)
    assert "Slow down" not in (await alice.tap(tap, menu)).alert


async def test_an_unexpected_failure_is_apologised_for_without_leaking_what_was_typed(
    alice: ChatUser,
    harness: BotHarness,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "super-secret-token-value"

    async def broken(user_id: int, text: str) -> None:
        raise RuntimeError(f"cannot handle {text}")

    monkeypatch.setattr(harness.app.tokens, "set_token", broken)

    with caplog.at_level(logging.INFO):
        screen = await alice.send(f"/token {secret}")

    assert "Sorry, something went wrong" in screen.text
    assert screen.deleted
    assert "RuntimeError" in caplog.text
    assert secret not in caplog.text


async def test_notifier_treats_an_unchanged_card_as_delivered(
    alice: ChatUser, harness: BotHarness
) -> None:
    _card, record = await buy_number(alice, harness)
    await harness.notifier.card_changed(record)
    edits = len(harness.session.calls_of("editMessageText"))

    await harness.notifier.card_changed(record)  # same text and buttons: "not modified"

    assert len(harness.session.calls_of("editMessageText")) == edits + 1


async def test_notifier_sends_a_new_card_when_the_old_one_is_gone(
    alice: ChatUser, harness: BotHarness
) -> None:
    card, record = await buy_number(alice, harness)
    harness.session.message(ALICE, card.message_id).deleted = True
    record.state = State.CANCELLED

    await harness.notifier.card_changed(record)

    fresh = alice.messages()[-1]
    assert fresh.message_id != card.message_id and "Cancelled" in fresh.text
    stored = await harness.app.activations.get(record.key)
    assert stored is not None and stored.message_id == fresh.message_id


async def test_notifier_waits_out_flood_control(
    alice: ChatUser, harness: BotHarness, sandbox: SandboxHandle
) -> None:
    _card, record = await buy_number(alice, harness)
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    harness.flood_wait.sleep = sleep
    harness.session.fail(
        "sendMessage",
        HTTPStatus.TOO_MANY_REQUESTS,
        "Too Many Requests: retry after 3",
        retry_after=3,
        times=2,
    )

    await harness.arrive_code(sandbox, record, "9090")

    assert waited == [3, 3]
    assert "9090" in alice.messages()[-2].text


async def test_notifier_reports_a_user_who_blocked_the_bot(
    alice: ChatUser, harness: BotHarness
) -> None:
    _card, record = await buy_number(alice, harness)
    harness.session.blocked.add(ALICE)

    with pytest.raises(RecipientGone):
        await harness.notifier.code_received(record, "1")


async def test_notifier_reports_a_chat_that_does_not_exist(
    alice: ChatUser, harness: BotHarness
) -> None:
    _card, record = await buy_number(alice, harness)
    record.chat_id = -1
    record.message_id = None

    with pytest.raises(RecipientGone):
        await harness.notifier.card_changed(record)


async def test_two_bot_processes_share_one_users_tap_count(
    make_harness: MakeHarness,
) -> None:
    """Behind a load balancer one user's taps alternate between processes: the throttle is
    counted in Redis, so together they still let only three a second through."""
    first, second = await make_harness(), await make_harness()
    for middleware in second.dispatcher.callback_query.middleware:
        if isinstance(middleware, CallbackThrottle):
            middleware.clock = first.clock  # one clock for both, as the real one is
    on_first, on_second = first.user(ALICE), second.user(ALICE)
    menus = [(await on_first.send("/start")).last, (await on_second.send("/start")).last]
    taps = [
        user.button_data("💰 Balance", on=menu)
        for user, menu in zip((on_first, on_second), menus, strict=True)
    ]

    screens = []
    for n in range(10):
        user = (on_first, on_second)[n % 2]
        first.clock.advance(0.05)
        screens.append(await user.tap(taps[n % 2], menus[n % 2], pause=0))

    assert sum("Slow down" in screen.alert for screen in screens) == 7
