"""What nothing else handled: unknown commands, stray text, stale buttons. Included last."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from keyboards.menu import main_menu


async def unknown_command(message: Message) -> None:
    await message.answer(
        _("Sorry, I don't know this command. /help shows what I can do."),
        reply_markup=main_menu(_),
    )


async def anything_else(message: Message) -> None:
    await message.answer(_("Please use the menu below."), reply_markup=main_menu(_))


async def stale_button(callback: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    callback_answer.text = _("This button no longer works. Open the menu with /start.")


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(anything_else)
    router.callback_query.register(stale_button)
    return router
