"""`python -m bot`: the bot and the watcher; `python -m bot watcher`: the watcher alone."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from urllib.parse import urlsplit

from bot.config import ConfigError, Settings, load_settings
from bot.runtime.logs import configure_logging

logger = logging.getLogger("bot")

EXIT_FAILURE = 1
"""Stopped by an unexpected error while running."""
EXIT_STARTUP = 2
"""Could not start: a bad setting, or something a setting points at (REDIS_URL, DATA_DIR,
the bot token). The reason is one line on stderr, saying what to do."""

DESCRIPTION = """\
Telegram bot for SMS-man virtual numbers. Settings come from the environment and ./.env
(see .env.example); BOT_TOKEN is required.

  python -m bot            take Telegram updates (long polling, or a webhook server when
                           WEBHOOK_URL is set) and watch activations, in one process
  python -m bot watcher    only watch activations: an extra process on the same REDIS_URL

Without REDIS_URL the bot starts its own redis-server, persisted under DATA_DIR/redis (one
process only). The offline SMS-man stand-in is `python -m bot.sandbox --help`.
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=("bot", "watcher"),
        default="bot",
        help="what this process runs (default: bot, which includes the watcher)",
    )
    return parser.parse_args(argv)


def secrets_of(settings: Settings) -> list[str]:
    """What no log line may contain."""
    secrets = [settings.bot_token.get_secret_value()]
    for secret in (settings.webhook_secret, settings.token_encryption_key):
        if secret is not None:
            secrets.append(secret.get_secret_value())
    if settings.token_encryption_key is not None:  # each of several keys on its own too
        secrets += [
            key.strip() for key in settings.token_encryption_key.get_secret_value().split(",")
        ]
    redis_password = urlsplit(settings.redis_url).password if settings.redis_url else None
    if redis_password:
        secrets.append(redis_password)
    return secrets


def fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        return fail(str(error), EXIT_STARTUP)
    return run(settings, watcher_only=args.command == "watcher")


def run(settings: Settings, *, watcher_only: bool) -> int:
    """Run the process; its exit code. Imported here, not at the top: aiogram takes seconds
    to import, and `--help` or a missing variable should answer at once."""
    from aiogram.exceptions import TelegramUnauthorizedError

    from bot.runtime.runner import StartupError, check_settings, run_bot, run_watcher
    from bot.store.crypto import KeyMismatch

    try:
        check_settings(settings)
    except ConfigError as error:
        return fail(str(error), EXIT_STARTUP)
    configure_logging(settings.log_level, secrets=secrets_of(settings))
    try:
        asyncio.run(run_watcher(settings) if watcher_only else run_bot(settings))
    except (ConfigError, StartupError) as error:
        return fail(str(error), EXIT_STARTUP)
    except KeyMismatch:
        return fail(
            "TOKEN_ENCRYPTION_KEY: the stored user tokens were encrypted with another key "
            "(set the key they were stored with, or the key file in DATA_DIR)",
            EXIT_STARTUP,
        )
    except TelegramUnauthorizedError:
        return fail("BOT_TOKEN: Telegram rejected the token (401 Unauthorized)", EXIT_STARTUP)
    except KeyboardInterrupt:  # a signal before the handlers were installed
        return 130
    except Exception:
        logger.exception("Stopped by an unexpected error")
        return EXIT_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
