"""Redis unreachable for a while: every update is answered, and the bot resumes by itself."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.runtime.redis_server import free_port
from tests.fixtures.bot import BotHarness


async def test_while_redis_is_down_every_update_is_told_to_try_again(
    harness: BotHarness,
) -> None:
    alice = harness.user(5001)
    bob = harness.user(5002, language_code="ru")
    menu = (await alice.send("/start")).last
    tap = alice.button_data("💰 Balance", on=menu)

    # Redis goes away: the bot's client reconnects to a port nobody listens on.
    pool = harness.app.redis.connection_pool
    port = pool.connection_kwargs["port"]
    await pool.disconnect()
    pool.connection_kwargs["port"] = free_port()
    pool.reset()  # forget the connections made to the real port
    try:
        screens = [await alice.send("/start"), await alice.tap(tap, menu), await bob.send("/buy")]
    finally:
        pool.connection_kwargs["port"] = port
        pool.reset()

    assert "temporarily unavailable" in screens[0].text
    assert "temporarily unavailable" in screens[1].alert  # the button's spinner stops too
    assert "временно недоступен" in screens[2].text  # in the language of bob's client

    # Redis is back: the same actions work again, with nothing restarted.
    again = await alice.send("/start")
    assert again.messages and "temporarily" not in again.text
    assert "temporarily" not in (await alice.tap(tap, menu)).alert


async def test_redis_failing_inside_a_handler_is_told_as_an_outage_not_as_a_bug(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The update's own reads succeeded; Redis went away while the handler worked."""
    alice = harness.user(5001)

    async def unreachable(user_id: int) -> None:
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(harness.app.activation_service, "for_user", unreachable)
    screen = await alice.send("/numbers")

    assert "temporarily unavailable" in screen.text
    assert "Sorry, something went wrong" not in screen.text
