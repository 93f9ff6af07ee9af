"""Telegram's flood control is waited out, through a real Bot against the fake Bot API."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, SendMessage, TelegramMethod

from bot.app import create_bot
from bot.config import load_settings
from bot.telegram.flood import FloodWait
from tests.fakes.telegram import FakeTelegram


async def test_a_message_hit_by_flood_control_is_sent_after_the_wait(
    fake_telegram: FakeTelegram,
) -> None:
    user = fake_telegram.user(started=True)
    bot = create_bot(
        load_settings(bot_token=fake_telegram.token, telegram_api_url=fake_telegram.url)
    )
    try:
        fake_telegram.flood(retry_after=1, methods=["sendMessage"], count=1)
        await bot.send_message(user.chat_id, "Your code: <code>1234</code>")
    finally:
        await bot.session.close()
    assert user.last_message.text == "Your code: 1234"
    assert [call.status for call in fake_telegram.calls_of("sendMessage")] == [429, 200]


async def test_a_flood_that_outlasts_the_retries_reaches_the_caller(
    fake_telegram: FakeTelegram,
) -> None:
    user = fake_telegram.user(started=True)
    bot = create_bot(
        load_settings(bot_token=fake_telegram.token, telegram_api_url=fake_telegram.url)
    )
    try:
        fake_telegram.flood(retry_after=3600, methods=["sendMessage"], count=1)
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(user.chat_id, "hello")
    finally:
        await bot.session.close()
    assert user.messages == []


async def test_one_call_waits_out_at_most_a_minute_of_flood_control() -> None:
    """Each 429 asks for 40 s: one wait (40 s) is taken, a second would pass 60 s in all."""
    waits: list[float] = []
    calls = 0

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def flooded(bot: Bot, method: TelegramMethod[Any]) -> Response[Any]:
        nonlocal calls
        calls += 1
        raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=40)

    flood_wait = FloodWait(sleep=sleep)
    with pytest.raises(TelegramRetryAfter):
        await flood_wait(flooded, Bot("42:TEST"), SendMessage(chat_id=1, text="code"))
    assert waits == [40]
    assert calls == 2
