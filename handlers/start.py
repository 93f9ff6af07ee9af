"""/start, /help and the main menu."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.store.users import Visit
from handlers.replies import show
from handlers.states import TokenForm
from keyboards.callbacks import MenuAction, MenuCallback, Noop
from keyboards.menu import back_to_menu, main_menu


def greeting(name: str) -> str:
    return _(
        "👋 Hello, {name}!\n\n"
        "I get you virtual phone numbers from SMS-man to receive SMS codes: choose a service "
        "(Telegram, WhatsApp, Google…) and a country, and you get a number at once. The code "
        "appears here as soon as the SMS arrives. No code — cancel, and the money comes back.\n\n"
        "You pay from your own SMS-man balance, through your API token."
    ).format(name=escape(name))


def ask_for_token_text() -> str:
    return _(
        "🔑 First, send me your SMS-man API token: copy it from sms-man.com → Profile → API "
        "and paste it here as a message. I delete the message right after reading it."
    )


async def ask_for_token(event: Message | CallbackQuery, state: FSMContext) -> None:
    """The user has no token yet: ask for it and take the next message as the token."""
    await state.set_state(TokenForm.waiting_token)
    await show(event, ask_for_token_text(), back_to_menu(_))


async def start(message: Message, state: FSMContext, visit: Visit) -> None:
    assert message.from_user is not None
    text = greeting(message.from_user.first_name)
    if visit.has_token:
        await message.answer(
            text + "\n\n" + _("What would you like to do?"), reply_markup=main_menu(_)
        )
        return
    await state.set_state(TokenForm.waiting_token)
    await message.answer(text + "\n\n" + ask_for_token_text(), reply_markup=main_menu(_))


def help_text() -> str:
    return _(
        "<b>How it works</b>\n"
        "1. Set your SMS-man API token: /token\n"
        "2. Buy a number: /buy — choose a service, then a country, then confirm the price.\n"
        "3. Use the number where you sign up. The code comes here by itself.\n"
        "4. No code? Cancel the number and the money returns to your balance. Got a code? "
        "Ask for another one or finish.\n\n"
        "<b>Commands</b>\n"
        "/buy — buy a number\n"
        "/numbers — your numbers and codes\n"
        "/balance — your SMS-man balance\n"
        "/token — set your API token, /logout — forget it\n"
        "/language — English or Russian"
    )


async def help_command(message: Message) -> None:
    await message.answer(help_text(), reply_markup=main_menu(_))


async def help_button(callback: CallbackQuery) -> None:
    await show(callback, help_text(), main_menu(_))


async def main_menu_button(callback: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await show(callback, _("What would you like to do?"), main_menu(_))


async def noop(callback: CallbackQuery) -> None:
    """The "page 2/5" label: nothing to do (the answer middleware answers the tap)."""


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(start, CommandStart())
    router.message.register(help_command, Command("help"))
    router.callback_query.register(help_button, MenuCallback.filter(F.action == MenuAction.HELP))
    router.callback_query.register(
        main_menu_button, MenuCallback.filter(F.action == MenuAction.MAIN)
    )
    router.callback_query.register(noop, Noop.filter())
    return router
