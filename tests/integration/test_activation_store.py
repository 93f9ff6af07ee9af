"""The watch schedule's claims and leases, and encrypted tokens, on a real Redis server."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from redis.asyncio import Redis

from bot.store.activations import (
    ActivationRecord,
    ActivationStore,
    CloseReason,
    StaleRecord,
    State,
)
from bot.store.crypto import KeyMismatch, TokenCipher
from bot.store.users import UserStore


def make_record(activation_id: str, created_at: float = 1000.0) -> ActivationRecord:
    return ActivationRecord(
        provider="v2",
        id=activation_id,
        user_id=1,
        chat_id=1,
        number="79001234567",
        service_id="3",
        service_name="Telegram",
        country_id="1",
        country_name="Russia",
        price=Decimal("15"),
        token="encrypted",
        created_at=created_at,
        expires_at=created_at + 1200,
    )


async def test_a_due_activation_is_claimed_by_one_watcher_until_its_lease_ends(
    redis: Redis,
) -> None:
    store = ActivationStore(redis)
    for n in range(3):
        await store.create(make_record(str(n)), first_check_at=1000.0)

    first = [r.key for r in await store.claim_due_records(now=1000.0, lease=10, limit=100)]
    second = await store.claim_due_records(now=1005.0, lease=10, limit=100)
    after_lease = [r.key for r in await store.claim_due_records(now=1011.0, lease=10, limit=100)]

    assert sorted(first) == ["v2:0", "v2:1", "v2:2"]
    assert second == []  # leased to the first watcher
    assert sorted(after_lease) == sorted(first)  # its holder died: due again


async def test_claims_respect_the_limit_and_due_order(redis: Redis) -> None:
    store = ActivationStore(redis)
    for n, due in enumerate([1003.0, 1001.0, 1002.0, 2000.0]):
        await store.create(make_record(str(n)), first_check_at=due)
    first = await store.claim_due_records(now=1500.0, lease=10, limit=2)
    assert [record.key for record in first] == ["v2:1", "v2:2"]
    rest = await store.claim_due_records(now=1500.0, lease=10, limit=10)
    assert [record.key for record in rest] == ["v2:0"]


async def test_a_turn_reschedules_and_claims_even_after_redis_forgot_the_scripts(
    redis: Redis,
) -> None:
    store = ActivationStore(redis)
    for n in range(3):
        await store.create(make_record(str(n)), first_check_at=1000.0)
    claimed = await store.claim_due_records(1000.0, 10.0, 2)
    assert [record.id for record in claimed] == ["0", "1"]

    await redis.script_flush()  # as after a Redis restart
    # The turn's reschedules (checked ones due again at 1003) and the next claim, together.
    turn = [(record.key, 1010.0, 1003.0) for record in claimed]
    claimed_next = await store.claim_due_records(1001.0, 10.0, 10, reschedule=turn)
    assert [record.id for record in claimed_next] == ["2"]

    due_again = await store.claim_due_records(1003.0, 10.0, 10)
    assert sorted(record.id for record in due_again) == ["0", "1"]


async def test_a_closed_activation_is_not_rescheduled(redis: Redis) -> None:
    store = ActivationStore(redis)
    record = make_record("7")
    await store.create(record, first_check_at=1000.0)
    await store.claim_due_records(now=1000.0, lease=10, limit=10)
    await store.close(record, State.CANCELLED, CloseReason.USER, now=1001.0)
    await store.schedule(record.key, 1003.0)  # a watcher finishing its check late
    assert await store.watched_count() == 0
    stored = await store.get(record.key)
    assert stored is not None and stored.state is State.CANCELLED
    assert (await store.counters())["cancelled"] == 1


async def test_a_write_from_a_stale_copy_never_overwrites_a_change_made_meanwhile(
    redis: Redis,
) -> None:
    store = ActivationStore(redis)
    await store.create(make_record("8"), first_check_at=1000.0)
    button = await store.get("v2:8")  # both read the same version
    watcher = await store.get("v2:8")
    assert button is not None and watcher is not None

    watcher.state = State.CODE
    await store.record_code(watcher, "5555", now=1002.0)
    button.state = State.WAIT_RETRY
    with pytest.raises(StaleRecord):
        await store.save(button)
    with pytest.raises(StaleRecord):
        await store.close(button, State.CANCELLED, CloseReason.USER, now=1003.0)
    with pytest.raises(StaleRecord):
        await store.record_code(button, "6666", now=1003.0)  # nor the other way round

    stored = await store.get("v2:8")
    assert stored is not None and stored.codes == ["5555"] and stored.state is State.CODE
    assert (await store.counters()).get("codes") == 1
    await store.save(stored)  # a fresh copy writes
    assert (await store.get("v2:8")) == stored


async def test_tokens_are_encrypted_at_rest_and_need_the_same_key(redis: Redis) -> None:
    key = Fernet.generate_key()
    users = UserStore(redis, TokenCipher(key))
    await users.check_key()
    await users.set_token(5, "my-secret-api-token")

    raw = await redis.hget("smsbot:user:5", "token")
    assert raw is not None and "my-secret-api-token" not in raw
    assert await users.get_token(5) == "my-secret-api-token"
    assert "my-secret-api-token" not in repr(TokenCipher(key))

    other = UserStore(redis, TokenCipher(Fernet.generate_key()))
    with pytest.raises(KeyMismatch):
        await other.check_key()


async def test_a_new_key_first_reads_old_tokens_and_re_encrypts_them(redis: Redis) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    before = UserStore(redis, TokenCipher(old))
    await before.check_key()
    await before.set_token(5, "token-of-five")
    await before.set_token(6, "token-of-six")

    rotated = UserStore(redis, TokenCipher(new + b"," + old))  # TOKEN_ENCRYPTION_KEY=new,old
    await rotated.check_key()  # at start: every stored token moves to the new key

    new_only = UserStore(redis, TokenCipher(new))  # the old key can go now
    await new_only.check_key()
    assert await new_only.get_token(5) == "token-of-five"
    assert await new_only.get_token(6) == "token-of-six"


async def test_re_encrypting_never_brings_back_a_deleted_token(redis: Redis) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    await UserStore(redis, TokenCipher(old)).set_token(5, "token-of-five")
    users = UserStore(redis, TokenCipher(new + b"," + old))
    stale = await users.get_encrypted_token(5)
    assert stale is not None
    await users.delete_token(5)

    await users._replace_token(5, stale, "re-encrypted")  # what a slower reader would do

    assert await users.get_encrypted_token(5) is None


async def test_a_closed_record_keeps_no_token(redis: Redis) -> None:
    store = ActivationStore(redis)
    record = make_record("1")
    await store.create(record, first_check_at=1000.0)

    await store.close(record, State.FINISHED, CloseReason.USER, 1100.0)

    stored = await store.get(record.key)
    assert stored is not None and stored.token == ""
