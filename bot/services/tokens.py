"""Storing, checking and forgetting a user's provider API token."""

from __future__ import annotations

import re
from decimal import Decimal

from bot.provider.base import Provider
from bot.services.errors import InvalidTokenFormat, NoToken
from bot.store.users import UserStore

_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_\-.:=+/]{8,256}$")


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


class TokenService:
    def __init__(self, provider: Provider, users: UserStore) -> None:
        self._provider = provider
        self._users = users

    async def set_token(self, user_id: int, text: str) -> Decimal:
        """Check the token with a balance call, then store it encrypted; returns the balance.

        A wrong token raises bot.provider.errors.WrongToken and nothing is stored.
        """
        token = clean_token(text)
        balance = await self._provider.get_balance(token)
        await self._users.set_token(user_id, token)
        return balance

    async def require_token(self, user_id: int) -> str:
        return await require_token(self._users, user_id)

    async def has_token(self, user_id: int) -> bool:
        return await self._users.get_encrypted_token(user_id) is not None

    async def forget(self, user_id: int) -> bool:
        """Delete the stored token; True when there was one."""
        return await self._users.delete_token(user_id)

    async def balance(self, user_id: int) -> Decimal:
        return await self._provider.get_balance(await self.require_token(user_id))
