"""The Telegram conversation: one router per feature, assembled here in a fixed order.

`setup_dispatcher` is called by bot.app.create_dispatcher; `set_bot_commands` by the runner
at start. Nothing else imports this package.
"""

from __future__ import annotations

from aiogram import Dispatcher, F
from aiogram.enums import ChatType

from bot.config import Settings
from bot.i18n.translator import create_i18n
from handlers import (
    admin,
    balance,
    buy,
    errors,
    fallback,
    groups,
    language,
    membership,
    numbers,
    secrets,
    start,
    token,
)
from handlers.commands import set_bot_commands
from handlers.filters import run_pure_filters_in_loop
from handlers.middlewares import (
    CallbackAnswers,
    CallbackThrottle,
    LoadUser,
    UserI18nMiddleware,
)
from handlers.outage import RedisOutage

__all__ = ["set_bot_commands", "setup_dispatcher"]


def setup_dispatcher(dispatcher: Dispatcher, settings: Settings) -> None:
    """Middlewares first, then the routers: specific ones before catch-alls."""
    i18n = create_i18n(settings)
    RedisOutage(i18n).install(dispatcher)
    throttle = CallbackThrottle()
    LoadUser.install(dispatcher, throttle)
    UserI18nMiddleware(i18n).setup(dispatcher)
    dispatcher.callback_query.middleware(CallbackAnswers())
    dispatcher.callback_query.middleware(throttle)

    # The bot talks in private chats; in a group it only points there (groups). Each
    # feature router carries the private-chat filter itself rather than all of them sitting
    # in one "private" router: every router level an update passes costs it a filter check,
    # a middleware chain and copies of its data (measured: 3 % of /help's CPU). Routers most
    # updates end in come first where order allows.
    private = (
        start.create_router(),  # /start, /help, ‹ Menu: the most frequent updates
        admin.create_router(),  # before /balance: "/balance <user id>" is an operator's command
        token.create_router(),
        language.create_router(),
        balance.create_router(),
        buy.create_router(),
        numbers.create_router(),
        membership.create_router(),
        fallback.create_router(),  # last: whatever nothing else took
    )
    for router in private:
        router.message.filter(F.chat.type == ChatType.PRIVATE)
    dispatcher.include_routers(
        secrets.create_router(),  # first, in every chat: a pasted token never goes further
        *private,  # private and group chats are disjoint: most updates are private ones
        groups.create_router(),
        errors.create_router(),  # error events only: they go through every router anyway
    )
    run_pure_filters_in_loop(dispatcher)
