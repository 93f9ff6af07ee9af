"""Activations (bought numbers) and the watch schedule, all in Redis.

An activation is stored as one JSON value carrying a `version`. Every write of an existing
record is a compare-and-set (WATCH the key, check the stored version is the one the record
was read with, write version + 1 in MULTI/EXEC): a writer holding a stale copy (a button
whose lock lapsed, a watcher after a lost lease) gets `StaleRecord` instead of overwriting a
change made meanwhile, such as a code the watcher just recorded. The caller re-reads and
re-applies its change. The watch schedule is a sorted set of activation
keys scored by the unix time their next status check is due. Claiming due work moves the
score forward by a lease in the same Lua call, so an activation is checked by one watcher at
a time, and one whose watcher died is due again when the lease runs out.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.lock import Lock
from redis.exceptions import NoScriptError, WatchError

from bot.store import as_text, keys

logger = logging.getLogger(__name__)

CLOSED_KEPT_SECONDS = 30 * 24 * 3600  # finished/cancelled activations stay visible this long
USER_HISTORY_KEPT = 50  # per user, newest first
TIME_TO_CODE_KEPT = 5000  # samples for the median time-to-code

# Claim due members with their records: ARGV = now, lease, limit, record key prefix. Up to
# `limit` members due by `now` are leased (their score moved to now + lease); a member whose
# record is gone is dropped from the schedule (create() writes both in one transaction). The
# answer is one string, a line "<member>\t<record JSON>" per activation (JSON has no raw tabs
# or newlines): one reply to parse instead of two per activation, which matters without
# hiredis.
_CLAIM_RECORDS_SCRIPT = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local until_ = tonumber(ARGV[1]) + tonumber(ARGV[2])
local records = {}
for _, member in ipairs(due) do
  local record = redis.call('GET', ARGV[4] .. member)
  if record then
    redis.call('ZADD', KEYS[1], 'XX', until_, member)
    records[#records + 1] = member .. "\\t" .. record
  else
    redis.call('ZREM', KEYS[1], member)
  end
end
return table.concat(records, "\\n")
"""

# Move claimed members to their next due time, each only if its score is still the lease it
# was claimed with. ARGV = groups of: lease_until, due_at, count, member * count.
_RESCHEDULE_SCRIPT = """
local moved = 0
local i = 1
while i <= #ARGV do
  local lease_until = tonumber(ARGV[i])
  local due_at = ARGV[i + 1]
  local last = i + 2 + tonumber(ARGV[i + 2])
  for j = i + 3, last do
    local score = redis.call('ZSCORE', KEYS[1], ARGV[j])
    if score and math.abs(tonumber(score) - lease_until) < 0.001 then
      redis.call('ZADD', KEYS[1], 'XX', due_at, ARGV[j])
      moved = moved + 1
    end
  end
  i = last + 1
end
return moved
"""


class StaleRecord(Exception):
    """The record changed in Redis since it was read (or is gone): re-read, re-apply."""

    def __init__(self, key: str) -> None:
        super().__init__(f"activation {key} changed since it was read")
        self.key = key


class State(StrEnum):
    WAITING = "waiting"  # no code yet
    CODE = "code"  # a code was received; the number is still open
    WAIT_RETRY = "wait_retry"  # the user asked for another code
    FINISHED = "finished"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self in (State.WAITING, State.CODE, State.WAIT_RETRY)


class CloseReason(StrEnum):
    USER = "user"  # the user pressed a button
    TIMEOUT = "timeout"  # no code before ACTIVATION_TIMEOUT / finished at expiry
    PROVIDER = "provider"  # cancelled or gone on the provider's side
    BLOCKED = "blocked"  # the user blocked the bot
    REPLACED = "replaced"  # the user replaced it with a new number (🔄 Replace)


class ActivationRecord(BaseModel):
    """Everything about one bought number. Nothing about an activation lives only in memory."""

    provider: str
    id: str
    user_id: int
    chat_id: int
    message_id: int | None = None  # the number card
    language: str = "en"
    number: str
    service_id: str
    service_name: str
    country_id: str
    country_name: str
    country_iso: str | None = None
    price: Decimal
    # The user's API token, encrypted, while the number is open (it survives /logout until
    # the number closes); a closed record keeps none ("").
    token: str
    state: State = State.WAITING
    codes: list[str] = []
    delivered: int = 0  # how many of `codes` were pushed into the chat
    created_at: float
    expires_at: float
    first_code_at: float | None = None
    closed_at: float | None = None
    close_reason: CloseReason | None = None
    card_refreshed_at: float = 0.0
    retry_waiting_seen: bool = False  # since "another code", the provider said "waiting"
    # Before this unix time the provider is expected to refuse a cancel (0: any time); the
    # card counts down to it instead of letting ❌ Cancel fail.
    cancel_after: float = 0.0
    version: int = 0  # bumped by every write; a write from a stale copy is refused

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.id}"

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    @property
    def last_code(self) -> str | None:
        return self.codes[-1] if self.codes else None

    def seconds_left(self, now: float | None = None) -> int:
        return max(0, int(self.expires_at - (time.time() if now is None else now)))


