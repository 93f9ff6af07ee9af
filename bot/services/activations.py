"""What happens to a bought number after the purchase: cancel, another code, finish.

Every change to an activation happens under its lock (the watcher takes the same lock,
renewed while a slow provider call runs), and the record in Redis is re-read under the lock,
so a button and the watcher never interleave. Should a lock lapse anyway, the store refuses a
write from a stale copy (`StaleRecord`): the change is re-applied to the record as it is now,
so a code the watcher recorded meanwhile is never overwritten.
Callback data is user input: every action checks that the activation belongs to the user.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from redis.exceptions import RedisError

from bot.provider.base import Provider
from bot.provider.errors import (
    ActivationNotFound,
    AlreadyChanged,
    BadStatus,
    EarlyCancelDenied,
)
from bot.services.balances import Balances
from bot.services.errors import (
    ActivationClosed,
    Busy,
    CancelRefused,
    CancelTooEarly,
    CodeAlreadyReceived,
    NoCodeYet,
    NotYourActivation,
    ServiceError,
)
from bot.store.activations import (
    ActivationRecord,
    ActivationStore,
    CloseReason,
    StaleRecord,
    State,
)
from bot.store.crypto import TokenCipher
from bot.store.early_cancel import EarlyCancelStore
from bot.store.locks import LockBusy, held

logger = logging.getLogger(__name__)

# The provider does not say how long cancelling is refused after buying; sms-activate style
# services use two minutes. Used only to tell the user roughly how long to wait.
EARLY_CANCEL_WINDOW = 120

BUTTON_LOCK_WAIT = 10.0
"""How long a button waits for the activation's lock (the watcher may hold it) before Busy."""

STALE_WRITE_ATTEMPTS = 3
"""How often a change is re-applied to a record that changed under it before giving up."""


