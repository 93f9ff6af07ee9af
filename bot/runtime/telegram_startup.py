"""The Telegram calls a process makes at start, retried while Telegram cannot be reached.

At boot the network (or Telegram) may not be there yet; polling retries by itself, and so
do deleteWebhook, setWebhook and setMyCommands here, with a growing pause, until they get
an answer or the process is asked to stop. Errors that waiting cannot fix (a rejected
token, a bad request) are raised at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError

logger = logging.getLogger(__name__)

FIRST_PAUSE = 1.0
MAX_PAUSE = 30.0


async def call_when_reachable(
    what: str,
    call: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    *,
    first_pause: float = FIRST_PAUSE,
    max_pause: float = MAX_PAUSE,
) -> bool:
    """Make `call` until Telegram answers it: True; False if `stop` was set first."""
    pause = first_pause
    while not stop.is_set():
        try:
            await call()
        except TelegramRetryAfter as error:
            wait = float(error.retry_after)
            logger.warning("Telegram asks to wait %.0f s before %s", wait, what)
        except (TelegramNetworkError, TelegramServerError) as error:
            wait = pause
            pause = min(pause * 2, max_pause)
            logger.warning("Telegram: %s failed (%s); retrying in %.0f s", what, error, wait)
        else:
            return True
        try:
            async with asyncio.timeout(wait):
                await stop.wait()
        except TimeoutError:
            pass
    return False
