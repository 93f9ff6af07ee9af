"""Telegram flood control: a request answered "retry after N seconds" is sent again.

Installed on the bot's session, so every handler's reply and every notification honours
`TelegramRetryAfter` the same way. Waits longer than `max_wait` are not waited out here:
the error goes up to the caller (the watcher keeps its work and retries later).
"""

from __future__ import annotations

import asyncio
import logging
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
    def __init__(self, *, attempts: int = 3, max_wait: float = 30.0) -> None:
        self._attempts = attempts
        self._max_wait = max_wait

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        for attempt in range(1, self._attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt == self._attempts or error.retry_after > self._max_wait:
                    raise
                logger.warning(
                    "Telegram flood control on %s: waiting %s s",
                    type(method).__name__,
                    error.retry_after,
                )
                await asyncio.sleep(error.retry_after)
        raise AssertionError("unreachable")  # pragma: no cover
