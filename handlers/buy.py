"""Buying a number: service → country → confirmation → the number card.

The confirmation card is the message that becomes the number card, so its id is known
before buying and is recorded with the activation (the watcher edits it later).
"""

from __future__ import annotations

import asyncio
import time
from html import escape

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n, get_i18n
from aiogram.utils.i18n import gettext as _

from bot.i18n.countries import country_name, country_names
from bot.services.activations import ActivationService
from bot.services.catalog import Catalog, cheapest_first, matches, recent_first
from bot.services.errors import (
    AlreadyBought,
    NoToken,
    Overcharged,
    PurchaseInProgress,
    PurchaseNotRecorded,
    PurchaseOutcomeUnknown,
    UnknownChoice,
)
from bot.services.favourites import FavouritesService
from bot.services.purchase import PurchaseService
from bot.services.tokens import TokenService
from bot.store.users import UserStore
from bot.telegram.cards import render_card, render_quote
from handlers.explain import EXPECTED_ERRORS, explain
from handlers.fsm import advance
from handlers.replies import edit_message, show
from handlers.start import ask_for_token
from handlers.states import BuyForm
from handlers.taps import Tap
from keyboards.buy import (
    COUNTRIES_PER_PAGE,
    SERVICES_PER_PAGE,
    after_failed_buy,
    confirm_keyboard,
    countries_keyboard,
    favourites_keyboard,
    services_keyboard,
)
from keyboards.callbacks import (
    BuyAgain,
    BuyCallback,
    CountryPage,
    CountryPick,
    FavouriteRemove,
    FavouritesMenu,
    FavouriteToggle,
    MenuAction,
    MenuCallback,
    ServicePage,
    ServicePick,
)
from keyboards.card import card_keyboard
from keyboards.menu import back_to_menu
from keyboards.pagination import paginate

Event = Message | CallbackQuery


# --- services ------------------------------------------------------------------------------


async def start_buying(
    event: Event,
    state: FSMContext,
    tokens: TokenService,
    catalog: Catalog,
    users: UserStore,
    favourites: FavouritesService,
) -> None:
    await advance(state, BuyForm.choosing_service, service_query="")
    await show_services(event, state, tokens, catalog, users, favourites, page=0)


async def services_page(
    callback: CallbackQuery,
    callback_data: ServicePage,
    state: FSMContext,
    tokens: TokenService,
    catalog: Catalog,
    users: UserStore,
    favourites: FavouritesService,
) -> None:
    await state.set_state(BuyForm.choosing_service)
    await show_services(
        callback, state, tokens, catalog, users, favourites, page=callback_data.page
    )


async def search_services(
    message: Message,
    state: FSMContext,
    tokens: TokenService,
    catalog: Catalog,
    users: UserStore,
    favourites: FavouritesService,
) -> None:
    assert message.text is not None
    await state.update_data(service_query=message.text.strip()[:64])
    await show_services(message, state, tokens, catalog, users, favourites, page=0)


async def show_services(
    event: Event,
    state: FSMContext,
    tokens: TokenService,
    catalog: Catalog,
    users: UserStore,
    favourites: FavouritesService,
    page: int,
) -> None:
    """Favourites' services first, then the recently used ones, then the most popular."""
    user_id = _user_id(event)
    try:
        token = await tokens.require_token(user_id)
        saved, recent = await asyncio.gather(  # one round trip
            favourites.service_ids(user_id), users.recent_services(user_id)
        )
        services = recent_first(await catalog.services(token), [*saved, *recent])
    except NoToken:
        await ask_for_token(event, state)
        return
    except EXPECTED_ERRORS as error:
        await show(event, explain(error), back_to_menu(_))
        return
    query = str((await state.get_data()).get("service_query") or "")
    found = [s for s in services if matches(query, s.name, s.code)]
    if not found:
        text = _("🔍 No service matches “{query}”. Type another name, or see all services.")
        await show(
            event,
            text.format(query=escape(query)),
            services_keyboard(paginate([], 0, 1), _, filtered=True),
        )
        return
    if query:
        text = _("🔍 Services matching “{query}”. Choose one, or type another name.").format(
            query=escape(query)
        )
    else:
        text = _(
            "🛒 Choose a service. The ones you used recently come first.\n"
            "Type a name to search, for example “tele”."
        )
    await show(
        event,
        text,
        services_keyboard(
            paginate(found, page, SERVICES_PER_PAGE),
            _,
            filtered=bool(query),
            favourites=bool(saved) and page == 0,
        ),
    )


# --- countries -----------------------------------------------------------------------------


async def pick_service(
    callback: CallbackQuery,
    callback_data: ServicePick,
    state: FSMContext,
    tokens: TokenService,
    catalog: Catalog,
) -> None:
    await _open_countries(state, callback_data.service_id)
    await show_countries(callback, state, tokens, catalog, callback_data.service_id, page=0)


