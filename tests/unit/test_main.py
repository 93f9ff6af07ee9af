"""The process entry point and its pieces that need no Telegram: arguments, configuration
errors, redacted logging, the embedded Redis, updates in flight, the documented variables."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiogram.types import Update
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from bot.__main__ import main, parse_args
from bot.config import Settings
from bot.runtime.logs import NOISY_LOGGERS, RedactingFormatter, configure_logging
from bot.runtime.redis_server import RedisServer, free_port
from bot.runtime.runner import EmbeddedRedis, InFlightUpdates, StartupError, display_redis_url
from bot.runtime.telegram_startup import call_when_reachable
from bot.runtime.webhook import HealthCheck

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "123456:AAHfake-token_value"
VARIABLES = sorted(name.upper() for name in Settings.model_fields)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, restore_logging: None) -> Path:
    """No bot variable in the environment and a working directory without a .env."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_help_names_both_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "python -m bot watcher" in out
    assert "REDIS_URL" in out


def test_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["serve"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "BOT_TOKEN"),
        ({"BOT_TOKEN": ""}, "BOT_TOKEN"),
        ({"BOT_TOKEN": "not a token"}, "BOT_TOKEN"),
        ({"BOT_TOKEN": BOT_TOKEN, "POLL_INTERVAL": "0"}, "POLL_INTERVAL"),
        ({"BOT_TOKEN": BOT_TOKEN, "WEBHOOK_URL": "https://x.example/hook"}, "WEBHOOK_SECRET"),
        ({"BOT_TOKEN": BOT_TOKEN, "TOKEN_ENCRYPTION_KEY": "short"}, "TOKEN_ENCRYPTION_KEY"),
        ({"BOT_TOKEN": BOT_TOKEN, "REDIS_URL": "localhost:6379"}, "REDIS_URL"),
    ],
)
def test_configuration_error_is_one_line_and_exit_2(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    named: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main([]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert named in lines[0]
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_watcher_alone_needs_redis_url(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_TOKEN", BOT_TOKEN)
    assert main(["watcher"]) == 2
    err = capsys.readouterr().err
    assert "REDIS_URL" in err.strip().splitlines()[-1]
    assert not (clean_env / "data").exists()  # nothing was started


def test_a_data_dir_that_cannot_be_made_is_one_line_and_exit_2(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (clean_env / "data").write_text("a file where the directory should be\n")
    monkeypatch.setenv("BOT_TOKEN", BOT_TOKEN)
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: DATA_DIR: ")
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert "data" in captured.err and "File exists" in captured.err


def test_a_key_file_that_is_not_a_key_is_one_line_and_exit_2(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    redis_server: RedisServer,
) -> None:
    (clean_env / "data").mkdir()
    (clean_env / "data" / "token_encryption.key").write_text("not a key\n")
    monkeypatch.setenv("BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]  # after the log lines of the start
    assert last.startswith("error: ")
    assert "token_encryption.key: must be 32 url-safe base64-encoded bytes" in last


# --- logging ------------------------------------------------------------------------------


@pytest.mark.usefixtures("restore_logging")
def test_secrets_never_reach_the_log() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", secrets=[BOT_TOKEN, "webhook-secret"], stream=stream)
    log = logging.getLogger("test.secrets")
    try:
        log.info("POST https://api.telegram.org/bot%s/getMe", BOT_TOKEN)
        raise RuntimeError(f"failed: /bot{BOT_TOKEN}/sendMessage secret=webhook-secret")
    except RuntimeError:
        log.exception("request failed")
    text = stream.getvalue()
    assert "getMe" in text and "sendMessage" in text  # the lines are there...
    assert BOT_TOKEN not in text  # ...without the secrets
    assert "webhook-secret" not in text
    assert "/bot***/getMe" in text


@pytest.mark.usefixtures("restore_logging")
def test_http_libraries_do_not_log_each_request() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    logging.getLogger("httpx").info("HTTP Request: POST https://api.sms-man.com/")
    logging.getLogger("aiohttp.access").info("GET /healthz 200")
    logging.getLogger("bot.test").debug("kept")
    assert stream.getvalue().strip().endswith("kept")
    assert "HTTP Request" not in stream.getvalue()


def test_redacting_replaces_the_longest_secret_whole() -> None:
    formatter = RedactingFormatter(["abc", "abcdef", ""])
    assert formatter.redact("x abcdef y abc") == "x *** y ***"


def test_redis_url_is_logged_without_password() -> None:
    assert display_redis_url("redis://:hunter2@db:6379/0") == "redis://db:6379/0"
    assert display_redis_url("redis://user:hunter2@db:6379/0") == "redis://db:6379/0"
    assert display_redis_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


# --- the embedded Redis -------------------------------------------------------------------


def _ping(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()


def test_embedded_redis_keeps_data_and_admits_one_process(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path / "redis")
    first.start()
    try:
        with Redis.from_url(first.url) as client:
            client.set("kept", "yes")
        second = EmbeddedRedis(tmp_path / "redis")
        with pytest.raises(StartupError, match="REDIS_URL"):
            second.start()
    finally:
        first.stop()
    assert not _ping(first.url)

    again = EmbeddedRedis(tmp_path / "redis")
    again.start()
    try:
        with Redis.from_url(again.url) as client:
            assert client.get("kept") == b"yes"
    finally:
        again.stop()


def test_embedded_redis_left_on_tcp_by_an_earlier_version_is_taken_over(tmp_path: Path) -> None:
    data_dir = tmp_path / "redis"
    orphan = RedisServer(data_dir=data_dir)  # what a process killed with -9 leaves running
    orphan.start()
    process = orphan.process
    assert process is not None and process.stderr is not None
    try:
        (data_dir / "embedded.port").write_text(f"{orphan.port}\n")
        with Redis.from_url(orphan.url) as client:
            client.set("kept", "yes")
        embedded = EmbeddedRedis(data_dir)
        embedded.start()
        try:
            assert process.wait(10) == 0  # shut down, having saved
            with Redis.from_url(embedded.url) as client:
                assert client.get("kept") == b"yes"
        finally:
            embedded.stop()
    finally:
        orphan.stop()
        process.stderr.close()


def test_embedded_redis_listens_only_on_a_socket_only_its_owner_can_reach(
    tmp_path: Path,
) -> None:
    embedded = EmbeddedRedis(tmp_path / "redis")
    embedded.start()
    try:
        unix_socket = Path((tmp_path / "redis" / "embedded.socket").read_text().strip())
        assert embedded.url == f"unix://{unix_socket}?db=0"
        assert stat.S_IMODE(unix_socket.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(unix_socket.stat().st_mode) & 0o077 == 0
        with Redis.from_url(embedded.url) as client:
            assert client.config_get("port") == {"port": "0"}  # no TCP at all
    finally:
        embedded.stop()


def test_a_data_dir_too_deep_for_a_socket_path_gets_a_private_temporary_one(
    tmp_path: Path,
) -> None:
    deep = tmp_path / ("d" * 90) / "redis"
    embedded = EmbeddedRedis(deep)
    embedded.start()
    try:
        unix_socket = Path(embedded.url.removeprefix("unix://").partition("?")[0])
        assert len(str(unix_socket)) < 100
        assert stat.S_IMODE(unix_socket.parent.stat().st_mode) == 0o700
        assert _ping(embedded.url)
    finally:
        embedded.stop()
    assert not unix_socket.parent.exists()


def test_embedded_redis_left_on_its_socket_by_a_killed_process_is_taken_over(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "redis"
    orphan = RedisServer(data_dir=data_dir, unix_socket=data_dir / "redis.sock")
    orphan.start()
    process = orphan.process
    assert process is not None and process.stderr is not None
    try:
        (data_dir / "embedded.socket").write_text(f"{data_dir / 'redis.sock'}\n")
        with Redis.from_url(orphan.url) as client:
            client.set("kept", "yes")
        embedded = EmbeddedRedis(data_dir)
        embedded.start()
        try:
            assert process.wait(10) == 0  # shut down, having saved
            with Redis.from_url(embedded.url) as client:
                assert client.get("kept") == b"yes"
        finally:
            embedded.stop()
    finally:
        orphan.stop()
        process.stderr.close()


def test_embedded_redis_that_cannot_start_says_why(tmp_path: Path) -> None:
    data_dir = tmp_path / "redis"
    data_dir.mkdir()
    (data_dir / "appendonly.aof").write_text("not an append only file\n")
    embedded = EmbeddedRedis(data_dir)
    with pytest.raises(StartupError, match="Bad file format reading the append only file"):
        embedded.start()

    (data_dir / "appendonly.aof").unlink()  # once the operator has dealt with it
    embedded.start()  # the lock was released
    embedded.stop()


def test_a_stale_port_file_of_another_server_is_left_alone(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    data_dir = tmp_path / "redis"
    data_dir.mkdir()
    (data_dir / "embedded.port").write_text(f"{redis_server.port}\n")
    embedded = EmbeddedRedis(data_dir)
    embedded.start()
    embedded.stop()
    assert _ping(redis_server.url)


# --- updates in flight --------------------------------------------------------------------


def _update(update_id: int) -> Update:
    return Update(update_id=update_id)


async def test_in_flight_updates_are_waited_for_and_acknowledged() -> None:
    tracker = InFlightUpdates()
    release = asyncio.Event()
    assert tracker.handled_offset() is None

    async def handler(event: Any, data: dict[str, Any]) -> str:
        await release.wait()
        return "done"

    async def quick(event: Any, data: dict[str, Any]) -> str:
        return "done"

    assert await tracker(quick, _update(7), {}) == "done"
    slow = asyncio.create_task(tracker(handler, _update(8), {}))
    await asyncio.sleep(0)
    assert tracker.running == 1
    assert await tracker(quick, _update(9), {}) == "done"
    assert tracker.handled_offset() == 8  # 8 is still running: not confirmed yet
    idle = asyncio.create_task(tracker.wait_idle())
    await asyncio.sleep(0)
    assert not idle.done()
    release.set()
    assert await slow == "done"
    await asyncio.wait_for(idle, 1)
    assert tracker.handled_offset() == 10


def test_in_flight_tracker_runs_before_aiogram_middlewares() -> None:
    from aiogram import Dispatcher

    dispatcher = Dispatcher()
    before = list(dispatcher.update.outer_middleware)
    tracker = InFlightUpdates.install(dispatcher)
    assert list(dispatcher.update.outer_middleware) == [tracker, *before]


# --- documentation of the configuration ---------------------------------------------------


def test_env_example_documents_every_variable_and_loads(clean_env: Path) -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert documented == set(VARIABLES)
    settings = Settings(_env_file=ROOT / ".env.example", bot_token=BOT_TOKEN)
    assert settings.redis_url == ""
    assert not settings.webhook_mode


def test_readme_documents_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in VARIABLES if f"`{name}`" not in readme]
    assert missing == []


# --- /healthz -----------------------------------------------------------------------------


def _provider(status: int | None) -> httpx.AsyncClient:
    """An HTTP client whose provider answers `status`, or cannot be reached (None)."""

    def answer(request: httpx.Request) -> httpx.Response:
        if status is None:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(status, text="<html>")

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def _health(redis_client: AsyncRedis, status: int | None) -> tuple[int, dict[str, Any]]:
    async with _provider(status) as http:
        check = HealthCheck(redis_client, http, "https://provider.test/control/", timeout=2)
        app = web.Application()
        app.router.add_get("/healthz", check.handle)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/healthz")
            return response.status, await response.json()


async def test_healthz_is_200_when_redis_and_provider_answer(redis: AsyncRedis) -> None:
    # A 404 from the provider's base URL still means the service is up.
    assert await _health(redis, 404) == (
        200,
        {"status": "ok", "checks": {"redis": "ok", "provider": "ok"}},
    )


@pytest.mark.parametrize(("status", "problem"), [(None, "unreachable"), (502, "HTTP 502")])
async def test_healthz_is_503_naming_the_provider(
    redis: AsyncRedis, status: int | None, problem: str
) -> None:
    code, body = await _health(redis, status)
    assert code == 503
    assert body["status"] == "fail"
    assert body["checks"]["redis"] == "ok"
    assert problem in body["checks"]["provider"]


async def test_healthz_is_503_naming_redis() -> None:
    gone: AsyncRedis = AsyncRedis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        code, body = await _health(gone, 200)
    finally:
        await gone.aclose()
    assert code == 503
    assert body["checks"]["provider"] == "ok"
    assert body["checks"]["redis"].startswith("unreachable")


async def test_healthz_asks_the_provider_at_most_once_per_few_seconds(redis: AsyncRedis) -> None:
    provider_requests = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal provider_requests
        provider_requests += 1
        return httpx.Response(200)

    now = [100.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        check = HealthCheck(
            redis, http, "https://provider.test/", timeout=2, cache_for=5, clock=lambda: now[0]
        )
        app = web.Application()
        app.router.add_get("/healthz", check.handle)
        async with TestClient(TestServer(app)) as client:
            flood = [client.get("/healthz") for _ in range(20)]
            statuses = [response.status for response in await asyncio.gather(*flood)]
            assert statuses == [200] * 20
            assert provider_requests == 1

            now[0] += 5
            assert (await client.get("/healthz")).status == 200
            assert provider_requests == 2


# --- Telegram unreachable at start --------------------------------------------------------


async def test_start_calls_wait_for_telegram() -> None:
    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
    from aiogram.methods import SetMyCommands

    method = SetMyCommands(commands=[])
    attempts: list[int] = []

    async def flaky() -> bool:
        attempts.append(1)
        if len(attempts) < 3:
            raise TelegramNetworkError(method=method, message="connection refused")
        return True

    stop = asyncio.Event()
    assert await call_when_reachable("setMyCommands", flaky, stop, first_pause=0.01)
    assert len(attempts) == 3

    async def rejected() -> bool:
        raise TelegramUnauthorizedError(method=method, message="Unauthorized")

    with pytest.raises(TelegramUnauthorizedError):  # waiting cannot fix a wrong token
        await call_when_reachable("setMyCommands", rejected, stop, first_pause=0.01)

    async def down() -> bool:
        stop.set()  # e.g. SIGTERM while Telegram is unreachable
        raise TelegramNetworkError(method=method, message="connection refused")

    assert not await call_when_reachable("setMyCommands", down, stop, first_pause=60)
