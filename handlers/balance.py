"""/balance: the user's SMS-man balance."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.services.errors import NoToken
from bot.services.tokens import TokenService
from bot.telegram.cards import format_money
from handlers.explain import EXPECTED_ERRORS, explain
from handlers.replies import show
from handlers.start import ask_for_token
from keyboards.callbacks import MenuAction, MenuCallback
from keyboards.menu import back_to_menu, buy_more_keyboard


async def balance(event: Message | CallbackQuery, state: FSMContext, tokens: TokenService) -> None:
    assert event.from_user is not None
    try:
        amount = await tokens.balance(event.from_user.id)
    except NoToken:
        await ask_for_token(event, state)
        return
    except EXPECTED_ERRORS as error:
        await show(event, explain(error), back_to_menu(_))
        return
    text = _("💰 Your SMS-man balance: <b>{balance}</b>").format(balance=format_money(amount))
    await show(event, text, buy_more_keyboard(_))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(balance, Command("balance"))
    router.callback_query.register(balance, MenuCallback.filter(F.action == MenuAction.BALANCE))
    return router
