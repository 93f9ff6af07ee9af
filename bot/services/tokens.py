"""Storing, checking and forgetting a user's provider API token."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bot.provider.base import Provider
from bot.provider.errors import ProviderError
from bot.services.balances import Balances
from bot.services.errors import InvalidTokenFormat, NoToken
from bot.store.activations import ActivationStore
from bot.store.crypto import TokenCipher
from bot.store.locks import LockBusy, held
from bot.store.notices import TOKEN_REJECTED, NoticeStore
from bot.store.users import UserStore

_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_\-.:=+/]{8,256}$")
# A run of characters that would be a token if pasted on its own: long, of the token
# alphabet, with letters and digits (SMS-man's keys are 32 such characters).
_TOKEN_LIKE = re.compile(
    r"(?=[A-Za-z0-9_\-.:=+/]*[A-Za-z])(?=[A-Za-z0-9_\-.:=+/]*[0-9])"
    r"[A-Za-z0-9_\-.:=+/]{24,256}"
)
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-.:=+/]+")
_LINK = re.compile(r"\S*://\S*")  # links are not tokens
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def looks_like_token(text: str, stored: str | None = None) -> bool:
    """Whether `text` seems to carry an API token: the user's own (`stored`) anywhere in it,
    or any run of characters shaped like one (invisible characters inside do not hide it)."""
    visible = text.translate(_INVISIBLE)
    if stored and stored in visible:
        return True
    return any(_TOKEN_LIKE.fullmatch(run) for run in _TOKEN_RUN.findall(_LINK.sub(" ", visible)))


def clean_token(text: str) -> str:
    """The token in what the user typed, or InvalidTokenFormat."""
    token = text.strip()
    if not _TOKEN_SHAPE.match(token):
        raise InvalidTokenFormat
    return token


async def require_token(users: UserStore, user_id: int) -> str:
    """The user's stored token, or NoToken."""
    token = await users.get_token(user_id)
    if token is None:
        raise NoToken
    return token


@dataclass(frozen=True)
class Forgotten:
    """What /logout did: whether a token was stored, and how many open numbers still hold it
    (encrypted, in their records) until they close."""

    had_token: bool
    open_numbers: int


class TokenService:
    def __init__(
        self,
        provider: Provider,
        users: UserStore,
        activations: ActivationStore,
        cipher: TokenCipher,
        notices: NoticeStore,
        balances: Balances,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._provider = provider
        self._users = users
        self._activations = activations
        self._cipher = cipher
        self._notices = notices
        self._balances = balances
        self._clock = clock

    async def set_token(self, user_id: int, text: str) -> Decimal:
        """Check the token with a balance call, then store it encrypted; returns the balance.

        A wrong token raises bot.provider.errors.WrongToken and nothing is stored. Open
        numbers watched with an older token move to this one where the provider accepts it.
        """
        token = clean_token(text)
        balance = await self._provider.get_balance(token)
        await self._users.set_token(user_id, token)
        await self._balances.remember(user_id, balance)  # the confirmation card shows it
        await self._notices.clear(user_id, TOKEN_REJECTED)
        await self.rebind_open_numbers(user_id, token)
        return balance

    async def rebind_open_numbers(self, user_id: int, token: str) -> int:
        """Open numbers watched with another token are watched with `token` from now on,
        when the provider knows them under it (the same account, its key regenerated);
        numbers of another account keep their token. How many moved."""
        moved = 0
        for record in await self._activations.for_user(user_id):
            if not record.is_open or record.provider != self._provider.name:
                continue
            if self._cipher.decrypt(record.token) == token:
                continue
            try:
                await self._provider.get_activation(token, record.id)
            except ProviderError:
                continue  # not this account's number, or the provider is down: keep it
            try:
                async with held(self._activations.lock(record.key, wait=5)):
                    fresh = await self._activations.get(record.key)
                    if fresh is None or not fresh.is_open:
                        continue
                    fresh.token = self._cipher.encrypt(token)
                    await self._activations.save(fresh)
                    await self._activations.schedule(fresh.key, self._clock())
            except LockBusy:
                continue
            moved += 1
        return moved

    async def require_token(self, user_id: int) -> str:
        return await require_token(self._users, user_id)

    async def stored_token(self, user_id: int) -> str | None:
        return await self._users.get_token(user_id)

    async def has_token(self, user_id: int) -> bool:
        return await self._users.get_encrypted_token(user_id) is not None

    async def forget(self, user_id: int) -> Forgotten:
        """Delete the stored token and the copies closed numbers kept; open numbers keep
        theirs until they close (the watcher needs it to get their codes)."""
        had_token = await self._users.delete_token(user_id)
        open_numbers = await self._activations.forget_closed_tokens(user_id)
        return Forgotten(had_token, open_numbers)

    async def balance(self, user_id: int) -> Decimal:
        """The balance asked now (/balance: the user wants to see it move)."""
        return await self._balances.read(user_id, await self.require_token(user_id))
