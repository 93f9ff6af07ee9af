"""/token, /logout: the user's SMS-man API token.

The message that carried a token is deleted whatever happens next, so the secret does not
stay in the chat history.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.provider.errors import ProviderUnavailable, RateLimited, WrongToken
from bot.services.tokens import TokenService
from bot.telegram.cards import format_money
from handlers.explain import EXPECTED_ERRORS, explain
from handlers.replies import show
from handlers.start import ask_for_token_text
from handlers.states import TokenForm
from keyboards.callbacks import MenuAction, MenuCallback
from keyboards.menu import back_to_menu, buy_more_keyboard

logger = logging.getLogger(__name__)


async def token_command(
    message: Message, command: CommandObject, state: FSMContext, tokens: TokenService
) -> None:
    if command.args:
        await accept_token(message, command.args, state, tokens)
        return
    await state.set_state(TokenForm.waiting_token)
    await message.answer(await _token_prompt(message.chat.id, tokens), reply_markup=back_to_menu(_))


async def token_button(callback: CallbackQuery, state: FSMContext, tokens: TokenService) -> None:
    await state.set_state(TokenForm.waiting_token)
    await show(callback, await _token_prompt(callback.from_user.id, tokens), back_to_menu(_))


async def token_message(message: Message, state: FSMContext, tokens: TokenService) -> None:
    assert message.text is not None
    await accept_token(message, message.text, state, tokens)


async def accept_token(
    message: Message, text: str, state: FSMContext, tokens: TokenService
) -> None:
    """Delete the message, check the token with a balance call, store it, show the balance."""
    assert message.from_user is not None
    deleted = await _delete(message)
    try:
        balance = await tokens.set_token(message.from_user.id, text)
    except EXPECTED_ERRORS as error:
        await state.set_state(TokenForm.waiting_token)  # the next message may be the right one
        await message.answer(_refusal(error, deleted), reply_markup=back_to_menu(_))
        return
    await state.clear()
    lines = [
        _("✅ Token saved. Your SMS-man balance: {balance}").format(balance=format_money(balance))
    ]
    if not deleted:
        lines.append(
            _("I could not delete your message with the token: please delete it yourself.")
        )
    await message.answer("\n".join(lines), reply_markup=buy_more_keyboard(_))


async def logout(message: Message, tokens: TokenService) -> None:
    assert message.from_user is not None
    forgotten = await tokens.forget(message.from_user.id)
    if forgotten.open_numbers:
        text = ngettext(
            "🔒 Your token is deleted. {count} open number still keeps it, encrypted, to get "
            "its codes here; it is deleted when that number closes.",
            "🔒 Your token is deleted. {count} open numbers still keep it, encrypted, to get "
            "their codes here; it is deleted when they close.",
            forgotten.open_numbers,
        ).format(count=forgotten.open_numbers)
    elif forgotten.had_token:
        text = _("🔒 Your token is deleted; nothing here keeps it any more.")
    else:
        text = _("You have no token stored. Send /token to set one.")
        await message.answer(text, reply_markup=back_to_menu(_))
        return
    text += "\n" + _("Send /token to set a token again.")
    await message.answer(text, reply_markup=back_to_menu(_))


async def _token_prompt(user_id: int, tokens: TokenService) -> str:
    if await tokens.has_token(user_id):
        return (
            _(
                "You already have a token set. Send a new one to replace it, "
                "or /logout to forget it."
            )
            + "\n\n"
            + ask_for_token_text()
        )
    return ask_for_token_text()


def _refusal(error: Exception, deleted: bool) -> str:
    if isinstance(error, WrongToken):
        text = _(
            "❌ SMS-man does not accept this token, so nothing was saved. "
            "Check it and send it again."
        )
    elif isinstance(error, ProviderUnavailable | RateLimited):
        text = _(
            "SMS-man is not answering right now, so the token could not be checked and nothing "
            "was saved. Send it again in a minute."
        )
    else:
        text = explain(error)
    if not deleted:
        text += "\n" + _(
            "I could not delete your message with the token: please delete it yourself."
        )
    return text


async def _delete(message: Message) -> bool:
    try:
        await message.delete()
    except TelegramAPIError as error:
        logger.warning("Could not delete a message with a token: %s", type(error).__name__)
        return False
    return True


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(token_command, Command("token"))
    router.callback_query.register(token_button, MenuCallback.filter(F.action == MenuAction.TOKEN))
    router.message.register(token_message, TokenForm.waiting_token, F.text, ~F.text.startswith("/"))
    router.message.register(logout, Command("logout"))
    return router
