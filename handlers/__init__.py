"""The Telegram conversation: one router per feature, assembled here in a fixed order.

`setup_dispatcher` is called by bot.app.create_dispatcher; `set_bot_commands` by the runner
at start. Nothing else imports this package.
"""

from __future__ import annotations

from aiogram import Dispatcher, F
from aiogram.enums import ChatType
from aiogram.utils.callback_answer import CallbackAnswerMiddleware

from bot.config import Settings
from bot.i18n.translator import create_i18n
from handlers import (
    admin,
    balance,
    buy,
    errors,
    fallback,
    language,
    membership,
    numbers,
    start,
    token,
)
from handlers.commands import set_bot_commands
from handlers.middlewares import (
    CallbackThrottle,
    CommandResetsState,
    UserI18nMiddleware,
    UserRegistration,
)
from handlers.outage import RedisOutage

__all__ = ["set_bot_commands", "setup_dispatcher"]


def setup_dispatcher(dispatcher: Dispatcher, settings: Settings) -> None:
    """Middlewares first, then the routers: specific ones before catch-alls."""
    # The bot talks in private chats only; in a group it stays silent.
    dispatcher.message.filter(F.chat.type == ChatType.PRIVATE)

    i18n = create_i18n(settings)
    RedisOutage(i18n).install(dispatcher)
    dispatcher.update.outer_middleware(UserRegistration())
    UserI18nMiddleware(i18n).setup(dispatcher)
    dispatcher.callback_query.middleware(CallbackAnswerMiddleware())
    dispatcher.callback_query.middleware(CallbackThrottle())
    dispatcher.message.middleware(CommandResetsState())

    dispatcher.include_routers(
        errors.create_router(),
        admin.create_router(),  # before /balance: "/balance <user id>" is an operator's command
        start.create_router(),
        token.create_router(),
        language.create_router(),
        balance.create_router(),
        buy.create_router(),
        numbers.create_router(),
        membership.create_router(),
        fallback.create_router(),  # last: whatever nothing else took
    )
