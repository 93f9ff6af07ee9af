"""The lifespan of a bot process: Redis, the app, the watcher, updates, graceful shutdown.

`run_bot` is `python -m bot`: Telegram updates (long polling, or a webhook server when
WEBHOOK_URL is set) and the activation watcher in one process. `run_watcher` is
`python -m bot watcher`: the watcher alone, for extra processes sharing one Redis.

Shutdown (SIGINT/SIGTERM sets one `stop` event) runs in this order: stop taking updates while
the watcher finishes the checks and pushes it has started; let the handlers already running
finish; acknowledge the handled updates; wait for the watcher; close the Telegram session,
the HTTP client and Redis; stop the embedded Redis server last. Nothing is cut off half way.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import logging
import os
import signal
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from aiogram import Bot, Dispatcher
from aiogram.types import TelegramObject, Update
from aiogram.utils.token import TokenValidationError, validate_token
from redis import Redis as SyncRedis
from redis.exceptions import RedisError
from yarl import URL

from bot.app import App, create_bot, create_dispatcher, create_redis, open_app
from bot.config import ConfigError, Settings
from bot.i18n.translator import create_i18n
from bot.runtime.redis_server import RedisServer
from bot.runtime.telegram_startup import call_when_reachable
from bot.runtime.webhook import run_webhook
from bot.store.activations import ActivationStore
from bot.store.crypto import check_key
from bot.telegram.notifier import TelegramNotifier
from bot.watcher import create_watcher
from handlers import set_bot_commands
from handlers.middlewares import register_first

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE = 30.0
"""Seconds the handlers already running get to finish once a shutdown starts."""

EMBEDDED_REDIS_DIR = "redis"
LOCK_FILE = "embedded.lock"
SOCKET_FILE = "embedded.socket"  # where the running embedded server's socket is
LEGACY_PORT_FILE = "embedded.port"  # what versions listening on TCP wrote instead
SOCKET_NAME = "redis.sock"
MAX_SOCKET_PATH = 100  # bytes; the system's limit for a unix socket's path is 104-108


class StartupError(Exception):
    """The process cannot start (`python -m bot` exits with 2); the message is one line
    naming the cause and what to do."""


# --- Redis: the configured one, or the embedded server ------------------------------------


def display_redis_url(url: str) -> str:
    """The URL without its password, for the log."""
    try:
        parsed = URL(url)
    except ValueError:
        return "<unparsable REDIS_URL>"
    return str(parsed.with_password(None).with_user(None)) if parsed.host else url


@contextlib.asynccontextmanager
async def redis_url_for(settings: Settings) -> AsyncIterator[str]:
    """REDIS_URL when set; else a real redis-server persisted under DATA_DIR/redis."""
    if settings.redis_url:
        logger.info("Redis: using REDIS_URL %s", display_redis_url(settings.redis_url))
        yield settings.redis_url
        return
    async with embedded_redis(settings.data_dir / EMBEDDED_REDIS_DIR) as url:
        yield url


@contextlib.asynccontextmanager
async def embedded_redis(data_dir: Path) -> AsyncIterator[str]:
    """A real redis-server on a private unix socket with its data (AOF) in `data_dir`,
    stopped on exit."""
    server = EmbeddedRedis(data_dir)
    await asyncio.to_thread(server.start)
    logger.info(
        "Redis: REDIS_URL is not set, started the embedded redis-server on %s with its data in %s",
        server.address,
        data_dir,
    )
    try:
        yield server.url
    finally:
        await asyncio.to_thread(server.stop)
        logger.info("Redis: embedded redis-server stopped, data saved in %s", data_dir)


class EmbeddedRedis:
    """`RedisServer` on `data_dir`, owned by one process at a time.

    It listens on a unix socket only, in `data_dir` (made private: mode 700), so no other
    local account can reach it (over TCP any of them could rewrite a record's chat and
    redirect codes). When that path would be too long for a socket, the socket goes into a
    private temporary directory instead.

    A lock file keeps a second process from starting another server on the same files
    (it is told to use REDIS_URL instead). The socket's path is written next to the data, so
    a server left running by a process that was killed (-9) is found and shut down (it saves
    first) before the new one starts on the same data.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: RedisServer | None = None
        self._temporary_dir: Path | None = None
        self._lock: IO[str] | None = None

    @property
    def server(self) -> RedisServer:
        if self._server is None:
            raise RuntimeError("the embedded Redis is not running")
        return self._server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def socket_file(self) -> Path:
        return self.data_dir / SOCKET_FILE

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._lock = self._acquire_lock()
        try:
            self._shut_down_orphan()
            self._server = RedisServer(data_dir=self.data_dir, unix_socket=self._socket_path())
            self._server.start()
            self.socket_file.write_text(f"{self._server.unix_socket}\n")
        except RuntimeError as error:
            self._clean_up()
            raise StartupError(f"the embedded Redis in {self.data_dir}: {error}") from None
        except BaseException:
            self._clean_up()
            raise

    def stop(self) -> None:
        try:
            if self._server is not None:
                self._server.stop()
            self.socket_file.unlink(missing_ok=True)
        finally:
            self._clean_up()

    def _socket_path(self) -> Path:
        path = self.data_dir.resolve() / SOCKET_NAME
        if len(str(path).encode()) <= MAX_SOCKET_PATH:
            return path
        self._temporary_dir = Path(tempfile.mkdtemp(prefix="smsbot-redis-"))  # mode 700
        return self._temporary_dir / SOCKET_NAME

    def _clean_up(self) -> None:
        temporary, self._temporary_dir = self._temporary_dir, None
        if temporary is not None:
            (temporary / SOCKET_NAME).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                temporary.rmdir()
        self._release_lock()

    def _acquire_lock(self) -> IO[str]:
        path = self.data_dir / LOCK_FILE
        file = path.open("a")
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise StartupError(
                f"another bot process is using the embedded Redis in {self.data_dir}; to run "
                "several processes, start a Redis server and give every process its REDIS_URL"
            ) from None
        return file

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            lock.close()

    def _shut_down_orphan(self) -> None:
        """Shut down a server a killed process left on this data (its socket, or the port an
        earlier version listened on)."""
        with contextlib.suppress(OSError, ValueError):
            socket_path = self.socket_file.read_text().strip()
            if socket_path:
                self._shut_down(SyncRedis(unix_socket_path=socket_path, socket_timeout=5))
        with contextlib.suppress(OSError, ValueError):
            port = int((self.data_dir / LEGACY_PORT_FILE).read_text().strip())
            self._shut_down(
                SyncRedis(host="127.0.0.1", port=port, socket_timeout=5, socket_connect_timeout=1)
            )
            (self.data_dir / LEGACY_PORT_FILE).unlink(missing_ok=True)

    def _shut_down(self, client: SyncRedis) -> None:
        """Shut down the server `client` reaches if it serves this data directory."""
        try:
            directory = client.config_get("dir").get("dir")
            if directory is None or Path(directory).resolve() != self.data_dir.resolve():
                return  # something else listens there now
            logger.warning(
                "Redis: an embedded redis-server was left running on %s by a process that did "
                "not stop cleanly; shutting it down (it saves first)",
                self.data_dir,
            )
            client.shutdown()
        except RedisError:
            return
        finally:
            client.close()


