"""Webhook mode: an aiohttp server Telegram posts updates to, plus `GET /healthz`.

The update route is WEBHOOK_URL's path; aiogram's `SimpleRequestHandler` answers 401 to a
request without the right `X-Telegram-Bot-Api-Secret-Token` header (WEBHOOK_SECRET).
`/healthz` answers 200 when Redis answers PING and the provider answers HTTP at all, and
503 naming the part that failed otherwise. Anyone can ask it, so one check serves every
request for HEALTH_CACHE_SECONDS: a flood of requests sends SMS-man one request at most
that often.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.app import App
from bot.config import ConfigError
from bot.runtime.telegram_startup import call_when_reachable

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
HEALTH_TIMEOUT = 5.0
HEALTH_CACHE_SECONDS = 5.0
SHUTDOWN_TIMEOUT = 10.0
"""Seconds aiohttp gives requests in progress when the server stops."""

OK = "ok"


class HealthCheck:
    """What `/healthz` checks: Redis PING and one cheap HTTP request to the provider, at most
    once per `cache_for` seconds (requests meanwhile, or waiting for a check, share it)."""

    def __init__(
        self,
        redis: Redis,
        http: httpx.AsyncClient,
        provider_url: str,
        *,
        timeout: float,
        cache_for: float = HEALTH_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._http = http
        self._provider_url = provider_url
        self._timeout = timeout
        self._cache_for = cache_for
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last: tuple[float, dict[str, str]] | None = None

    async def check(self) -> dict[str, str]:
        async with self._lock:
            if self._last is not None and self._clock() - self._last[0] < self._cache_for:
                return self._last[1]
            redis, provider = await asyncio.gather(self._check_redis(), self._check_provider())
            result = {"redis": redis, "provider": provider}
            self._last = (self._clock(), result)
            return result

    async def _check_redis(self) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.ping()
        except TimeoutError:
            return "no answer to PING"
        except (RedisError, OSError) as error:
            return f"unreachable ({type(error).__name__})"
        return OK

    async def _check_provider(self) -> str:
        # Any HTTP answer below 500 means the service is up; no token is sent.
        try:
            response = await self._http.get(self._provider_url, timeout=self._timeout)
        except httpx.TimeoutException:
            return "no answer in time"
        except (httpx.HTTPError, OSError) as error:
            return f"unreachable ({type(error).__name__})"
        if response.status_code >= 500:
            return f"HTTP {response.status_code}"
        return OK

    async def handle(self, request: web.Request) -> web.Response:
        checks = await self.check()
        healthy = all(result == OK for result in checks.values())
        body: dict[str, Any] = {"status": OK if healthy else "fail", "checks": checks}
        return web.json_response(body, status=200 if healthy else 503)


class BoundedRequestHandler(SimpleRequestHandler):
    """aiogram's handler, answering Telegram at once and handling the update in the
    background, but never more than `in_flight` updates at a time: past that, the answer to
    Telegram waits for a free slot, so Telegram holds the next updates back (it sends a bot
    at most its webhook's `max_connections` at once). A burst is queued, never dropped."""

    def __init__(
        self, dispatcher: Dispatcher, bot: Bot, *, secret_token: str, in_flight: int
    ) -> None:
        super().__init__(dispatcher=dispatcher, bot=bot, secret_token=secret_token)
        self._slots = asyncio.Semaphore(in_flight)

    async def _handle_request_background(self, bot: Bot, request: web.Request) -> web.Response:
        update = await request.json(loads=bot.session.json_loads)
        await self._slots.acquire()
        task = asyncio.create_task(self._feed_in_slot(bot, update))
        self._background_feed_update_tasks.add(task)
        task.add_done_callback(self._background_feed_update_tasks.discard)
        return web.json_response({}, dumps=bot.session.json_dumps)

    async def _feed_in_slot(self, bot: Bot, update: dict[str, Any]) -> None:
        try:
            await self._background_feed_update(bot=bot, update=update)
        finally:
            self._slots.release()


def create_webhook_app(
    dispatcher: Dispatcher,
    bot: Bot,
    *,
    path: str,
    secret: str,
    health: HealthCheck,
    in_flight: int,
) -> web.Application:
    """The aiohttp application: POST `path` → the dispatcher, GET /healthz → `health`."""
    web_app = web.Application()
    updates = BoundedRequestHandler(
        dispatcher=dispatcher, bot=bot, secret_token=secret, in_flight=in_flight
    )
    # Registered by hand rather than with `updates.register()`, whose shutdown hook would
    # close the bot's session while the watcher may still be sending.
    web_app.router.add_post(path, updates.handle)
    web_app.router.add_get(HEALTH_PATH, health.handle)
    return web_app


def webhook_path(app: App) -> str:
    url = app.settings.webhook_url
    return (url.path if url is not None else None) or "/"


async def run_webhook(app: App, dispatcher: Dispatcher, bot: Bot, stop: asyncio.Event) -> None:
    """Serve the webhook until `stop` is set, then stop taking requests."""
    settings = app.settings
    if settings.webhook_url is None or settings.webhook_secret is None:
        raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
    secret = settings.webhook_secret.get_secret_value()
    health = HealthCheck(app.redis, app.http, settings.provider_url, timeout=HEALTH_TIMEOUT)
    web_app = create_webhook_app(
        dispatcher,
        bot,
        path=webhook_path(app),
        secret=secret,
        health=health,
        in_flight=settings.updates_in_flight,
    )
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    workflow_data = {"dispatcher": dispatcher, "bots": (bot,), **dispatcher.workflow_data}
    await dispatcher.emit_startup(bot=bot, **workflow_data)
    try:
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        try:
            await site.start()
        except OSError as error:
            raise ConfigError(
                f"WEBHOOK_HOST/WEBHOOK_PORT: cannot listen on {settings.webhook_host}:"
                f"{settings.webhook_port} ({error.strerror or error}); stop what listens there "
                "or choose another port"
            ) from None
        allowed_updates = dispatcher.resolve_used_update_types()
        webhook_set = await call_when_reachable(
            "setWebhook",
            lambda: bot.set_webhook(
                str(settings.webhook_url), secret_token=secret, allowed_updates=allowed_updates
            ),
            stop,
        )
        if not webhook_set:
            return
        logger.info(
            "Telegram: webhook server on %s:%d (path %s, health %s), webhook set to %s for %s",
            settings.webhook_host,
            settings.webhook_port,
            webhook_path(app),
            HEALTH_PATH,
            settings.webhook_url,
            ", ".join(allowed_updates),
        )
        await stop.wait()
    finally:
        # The webhook stays set: Telegram keeps the updates until the bot is back.
        await runner.cleanup()
        await dispatcher.emit_shutdown(bot=bot, **workflow_data)
        logger.info("Telegram: webhook server stopped")
