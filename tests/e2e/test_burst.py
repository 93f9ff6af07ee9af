"""A burst of updates, as Telegram delivers after an outage or a post in a big channel:
every one is answered, with bounded concurrency and back-pressure, nothing dropped."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.fakes.telegram import FakeTelegram, FakeUser
from tests.fixtures.e2e import LaunchBot, start_polling_bot
from tests.support.report import report

pytestmark = pytest.mark.timeout(120)

USERS = 1000
TAPS = 300


async def test_a_burst_of_a_thousand_users_is_answered_in_full(
    launch_bot: LaunchBot, fake_telegram: FakeTelegram
) -> None:
    fake = fake_telegram
    # A small cap makes the queueing visible: 1,000 updates wait for 16 slots.
    process = await start_polling_bot(
        launch_bot, fake, env={"LOG_LEVEL": "INFO", "UPDATES_IN_FLIGHT": "16"}
    )
    tapper = fake.user(1, "Tapper")
    await tapper.send("/start")
    await tapper.wait_for_message("", timeout=15)
    users = [fake.user(10_000 + n, f"User{n}") for n in range(USERS)]

    started = time.monotonic()
    for user in users:
        await user.send("/start")
    # The same moment, one user hammers a button of their menu.
    menu = tapper.last_message
    queries = [await tapper.press(menu.button_texts[0], message=menu) for _ in range(TAPS)]

    async def answered(user: FakeUser) -> None:
        await user.wait_for_message("", timeout=90)

    await asyncio.gather(*(answered(user) for user in users))
    answers = await asyncio.gather(
        *(tapper.wait_for_answer(query, timeout=90) for query in queries)
    )
    elapsed = time.monotonic() - started

    assert all(user.messages for user in users)
    assert len(answers) == TAPS
    log = process.log()
    assert "Traceback" not in log and "MaxConnectionsError" not in log
    report(
        f"burst: {len(users)} of {USERS} /start answered and {len(answers)} of {TAPS} taps "
        f"answered in {elapsed:.1f} s (all sent at once; UPDATES_IN_FLIGHT=16)"
    )