def _reschedule_args(items: Sequence[tuple[str, float, float]]) -> list[str | float | int]:
    """Items grouped by (lease_until, due_at): a batch claimed together mostly shares both."""
    groups: dict[tuple[float, float], list[str]] = {}
    for key, lease_until, due_at in items:
        groups.setdefault((lease_until, due_at), []).append(key)
    args: list[str | float | int] = []
    for (lease_until, due_at), members in groups.items():
        args += [lease_until, due_at, len(members), *members]
    return args


def _stored_version(raw: str | bytes | None) -> int | None:
    """The version of a stored record (0 for one written before versions), None when gone."""
    if raw is None:
        return None
    try:
        version = json.loads(raw).get("version", 0)
    except (ValueError, AttributeError):
        return None
    return version if isinstance(version, int) else None


def utc_day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


class ActivationStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._reschedule = redis.register_script(_RESCHEDULE_SCRIPT)
        self._claim_records = redis.register_script(_CLAIM_RECORDS_SCRIPT)

    @property
    def redis(self) -> Redis:
        """The client this store works on (other stores of the same process share it)."""
        return self._redis

    # --- records -----------------------------------------------------------------------

    async def create(self, record: ActivationRecord, first_check_at: float) -> None:
        """Store a new activation, schedule its first check and count it, atomically."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.activation(record.key), record.model_dump_json())
            pipe.zadd(keys.WATCH_DUE, {record.key: first_check_at})
            pipe.zadd(keys.user_activations(record.user_id), {record.key: record.created_at})
            pipe.zremrangebyrank(keys.user_activations(record.user_id), 0, -USER_HISTORY_KEPT - 1)
            pipe.hincrby(keys.STATS, "bought", 1)
            pipe.hincrby(keys.stats_day(utc_day(record.created_at)), "bought", 1)
            await pipe.execute()

    async def get(self, key: str) -> ActivationRecord | None:
        raw = await self._redis.get(keys.activation(key))
        return ActivationRecord.model_validate_json(raw) if raw else None

    async def get_many(self, activation_keys: Sequence[str]) -> list[ActivationRecord]:
        if not activation_keys:
            return []
        raws = await self._redis.mget([keys.activation(key) for key in activation_keys])
        return [ActivationRecord.model_validate_json(raw) for raw in raws if raw]

    async def save(self, record: ActivationRecord) -> None:
        """Write the record unless it changed since it was read (then `StaleRecord`)."""
        async with self._versioned(record) as pipe:
            pipe.set(keys.activation(record.key), record.model_dump_json())

    async def save_keeping_expiry(self, record: ActivationRecord) -> None:
        """`save` without touching the key's expiry (a closed record keeps its retention)."""
        async with self._versioned(record) as pipe:
            pipe.set(keys.activation(record.key), record.model_dump_json(), keepttl=True)

    async def record_code(self, record: ActivationRecord, code: str, now: float) -> None:
        """Save a newly received code (not yet delivered) and count it. `StaleRecord` when
        the record changed since it was read (nothing is written or counted then)."""
        first = record.first_code_at is None
        record.codes.append(code)
        if first:
            record.first_code_at = now
        try:
            async with self._versioned(record) as pipe:
                pipe.set(keys.activation(record.key), record.model_dump_json())
                if first:
                    pipe.hincrby(keys.STATS, "with_code", 1)
                    pipe.hincrby(keys.stats_day(utc_day(record.created_at)), "with_code", 1)
                    pipe.lpush(keys.STATS_TIME_TO_CODE, f"{now - record.created_at:.3f}")
                    pipe.ltrim(keys.STATS_TIME_TO_CODE, 0, TIME_TO_CODE_KEPT - 1)
                pipe.hincrby(keys.STATS, "codes", 1)
        except StaleRecord:
            record.codes.pop()
            if first:
                record.first_code_at = None
            raise

    @asynccontextmanager
    async def _versioned(self, record: ActivationRecord) -> AsyncIterator[Pipeline]:
        """A MULTI/EXEC transaction that runs only if the stored record still has the
        version `record` was read with; raises `StaleRecord` otherwise. In the body
        `record.version` is already the next one: queue the writes of `record`'s JSON there.
        If the write fails the version goes back (the caller re-reads)."""
        key = keys.activation(record.key)
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            if _stored_version(await pipe.get(key)) != record.version:
                raise StaleRecord(record.key)
            record.version += 1
            try:
                pipe.multi()
                yield pipe
                await pipe.execute()
            except WatchError:
                record.version -= 1
                raise StaleRecord(record.key) from None
            except BaseException:
                record.version -= 1
                raise

    async def close(
        self, record: ActivationRecord, state: State, reason: CloseReason, now: float
    ) -> None:
        """Mark the activation finished or cancelled, forget its token, stop watching it
        (`StaleRecord` when the record changed since it was read)."""
        record.state = state
        record.close_reason = reason
        record.closed_at = now
        record.token = ""
        async with self._versioned(record) as pipe:
            pipe.set(keys.activation(record.key), record.model_dump_json(), ex=CLOSED_KEPT_SECONDS)
            pipe.zrem(keys.WATCH_DUE, record.key)
            pipe.hincrby(keys.STATS, state.value, 1)
            pipe.hincrby(keys.stats_day(utc_day(record.created_at)), state.value, 1)

    async def forget_closed_tokens(self, user_id: int) -> int:
        """Drop the token from the user's closed records (ones closed before closing dropped
        it); returns how many open numbers still hold it, which need it until they close."""
        still_open = 0
        for record in await self.for_user(user_id):
            if record.is_open:
                still_open += 1
            elif record.token:
                record.token = ""
                await self.save_keeping_expiry(record)
        return still_open

    def lock(self, key: str, timeout: float = 60.0, wait: float = 15.0) -> Lock:
        """A lock serialising every change to one activation (watcher and buttons alike)."""
        return self._redis.lock(keys.activation_lock(key), timeout=timeout, blocking_timeout=wait)

    async def for_user(
        self, user_id: int, limit: int = USER_HISTORY_KEPT
    ) -> list[ActivationRecord]:
        """The user's activations, newest first."""
        members = await self._redis.zrevrange(keys.user_activations(user_id), 0, limit - 1)
        return await self.get_many([str(member) for member in members])

    # --- watch schedule ----------------------------------------------------------------

    async def schedule(self, key: str, due_at: float) -> None:
        """Set when the activation is next checked (only while it is being watched)."""
        await self._redis.zadd(keys.WATCH_DUE, {key: due_at}, xx=True)

    async def watch(self, key: str, due_at: float) -> None:
        """Watch (again) an activation, e.g. after the user asked for another code."""
        await self._redis.zadd(keys.WATCH_DUE, {key: due_at})

    async def unwatch(self, key: str) -> None:
        await self._redis.zrem(keys.WATCH_DUE, key)

    async def reschedule_claimed(self, items: Sequence[tuple[str, float, float]]) -> int:
        """Move claimed activations to their next check, in one call.

        Each item is (key, lease_until, due_at), `lease_until` being the score
        `claim_due_records` gave it (now + lease). An item moves only while its score is still
        that lease: a change made meanwhile (closed, re-watched by a button, claimed again
        after the lease ran out) wins over the claimer's stale decision. Returns how many moved.
        """
        if not items:
            return 0
        return int(await self._reschedule(keys=[keys.WATCH_DUE], args=_reschedule_args(items)))

    async def claim_due_records(
        self,
        now: float,
        lease: float,
        limit: int,
        *,
        reschedule: Sequence[tuple[str, float, float]] = (),
    ) -> list[ActivationRecord]:
        """Take up to `limit` activations due by `now`, leasing them for `lease` seconds, after
        `reschedule_claimed(reschedule)`: one round trip for a watcher's whole turn.

        A member whose record is gone leaves the schedule; a record that cannot be read is
        logged and leaves it too (it could never be checked).
        """
        # The scripts go by EVALSHA in a plain pipeline: a pipeline of `Script` objects would
        # first ask Redis whether they exist (SCRIPT EXISTS), a second round trip every turn.
        # After a Redis restart or SCRIPT FLUSH, NOSCRIPT: load them and go again (repeating
        # the reschedules is harmless, each moves only from the lease score it last had).
        claim_args: list[str | float | int] = [now, lease, limit, keys.activation("")]
        for attempt in (1, 2):
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    if reschedule:
                        pipe.evalsha(
                            self._reschedule.sha, 1, keys.WATCH_DUE, *_reschedule_args(reschedule)
                        )
                    pipe.evalsha(self._claim_records.sha, 1, keys.WATCH_DUE, *claim_args)
                    reply = (await pipe.execute())[-1]
                break
            except NoScriptError:
                if attempt == 2:
                    raise
                for script in (self._reschedule, self._claim_records):
                    await self._redis.script_load(script.script)
        records = []
        for line in as_text(reply).split("\n") if reply else ():
            member, _, raw = line.partition("\t")
            try:
                records.append(ActivationRecord.model_validate_json(raw))
            except ValidationError:
                logger.exception("Activation %s cannot be read; it is no longer watched", member)
                await self.unwatch(member)
        return records

    async def next_due_at(self) -> float | None:
        first = await self._redis.zrange(keys.WATCH_DUE, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def watched_count(self) -> int:
        return int(await self._redis.zcard(keys.WATCH_DUE))

    # --- statistics --------------------------------------------------------------------

    async def counters(self, day: str | None = None) -> dict[str, int]:
        raw = await self._redis.hgetall(keys.stats_day(day) if day else keys.STATS)
        return {str(name): int(value) for name, value in raw.items()}

    async def times_to_code(self) -> list[float]:
        return [float(value) for value in await self._redis.lrange(keys.STATS_TIME_TO_CODE, 0, -1)]
