"""The whole bot as an operator runs it: `python -m bot` in a subprocess, over real HTTP.

Telegram is the strict fake (tests/fakes/telegram.py) and SMS-man the sandbox, both served
from the test's event loop; tests act as Telegram users and check what the bot sent, what
the sandbox's money says and how the process starts and stops. Scenarios about buying run
once per SMS-man protocol.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from redis import Redis as SyncRedis
from redis.exceptions import RedisError

from bot.runtime.redis_server import free_port
from tests.fakes.telegram import ChatMessage, FakeTelegram, FakeUser
from tests.fixtures.e2e import BotProcess, LaunchBot, start_polling_bot, wait_for
from tests.fixtures.sandbox import SandboxHandle

pytestmark = pytest.mark.timeout(90)

STEP = 15.0  # bound of one wait for the bot; only a failing test waits that long


# --- what a user does ---------------------------------------------------------------------


async def press(user: FakeUser, label: str, message: ChatMessage | None = None) -> None:
    """Press a button (by part of its label) like a person: again if told to slow down
    (the bot takes at most 3 taps a second from one user; tests tap faster than people)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP
    while True:
        query_id = await user.press(label, contains=True, message=message)
        answer = await user.wait_for_answer(query_id, timeout=STEP)
        if "Slow down" not in (answer.text or ""):
            return
        assert loop.time() < deadline, "the bot kept asking to slow down"
        await asyncio.sleep(0.25)


async def set_token(user: FakeUser, token: str) -> ChatMessage:
    """/token <token>: the message disappears and the balance is shown."""
    sent = await user.send(f"/token {token}")
    await user.wait_for_deletion(sent, timeout=STEP)
    return await user.wait_for_message("Token saved", timeout=STEP)


async def open_confirmation(user: FakeUser) -> ChatMessage:
    """/buy → Telegram → India: the confirmation with its ✅ Buy button."""
    await user.send("/buy")
    await user.wait_for_message("Choose a service", timeout=STEP)
    await user.send("Telegram")
    await user.wait_for_message("Services matching", timeout=STEP)
    await press(user, "Telegram")
    await user.wait_for_message("choose a country", timeout=STEP)
    await user.send("India")
    await user.wait_for_message("countries matching", timeout=STEP)
    await press(user, "India")
    return await user.wait_for_message("Confirm the purchase", timeout=STEP)


def new_activation(sandbox: SandboxHandle, before: set[int]) -> int:
    bought = [a.id for a in sandbox.state.activations.values() if a.id not in before]
    assert len(bought) == 1, bought
    return bought[0]


async def buy_number(user: FakeUser, sandbox: SandboxHandle) -> tuple[ChatMessage, int]:
    """/buy → Telegram → India → Buy: the number card and the sandbox's activation id."""
    before = set(sandbox.state.activations)
    await open_confirmation(user)
    await press(user, "Buy for")
    card = await user.wait_for_message("Waiting for the SMS", timeout=STEP)
    return card, new_activation(sandbox, before)


def on(message: ChatMessage, card: ChatMessage) -> bool:
    """`message` (a snapshot as of one send or edit) is the card."""
    return message.message_id == card.message_id


def pushes_of(user: FakeUser, code: str) -> list[ChatMessage]:
    """The code messages (not the card) that carry `code`."""
    return [m for m in user.messages if "Code for" in m.text and code in m.text]


def assert_no_token_in_log(process: BotProcess, fake: FakeTelegram, *tokens: str) -> None:
    """Neither the bot token nor a user's SMS-man token is in the log (DEBUG level)."""
    log = process.log()
    assert fake.token not in log
    for token in tokens:
        assert token not in log
    assert "/bot***/" in log or "getUpdates" not in log  # if a URL was logged, redacted


# --- scenarios ----------------------------------------------------------------------------


