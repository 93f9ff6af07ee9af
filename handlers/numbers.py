"""/numbers and the buttons of a number card: cancel, another code, finish."""

from __future__ import annotations

import time

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _

from bot.services.activations import ActivationService
from bot.services.errors import (
    ActivationClosed,
    CancelRefused,
    CodeAlreadyReceived,
    NoCodeYet,
    NotYourActivation,
)
from bot.store.activations import ActivationRecord
from bot.telegram.cards import render_card, render_history
from handlers.explain import EXPECTED_ERRORS, explain
from handlers.replies import edit_by_id, edit_message, fit_alert
from handlers.taps import Tap
from keyboards.callbacks import CardAction, CardCallback, MenuAction, MenuCallback
from keyboards.card import card_keyboard
from keyboards.menu import buy_more_keyboard

OPEN_CARDS_SHOWN = 10
HISTORY_SHOWN = 5


async def my_numbers(
    event: Message | CallbackQuery, bot: Bot, activation_service: ActivationService
) -> None:
    """Each open number as its card (buttons work), then the last closed ones with codes."""
    assert event.from_user is not None
    chat_id = event.from_user.id
    open_records, closed = await activation_service.for_user(event.from_user.id)
    if not open_records and not closed:
        await bot.send_message(
            chat_id, _("You have no numbers yet."), reply_markup=buy_more_keyboard(_)
        )
        return
    now, language = time.time(), get_i18n().current_locale
    for record in reversed(open_records[:OPEN_CARDS_SHOWN]):  # the newest ends up at the bottom
        await bot.send_message(
            chat_id,
            render_card(record, _, now, language=language),
            reply_markup=card_keyboard(record, _),
        )
    if len(open_records) > OPEN_CARDS_SHOWN:
        await bot.send_message(
            chat_id,
            _("…and {count} more open numbers.").format(count=len(open_records) - OPEN_CARDS_SHOWN),
        )
    footer = render_history(closed[:HISTORY_SHOWN], _) if closed else _("No closed numbers yet.")
    await bot.send_message(chat_id, footer, reply_markup=buy_more_keyboard(_))


async def card_button(
    callback: CallbackQuery,
    callback_data: CardCallback,
    bot: Bot,
    activation_service: ActivationService,
    callback_answer: CallbackAnswer,
) -> None:
    """Cancel, another code, finish. The tap is answered within a second; when SMS-man is
    slower the outcome is shown on the card and, for a refusal, in a message."""
    user_id = callback.from_user.id
    key = callback_data.key
    tap = Tap(callback, callback_answer)
    try:
        if callback_data.action is CardAction.CANCEL:
            record = await tap.run(
                activation_service.cancel(user_id, key), note=_("⏳ Cancelling…")
            )
            done = _("Cancelled. The money is back on your balance.")
        elif callback_data.action is CardAction.ANOTHER:
            record = await tap.run(
                activation_service.another_code(user_id, key), note=_("⏳ Asking for another SMS…")
            )
            done = _("Waiting for another SMS on the same number.")
        else:
            record = await tap.run(activation_service.finish(user_id, key), note=_("⏳ Closing…"))
            done = _("Done, the number is closed. Thank you!")
    except NotYourActivation as error:
        tap.say(explain(error), alert=True)  # a forged or foreign button: change nothing
        return
    except EXPECTED_ERRORS as error:
        if tap.slow:
            await bot.send_message(callback.from_user.id, explain(error))
        else:
            tap.say(fit_alert(explain(error)), alert=True)
        if isinstance(error, ActivationClosed | CodeAlreadyReceived | NoCodeYet | CancelRefused):
            # the card was out of date: show how things are now
            await redraw(callback, bot, await activation_service.owned(user_id, key))
        return
    tap.say(done)
    await redraw(callback, bot, record)


async def redraw(callback: CallbackQuery, bot: Bot, record: ActivationRecord) -> None:
    """Re-render the card the button is on, and the recorded card if that is another one."""
    text = render_card(record, _, time.time(), language=get_i18n().current_locale)
    markup = card_keyboard(record, _)
    message = callback.message
    if isinstance(message, Message):
        await edit_message(message, text, markup)
    if record.message_id is not None and (
        not isinstance(message, Message) or message.message_id != record.message_id
    ):
        await edit_by_id(bot, record.chat_id, record.message_id, text, markup)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(my_numbers, Command("numbers"))
    router.callback_query.register(my_numbers, MenuCallback.filter(F.action == MenuAction.NUMBERS))
    router.callback_query.register(card_button, CardCallback.filter())
    return router
