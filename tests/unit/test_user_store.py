"""UserStore: whether a text could hold the user's token before decrypting it, and the
token one update reads once."""

from __future__ import annotations

import asyncio

from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.store import keys
from bot.store.crypto import TokenCipher
from bot.store.users import UserStore, Visit

CIPHER = TokenCipher(Fernet.generate_key())


def test_a_text_that_is_just_the_token_is_looked_into_whatever_its_length() -> None:
    for length in range(1, 100):
        token = "k" * length
        assert UserStore.token_may_be_in(token, CIPHER.encrypt(token)), length


@given(
    token=st.text(min_size=1, max_size=300),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_a_text_holding_the_token_is_always_looked_into(
    token: str, before: str, after: str
) -> None:
    assert UserStore.token_may_be_in(before + token + after, CIPHER.encrypt(token))


def test_a_text_too_short_to_hold_the_token_is_not_decrypted() -> None:
    token = "a" * 32  # an SMS-man key is 32 characters
    ciphertext = CIPHER.encrypt(token)

    assert not UserStore.token_may_be_in("/start", ciphertext)
    assert not UserStore.token_may_be_in("te", ciphertext)
    assert not UserStore.token_may_be_in("x" * 16, ciphertext)
    assert UserStore.token_may_be_in("x" * 32, ciphertext)
    assert UserStore.token_may_be_in("/start", "not a fernet token!")


async def test_an_update_reads_its_users_token_once_and_sees_its_own_changes(
    fake_redis: Redis,
) -> None:
    users = UserStore(fake_redis, CIPHER)
    await users.set_token(1, "token-of-one-0001")
    await users.set_token(2, "token-of-two-0002")
    visit = Visit(
        language=None,
        encrypted_token=CIPHER.encrypt("token-of-one-0001"),
        taps=0,
        conversation=None,
    )
    later: list[str | None] = []

    async def after_the_update() -> None:
        await asyncio.sleep(0.01)
        later.append(await users.get_token(1))

    with users.reading(1, visit):
        await fake_redis.hset(keys.user(1), "token", CIPHER.encrypt("changed-elsewhere-01"))
        assert await users.get_token(1) == "token-of-one-0001"  # as the update read it
        assert await users.get_token(2) == "token-of-two-0002"  # another user: from Redis
        await users.set_token(1, "a-new-token-00001")
        assert await users.get_token(1) == "a-new-token-00001"
        task = asyncio.create_task(after_the_update())
        await users.delete_token(1)
        assert await users.get_token(1) is None

    await users.set_token(1, "after-the-update-1")
    await task
    assert later == ["after-the-update-1"]  # a task the update started reads Redis after it
    assert await users.get_token(1) == "after-the-update-1"