async def test_onboarding_buy_and_codes_pushed(
    protocol: str, launch_bot: LaunchBot, fake_telegram: FakeTelegram, sandbox: SandboxHandle
) -> None:
    bot = await start_polling_bot(launch_bot, fake_telegram)
    assert fake_telegram.calls_of("deleteWebhook")
    assert fake_telegram.calls_of("setMyCommands")
    user = fake_telegram.user()

    await user.send("/start")
    await user.wait_for_message("Hello", timeout=STEP)
    saved = await set_token(user, sandbox.token)
    assert "1000" in saved.text

    card, activation_id = await buy_number(user, sandbox)
    balance_after_buy = sandbox.balance(sandbox.token)
    assert balance_after_buy < Decimal("1000.00")

    sandbox.deliver_sms(activation_id, "481516")
    push = await user.wait_for_message(lambda m: "Code for" in m.text, timeout=STEP)
    assert "481516" in push.text
    assert push is not card  # a new message, so the phone notifies
    await user.wait_for_message(lambda m: on(m, card) and "481516" in m.text, timeout=STEP)

    await press(user, "Another code", card)
    await user.wait_for_message(lambda m: on(m, card) and "another SMS" in m.text, timeout=STEP)
    sandbox.deliver_sms(activation_id, "234200")
    second = await user.wait_for_message(
        lambda m: "Code for" in m.text and "234200" in m.text, timeout=STEP
    )
    assert second is not push
    await user.wait_for_message(lambda m: on(m, card) and "234200" in m.text, timeout=STEP)
    assert sandbox.balance(sandbox.token) == balance_after_buy  # codes cost nothing more

    assert await bot.terminate() == 0
    assert [m.text for m in pushes_of(user, "481516")] == [push.text]
    assert_no_token_in_log(bot, fake_telegram, sandbox.token)


async def test_cancel_gives_the_money_back(
    protocol: str, launch_bot: LaunchBot, fake_telegram: FakeTelegram, sandbox: SandboxHandle
) -> None:
    await start_polling_bot(launch_bot, fake_telegram)
    user = fake_telegram.user()
    await set_token(user, sandbox.token)
    card, activation_id = await buy_number(user, sandbox)
    assert sandbox.balance(sandbox.token) < Decimal("1000.00")

    await press(user, "Cancel", card)
    await user.wait_for_message(lambda m: on(m, card) and "Cancelled" in m.text, timeout=STEP)
    assert sandbox.balance(sandbox.token) == Decimal("1000.00")
    assert sandbox.activation(activation_id).status == "cancelled"


async def test_replace_swaps_a_silent_number_for_a_new_one_and_its_code_arrives(
    protocol: str, launch_bot: LaunchBot, fake_telegram: FakeTelegram, sandbox: SandboxHandle
) -> None:
    await start_polling_bot(launch_bot, fake_telegram)
    user = fake_telegram.user()
    await set_token(user, sandbox.token)
    card, first = await buy_number(user, sandbox)
    price = Decimal("1000.00") - sandbox.balance(sandbox.token)
    before = set(sandbox.state.activations)

    await press(user, "Replace", card)
    await user.wait_for_message(
        lambda m: on(m, card) and "Waiting for the SMS" in m.text, timeout=STEP
    )
    second = new_activation(sandbox, before)
    assert sandbox.activation(first).status == "cancelled"
    assert sandbox.balance(sandbox.token) == Decimal("1000.00") - price, "paid once, not twice"
    assert sandbox.activation(second).number[-6:] in card.text.replace(" ", "")

    sandbox.deliver_sms(second, "424242")
    await user.wait_for_message(lambda m: "Code for" in m.text and "424242" in m.text, timeout=STEP)
    assert not pushes_of(user, "424242")[1:], "pushed once"


