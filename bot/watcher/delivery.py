"""Telling the user: push each recorded code once, keep the number card current.

Deliveries run in their own pool (`notify_concurrency`), apart from the status checks, so a
slow Telegram never stalls polling. One job per activation at a time; asking again while a
job runs makes it go round once more. Under the activation's lock (renewed while a push waits
out flood control) the record is re-read and every code past `delivered` is pushed, each
counted delivered right after its push. See docs/watcher.md ("Exactly once").
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from bot.provider.budget import RateLimiter
from bot.services.notifications import Notifier, PushRefused, RecipientGone
from bot.store.activations import ActivationRecord, ActivationStore, CloseReason, State
from bot.store.locks import LockBusy, held
from bot.store.notices import TOKEN_REJECTED, NoticeStore
from bot.watcher.agenda import Agenda
from bot.watcher.blocked import BlockedUsers
from bot.watcher.context import WatcherContext

logger = logging.getLogger(__name__)

WAITING_STATES = (State.WAITING, State.WAIT_RETRY)

MAX_REFUSED = 3
"""Pushes of one code Telegram may refuse for good (a message it cannot parse) before the
watcher stops trying; network errors and flood control are retried with back-off instead."""


@dataclass
class _Job:
    """A pending notifier job for one activation (codes first, then the card if asked)."""

    card: bool = False
    again: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Delivery:
    def __init__(
        self,
        store: ActivationStore,
        notifier: Notifier,
        blocked: BlockedUsers,
        agenda: Agenda,
        context: WatcherContext,
    ) -> None:
        self._store = store
        self._notices = NoticeStore(store.redis)
        self._notifier = notifier
        self._blocked = blocked
        self._agenda = agenda
        self._settings = settings = context.settings
        self._stats = context.stats
        self._problems = context.problems
        self._clock = context.clock
        self._slots = asyncio.Semaphore(settings.notify_concurrency)
        self._card_refreshes = RateLimiter(
            settings.card_refresh_rate, burst=max(1.0, settings.card_refresh_rate)
        )
        self._jobs: dict[str, _Job] = {}
        self._refused: dict[str, int] = {}  # key -> pushes Telegram refused for good

    def pending(self, key: str) -> bool:
        """A job for `key` is queued or running (its claim's lease keeps it parked)."""
        return key in self._jobs

    def request(self, key: str, *, card: bool = False) -> None:
        """Queue a notifier job for the activation; one per activation at a time."""
        job = self._jobs.get(key)
        if job is not None:
            job.card = job.card or card
            job.again = True
            return
        job = _Job(card=card)
        self._jobs[key] = job
        job.task = asyncio.create_task(self._run(key, job))

    def refresh_card(self, key: str) -> None:
        """Refresh the card's "time left", unless over the global cap (a later check retries)."""
        if self._card_refreshes.try_acquire():
            self.request(key, card=True)
        else:
            self._stats.cards_skipped += 1

    async def wait(self, within: float | None) -> None:
        """Wait for the jobs in flight; after `within` seconds cancel the rest."""
        deadline = None if within is None else time.monotonic() + within
        while self._jobs:
            tasks = [job.task for job in self._jobs.values() if job.task is not None]
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                logger.warning(
                    "Stopped with %d notifications unsent; they are sent on restart", len(tasks)
                )
                return
            await asyncio.wait(tasks, timeout=left)

    async def abort(self) -> None:
        tasks = [job.task for job in self._jobs.values() if job.task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- one job ---------------------------------------------------------------------------

    async def _run(self, key: str, job: _Job) -> None:
        try:
            async with self._slots:
                while True:
                    job.again = False
                    card, job.card = job.card, False
                    await self._deliver(key, card)
                    if not job.again:
                        break
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Notifying about activation %s failed", key)
        finally:
            self._jobs.pop(key, None)

    async def token_rejected(self, record: ActivationRecord) -> None:
        """The provider refused the number's token: tell the user, once (in all processes)."""
        if not await self._notices.first(record.user_id, TOKEN_REJECTED):
            return
        try:
            async with asyncio.timeout(self._settings.notify_timeout):
                await self._notifier.token_rejected(record)
        except RecipientGone:
            await self._blocked.recipient_gone(record.user_id)
        except Exception as error:
            self._problems.pushes.add(error if str(error) else type(error).__name__)
            await self._notices.clear(record.user_id, TOKEN_REJECTED)  # try at the next check

    def given_up(self, key: str) -> bool:
        """Telegram refused this activation's code `MAX_REFUSED` times: stop pushing it (the
        code stays in the record, shown in /numbers and on the card)."""
        return self._refused.get(key, 0) >= MAX_REFUSED

    def owes(self, record: ActivationRecord) -> bool:
        """Codes recorded but not pushed, that can still be pushed."""
        return (
            record.delivered < len(record.codes)
            and record.close_reason is not CloseReason.BLOCKED
            and not self.given_up(record.key)
        )

    async def _deliver(self, key: str, card: bool) -> None:
        settings = self._settings
        record: ActivationRecord | None = None
        try:
            lock = self._store.lock(
                key, timeout=settings.lock_timeout, wait=settings.delivery_lock_wait
            )
            async with held(lock, renew=True):
                record = await self._store.get(key)
                if record is None:
                    return
                await self._push(record, card)
        except LockBusy:
            await self._store.schedule(key, self._clock() + settings.retry_soon)
        except RecipientGone:
            if record is not None:
                await self._blocked.recipient_gone(record.user_id)
        except RedisError as error:
            self._problems.redis.add(error)  # the lease brings it back to a check
        except Exception as error:
            self._stats.push_failures += 1
            self._problems.pushes.add(error if str(error) else type(error).__name__)
            if isinstance(error, PushRefused):
                self._refused[key] = self._refused.get(key, 0) + 1
            if record is not None:
                await self._try_again(record, self._clock() + self._agenda.failed(key))

    async def _try_again(self, record: ActivationRecord, due_at: float) -> None:
        """Bring a failed delivery back to a check at `due_at` (a closed record too)."""
        if record.is_open:
            await self._store.schedule(record.key, due_at)
        elif self.owes(record):
            await self._store.watch(record.key, due_at)  # closed: re-watched for the push

    async def _push(self, record: ActivationRecord, card: bool) -> None:
        """Under the lock: push every undelivered code, counting each delivered the moment
        its message is sent; then the card."""
        now = self._clock()
        timeout = self._settings.notify_timeout
        pushed = False
        while self.owes(record):
            code = record.codes[record.delivered]
            async with asyncio.timeout(timeout):
                await self._notifier.code_received(record, code)
            record.delivered += 1
            self._stats.pushes += 1
            pushed = True
            if record.is_open:
                await self._store.save(record)
            else:
                await self._store.save_keeping_expiry(record)
        if pushed:
            self._agenda.succeeded(record.key)
            self._refused.pop(record.key, None)
            if record.is_open:
                due = (
                    record.expires_at
                    if record.state is State.CODE
                    else now + self._settings.poll_interval
                )
                await self._store.schedule(record.key, due)
            else:
                await self._store.unwatch(record.key)
            await self._card_after_push(record)
        elif record.is_open:
            if card and record.state in WAITING_STATES and record.message_id is not None:
                async with asyncio.timeout(timeout):
                    await self._notifier.card_changed(record)
                self._stats.cards += 1
                record.card_refreshed_at = now
                await self._store.save(record)
        elif card and record.close_reason is not CloseReason.BLOCKED:
            async with asyncio.timeout(timeout):
                await self._notifier.card_changed(record)
            self._stats.cards += 1

    async def _card_after_push(self, record: ActivationRecord) -> None:
        """Show the new code on the card. The code is already in the chat: a failure here is
        logged, never a reason to push the code again."""
        try:
            async with asyncio.timeout(self._settings.notify_timeout):
                await self._notifier.card_changed(record)
        except (RecipientGone, RedisError):
            raise
        except Exception as error:
            self._problems.cards.add(f"{record.key}: {error or type(error).__name__}")
            return
        self._stats.cards += 1
