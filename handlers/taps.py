"""Answering a button tap in time, however slow the work behind it.

Telegram shows a spinner on a tapped button until the bot answers the callback query, and
refuses answers that come too late ("query is too old"). The work behind a tap (a purchase,
a cancel) waits for SMS-man, which can take many seconds. `answer_in_time` gives the work a
moment: done by then, the tap is answered with the outcome as usual (aiogram's
`CallbackAnswerMiddleware` sends what the handler put in `callback_answer`); not done, the
tap is answered at once with a "working on it" note and the work goes on. The handler then
shows the outcome on the screen, never only in the (already sent) answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer

logger = logging.getLogger(__name__)

T = TypeVar("T")

ANSWER_WITHIN = 1.0
"""Seconds the work may take before the tap is answered without waiting for it."""


class Tap:
    """One tap being worked on: `slow` once it was answered before the work ended."""

    def __init__(self, callback: CallbackQuery, callback_answer: CallbackAnswer) -> None:
        self._callback = callback
        self._answer = callback_answer
        self.slow = False

    async def run(
        self,
        work: Coroutine[Any, Any, T],
        *,
        note: str,
        on_slow: Callable[[], Awaitable[None]] | None = None,
    ) -> T:
        """Run `work`; if it takes longer than `ANSWER_WITHIN`, answer the tap with `note`,
        call `on_slow` (say, show "⏳" on the card) and wait for the work to end."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=ANSWER_WITHIN)
        if not done:
            self.slow = True
            self._answer.disable()  # answered here; the middleware must not answer again
            try:
                await self._callback.answer(note)
            except TelegramAPIError as error:
                logger.warning("Could not answer a tap: %s", error)
            if on_slow is not None:
                try:
                    await on_slow()
                except TelegramAPIError as error:  # the work goes on: it may be spending money
                    logger.warning("Could not show that a tap is being worked on: %s", error)
        return await task

    def say(self, text: str, *, alert: bool = False) -> None:
        """The tap's answer, when it has not been sent yet (else the screen says it)."""
        if not self.slow:
            self._answer.text = text
            self._answer.show_alert = alert
