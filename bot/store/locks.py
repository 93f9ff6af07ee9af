"""Holding an activation's Redis lock: the one lock helper of the buttons and the watcher.

Every change to an activation happens under its lock (`ActivationStore.lock`), with the
record re-read under it, so a button and the watcher never interleave. A lock that cannot
be had within its wait raises `LockBusy`; with `renew`, the lock is extended while the body
runs (a push that waits out Telegram's flood control must not lose it half way).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from bot.store import REDIS_DOWN

logger = logging.getLogger(__name__)


class LockBusy(Exception):
    """Someone else (a button, a watcher) holds the lock longer than we could wait."""


@asynccontextmanager
async def held(lock: Lock, *, renew: bool = False) -> AsyncIterator[None]:
    """Hold `lock` for the body; raise LockBusy when it cannot be had.

    With `renew`, the lock's timeout is reset every third of it for as long as the body
    runs; if renewing fails the body goes on (a lapsed lock is logged on release).
    """
    try:
        acquired = await lock.acquire()
    except LockError:
        acquired = False
    if not acquired:
        raise LockBusy
    keeper = asyncio.create_task(_keep(lock)) if renew and lock.timeout else None
    try:
        yield
    finally:
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        await _release(lock)


RELEASE_ATTEMPTS = 3


async def _release(lock: Lock) -> None:
    """Release `lock`; a release lost on a dropped connection (Redis restarted) is sent again,
    which is safe: it deletes the lock only while it still holds our token. If Redis stays
    away, the lock lapses at its timeout; the work under it is done either way."""
    for attempt in range(1, RELEASE_ATTEMPTS + 1):
        try:
            await lock.release()
            return
        except LockError:
            logger.warning("The lock %s expired before it was released", _name(lock))
            return
        except REDIS_DOWN as error:
            if attempt == RELEASE_ATTEMPTS:
                logger.warning(
                    "The lock %s could not be released (%s); it lapses at its timeout",
                    _name(lock),
                    type(error).__name__,
                )
                return


async def _keep(lock: Lock) -> None:
    assert lock.timeout is not None
    while True:
        await asyncio.sleep(lock.timeout / 3)
        try:
            await lock.reacquire()
        except (LockError, RedisError) as error:
            logger.warning("Could not keep the lock %s: %s", _name(lock), error)
            return


def _name(lock: Lock) -> str:
    name = lock.name
    return name.decode() if isinstance(name, bytes) else str(name)