async def test_no_sms_in_time_is_cancelled_and_refunded(
    protocol: str, launch_bot: LaunchBot, fake_telegram: FakeTelegram, sandbox: SandboxHandle
) -> None:
    await start_polling_bot(launch_bot, fake_telegram, env={"ACTIVATION_TIMEOUT": "2"})
    user = fake_telegram.user()
    await set_token(user, sandbox.token)
    card, activation_id = await buy_number(user, sandbox)

    await user.wait_for_message(lambda m: on(m, card) and "No SMS in time" in m.text, timeout=STEP)
    assert sandbox.activation(activation_id).status == "cancelled"
    assert sandbox.balance(sandbox.token) == Decimal("1000.00")


async def test_code_that_arrived_while_killed_is_delivered_once(
    protocol: str, launch_bot: LaunchBot, fake_telegram: FakeTelegram, sandbox: SandboxHandle
) -> None:
    first = await start_polling_bot(launch_bot, fake_telegram)
    user = fake_telegram.user()
    await set_token(user, sandbox.token)
    card, activation_id = await buy_number(user, sandbox)

    await first.kill()  # SIGKILL: no shutdown at all
    sandbox.deliver_sms(activation_id, "777001")

    second = await start_polling_bot(launch_bot, fake_telegram)
    await user.wait_for_message(lambda m: "Code for" in m.text and "777001" in m.text, timeout=STEP)
    await user.wait_for_message(lambda m: on(m, card) and "777001" in m.text, timeout=STEP)
    assert await second.terminate() == 0  # nothing can be sent after this
    assert len(pushes_of(user, "777001")) == 1


async def test_a_watcher_only_process_delivers_codes(
    launch_bot: LaunchBot, fake_telegram: FakeTelegram, sandbox: SandboxHandle
) -> None:
    watcher = launch_bot("watcher")  # starts alongside the bot, on the same REDIS_URL
    bot = await start_polling_bot(launch_bot, fake_telegram)
    user = fake_telegram.user()
    await set_token(user, sandbox.token)
    card, activation_id = await buy_number(user, sandbox)
    await watcher.wait_for_log("Watcher-only process")
    assert await bot.terminate() == 0  # from now on only the watcher process can push

    polls = len(fake_telegram.calls_of("getUpdates"))
    sandbox.deliver_sms(activation_id, "310031")
    await user.wait_for_message(lambda m: "Code for" in m.text and "310031" in m.text, timeout=STEP)
    await user.wait_for_message(lambda m: on(m, card) and "310031" in m.text, timeout=STEP)
    assert await watcher.terminate(signal.SIGINT) == 0
    assert len(fake_telegram.calls_of("getUpdates")) == polls  # it takes no updates
    assert len(pushes_of(user, "310031")) == 1


async def test_shutdown_lets_a_purchase_in_flight_finish(
    launch_bot: LaunchBot, fake_telegram: FakeTelegram, sandbox: SandboxHandle
) -> None:
    bot = await start_polling_bot(launch_bot, fake_telegram)
    user = fake_telegram.user()
    await set_token(user, sandbox.token)
    before = set(sandbox.state.activations)
    confirmation = await open_confirmation(user)
    sandbox.set_fault("slow", delay=1.5, methods=["get-number", "getNumber"], count=1)
    await user.press("Buy for", contains=True)
    await user.wait_for_message("Buying the number", timeout=STEP)

    bot.process.send_signal(signal.SIGTERM)  # while SMS-man is still answering the purchase
    assert await bot.wait_exit() == 0
    card = user._find_message(confirmation)
    assert "Waiting for the SMS" in card.text  # the purchase was finished and shown
    activation_id = new_activation(sandbox, before)

    # ...and fully recorded: a restarted bot delivers its code.
    await start_polling_bot(launch_bot, fake_telegram)
    sandbox.deliver_sms(activation_id, "909090")
    await user.wait_for_message(lambda m: on(m, card) and "909090" in m.text, timeout=STEP)


# --- webhook ------------------------------------------------------------------------------


