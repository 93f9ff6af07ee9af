"""A token pasted where it does not belong: deleted, never echoed, and the user told why.

Included first, for every chat: a private chat outside the token prompt (a service search
would show the text back), and groups, where everyone would read it. Where a token is
expected (the prompt after /token, or "/token <token>" in a private chat) the token
router takes it, and deletes it too.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Filter
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.services.tokens import looks_like_token
from bot.store.users import UserStore, Visit
from handlers.states import TokenForm

logger = logging.getLogger(__name__)


def is_token_command(text: str) -> bool:
    """Whether `text` is the /token command (also "/token@bot"), whose argument the user
    means as a token whatever it looks like."""
    command = text.split(maxsplit=1)[0] if text.strip() else ""
    return command.split("@", 1)[0].lower() == "/token"


class PastedToken(Filter):
    """A message that carries an API token (or looks like it) where none is expected.

    The user's own token is recognised too, whatever it looks like: it comes encrypted with
    the update's `Visit`, and is decrypted only for a text that does not look like a token
    and is long enough to hold it.
    """

    async def __call__(
        self,
        message: Message,
        users: UserStore,
        raw_state: str | None = None,
        visit: Visit | None = None,
    ) -> bool:
        text = message.text or message.caption
        if not text:
            return False
        private = message.chat.type == ChatType.PRIVATE
        if private and is_token_command(text):
            return False  # the token router reads it, and deletes it
        if private and raw_state == TokenForm.waiting_token.state:
            return False
        if is_token_command(text) and len(text.split()) > 1:
            return True  # "/token <anything>" in a group
        if looks_like_token(text):
            return True
        ciphertext = visit.encrypted_token if visit is not None else None
        if not ciphertext or not users.token_may_be_in(text, ciphertext):
            return False
        return looks_like_token(text, users.decrypt_token(ciphertext))


async def delete_pasted_token(message: Message) -> None:
    try:
        await message.delete()
        deleted = True
    except TelegramAPIError as error:
        logger.warning("Could not delete a message with a token: %s", type(error).__name__)
        deleted = False
    if message.chat.type == ChatType.PRIVATE:
        text = _(
            "🔒 That looked like an API token, so I deleted it. To set your token, send "
            "/token first."
        )
    else:
        text = _(
            "🔒 That looked like an SMS-man API token, so I deleted it: never post it in a "
            "group. Send it to me in a private chat."
        )
    if not deleted:
        text = _(
            "🔒 That looked like an SMS-man API token, and I could not delete it: please "
            "delete it yourself. If others may have seen it, get a new one on sms-man.com."
        )
    try:
        await message.answer(text)
    except TelegramAPIError as error:  # e.g. a group where the bot may not write
        logger.warning("Could not explain a deleted token: %s", type(error).__name__)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(delete_pasted_token, PastedToken())
    return router
