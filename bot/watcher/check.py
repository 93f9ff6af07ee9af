"""One check of one claimed activation: poll the provider, then decide.

The decision is one of: a new code (record it under the lock, then hand it to delivery),
wait (park it one interval on), expired (cancel with a refund, or finish), closed at the
provider (close the record), or failed (back off). Anything that changes the activation
happens under its lock with the record re-read there. See docs/watcher.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import ParamSpec

from redis.exceptions import RedisError

from bot.provider.budget import last_wait
from bot.provider.errors import ActivationNotFound, ProviderError, WrongToken
from bot.provider.models import ActivationStatus
from bot.services.activations import ActivationService
from bot.services.errors import CancelTooEarly
from bot.store.activations import ActivationRecord, ActivationStore, CloseReason, State
from bot.store.locks import LockBusy, held
from bot.watcher.agenda import Agenda
from bot.watcher.blocked import BlockedUsers
from bot.watcher.context import WatcherContext
from bot.watcher.deadlines import Deadlines
from bot.watcher.delivery import WAITING_STATES, Delivery
from bot.watcher.pacing import AccountPacing

logger = logging.getLogger(__name__)

P = ParamSpec("P")


def is_new_code(record: ActivationRecord, code: str) -> bool:
    """Is `code`, which the provider reports for the activation, an SMS not yet recorded?

    A code differing from every one received is new. After "another code" the provider may
    go on reporting the previous code (compat says STATUS_WAIT_RETRY:<it>, and v2 may answer
    it), so an equal code counts as new only once the provider has said "waiting" since the
    request (the service may well send the same code again)."""
    if code not in record.codes:
        return True
    return record.state is State.WAIT_RETRY and record.retry_waiting_seen


class ActivationCheck:
    """Checks claimed activations (called by the scheduler's workers)."""

    def __init__(
        self,
        store: ActivationStore,
        service: ActivationService,
        delivery: Delivery,
        blocked: BlockedUsers,
        agenda: Agenda,
        deadlines: Deadlines,
        context: WatcherContext,
        pacing: AccountPacing | None = None,
    ) -> None:
        self._store = store
        self._service = service
        self._delivery = delivery
        self._blocked = blocked
        self._agenda = agenda
        self._deadlines = deadlines
        self._pacing = pacing
        self._settings = settings = context.settings
        self._interval = settings.poll_interval
        self._stats = context.stats
        self._problems = context.problems
        self._clock = context.clock
        self._redis_slots = asyncio.Semaphore(settings.redis_concurrency)

    async def run(self, key: str, record: ActivationRecord, claimed_at: float) -> None:
        """Check one claimed activation; errors are logged and the activation backs off."""
        try:
            await self._check(key, record, claimed_at)
        except RedisError as error:
            self._problems.redis.add(error)  # the lease brings it back
        except Exception:
            logger.exception("Checking activation %s failed", key)
            self._agenda.back_off(key, claimed_at, self._clock())

    async def _check(self, key: str, record: ActivationRecord, claimed_at: float) -> None:
        if self._delivery.pending(key):
            return  # a push is pending here; the lease keeps it parked until it is done
        if not record.is_open:
            if self._delivery.owes(record):
                self._delivery.request(key)  # closed with a code whose push failed
            else:
                await self._bounded(self._store.unwatch, key)  # closed: nothing to watch
            return
        now = self._clock()
        if self._delivery.owes(record):
            # Recorded but not pushed (a crash, a failed push). Past its time the number is
            # finished first, so a push that keeps failing never keeps it open.
            if now >= record.expires_at:
                await self._bounded(self._expire, key, claimed_at, now)
            else:
                self._delivery.request(key)
            return
        if record.state is State.CODE:
            if now >= record.expires_at:
                await self._bounded(self._expire, key, claimed_at, now)
            else:
                self._agenda.park(key, claimed_at, record.expires_at)
            return
        if not self._service.reaches(record):  # another service's number (SMSMAN_API_URL)
            self._problems.foreign.add(
                f"{key} was bought over {record.provider!r}; set SMSMAN_PROTOCOL back to finish it"
            )
            self._agenda.park(key, claimed_at, now + self._settings.longest_pause)
            return

        token = self._service.token_of(record)
        if self._pacing is not None and now < record.expires_at:
            later = self._pacing.deferred_until(token, now)
            if later is not None:  # its key is busy: checked after the key's other numbers
                self._stats.deferred += 1
                self._agenda.park(key, claimed_at, min(later, record.expires_at))
                return
        self._stats.polls += 1
        last_wait.set(0.0)
        try:
            status = await self._deadlines.call(
                self._service.provider_for(record).get_activation, token, record.id
            )
        except ActivationNotFound:
            await self._bounded(self._closed_by_provider, key, now)
            return
        except ProviderError as error:
            self._stats.poll_failures += 1
            self._problems.polls.add(error)
            if isinstance(error, WrongToken):
                await self._bounded(self._delivery.token_rejected, record)
            if now >= record.expires_at:
                await self._bounded(self._expire, key, claimed_at, now)
            else:
                self._agenda.back_off(key, claimed_at, self._clock())
            return
        self._agenda.succeeded(key)
        # The next poll is one full interval after this one went out (after its budget wait).
        polled_at = now + last_wait.get()

        code = status.code
        if code and status.status is ActivationStatus.CODE and is_new_code(record, code):
            await self._bounded(self._received, key, code, claimed_at, now)
            return
        if (
            record.state is State.WAIT_RETRY
            and not record.retry_waiting_seen
            and status.status is not ActivationStatus.CODE
        ):
            await self._bounded(self._retry_waiting_seen, key)
        if status.status is ActivationStatus.CANCELLED:
            await self._bounded(self._closed_by_provider, key, now)
            return
        if now >= record.expires_at:
            await self._bounded(self._expire, key, claimed_at, now)
            return
        if not record.codes and await self._blocked.includes(record.user_id):
            async with self._redis_slots:
                if await self._blocked.close(key, now):  # cancelled: the money is back
                    return
        if (
            record.message_id is not None
            and now - max(record.card_refreshed_at, record.created_at)
            >= self._settings.card_refresh_every
        ):
            self._delivery.refresh_card(key)
        self._agenda.park(
            key, claimed_at, min(self._next_poll(record, token, polled_at), record.expires_at)
        )

    def _next_poll(self, record: ActivationRecord, token: str, polled_at: float) -> float:
        """One interval after this poll, or later when the key's rate is booked till then."""
        due = polled_at + self._interval
        if self._pacing is None:
            return due
        at = self._pacing.next_check(token, due)
        if at - due >= self._interval / 2:
            self._stats.spaced += 1
            self._problems.spaced.add(
                f"user {record.user_id}, each number about every {at - polled_at:.1f} s"
            )
        return at

    async def _bounded(
        self, work: Callable[P, Awaitable[object]], *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Run Redis-bound work of a check within `redis_concurrency` (the pool is finite)."""
        async with self._redis_slots:
            await work(*args, **kwargs)

    def _locked(self, key: str) -> AbstractAsyncContextManager[None]:
        settings = self._settings
        return held(self._store.lock(key, timeout=settings.lock_timeout, wait=settings.lock_wait))

    async def _received(self, key: str, code: str, claimed_at: float, now: float) -> None:
        """A new code: record it under the lock (before any push), then hand it to delivery."""
        try:
            async with self._locked(key):
                record = await self._store.get(key)
                if record is None or not record.is_open:
                    return
                if record.state in WAITING_STATES and is_new_code(record, code):
                    record.state = State.CODE
                    record.retry_waiting_seen = False
                    await self._store.record_code(record, code, now)
                    self._stats.codes += 1
                pending = record.delivered < len(record.codes)
        except LockBusy:
            self._agenda.park(key, claimed_at, now + self._settings.retry_soon)
            return
        if pending:
            # The claim's lease keeps it parked; the delivery schedules it for its expiry.
            self._delivery.request(key)

    async def _retry_waiting_seen(self, key: str) -> None:
        """Remember that the provider said "waiting" after "another code": from now on a code
        it reports is a new SMS, even one that repeats an earlier code."""
        try:
            async with self._locked(key):
                record = await self._store.get(key)
                if record is None or record.state is not State.WAIT_RETRY:
                    return
                if not record.retry_waiting_seen:
                    record.retry_waiting_seen = True
                    await self._store.save(record)
        except LockBusy:
            return  # the next check notes it

    async def _expire(self, key: str, claimed_at: float, now: float) -> None:
        """Past `expires_at`: cancel (no code: refund) or finish (code received). A code not
        yet pushed is pushed after, by the delivery the close asks for."""
        try:
            async with self._locked(key):
                record = await self._store.get(key)
                if record is None or not record.is_open:
                    return
                try:
                    if record.codes:
                        await self._deadlines.call(
                            self._service.finish_at_provider, record, CloseReason.TIMEOUT
                        )
                    else:
                        await self._deadlines.call(
                            self._service.cancel_at_provider, record, CloseReason.TIMEOUT
                        )
                except CancelTooEarly:
                    late = now - record.expires_at
                    retry = max(self._interval, min(30.0, late / 2))
                    await self._store.schedule(key, now + retry)
                    return
                except ProviderError as error:
                    if now - record.expires_at < self._settings.abandon_after:
                        raise
                    logger.warning(
                        "Activation %s could not be closed at the provider for %.0f s (%s); "
                        "closing it here",
                        key,
                        now - record.expires_at,
                        error,
                    )
                    state = State.FINISHED if record.codes else State.CANCELLED
                    await self._store.close(record, state, CloseReason.TIMEOUT, now)
        except LockBusy:
            self._agenda.park(key, claimed_at, now + self._settings.retry_soon)
            return
        except ProviderError as error:
            self._problems.polls.add(error)
            self._agenda.back_off(key, claimed_at, self._clock())
            return
        self._stats.expired += 1
        self._agenda.succeeded(key)
        self._delivery.request(key, card=True)

    async def _closed_by_provider(self, key: str, now: float) -> None:
        try:
            async with self._locked(key):
                record = await self._store.get(key)
                if record is None or not record.is_open:
                    return
                state = State.FINISHED if record.codes else State.CANCELLED
                # Past its time with no code: our own expiry cancel got there first (a watcher
                # died after sending it), and the card should say so.
                expired = not record.codes and now >= record.expires_at
                reason = CloseReason.TIMEOUT if expired else CloseReason.PROVIDER
                await self._store.close(record, state, reason, now)
        except LockBusy:
            return  # the lease brings it back
        logger.info("Activation %s was closed on the provider's side", key)
        self._stats.closed_by_provider += 1
        self._agenda.succeeded(key)
        self._delivery.request(key, card=True)
