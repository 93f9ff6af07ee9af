"""The path every common update takes stays in the event loop (see handlers.filters)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.bot import ChatUser


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