# --- updates in flight --------------------------------------------------------------------


class InFlightUpdates:
    """Outermost update middleware: knows which updates are being handled right now.

    Shutdown waits on `wait_idle()` so no handler is cut off half way, and in polling mode
    acknowledges `handled_offset()` so a restart does not replay updates already handled.
    """

    def __init__(self) -> None:
        self._running: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._highest = -1

    @classmethod
    def install(cls, dispatcher: Dispatcher) -> InFlightUpdates:
        """Register as the first outer middleware, ahead of aiogram's own, so an update
        counts from the first step of its task (before the FSM middleware reads Redis)."""
        tracker = cls()
        register_first(dispatcher, tracker)
        return tracker

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update_id = event.update_id if isinstance(event, Update) else -1
        self._running.add(update_id)
        self._highest = max(self._highest, update_id)
        self._idle.clear()
        try:
            return await handler(event, data)
        finally:
            self._running.discard(update_id)
            if not self._running:
                self._idle.set()

    @property
    def running(self) -> int:
        return len(self._running)

    async def wait_idle(self) -> None:
        """Return once no update is being handled."""
        await self._idle.wait()

    def handled_offset(self) -> int | None:
        """The getUpdates offset that confirms every update handled, and none still running."""
        if self._highest < 0:
            return None
        return min(self._running) if self._running else self._highest + 1


# --- the processes ------------------------------------------------------------------------


def check_settings(settings: Settings) -> None:
    """Configuration problems pydantic does not catch, raised as ConfigError."""
    token = settings.bot_token.get_secret_value()
    if not token:
        raise ConfigError("BOT_TOKEN is required but not set (get one from @BotFather)")
    try:
        validate_token(token)
    except TokenValidationError:
        raise ConfigError(
            "BOT_TOKEN: not a bot token (expected digits, a colon and letters, "
            "as @BotFather gives it)"
        ) from None
    if settings.token_encryption_key is not None:
        check_key(settings.token_encryption_key.get_secret_value())