async def test_webhook_mode_checks_the_secret(
    launch_bot: LaunchBot, fake_telegram: FakeTelegram, sandbox: SandboxHandle
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    bot = launch_bot(
        env={
            "WEBHOOK_URL": url,
            "WEBHOOK_SECRET": "e2e-secret_1",
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
        }
    )
    await wait_for(lambda: fake_telegram.webhook_url == url, STEP, bot, "setWebhook")
    set_webhook = fake_telegram.calls_of("setWebhook")[-1]
    assert set_webhook.params["secret_token"] == "e2e-secret_1"
    assert "callback_query" in set_webhook.params["allowed_updates"]

    # Telegram's deliveries carry the secret: the bot answers.
    user = fake_telegram.user()
    await user.send("/start")
    await user.wait_for_message("Hello", timeout=STEP)

    # Anyone else's are refused and never reach a handler.
    answered = len(user.messages)
    for secret in (None, "wrong-secret"):
        update = user.build_message_update("/help")
        assert await fake_telegram.post_raw_update(url, update, secret=secret) == 401
    update = user.build_message_update("/help")
    assert await fake_telegram.post_raw_update(url, update, secret="e2e-secret_1") == 200
    await user.wait_for_message("How it works", timeout=STEP)
    assert len(user.messages) == answered + 1

    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        assert response.status == 200
        assert await response.json() == {
            "status": "ok",
            "checks": {"redis": "ok", "provider": "ok"},
        }

    assert not fake_telegram.calls_of("getUpdates")
    assert await bot.terminate() == 0
    assert fake_telegram.webhook_url == url  # kept: Telegram holds updates until we are back
    assert_no_token_in_log(bot, fake_telegram)
    assert "e2e-secret_1" not in bot.log()


# --- start and stop -----------------------------------------------------------------------


async def test_missing_bot_token_is_one_line_and_exit_2(launch_bot: LaunchBot) -> None:
    bot = launch_bot(env={"BOT_TOKEN": None})
    assert await bot.wait_exit() == 2
    lines = bot.log().strip().splitlines()
    assert len(lines) == 1, lines
    assert "BOT_TOKEN" in lines[0]


async def test_a_token_telegram_rejects_is_one_line_and_exit_2(
    launch_bot: LaunchBot, fake_telegram: FakeTelegram
) -> None:
    bot = launch_bot(env={"BOT_TOKEN": "999999:NOT-THE-FAKES-TOKEN"})
    assert await bot.wait_exit() == 2
    last = bot.log().strip().splitlines()[-1]
    assert last == "error: BOT_TOKEN: Telegram rejected the token (401 Unauthorized)"
    assert "NOT-THE-FAKES-TOKEN" not in bot.log()


def _answers_ping(unix_socket: str) -> bool:
    client = SyncRedis(unix_socket_path=unix_socket, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()


async def test_embedded_redis_persists_and_sigterm_stops_cleanly(
    launch_bot: LaunchBot, fake_telegram: FakeTelegram, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    data_dir = tmp_path / "embedded"
    env: dict[str, str | None] = {"REDIS_URL": None, "DATA_DIR": str(data_dir)}
    first = await start_polling_bot(launch_bot, fake_telegram, env=env)
    assert "started the embedded redis-server" in first.log()
    unix_socket = (data_dir / "redis" / "embedded.socket").read_text().strip()
    assert _answers_ping(unix_socket)

    user = fake_telegram.user()
    await set_token(user, sandbox.token)

    assert await first.terminate(signal.SIGTERM) == 0
    log = first.log()
    assert "Received SIGTERM" in log
    assert "embedded redis-server stopped" in log
    assert "Traceback" not in log
    assert not _answers_ping(unix_socket)
    assert not (data_dir / "redis" / "embedded.socket").exists()
    assert list((data_dir / "redis").glob("appendonly*"))  # AOF on disk
    assert fake_telegram.pending_updates == []  # handled updates were confirmed

    # The token survived the restart: /start greets with the menu, not the token prompt.
    second = await start_polling_bot(launch_bot, fake_telegram, env=env)
    await user.send("/start")
    await user.wait_for_message("What would you like to do?", timeout=STEP)
    assert await second.terminate(signal.SIGINT) == 0


def assert_start_failed_saying(process: BotProcess, *named: str) -> None:
    """The process said why it could not start in one line (the last), with no traceback."""
    log = process.log()
    assert "Traceback" not in log
    last = log.strip().splitlines()[-1]
    assert last.startswith("error: ")
    for text in named:
        assert text in last, last


async def test_bot_with_unreachable_redis_says_so(launch_bot: LaunchBot) -> None:
    bot = launch_bot(env={"REDIS_URL": f"redis://:hunter2@127.0.0.1:{free_port()}/0"})
    assert await bot.wait_exit() == 2
    assert_start_failed_saying(bot, "cannot reach Redis at redis://127.0.0.1:", "REDIS_URL")
    assert "hunter2" not in bot.log()


def without_root_privileges(tmp_path: Path) -> str:
    """A Python that runs the bot as an ordinary user would: for root, one without the
    capabilities that let root write anywhere."""
    if os.geteuid() != 0:
        return sys.executable
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    if shutil.which("setpriv") is None or subprocess.run([*drop, "true"]).returncode != 0:
        pytest.skip("running as root without setpriv to give up the power to write anywhere")
    wrapper = tmp_path / "python-unprivileged"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(drop)} -- {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


async def test_a_data_dir_the_bot_cannot_write_is_one_line_and_exit_2(
    launch_bot: LaunchBot, tmp_path: Path
) -> None:
    data_dir = tmp_path / "volume"
    data_dir.mkdir()
    data_dir.chmod(0o555)  # e.g. a bind mount owned by another user
    bot = launch_bot(
        env={"REDIS_URL": None, "DATA_DIR": str(data_dir)},
        python=without_root_privileges(tmp_path),
    )
    assert await bot.wait_exit() == 2
    assert_start_failed_saying(bot, "DATA_DIR", str(data_dir), "Permission denied", "uid")
    assert list(data_dir.iterdir()) == []


async def test_a_webhook_port_in_use_is_one_line_and_exit_2(
    launch_bot: LaunchBot, fake_telegram: FakeTelegram
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = launch_bot(
            env={
                "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
                "WEBHOOK_SECRET": "e2e-secret_1",
                "WEBHOOK_HOST": "127.0.0.1",
                "WEBHOOK_PORT": str(port),
            }
        )
        assert await bot.wait_exit() == 2
    assert_start_failed_saying(bot, "WEBHOOK_PORT", f"127.0.0.1:{port}")
    assert fake_telegram.webhook_url is None


async def test_blocking_the_bot_refunds_waiting_numbers_within_seconds_and_a_return_shows_it(
    launch_bot: LaunchBot, fake_telegram: FakeTelegram, sandbox: SandboxHandle
) -> None:
    # A long interval: only the my_chat_member update can make the bot react this fast.
    await start_polling_bot(launch_bot, fake_telegram, env={"POLL_INTERVAL": "30"})
    user = fake_telegram.user()
    await set_token(user, sandbox.token)
    card, activation_id = await buy_number(user, sandbox)

    user.block()
    await wait_for(
        lambda: sandbox.activation(activation_id).status == "cancelled",
        STEP,
        None,
        "the number to be cancelled",
    )
    assert sandbox.balance(sandbox.token) == Decimal("1000.00")

    user.unblock()  # the card says what happened while they were away
    await user.wait_for_message(
        lambda m: on(m, card) and "while you had blocked the bot" in m.text, timeout=STEP
    )
    # Back for good: a new number is theirs, not cancelled.
    _card, second = await buy_number(user, sandbox)
    await asyncio.sleep(1)
    assert sandbox.activation(second).status != "cancelled"
