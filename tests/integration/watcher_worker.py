"""A watcher-only process for the multi-process tests, whose "chat" is a Redis list.

    python -m tests.integration.watcher_worker --redis-url=URL --provider-url=URL --key=KEY

Pass values as `--name=value`: a Fernet key starts with "-" once in 64 and argparse would
take `--key -…` for a missing value.

Every push appends `{"key", "code", "pid", "t"}` (JSON; `t`: the unix time of the push) to
`--deliveries`; every card update appends to `--cards`. SIGTERM or SIGINT stops it
gracefully; SIGKILL is what the tests use to play a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import time
from collections.abc import Sequence

from redis.asyncio import Redis

from bot.provider.budget import ProviderBudget
from bot.provider.http import create_http_client
from bot.provider.v2 import V2Provider
from bot.services.activations import ActivationService
from bot.store.activations import ActivationRecord, ActivationStore
from bot.store.blocked import BlockedStore
from bot.store.crypto import TokenCipher
from bot.watcher import ActivationWatcher, WatcherSettings

DELIVERIES = "watcher-test:deliveries"
CARDS = "watcher-test:cards"


class RedisListNotifier:
    """Appends what the user would see to Redis lists shared by every worker."""

    def __init__(self, redis: Redis, deliveries: str, cards: str) -> None:
        self._redis = redis
        self._deliveries = deliveries
        self._cards = cards
        self._pid = os.getpid()

    async def code_received(self, record: ActivationRecord, code: str) -> None:
        entry = {"key": record.key, "code": code, "pid": self._pid, "t": time.time()}
        await self._redis.rpush(self._deliveries, json.dumps(entry))

    async def token_rejected(self, record: ActivationRecord) -> None:
        """Not part of these tests: the token never changes."""

    async def card_changed(self, record: ActivationRecord) -> None:
        entry = {"key": record.key, "state": record.state.value, "pid": self._pid}
        await self._redis.rpush(self._cards, json.dumps(entry))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.integration.watcher_worker")
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--provider-url", required=True, help="the sandbox's v2 URL")
    parser.add_argument("--key", required=True, help="the token encryption key")
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=None,
        help="how long an activation lock held by a dead worker lasts (WatcherSettings' default)",
    )
    parser.add_argument("--deliveries", default=DELIVERIES)
    parser.add_argument("--cards", default=CARDS)
    return parser.parse_args(argv)


def watcher_settings(args: argparse.Namespace) -> WatcherSettings:
    settings = WatcherSettings(
        poll_interval=args.poll_interval, lease=args.lease, concurrency=args.concurrency
    )
    if args.lock_timeout is not None:
        settings = dataclasses.replace(settings, lock_timeout=args.lock_timeout)
    return settings


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    redis = Redis.from_url(args.redis_url, decode_responses=True)
    http = create_http_client()
    try:
        store = ActivationStore(redis)
        cipher = TokenCipher(args.key)
        provider = V2Provider(http, args.provider_url, budget=ProviderBudget.unlimited().background)
        service = ActivationService(provider, store, cipher, poll_interval=args.poll_interval)
        watcher = ActivationWatcher(
            store,
            service,
            RedisListNotifier(redis, args.deliveries, args.cards),
            watcher_settings(args),
            blocked=BlockedStore(redis),
        )
        await watcher.run(stop)
    finally:
        await http.aclose()
        await redis.aclose()


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
