"""When Redis cannot be reached, the user hears so instead of silence.

Every update reads Redis before any handler runs (the user and their FSM state), so a Redis
outage would fail every update in the middlewares, where no handler can answer, and the
errors router would take an outage inside a handler for a bug. `RedisOutage` sits
outermost: it answers from memory, in the language of the user's Telegram client
("temporarily unavailable, try again"), answers the tapped button so its spinner stops, and
logs the outage at most every half minute. The bot resumes by itself when Redis is back:
nothing here holds state about the outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent, TelegramObject, Update
from aiogram.utils.i18n import I18n

from bot.i18n.translator import supported_language, translator
from bot.store import REDIS_DOWN
from handlers.middlewares import register_first

logger = logging.getLogger(__name__)

LOG_EVERY = 30.0

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class RedisOutage(BaseMiddleware):
    def __init__(self, i18n: I18n, clock: Callable[[], float] = time.monotonic) -> None:
        self._i18n = i18n
        self._clock = clock
        self._missed = 0
        self._logged_at = float("-inf")

    def install(self, dispatcher: Dispatcher) -> None:
        """Register ahead of every other update middleware (aiogram's own included), and let
        an outage through aiogram's error handling to here: the errors router would apologise
        for a failure, where the user should hear "try again in a minute"."""
        register_first(dispatcher, self)
        dispatcher.errors.outer_middleware(self._outage_is_not_an_error)

    @staticmethod
    async def _outage_is_not_an_error(
        handler: Handler, event: TelegramObject, data: dict[str, Any]
    ) -> Any:
        if isinstance(event, ErrorEvent) and isinstance(event.exception, REDIS_DOWN):
            raise event.exception
        return await handler(event, data)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        except REDIS_DOWN as error:
            self._note(error)
            if isinstance(event, Update):
                await self._apologise(event, data["bot"])
            return None

    def _note(self, error: Exception) -> None:
        self._missed += 1
        now = self._clock()
        if now - self._logged_at >= LOG_EVERY:
            logger.warning(
                "Redis is unreachable: %d update(s) answered with 'temporarily unavailable' "
                "(last: %s)",
                self._missed,
                type(error).__name__,
            )
            self._missed = 0
            self._logged_at = now

    async def _apologise(self, update: Update, bot: Bot) -> None:
        query, message = update.callback_query, update.message
        user = query.from_user if query is not None else message.from_user if message else None
        if user is None or user.is_bot:
            return
        language = supported_language(user.language_code) or self._i18n.default_locale
        _ = translator(self._i18n, language)
        text = _("⏳ I am temporarily unavailable. Please try again in a minute.")
        try:
            if query is not None:
                await bot.answer_callback_query(query.id, text=text, show_alert=True)
            elif message is not None and message.chat.type == ChatType.PRIVATE:
                await bot.send_message(message.chat.id, text)
        except TelegramAPIError as error:
            logger.info("Could not tell a user about the outage: %s", type(error).__name__)