class ActivationService:
    def __init__(
        self,
        provider: Provider,
        store: ActivationStore,
        cipher: TokenCipher,
        *,
        poll_interval: float,
        former: Provider | None = None,
        balances: Balances | None = None,
        early_cancel: EarlyCancelStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._provider = provider
        # Numbers bought before SMSMAN_PROTOCOL changed go to the protocol they were bought on.
        self._providers = {p.name: p for p in (former, provider) if p is not None}
        self._store = store
        self._cipher = cipher
        self._poll_interval = poll_interval
        self._balances = balances
        self._early_cancel = early_cancel
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

    async def cancel(
        self, user_id: int, key: str, reason: CloseReason = CloseReason.USER
    ) -> ActivationRecord:
        """Cancel a number with no code yet; the money returns to the balance.

        Raises CancelRefused when the provider will not cancel (an SMS has just arrived, or
        the number was closed on its side): then nothing is refunded, and the watcher is
        asked to look at the number now. With `CloseReason.REPLACED` the record lets go of
        its card, which is about to show the number replacing it."""
        async with self._open_owned(user_id, key) as record:
            if record.codes:
                raise CodeAlreadyReceived
            try:
                return await self.cancel_at_provider(record, reason)
            except (AlreadyChanged, BadStatus):
                logger.info("Activation %s: the provider refused to cancel it", key)
                await self._store.schedule(key, self._clock())
                raise CancelRefused from None

    async def another_code(self, user_id: int, key: str) -> ActivationRecord:
        """Ask for one more SMS on the same number; the watcher waits for a new code."""
        async with self._open_owned(user_id, key) as record:
            if not record.codes:
                raise NoCodeYet
            if record.state is State.WAIT_RETRY:
                return record
            try:
                await self.provider_for(record).request_another_code(
                    self.token_of(record), record.id
                )
            except ActivationNotFound:
                await self._close(record, State.FINISHED, CloseReason.PROVIDER)
                raise ActivationClosed from None

            async def wait_for_another(current: ActivationRecord) -> None:
                if current.is_open:
                    current.state = State.WAIT_RETRY
                    current.retry_waiting_seen = False
                    await self._store.save(current)

            record = await self._write(record, wait_for_another)
            await self._store.watch(record.key, self._clock() + self._poll_interval)
            return record

    async def finish(self, user_id: int, key: str) -> ActivationRecord:
        """Close a number whose code arrived."""
        async with self._open_owned(user_id, key) as record:
            if not record.codes:
                raise NoCodeYet
            return await self.finish_at_provider(record, CloseReason.USER)

    @asynccontextmanager
    async def _open_owned(self, user_id: int, key: str) -> AsyncIterator[ActivationRecord]:
        """The user's open activation, re-read under its lock (a forged key never locks)."""
        await self.owned(user_id, key)
        try:
            async with held(self._store.lock(key, wait=BUTTON_LOCK_WAIT), renew=True):
                record = await self.owned(user_id, key)
                if not record.is_open:
                    raise ActivationClosed
                yield record
        except LockBusy:
            raise Busy from None

    # --- shared with the watcher (the caller holds the activation's lock) ----------------

    def reaches(self, record: ActivationRecord) -> bool:
        """Can the provider the number was bought from be asked about it?"""
        return record.provider in self._providers

    def provider_for(self, record: ActivationRecord) -> Provider:
        """The provider the number was bought from (the current one if it is unknown)."""
        return self._providers.get(record.provider, self._provider)

    def token_of(self, record: ActivationRecord) -> str:
        return self._cipher.decrypt(record.token)

    async def cancel_at_provider(
        self, record: ActivationRecord, reason: CloseReason
    ) -> ActivationRecord:
        """Cancel at the provider and close the record; returns the record as closed.

        Raises CancelTooEarly when refused for now, and the provider's AlreadyChanged or
        BadStatus when it will not cancel at all (a code arrived, or it was finished): the
        money is not back then, so the record stays open.
        """
        try:
            await self.provider_for(record).cancel(self.token_of(record), record.id)
        except EarlyCancelDenied:
            raise await self._too_early(record) from None
        except ActivationNotFound:
            # Gone at the provider: its lifetime ended, and one without a code is refunded.
            logger.info("Activation %s was already closed at the provider", record.key)
        if self._balances is not None:
            await self._balances.changed(record.user_id)  # the money is back
        return await self._close(record, State.CANCELLED, reason)

    async def _too_early(self, record: ActivationRecord) -> CancelTooEarly:
        """A cancel refused for now: learn from it, let the card count down, say how long."""
        age = self._clock() - record.created_at
        window = float(EARLY_CANCEL_WINDOW)
        if self._early_cancel is not None:
            try:
                learned = await self._early_cancel.learn(record.provider, age)
                window = max(window, learned)
            except RedisError as error:
                logger.warning("Could not keep the early-cancel window: %s", error)
        if window <= age:  # refused later than ever seen: the window is longer still
            window = age + EARLY_CANCEL_WINDOW / 4
        cancel_after = record.created_at + window

        async def count_down(current: ActivationRecord) -> None:
            if current.is_open and current.cancel_after < cancel_after:
                current.cancel_after = cancel_after
                await self._store.save(current)

        try:
            await self._write(record, count_down)
        except (RedisError, ServiceError) as error:
            logger.warning("Could not note when %s can be cancelled: %s", record.key, error)
        return CancelTooEarly(max(10, int(cancel_after - self._clock())))

    async def finish_at_provider(
        self, record: ActivationRecord, reason: CloseReason
    ) -> ActivationRecord:
        try:
            await self.provider_for(record).finish(self.token_of(record), record.id)
        except (ActivationNotFound, AlreadyChanged):
            logger.info("Activation %s was already closed at the provider", record.key)
        return await self._close(record, State.FINISHED, reason)

    async def _close(
        self, record: ActivationRecord, state: State, reason: CloseReason
    ) -> ActivationRecord:
        async def close(current: ActivationRecord) -> None:
            if current.is_open:
                if reason is CloseReason.REPLACED:
                    current.message_id = None
                await self._store.close(current, state, reason, self._clock())

        return await self._write(record, close)

    async def _write(
        self, record: ActivationRecord, change: Callable[[ActivationRecord], Awaitable[None]]
    ) -> ActivationRecord:
        """Apply `change` (which writes) to `record`; when the record changed in Redis since
        it was read, re-read it and apply `change` to that (it keeps, say, a code recorded
        meanwhile). Returns the record as written."""
        for _ in range(STALE_WRITE_ATTEMPTS):
            try:
                await change(record)
                return record
            except StaleRecord:
                logger.warning("Activation %s changed under a button; applying again", record.key)
                fresh = await self._store.get(record.key)
                if fresh is None:
                    raise ActivationClosed from None
                record = fresh
        raise Busy
