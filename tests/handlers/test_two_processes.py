"""Two bot processes behind one load balancer (same Redis, same key): one user's updates
alternate between them and the conversation goes on as with one."""

from __future__ import annotations

import asyncio

from tests.fixtures.bot import MakeHarness
from tests.fixtures.sandbox import SandboxHandle
from tests.handlers.conftest import ALICE, ALICE_TOKEN, with_token


async def test_updates_alternating_between_two_processes_buy_once(
    make_harness: MakeHarness, sandbox: SandboxHandle
) -> None:
    first, second = await make_harness(), await make_harness()
    alice = await with_token(first, sandbox, ALICE, ALICE_TOKEN, "500", first_name="Alice")
    also_alice = second.user(ALICE, first_name="Alice")

    await alice.send("/buy")  # process 1
    countries = await alice.click("Telegram")  # process 1
    # The chosen service is in the FSM state in Redis: process 2 goes on from there.
    confirmation = await alice.click(countries.last.labels[0])
    buy = alice.button_data("✅ Buy", on=confirmation.last)

    # A double tap whose two halves reach different processes.
    screens = await asyncio.gather(
        alice.tap(buy, confirmation.last), also_alice.tap(buy, confirmation.last, pause=0.1)
    )

    bought = [a for a in sandbox.state.activations.values() if a.token == ALICE_TOKEN]
    assert len(bought) == 1
    alerts = sorted(screen.alert for screen in screens)
    assert any("Number bought" in alert for alert in alerts), alerts
    assert any("lready" in alert for alert in alerts), alerts
    records = await second.open_activations(ALICE)  # both see the one number
    assert [r.id for r in records] == [str(bought[0].id)]
