"""UserStore's check of whether a text could hold the user's token before decrypting it."""

from __future__ import annotations

from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from bot.store.crypto import TokenCipher
from bot.store.users import UserStore

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
