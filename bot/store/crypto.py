"""Encryption of users' provider tokens at rest (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from bot.config import ConfigError

logger = logging.getLogger(__name__)

KEY_FILE_NAME = "token_encryption.key"


class KeyMismatch(Exception):
    """The key cannot decrypt what was stored with another key."""


class TokenCipher:
    """Encrypts and decrypts API tokens. Never logs or reprs what it handles."""

    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key)
        # Decrypting is a few microseconds, but the watcher does it for every status check.
        self._decrypt_cached = lru_cache(maxsize=4096)(self._decrypt)

    def __repr__(self) -> str:
        return "TokenCipher(<key hidden>)"

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        return self._decrypt_cached(ciphertext)

    def _decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise KeyMismatch("stored token cannot be decrypted with this key") from None


def check_key(key: str, source: str = "TOKEN_ENCRYPTION_KEY") -> str:
    """`key` when it is a Fernet key; else ConfigError naming where it came from."""
    try:
        Fernet(key)
    except ValueError:
        raise ConfigError(
            f"{source}: must be 32 url-safe base64-encoded bytes (make one with: "
            "python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        ) from None
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