def check_data_dir(settings: Settings) -> None:
    """DATA_DIR (and DATA_DIR/redis for the embedded Redis) can be written, when this process
    keeps anything there: the generated key file, the embedded Redis's data."""
    directories = []
    if settings.token_encryption_key is None:
        directories.append(settings.data_dir)
    if not settings.redis_url:
        directories.append(settings.data_dir / EMBEDDED_REDIS_DIR)
    for directory in directories:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as error:
            uid = os.getuid()
            raise StartupError(
                f"DATA_DIR: this process (uid {uid}) cannot write to {directory} "
                f"({error.strerror}); give uid {uid} write access to it (for a container "
                f"volume: chown -R {uid} on the host) or set DATA_DIR to a directory it owns"
            ) from None


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop` (the second one is logged and otherwise ignored)."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            logger.warning("Received %s again: already shutting down", sig.name)
            return
        logger.info("Received %s: shutting down", sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)


async def run_bot(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """`python -m bot`: updates and the watcher in one process, until SIGINT/SIGTERM."""
    await _run(settings, stop, handle_updates=True)


async def run_watcher(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """`python -m bot watcher`: only the watcher, on the shared REDIS_URL."""
    if not settings.redis_url:
        raise ConfigError(
            "REDIS_URL is required for `python -m bot watcher`: extra processes share the "
            "bot's Redis (the embedded one serves a single process)"
        )
    await _run(settings, stop, handle_updates=False)


async def _run(settings: Settings, stop: asyncio.Event | None, *, handle_updates: bool) -> None:
    check_settings(settings)
    check_data_dir(settings)
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    async with redis_url_for(settings) as redis_url:
        await check_redis(redis_url)
        if stop.is_set():
            return
        async with open_app(settings, redis_url) as app:
            await _serve(app, stop, handle_updates=handle_updates)


async def check_redis(url: str) -> None:
    """Fail with one clear line when Redis does not answer."""
    client = create_redis(url)
    try:
        async with asyncio.timeout(10):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as error:
        reason = str(error) or type(error).__name__
        raise StartupError(
            f"cannot reach Redis at {display_redis_url(url)}: {reason} (start it, or fix "
            "REDIS_URL; leave REDIS_URL empty for the embedded Redis)"
        ) from None
    finally:
        await client.aclose()


async def _serve(app: App, stop: asyncio.Event, *, handle_updates: bool) -> None:
    settings = app.settings
    bot = create_bot(settings)
    i18n = create_i18n(settings)
    watcher = create_watcher(app, TelegramNotifier(bot, i18n, ActivationStore(app.watcher_redis)))
    dispatcher = create_dispatcher(app) if handle_updates else None
    freeze_startup_heap()
    # The watcher stops with everything else; and if it dies, it takes the process down with
    # it (so that a supervisor restarts the whole process).
    watcher_task = asyncio.create_task(watcher.run(stop), name="watcher")
    watcher_task.add_done_callback(lambda _: stop.set())
    try:
        if dispatcher is not None:
            tracker = InFlightUpdates.install(dispatcher)
            if not await call_when_reachable(
                "setMyCommands", lambda: set_bot_commands(bot, settings, i18n), stop
            ):
                pass  # asked to stop before Telegram could be reached
            elif settings.webhook_mode:
                await run_webhook(app, dispatcher, bot, stop)
            else:
                await run_polling(dispatcher, bot, stop, in_flight=settings.updates_in_flight)
            if tracker.running:
                logger.info("Waiting for %d update(s) still being handled", tracker.running)
            try:
                async with asyncio.timeout(SHUTDOWN_GRACE):
                    await tracker.wait_idle()
            except TimeoutError:
                logger.warning(
                    "%d update(s) still running after %.0f s", tracker.running, SHUTDOWN_GRACE
                )
            if not settings.webhook_mode:
                await acknowledge_updates(bot, tracker.handled_offset())
        else:
            logger.info("Watcher-only process: not taking Telegram updates")
            await stop.wait()
    finally:
        stop.set()
        try:
            await watcher_task
        finally:
            await bot.session.close()
    logger.info("Stopped")


def freeze_startup_heap() -> None:
    """Take what start-up allocated (aiogram's and pydantic's models, the routers, the
    translations: objects that live as long as the process) out of the garbage collector's
    sight.

    Otherwise every full collection walks them all again while the watcher allocates
    thousands of short-lived objects a second: `python -m bench.watcher` measured the
    collector at a quarter of a watcher's CPU without this, under a tenth with it.
    """
    gc.collect()
    gc.freeze()


async def run_polling(
    dispatcher: Dispatcher, bot: Bot, stop: asyncio.Event, *, in_flight: int
) -> None:
    """Long polling until `stop` is set; removes a webhook first (Telegram allows one).

    At most `in_flight` updates are handled at once; the next ones wait their turn."""
    if not await call_when_reachable(
        "deleteWebhook", lambda: bot.delete_webhook(drop_pending_updates=False), stop
    ):
        return
    allowed_updates = dispatcher.resolve_used_update_types()
    logger.info("Telegram: long polling for %s", ", ".join(allowed_updates))
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot,
            allowed_updates=allowed_updates,
            handle_signals=False,  # ours set `stop`, which stops the watcher too
            # Back-pressure: the next updates are taken only when one of these is done.
            tasks_concurrency_limit=in_flight,
            close_bot_session=False,  # the watcher may still be sending
        ),
        name="polling",
    )
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not polling.done():
        try:
            await dispatcher.stop_polling()
        except RuntimeError:  # stopped before it had started
            polling.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await polling


async def acknowledge_updates(bot: Bot, offset: int | None) -> None:
    """Confirm the handled updates to Telegram, which otherwise resends the last batch of
    getUpdates after a restart (aiogram confirms a batch only with the next request)."""
    if offset is None:
        return
    try:
        async with asyncio.timeout(5):
            await bot.get_updates(offset=offset, limit=1, timeout=0)
    except Exception as error:  # best effort: a replayed update is not lost either
        logger.warning("Could not acknowledge handled updates: %s", type(error).__name__)
