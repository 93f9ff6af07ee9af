"""Middlewares: who the user is, which language they read, and how fast they may tap.

Order (set up in handlers/__init__.py): UserRegistration (outer, every update) →
UserI18nMiddleware (outer, every event) → CallbackAnswerMiddleware → CallbackThrottle and
CommandResetsState (inner, only when a handler matched).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, User
from aiogram.utils.callback_answer import CallbackAnswer, CallbackAnswerMiddleware
from aiogram.utils.i18n import I18nMiddleware
from aiogram.utils.i18n import gettext as _

from bot.i18n.translator import supported_language
from bot.store.users import UserStore

logger = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
UpdateMiddleware = Callable[[Handler, TelegramObject, dict[str, Any]], Awaitable[Any]]


def register_first(dispatcher: Dispatcher, middleware: UpdateMiddleware) -> None:
    """Make `middleware` the outermost update middleware, ahead of aiogram's own (errors,
    user context, FSM), which read Redis before anything registered later runs."""
    manager = dispatcher.update.outer_middleware
    others = list(manager)
    for other in others:
        manager.unregister(other)
    manager.register(middleware)
    for other in others:
        manager.register(other)


class UserRegistration(BaseMiddleware):
    """Remember every user who talks to the bot in private (for /stats and /balances); in
    groups and channels nothing is stored."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if user is not None and not user.is_bot and chat is not None and chat.id == user.id:
            users: UserStore = data["users"]
            await users.register(user.id)
        return await handler(event, data)


class UserI18nMiddleware(I18nMiddleware):
    """The language the user chose with /language, else their Telegram client's, else the
    configured default."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        if user is None:
            return self.i18n.default_locale
        users: UserStore = data["users"]
        stored = await users.get_language(user.id)
        if stored in self.i18n.available_locales:
            return stored
        from_client = supported_language(user.language_code)
        if from_client in self.i18n.available_locales:
            return from_client
        return self.i18n.default_locale


class CallbackThrottle(BaseMiddleware):
    """At most `rate` button taps per `per` seconds per user; the excess is answered with
    "slow down" and never reaches a handler (so never the provider).

    Counted in Redis (`UserStore.count_tap`, one round trip), so several bot processes
    behind one load balancer share each user's count. `clock` is unix time.
    """

    def __init__(
        self, rate: int = 3, per: float = 1.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._rate = rate
        self._per = per
        self.clock = clock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if not isinstance(event, CallbackQuery) or user is None:
            return await handler(event, data)
        users: UserStore = data["users"]
        window = int(self.clock() // self._per)
        if await users.count_tap(user.id, window, ttl=2 * self._per) > self._rate:
            answer: CallbackAnswer | None = data.get("callback_answer")
            text = _("Slow down a little, please: one tap is enough.")
            if answer is not None:
                answer.text = text
            else:
                await event.answer(text)
            return None
        return await handler(event, data)


class CallbackAnswers(CallbackAnswerMiddleware):
    """aiogram's CallbackAnswerMiddleware (every tap is answered, after its handler), except
    that Telegram's "query is too old" is no error: the tap's work is done (e.g. behind a slow
    provider), only its spinner ran out, so the user must not be told something failed."""

    def answer(  # type: ignore[override]
        self, event: CallbackQuery, callback_answer: CallbackAnswer
    ) -> Awaitable[object]:
        return self._answer(event, callback_answer)

    async def _answer(self, event: CallbackQuery, callback_answer: CallbackAnswer) -> object:
        try:
            return await super().answer(event, callback_answer)
        except TelegramBadRequest as error:
            if not any(part in error.message.lower() for part in _EXPIRED_QUERY):
                raise
            logger.info("A tap was answered after Telegram's time limit; its work was done")
            return None


_EXPIRED_QUERY = ("query is too old", "query id is invalid")


class CommandResetsState(BaseMiddleware):
    """A command starts over: it ends whatever the user was typing into (token, search)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        state: FSMContext | None = data.get("state")
        if (
            isinstance(event, Message)
            and event.text is not None
            and event.text.startswith("/")
            and state is not None
            and await state.get_state() is not None
        ):
            await state.clear()
        return await handler(event, data)
