"""Middlewares: who the user is, which language they read, and how fast they may tap.

Order (set up in handlers/__init__.py): LoadUser (outer, every update: one Redis round trip
for the user and their FSM state, in place of aiogram's FSM middleware) → UserI18nMiddleware
(outer, every event) → CallbackAnswerMiddleware → CallbackThrottle (inner, only when a
handler matched).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.dispatcher.middlewares.manager import MiddlewareManager
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.fsm.strategy import FSMStrategy
from aiogram.types import CallbackQuery, Chat, TelegramObject, Update, User
from aiogram.utils.callback_answer import CallbackAnswer, CallbackAnswerMiddleware
from aiogram.utils.i18n import I18nMiddleware
from aiogram.utils.i18n import gettext as _

from bot.i18n.translator import supported_language
from bot.store.users import UserStore, Visit
from handlers.fsm import ConversationStorage, LoadedFSMContext

logger = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
UpdateMiddleware = Callable[[Handler, TelegramObject, dict[str, Any]], Awaitable[Any]]


def register_first(dispatcher: Dispatcher, middleware: UpdateMiddleware) -> None:
    """Make `middleware` the outermost update middleware, ahead of aiogram's own (errors,
    user context, FSM), which read Redis before anything registered later runs."""
    manager = dispatcher.update.outer_middleware
    _reorder(manager, [middleware, *manager])


def _reorder(manager: MiddlewareManager, middlewares: list[UpdateMiddleware]) -> None:
    """Make `middlewares` the manager's, in this order."""
    for middleware in list(manager):
        manager.unregister(middleware)
    for middleware in middlewares:
        manager.register(middleware)


class CallbackThrottle(BaseMiddleware):
    """At most `rate` button taps per `per` seconds per user; the excess is answered with
    "slow down" and never reaches a handler (so never the provider).

    Counted in Redis, so several bot processes behind one load balancer share each user's
    count: `LoadUser` counts the tap in its window (`window()`) with the rest of what it
    reads, and this middleware reads the count from `Visit.taps`. `clock` is unix time.
    """

    def __init__(
        self, rate: int = 3, per: float = 1.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._rate = rate
        self._per = per
        self.clock = clock

    def window(self) -> int:
        return int(self.clock() // self._per)

    @property
    def ttl(self) -> float:
        """How long a window's count is kept: past its end, for a clock a little behind."""
        return 2 * self._per

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        visit: Visit | None = data.get("visit")
        if not isinstance(event, CallbackQuery) or visit is None or visit.taps <= self._rate:
            return await handler(event, data)
        answer: CallbackAnswer | None = data.get("callback_answer")
        text = _("Slow down a little, please: one tap is enough.")
        if answer is not None:
            answer.text = text
        else:
            await event.answer(text)
        return None


class LoadUser(FSMContextMiddleware):
    """Who the user is and where their conversation stands, read once per update and shared:
    `data["visit"]` (`Visit`: language, encrypted token, taps in this throttle window) and
    `data["state"]` (a `LoadedFSMContext` over the state and data read along), for the
    middlewares, filters and handlers after it, and the token for the use cases they call
    (`UserStore.reading`).

    It takes the place of aiogram's FSMContextMiddleware (`install`), so that the FSM state
    comes in the same Redis round trip. That round trip also does what every update of a
    private chat does: the user is remembered (for /stats and /balances) and no longer
    counted as having blocked the bot; in groups and channels nothing is stored. A command
    starts over: it ends whatever the user was typing into (token, search), so filters and
    handlers see no state. A button tap is counted for `throttle`.
    """

    def __init__(
        self,
        storage: ConversationStorage,
        throttle: CallbackThrottle,
        events_isolation: BaseEventIsolation,
        strategy: FSMStrategy,
    ) -> None:
        super().__init__(storage=storage, events_isolation=events_isolation, strategy=strategy)
        self._conversations = storage
        self._throttle = throttle

    @classmethod
    def install(cls, dispatcher: Dispatcher, throttle: CallbackThrottle) -> LoadUser:
        """Put it where aiogram's FSM middleware is (after aiogram's user context, which says
        who sent the update), over the dispatcher's storage and event isolation."""
        fsm = dispatcher.fsm
        if not isinstance(fsm.storage, ConversationStorage):
            raise TypeError("the dispatcher's FSM storage must be a ConversationStorage")
        loader = cls(fsm.storage, throttle, fsm.events_isolation, fsm.strategy)
        manager = dispatcher.update.outer_middleware
        middlewares = list(manager)
        middlewares[middlewares.index(fsm)] = loader
        _reorder(manager, middlewares)
        dispatcher.fsm = loader
        return loader

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:  # a channel post, say: aiogram's FSM alone (nobody to read about)
            return await super().__call__(handler, event, data)
        context = self.resolve_event_context(data["bot"], data)
        data["fsm_storage"] = self.storage
        users: UserStore = data["users"]
        if context is None:
            visit = data["visit"] = await self._visit(user, event, data, conversation=None)
            with users.reading(user.id, visit):
                return await handler(event, data)
        # As aiogram's middleware does: the state is read once the update holds the lock.
        async with self.events_isolation.lock(key=context.key):
            visit = await self._visit(
                user, event, data, conversation=self._conversations.redis_key(context.key)
            )
            assert visit.conversation is not None  # read along: its key was given
            state = LoadedFSMContext(self._conversations, context.key, visit.conversation)
            data.update(visit=visit, state=state, raw_state=state.current_state)
            with users.reading(user.id, visit):
                return await handler(event, data)

    async def _visit(
        self, user: User, event: TelegramObject, data: dict[str, Any], conversation: str | None
    ) -> Visit:
        chat: Chat | None = data.get("event_chat")
        update = event if isinstance(event, Update) else None
        tap = update is not None and update.callback_query is not None
        text = update.message.text if update is not None and update.message else None
        users: UserStore = data["users"]
        return await users.visit(
            user.id,
            private=not user.is_bot and chat is not None and chat.id == user.id,
            conversation=conversation,
            start_over=text is not None and text.startswith("/"),
            tap_window=self._throttle.window() if tap else None,
            tap_ttl=self._throttle.ttl,
        )


class UserI18nMiddleware(I18nMiddleware):
    """The language the user chose with /language, else their Telegram client's, else the
    configured default."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        if user is None:
            return self.i18n.default_locale
        visit: Visit | None = data.get("visit")
        stored = visit.language if visit is not None else None
        if stored in self.i18n.available_locales:
            return stored
        from_client = supported_language(user.language_code)
        if from_client in self.i18n.available_locales:
            return from_client
        return self.i18n.default_locale


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
