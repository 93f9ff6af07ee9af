"""The path every common update takes stays in the event loop (see handlers.filters)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio.connection import Connection

from tests.fixtures.bot import BotHarness, ChatUser, Screen


async def test_the_conversation_uses_no_worker_thread(
    alice: ChatUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiogram hands a synchronous filter (a magic `F.…` one, a state) to a worker thread;
    the bot's filters run in the event loop, wherever a message or a tap goes."""
    handed_off: list[Callable[..., Any]] = []
    real_to_thread = asyncio.to_thread

    async def counting_to_thread(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        handed_off.append(func)
        return await real_to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting_to_thread)

    menu = (await alice.send("/start")).last
    await alice.send("/help")
    await alice.click("❓ Help", on=menu)
    await alice.send("hello")
    await alice.send("/nonsense")
    await alice.send("/buy")
    assert "Telegram" in (await alice.send("tele")).labels  # typed into the service search

    assert handed_off == [], [getattr(f, "func", f) for f in handed_off]


async def test_each_step_of_buying_waits_for_redis_at_most_three_times(
    alice: ChatUser, harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step's latency is mostly its round trips to Redis: the update's one read of the
    user and the conversation, one for what the step reads and writes together (the FSM
    state and its data in one write, the menu's lists in one read), and the confirmation's
    quote kept along with the reads. And where the conversation stands is still right:
    the next step goes on from it."""
    connection_class = harness.app.redis.connection_pool.connection_class
    original = connection_class.send_packed_command
    round_trips: list[int] = []

    async def counted(self: Connection, command: Any, check_health: bool = True) -> None:
        if round_trips:  # counting has begun
            round_trips[-1] += 1
        await original(self, command, check_health)

    monkeypatch.setattr(connection_class, "send_packed_command", counted)

    async def step(action: Awaitable[Screen]) -> Screen:
        round_trips.append(0)
        return await action

    await alice.send("/buy")  # the catalog and the balance are cached from here on
    await alice.click(first_country(await alice.click("Telegram")))
    await step(alice.send("/start"))
    services = await step(alice.click("🛒 Buy"))
    await step(alice.click("Next ›", on=services.last))
    await step(alice.send("tele"))  # the service search
    countries = await step(alice.click("Telegram"))
    confirmation = await step(alice.click(first_country(countries)))
    back = await step(alice.click("‹ Back to countries", on=confirmation.last))

    assert "Confirm the purchase" in confirmation.text
    assert first_country(back) == first_country(countries)
    assert round_trips[0] == 1  # /start: the visit alone
    assert max(round_trips) <= 3, round_trips


def first_country(screen: Screen) -> str:
    return screen.last.labels[0]
