"""Telegram flood control, the one layer of it: a request answered "retry after N seconds"
is sent again after the wait.

Installed on the bot's session, so every handler's reply and every notification honours
`TelegramRetryAfter` the same way. A call waits at most `max_total_wait` seconds in all
(`attempts` tries): a longer flood goes up to the caller as `TelegramRetryAfter` (the watcher
keeps its work and retries later), so no call holds an activation's lock for minutes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)


class FloodWait(BaseRequestMiddleware):
    def __init__(
        self,
        *,
        attempts: int = 3,
        max_total_wait: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.attempts = attempts
        self.max_total_wait = max_total_wait
        self.sleep = sleep

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        waited = 0.0
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                wait = float(error.retry_after)
                if attempt == self.attempts or waited + wait > self.max_total_wait:
                    raise
                logger.warning(
                    "Telegram flood control on %s: waiting %s s", type(method).__name__, wait
                )
                await self.sleep(wait)
                waited += wait
        raise AssertionError("unreachable")  # pragma: no cover
