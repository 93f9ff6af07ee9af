"""The user blocked the bot, or came back: Telegram's `my_chat_member` updates.

Blocking is acted on within seconds (numbers without a code are cancelled, the money
returns), not when the next message to the user fails. Coming back updates the cards of the
numbers closed meanwhile, so they say what happened.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated
from aiogram.utils.i18n import I18n

from bot.i18n.translator import translator
from bot.services.reachability import Reachability
from bot.telegram.cards import render_card
from handlers.replies import edit_by_id
from keyboards.card import card_keyboard


async def on_blocked(event: ChatMemberUpdated, reachability: Reachability) -> None:
    await reachability.blocked(event.from_user.id)


async def on_returned(
    event: ChatMemberUpdated, reachability: Reachability, bot: Bot, i18n: I18n
) -> None:
    for record in await reachability.returned(event.from_user.id):
        if record.message_id is None:
            continue
        _ = translator(i18n, record.language)
        text = render_card(record, _, event.date.timestamp())
        await edit_by_id(bot, record.chat_id, record.message_id, text, card_keyboard(record, _))


def create_router() -> Router:
    router = Router(name=__name__)
    router.my_chat_member.filter(F.chat.type == ChatType.PRIVATE)
    router.my_chat_member.register(on_blocked, ChatMemberUpdatedFilter(MEMBER >> KICKED))
    router.my_chat_member.register(on_returned, ChatMemberUpdatedFilter(KICKED >> MEMBER))
    return router
