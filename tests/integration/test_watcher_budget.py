"""The real watcher under the provider budget, against Redis and the sandbox over real HTTP:
a user's tap overtakes the watcher's backlog, and a key over its rate slows only its own
numbers."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from redis.asyncio import Redis

from bot.provider.budget import Lane, ProviderBudget
from tests.fixtures.sandbox import SandboxHandle
from tests.fixtures.watcher import WatchWorld, eventually


def record_methods(world: WatchWorld) -> list[str]:
    """The provider methods the world's client sends, in the order they go out."""
    sent: list[str] = []

    async def note(request: httpx.Request) -> None:
        sent.append(request.url.path.rsplit("/", 1)[-1])

    world.http.event_hooks["request"].append(note)
    return sent


async def test_a_tap_is_not_held_up_by_a_big_backlog_of_status_checks(
    redis: Redis, sandbox: SandboxHandle
) -> None:
    # 60 numbers every 0.2 s would need 300 requests a second; the process allows 20.
    world = WatchWorld(redis, sandbox, budget=ProviderBudget(20, 1000))
    try:
        for n in range(60):
            await world.buy(9000 + n, first_check_in=0)
        sent = record_methods(world)
        world.start(world.watcher())
        await eventually(
            lambda: world.budget.waiting(Lane.BACKGROUND) >= 15,
            what="status checks queueing for the budget",
        )
        backlog = world.budget.waiting(Lane.BACKGROUND)
        before = len(sent)

        balance = await world.tap_provider.get_balance(world.token)  # the user taps "Balance"

        overtaken = sent[before:].index("get-balance")
        await world.stop_all()
    finally:
        await world.aclose()

    assert balance > 0
    # At most the check that held the slot when the tap came (and one in flight) went first,
    # not the backlog of checks that were waiting.
    assert overtaken <= 2 < backlog


async def test_a_key_over_its_rate_has_its_numbers_checked_in_turn_and_slows_nobody_else(
    redis: Redis, sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    # One user has 20 numbers: checking them every 0.2 s would take 100 requests a second of
    # their key, which may send 10. Four other users have one number each.
    world = WatchWorld(redis, sandbox, budget=ProviderBudget(1000, 10))
    try:
        busy = [await world.buy(9100 + n, first_check_in=0) for n in range(20)]
        others = []
        for n in range(4):
            token = f"other-user-{n}-0123456789abcdef"
            sandbox.add_account(token, "1000.00")
            others.append(await world.buy(9200 + n, first_check_in=0, token=token))
        watcher = world.watcher()
        caplog.set_level(logging.INFO, logger="bot.watcher")
        started = time.monotonic()
        world.start(watcher)
        checks = world.provider.status_checks
        await eventually(
            lambda: min(checks.get(r.id, 0) for r in others) >= 20,
            what="twenty rounds of the other users' numbers",
        )
        await world.stop_all()
        elapsed = time.monotonic() - started
    finally:
        await world.aclose()

    busy_counts = [checks.get(r.id, 0) for r in busy]
    other_counts = [checks[r.id] for r in others]
    # The busy key's numbers were checked in turn, each as often as the others of that key…
    assert min(busy_counts) >= 1
    assert max(busy_counts) - min(busy_counts) <= 2
    # …within the key's rate (its burst of 5, then 10 a second)…
    assert sum(busy_counts) <= 5 + 10 * elapsed + 1
    # …while the other users' numbers kept the interval: about 5 checks a second each against
    # 10 a second shared by 20 numbers.
    assert min(other_counts) >= 3 * max(busy_counts)
    assert watcher.stats.spaced > 0
    spaced = [r for r in caplog.records if "SMSMAN_TOKEN_RPS" in r.getMessage()]
    assert len(spaced) == 1  # told once, not for every check
    assert "user 91" in spaced[0].getMessage()  # who, never their key
    assert world.token not in caplog.text
