"""/numbers and the buttons of a number card: cancel, another code, finish."""

from __future__ import annotations

import time

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _

from bot.i18n.countries import country_name
from bot.services.activations import ActivationService
from bot.services.errors import (
    ActivationClosed,
    CancelRefused,
    CodeAlreadyReceived,
    NoCodeYet,
    NotYourActivation,
    Overcharged,
    PurchaseInProgress,
    PurchaseNotRecorded,
    PurchaseOutcomeUnknown,
    ReplacedWithoutNumber,
)
from bot.services.replace import ReplaceService
from bot.store.activations import ActivationRecord
from bot.telegram.cards import flag, render_card, render_history
from handlers.explain import EXPECTED_ERRORS, explain
from handlers.replies import edit_by_id, edit_message, fit_alert
from handlers.taps import Tap
from keyboards.buy import after_failed_buy, buy_again_keyboard
from keyboards.callbacks import CardAction, CardCallback, MenuAction, MenuCallback
from keyboards.card import card_keyboard
from keyboards.menu import back_to_menu, buy_more_keyboard

OPEN_CARDS_SHOWN = 10
HISTORY_SHOWN = 5
BUY_AGAIN_SHOWN = 3


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
    if not closed:
        await bot.send_message(
            chat_id, _("No closed numbers yet."), reply_markup=buy_more_keyboard(_)
        )
        return
    shown = closed[:HISTORY_SHOWN]
    await bot.send_message(
        chat_id,
        render_history(shown, _),
        reply_markup=buy_again_keyboard(_pairs(shown, language), _),
    )


def _pairs(records: list[ActivationRecord], language: str) -> list[tuple[str, str, str]]:
    """The distinct (service, country) pairs of `records`, newest first, with their labels."""
    pairs: dict[tuple[str, str], str] = {}
    for record in records:
        name = country_name(record.country_name, record.country_iso, language)
        label = f"{record.service_name} · {flag(record.country_iso)} {name}"
        pairs.setdefault((record.service_id, record.country_id), label)
    return [(sid, cid, label) for (sid, cid), label in list(pairs.items())[:BUY_AGAIN_SHOWN]]


async def card_button(
    callback: CallbackQuery,
    callback_data: CardCallback,
    bot: Bot,
    activation_service: ActivationService,
    replace: ReplaceService,
    callback_answer: CallbackAnswer,
) -> None:
    """Cancel, replace, another code, finish. The tap is answered within a second; when
    SMS-man is slower the outcome is shown on the card and, for a refusal, in a message."""
    user_id = callback.from_user.id
    key = callback_data.key
    tap = Tap(callback, callback_answer)
    if callback_data.action is CardAction.REPLACE:
        await replace_number(callback, bot, key, tap, activation_service, replace)
        return
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


async def replace_number(
    callback: CallbackQuery,
    bot: Bot,
    key: str,
    tap: Tap,
    activation_service: ActivationService,
    replace: ReplaceService,
) -> None:
    """🔄 Replace: the card becomes the new number's, or says why there is none."""
    user_id = callback.from_user.id
    message = callback.message
    card = message if isinstance(message, Message) else None
    replacing = _("⏳ Replacing the number…")
    try:
        record = await tap.run(
            replace.replace(
                user_id,
                key,
                callback.from_user.id if card is None else card.chat.id,
                None if card is None else card.message_id,
                get_i18n().current_locale,
            ),
            note=replacing,
            on_slow=(lambda: edit_message(card, replacing)) if card is not None else None,
        )
    except NotYourActivation as error:
        tap.say(explain(error), alert=True)
        return
    except PurchaseInProgress:
        tap.say(_("Already replacing this number, one moment…"))
        return
    except ReplacedWithoutNumber as error:
        old = error.replaced
        tap.say(_("Cancelled: the money is back."))
        markup = after_failed_buy(_, service_id=old.service_id, country_id=old.country_id)
        await _show_on_card(bot, callback, card, explain(error), markup)
        return
    except (PurchaseOutcomeUnknown, Overcharged, PurchaseNotRecorded) as error:
        await _show_on_card(bot, callback, card, explain(error), back_to_menu(_))
        return
    except EXPECTED_ERRORS as error:
        if tap.slow:
            await bot.send_message(user_id, explain(error))
        else:
            tap.say(fit_alert(explain(error)), alert=True)
        # the card may be out of date (a code came, it closed) or now counts down to a cancel
        await redraw(callback, bot, await activation_service.owned(user_id, key))
        return
    tap.say(_("New number! Waiting for the SMS."))
    await redraw(callback, bot, record)


async def _show_on_card(
    bot: Bot,
    callback: CallbackQuery,
    card: Message | None,
    text: str,
    markup: InlineKeyboardMarkup,
) -> None:
    if card is not None:
        await edit_message(card, text, markup)
    else:
        await bot.send_message(callback.from_user.id, text, reply_markup=markup)


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