async def countries_page(
    callback: CallbackQuery,
    callback_data: CountryPage,
    state: FSMContext,
    tokens: TokenService,
    catalog: Catalog,
) -> None:
    data = await state.get_data()
    if data.get("service_id") != callback_data.service_id:
        await _open_countries(state, callback_data.service_id)
    else:
        await state.set_state(BuyForm.choosing_country)
    await show_countries(
        callback, state, tokens, catalog, callback_data.service_id, page=callback_data.page
    )


async def search_countries(
    message: Message, state: FSMContext, tokens: TokenService, catalog: Catalog
) -> None:
    assert message.text is not None
    data = await state.get_data()
    await state.update_data(country_query=message.text.strip()[:64])
    await show_countries(message, state, tokens, catalog, str(data.get("service_id")), page=0)


async def _open_countries(state: FSMContext, service_id: str) -> None:
    await advance(state, BuyForm.choosing_country, service_id=service_id, country_query="")


async def show_countries(
    event: Event,
    state: FSMContext,
    tokens: TokenService,
    catalog: Catalog,
    service_id: str,
    page: int,
) -> None:
    try:
        token = await tokens.require_token(_user_id(event))
        service = await catalog.service(token, service_id)
        if service is None:
            raise UnknownChoice
        offers = [o for o in await catalog.offers_for_service(token, service_id) if o.stock > 0]
    except NoToken:
        await ask_for_token(event, state)
        return
    except EXPECTED_ERRORS as error:
        await show(event, explain(error), back_to_menu(_))
        return
    query = str((await state.get_data()).get("country_query") or "")
    names = country_names((o.country for o in offers), get_i18n().current_locale)
    found = [
        o
        for o in cheapest_first(offers, names)
        if matches(query, names[o.country.id], o.country.iso, aliases=[o.country.name])
    ]
    name = escape(service.name)
    if not offers:
        text = _("😔 No numbers for {service} right now. Try later or choose another service.")
    elif not found:
        text = _("🔍 No country matches “{query}” for {service}. Type another name.")
    elif query:
        text = _(
            "🔍 {service}: countries matching “{query}”. "
            "Price and numbers in stock are on the buttons."
        )
    else:
        text = _(
            "{service}: choose a country. Price and numbers in stock are on the buttons; "
            "the cheapest come first.\nType a name to search, for example “ind”."
        )
    await show(
        event,
        text.format(service=name, query=escape(query)),
        countries_keyboard(
            service_id,
            paginate(found, page, COUNTRIES_PER_PAGE),
            _,
            names=names,
            filtered=bool(query),
        ),
    )


# --- confirmation and buying ---------------------------------------------------------------


async def confirm(
    callback: CallbackQuery,
    callback_data: CountryPick,
    state: FSMContext,
    purchase: PurchaseService,
    favourites: FavouritesService,
) -> None:
    """The confirmation card, in place of the menu: price and stock from the shared catalog,
    a recent balance; ✅ Buy only when the number can be bought."""
    await show_confirmation(
        callback, state, purchase, favourites, callback_data.service_id, callback_data.country_id
    )


async def buy_again(
    callback: CallbackQuery,
    callback_data: BuyAgain,
    state: FSMContext,
    purchase: PurchaseService,
    favourites: FavouritesService,
) -> None:
    """🔁 Buy again: a new confirmation card below, the finished card left as it is."""
    await show_confirmation(
        callback,
        state,
        purchase,
        favourites,
        callback_data.service_id,
        callback_data.country_id,
        new_message=True,
    )


async def toggle_favourite(
    callback: CallbackQuery,
    callback_data: FavouriteToggle,
    state: FSMContext,
    purchase: PurchaseService,
    favourites: FavouritesService,
    callback_answer: CallbackAnswer,
) -> None:
    """⭐ on the confirmation card: save or remove the pair, and redraw the card."""
    saved = await favourites.toggle(
        callback.from_user.id, callback_data.service_id, callback_data.country_id
    )
    callback_answer.text = (
        _("⭐ Saved: it comes first under /buy.") if saved else _("Removed from favourites.")
    )
    await show_confirmation(
        callback, state, purchase, favourites, callback_data.service_id, callback_data.country_id
    )


async def show_confirmation(
    callback: CallbackQuery,
    state: FSMContext,
    purchase: PurchaseService,
    favourites: FavouritesService,
    service_id: str,
    country_id: str,
    *,
    new_message: bool = False,
) -> None:
    user_id = callback.from_user.id
    try:
        quote, favourite = await asyncio.gather(  # one round trip for the reads and the quote
            purchase.quote(user_id, service_id, country_id),
            favourites.contains(user_id, service_id, country_id),
        )
    except NoToken:
        await ask_for_token(callback, state)
        return
    except EXPECTED_ERRORS as error:
        markup = after_failed_buy(_, service_id=service_id)
        if new_message and isinstance(callback.message, Message):
            await callback.message.answer(explain(error), reply_markup=markup)
        else:
            await show(callback, explain(error), markup)
        return
    # typing no longer searches; the ids stay for "back"
    await advance(
        state,
        None,
        quote={"nonce": quote.nonce, "service_id": service_id, "country_id": country_id},
    )
    text = render_quote(quote, _, get_i18n().current_locale)
    markup = confirm_keyboard(quote, _, favourite=favourite)
    if new_message and isinstance(callback.message, Message):
        await callback.message.answer(text, reply_markup=markup)
    else:
        await show(callback, text, markup)


