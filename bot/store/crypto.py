"""Encryption of users' provider tokens at rest (Fernet: AES-128-CBC + HMAC-SHA256).

TOKEN_ENCRYPTION_KEY may hold several keys separated by commas, the new one first: tokens
are encrypted with the first and decrypted with any (Fernet's MultiFernet), and `rotate`
re-encrypts what an older key encrypted.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.config import ConfigError

logger = logging.getLogger(__name__)

KEY_FILE_NAME = "token_encryption.key"


class KeyMismatch(Exception):
    """The key cannot decrypt what was stored with another key."""


def split_keys(keys: str | bytes) -> list[bytes]:
    """The keys in a TOKEN_ENCRYPTION_KEY value: one, or several separated by commas."""
    raw = keys.encode() if isinstance(keys, str) else keys
    return [key.strip() for key in raw.split(b",") if key.strip()]


class TokenCipher:
    """Encrypts and decrypts API tokens. Never logs or reprs what it handles, and keeps no
    decrypted token (a token forgotten by /logout is not left behind in memory)."""

    def __init__(self, keys: str | bytes) -> None:
        fernets = [Fernet(key) for key in split_keys(keys)]
        if not fernets:
            raise ValueError("no key")
        self._current = fernets[0]
        self._fernet = MultiFernet(fernets)
        self.has_older_keys = len(fernets) > 1

    def __repr__(self) -> str:
        return "TokenCipher(<key hidden>)"

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise KeyMismatch("stored token cannot be decrypted with this key") from None

    def rotate(self, ciphertext: str) -> str | None:
        """`ciphertext` re-encrypted with the current key when an older key encrypted it;
        None when it already uses the current key (always, with a single key). KeyMismatch
        when no key can read it."""
        if not self.has_older_keys:
            return None
        try:
            self._current.decrypt(ciphertext.encode())
            return None
        except InvalidToken:
            pass
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise KeyMismatch("stored token cannot be decrypted with these keys") from None


def check_key(key: str, source: str = "TOKEN_ENCRYPTION_KEY") -> str:
    """`key` when it is a Fernet key or several separated by commas (the new one first);
    else ConfigError naming where it came from."""
    try:
        keys = split_keys(key)
        for one in keys:
            Fernet(one)
    except ValueError:
        keys = []
    if not keys:
        raise ConfigError(
            f"{source}: must be 32 url-safe base64-encoded bytes, or several such keys "
            "separated by commas with the new one first (make one with: "
            "python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        )
    return key


def load_or_create_key(configured: str | None, data_dir: Path) -> str:
    """The configured key, else the one generated earlier into `data_dir`, else a new one."""
    if configured:
        return check_key(configured)
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return check_key(path.read_text().strip(), source=str(path))
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    logger.warning(
        "TOKEN_ENCRYPTION_KEY is not set: generated one into %s. Keep that file (or set "
        "the variable): without it stored user tokens cannot be read. Processes sharing "
        "one Redis must share the key.",
        path,
    )
    return key
