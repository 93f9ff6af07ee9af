"""Keep aiogram's `Response[T]` classes alive, so that pydantic builds each only once.

aiogram reads every Bot API answer with `Response[method.__returning__]`. pydantic caches
parametrised generic models in a `WeakValueDictionary`: once the answer is read, nothing
holds the class, so the next call of the same method builds a new one (a model class with
its schema and validator). Under a crowd of taps that was a twentieth of the bot's CPU. This
request middleware holds one reference per returning type (a few dozen at most), and the
cache then answers every later call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot


class KeepResponseTypes(BaseRequestMiddleware):
    def __init__(self) -> None:
        self._kept: dict[Any, type[Any]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self._kept:
            self._kept[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)
