"""Process logging: one format, LOG_LEVEL, quiet HTTP libraries, and no secret in any line.

The bot token is part of every Bot API URL aiogram builds, so an exception or a debug line
from a library can carry it. Every record passes through `RedactingFormatter`, which
replaces the configured secrets (the bot token, the webhook secret) with `***` in the
message and in the traceback alike.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
REDACTED = "***"

# Libraries whose INFO lines are one per request: access logs and "HTTP Request: POST ...".
NOISY_LOGGERS = ("httpx", "httpcore", "aiohttp.access", "aiohttp.client", "aiohttp.server")


class RedactingFormatter(logging.Formatter):
    """A formatter that never lets one of `secrets` through."""

    def __init__(self, secrets: Iterable[str], fmt: str = LOG_FORMAT) -> None:
        super().__init__(fmt)
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def configure_logging(
    level: str, *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Log to stderr at `level` (the noisy HTTP loggers at WARNING at most), redacting."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    quiet = max(logging.WARNING, logging.getLevelName(level))
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