# --- favourites ----------------------------------------------------------------------------


async def favourites_menu(
    callback: CallbackQuery, tokens: TokenService, favourites: FavouritesService
) -> None:
    await show_favourites(callback, tokens, favourites)


async def remove_favourite(
    callback: CallbackQuery,
    callback_data: FavouriteRemove,
    tokens: TokenService,
    favourites: FavouritesService,
    callback_answer: CallbackAnswer,
) -> None:
    await favourites.remove(
        callback.from_user.id, callback_data.service_id, callback_data.country_id
    )
    callback_answer.text = _("Removed from favourites.")
    await show_favourites(callback, tokens, favourites)


async def show_favourites(
    callback: CallbackQuery, tokens: TokenService, favourites: FavouritesService
) -> None:
    user_id = callback.from_user.id
    try:
        pairs = await favourites.pairs(user_id, await tokens.require_token(user_id))
    except EXPECTED_ERRORS as error:
        await show(callback, explain(error), back_to_menu(_))
        return
    language = get_i18n().current_locale
    rows = [
        (pair.service, pair.country, country_name(pair.country.name, pair.country.iso, language))
        for pair in pairs
    ]
    text = (
        _("⭐ <b>Favourites</b>\nTap one to see its price now and buy; ✖ removes it.")
        if rows
        else _("⭐ No favourites yet. Tap ⭐ on a confirmation card to save a service and country.")
    )
    await show(callback, text, favourites_keyboard(rows, _))


async def buy(
    callback: CallbackQuery,
    callback_data: BuyCallback,
    state: FSMContext,
    purchase: PurchaseService,
    activation_service: ActivationService,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    """✅ Buy: the tap is answered within a second whatever SMS-man does; the card ends
    showing the number or why not, never "⏳ Buying" (only the tap that buys shows that)."""
    message = callback.message
    if not isinstance(message, Message):
        callback_answer.text = explain(UnknownChoice())
        return
    user_id = callback.from_user.id
    quoted = (await state.get_data()).get("quote") or {}
    if quoted.get("nonce") != callback_data.nonce:
        quoted = {}
    retry = after_failed_buy(
        _, service_id=quoted.get("service_id"), country_id=quoted.get("country_id")
    )
    tap = Tap(callback, callback_answer)
    buying = _("⏳ Buying the number…")
    try:
        record = await tap.run(
            purchase.buy(
                user_id,
                message.chat.id,
                message.message_id,
                callback_data.nonce,
                i18n.current_locale,
            ),
            note=buying,
            on_slow=lambda: edit_message(message, buying),
        )
    except AlreadyBought as error:
        if error.activation_key is None:
            await edit_message(message, explain(error), back_to_menu(_))
            return
        record = await activation_service.owned(user_id, error.activation_key)
        tap.say(_("You have already bought this number: here it is."))
    except PurchaseInProgress as error:
        tap.say(explain(error))  # the tap that is buying shows the outcome on the card
        return
    except (PurchaseOutcomeUnknown, Overcharged, PurchaseNotRecorded) as error:
        await edit_message(message, explain(error), back_to_menu(_))
        return
    except EXPECTED_ERRORS as error:
        await edit_message(message, explain(error), retry)
        return
    except Exception:
        if tap.slow:  # never leave "⏳ Buying" behind (the error handler apologises)
            await edit_message(message, explain(Exception()), retry)
        raise
    else:
        tap.say(_("Number bought! Waiting for the SMS."))
        await state.clear()
    await edit_message(message, render_card(record, _, time.time()), card_keyboard(record, _))


# --- helpers -------------------------------------------------------------------------------


def _user_id(event: Event) -> int:
    user = event.from_user
    assert user is not None
    return user.id


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(start_buying, Command("buy"))
    router.callback_query.register(start_buying, MenuCallback.filter(F.action == MenuAction.BUY))
    router.callback_query.register(services_page, ServicePage.filter())
    router.message.register(
        search_services, BuyForm.choosing_service, F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(pick_service, ServicePick.filter())
    router.callback_query.register(countries_page, CountryPage.filter())
    router.message.register(
        search_countries, BuyForm.choosing_country, F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(confirm, CountryPick.filter())
    router.callback_query.register(buy_again, BuyAgain.filter())
    router.callback_query.register(toggle_favourite, FavouriteToggle.filter())
    router.callback_query.register(favourites_menu, FavouritesMenu.filter())
    router.callback_query.register(remove_favourite, FavouriteRemove.filter())
    router.callback_query.register(buy, BuyCallback.filter())
    return router
