"""Webhook mode under a burst: at most `in_flight` updates are handled at once, and the
answer to Telegram for the next one waits for a free slot (so Telegram holds the rest back);
no update is dropped."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Message
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.runtime.webhook import BoundedRequestHandler

SECRET = "s3cret"


def message_update(update_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": update_id, "type": "private"},
            "from": {"id": update_id, "is_bot": False, "first_name": "U"},
            "text": "hi",
        },
    }


async def test_the_webhook_holds_telegram_back_instead_of_dropping_updates() -> None:
    release = asyncio.Event()
    running = 0
    most = 0
    handled: list[int] = []
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def slow(message: Message) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        handled.append(message.message_id)
        running -= 1

    bot = Bot("42:TEST")
    handler = BoundedRequestHandler(dispatcher, bot, secret_token=SECRET, in_flight=2)
    app = web.Application()
    app.router.add_post("/hook", handler.handle)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        posts = [
            asyncio.create_task(client.post("/hook", json=message_update(n), headers=headers))
            for n in range(1, 6)
        ]
        for _ in range(500):  # until two are being handled (bounded for a failing test)
            if running == 2 and sum(post.done() for post in posts) == 2:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        # Two slots taken and answered; Telegram's other requests wait for an answer.
        assert running == 2
        assert sum(post.done() for post in posts) == 2

        release.set()
        responses = await asyncio.gather(*posts)
        assert all(response.status == 200 for response in responses)
        for _ in range(50):
            if len(handled) == 5:
                break
            await asyncio.sleep(0.02)
        assert sorted(handled) == [1, 2, 3, 4, 5]  # every update handled
        assert most == 2
    finally:
        await client.close()
        await bot.session.close()
