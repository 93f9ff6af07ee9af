"""The real watcher under the provider budget, against Redis and the sandbox over real HTTP:
a user's tap overtakes the watcher's backlog."""

from __future__ import annotations

import httpx
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
