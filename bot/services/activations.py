"""What happens to a bought number after the purchase: cancel, another code, finish.

Every change to an activation happens under its lock (the watcher takes the same lock), and
the record in Redis is re-read under the lock, so a button and the watcher never interleave.
Callback data is user input: every action checks that the activation belongs to the user.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.provider.base import Provider
from bot.provider.errors import ActivationNotFound, AlreadyChanged, EarlyCancelDenied
from bot.services.errors import (
    ActivationClosed,
    Busy,
    CancelTooEarly,
    CodeAlreadyReceived,
    NoCodeYet,
    NotYourActivation,
)
from bot.store.activations import ActivationRecord, ActivationStore, CloseReason, State
from bot.store.crypto import TokenCipher
from bot.store.locks import LockBusy, held

logger = logging.getLogger(__name__)

# The provider does not say how long cancelling is refused after buying; sms-activate style
# services use two minutes. Used only to tell the user roughly how long to wait.
EARLY_CANCEL_WINDOW = 120

BUTTON_LOCK_WAIT = 10.0
"""How long a button waits for the activation's lock (the watcher may hold it) before Busy."""


class ActivationService:
    def __init__(
        self,
        provider: Provider,
        store: ActivationStore,
        cipher: TokenCipher,
        *,
        poll_interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._provider = provider
        self._store = store
        self._cipher = cipher
        self._poll_interval = poll_interval
        self._clock = clock

    # --- what the user sees ------------------------------------------------------------

    async def owned(self, user_id: int, key: str) -> ActivationRecord:
        record = await self._store.get(key)
        if record is None or record.user_id != user_id:
            raise NotYourActivation
        return record

    async def for_user(self, user_id: int) -> tuple[list[ActivationRecord], list[ActivationRecord]]:
        """(open activations, closed ones), newest first."""
        records = await self._store.for_user(user_id)
        return [r for r in records if r.is_open], [r for r in records if not r.is_open]

    # --- the buttons -------------------------------------------------------------------

    async def cancel(self, user_id: int, key: str) -> ActivationRecord:
        """Cancel a number with no code yet; the money returns to the balance."""
        async with self._open_owned(user_id, key) as record:
            if record.codes:
                raise CodeAlreadyReceived
            await self.cancel_at_provider(record, CloseReason.USER)
            return record

    async def another_code(self, user_id: int, key: str) -> ActivationRecord:
        """Ask for one more SMS on the same number; the watcher waits for a new code."""
        async with self._open_owned(user_id, key) as record:
            if not record.codes:
                raise NoCodeYet
            if record.state is State.WAIT_RETRY:
                return record
            try:
                await self._provider.request_another_code(self.token_of(record), record.id)
            except ActivationNotFound:
                await self._store.close(record, State.FINISHED, CloseReason.PROVIDER, self._clock())
                raise ActivationClosed from None
            record.state = State.WAIT_RETRY
            await self._store.save(record)
            await self._store.watch(record.key, self._clock() + self._poll_interval)
            return record

    async def finish(self, user_id: int, key: str) -> ActivationRecord:
        """Close a number whose code arrived."""
        async with self._open_owned(user_id, key) as record:
            if not record.codes:
                raise NoCodeYet
            await self.finish_at_provider(record, CloseReason.USER)
            return record

    @asynccontextmanager
    async def _open_owned(self, user_id: int, key: str) -> AsyncIterator[ActivationRecord]:
        """The user's open activation, re-read under its lock (a forged key never locks)."""
        await self.owned(user_id, key)
        try:
            async with held(self._store.lock(key, wait=BUTTON_LOCK_WAIT)):
                record = await self.owned(user_id, key)
                if not record.is_open:
                    raise ActivationClosed
                yield record
        except LockBusy:
            raise Busy from None

    # --- shared with the watcher (the caller holds the activation's lock) ----------------

    def token_of(self, record: ActivationRecord) -> str:
        return self._cipher.decrypt(record.token)

    async def cancel_at_provider(self, record: ActivationRecord, reason: CloseReason) -> None:
        """Cancel at the provider and close the record. Raises CancelTooEarly when refused."""
        try:
            await self._provider.cancel(self.token_of(record), record.id)
        except EarlyCancelDenied:
            elapsed = self._clock() - record.created_at
            raise CancelTooEarly(max(10, int(EARLY_CANCEL_WINDOW - elapsed))) from None
        except (ActivationNotFound, AlreadyChanged):
            # Already gone or already cancelled at the provider: the money went back then.
            logger.info("Activation %s was already closed at the provider", record.key)
        await self._store.close(record, State.CANCELLED, reason, self._clock())

    async def finish_at_provider(self, record: ActivationRecord, reason: CloseReason) -> None:
        try:
            await self._provider.finish(self.token_of(record), record.id)
        except (ActivationNotFound, AlreadyChanged):
            logger.info("Activation %s was already closed at the provider", record.key)
        await self._store.close(record, State.FINISHED, reason, self._clock())
