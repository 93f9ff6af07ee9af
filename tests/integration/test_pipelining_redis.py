"""The bot's Redis client (`create_redis`): commands that tasks issue together go to a real
Redis server in one write, and every caller still gets its own reply or its own error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ResponseError

from bot.app import create_redis
from bot.runtime.redis_server import RedisServer, free_port
from bot.store import REDIS_DOWN
from bot.store import client as client_module
from bot.store.client import PipeliningRedis


class CountingConnection(Connection):
    writes = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.writes += 1
        await super().send_packed_command(command, check_health)


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[PipeliningRedis]:
    pool = BlockingConnectionPool.from_url(
        redis_server.url, decode_responses=True, connection_class=CountingConnection
    )
    client = PipeliningRedis.from_pool(pool)
    assert isinstance(client, PipeliningRedis)
    await client.flushdb()
    CountingConnection.writes = 0
    yield client
    await client.flushdb()
    await client.aclose()


async def test_commands_issued_together_travel_in_one_write_and_each_gets_its_reply(
    client: PipeliningRedis,
) -> None:
    await asyncio.gather(*(client.set(f"k{n}", n) for n in range(50)))
    assert CountingConnection.writes == 1

    values = await asyncio.gather(*(client.get(f"k{n}") for n in range(50)))
    assert values == [str(n) for n in range(50)]
    assert CountingConnection.writes == 2


async def test_replies_are_shaped_as_redis_py_shapes_them(client: PipeliningRedis) -> None:
    """Response callbacks still apply inside a batch: True for SET, a dict for HGETALL, an
    int for EXISTS, None for a missing key."""
    await client.hset("h", mapping={"a": "1", "b": "2"})
    written, whole, exists, missing = await asyncio.gather(
        client.set("s", "x"), client.hgetall("h"), client.exists("h", "s"), client.get("nope")
    )
    assert written is True
    assert whole == {"a": "1", "b": "2"}
    assert exists in (1, 2)  # "s" may or may not be set yet: it is in the same batch
    assert missing is None


async def test_a_failing_command_fails_only_its_caller(client: PipeliningRedis) -> None:
    await client.set("text", "not a number")
    results = await asyncio.gather(
        client.incr("counter"),
        client.incr("text"),
        client.incr("counter"),
        return_exceptions=True,
    )
    assert results[0] == 1
    assert isinstance(results[1], ResponseError)
    assert results[2] == 2
    assert await client.get("text") == "not a number"


async def test_one_command_alone_still_works_and_raises_its_own_error(
    client: PipeliningRedis,
) -> None:
    assert await client.set("a", "1") is True
    assert await client.get("a") == "1"
    await client.set("text", "x")
    with pytest.raises(ResponseError):
        await client.incr("text")


async def test_scripts_reload_themselves_after_redis_forgot_them(client: PipeliningRedis) -> None:
    script = client.register_script("return redis.call('INCR', KEYS[1])")
    assert await script(keys=["n"]) == 1
    await client.script_flush()
    results = await asyncio.gather(*(script(keys=["n"]) for _ in range(10)))
    assert sorted(results) == list(range(2, 12))


async def test_a_cancelled_caller_cancels_nobody_else(client: PipeliningRedis) -> None:
    first = asyncio.ensure_future(client.set("a", "1"))
    second = asyncio.ensure_future(client.set("b", "2"))
    await asyncio.sleep(0)  # both are collected
    first.cancel()
    assert await second is True
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await client.get("b") == "2"


async def test_explicit_pipelines_and_transactions_are_untouched(client: PipeliningRedis) -> None:
    async with client.pipeline(transaction=True) as pipe:
        pipe.incr("n")
        pipe.incr("n")
        pipe.get("n")
        assert await pipe.execute() == [1, 2, "2"]
    pipe = client.pipeline(transaction=False)
    pipe.set("x", "1")
    pipe.get("x")
    assert await pipe.execute() == [True, "1"]


async def test_closing_waits_for_the_commands_already_issued(redis_server: RedisServer) -> None:
    client = create_redis(redis_server.url)
    writes = [asyncio.ensure_future(client.set(f"close{n}", n)) for n in range(5)]
    await asyncio.sleep(0)
    await client.aclose()
    assert [await write for write in writes] == [True] * 5
    check: Redis = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        assert await check.exists(*(f"close{n}" for n in range(5))) == 5
        await check.delete(*(f"close{n}" for n in range(5)))
    finally:
        await check.aclose()


async def test_with_nobody_listening_every_caller_hears_redis_is_down() -> None:
    client = create_redis(f"redis://127.0.0.1:{free_port()}/0")
    try:
        results = await asyncio.gather(
            client.get("a"), client.set("b", "1"), client.get("c"), return_exceptions=True
        )
        assert all(isinstance(result, REDIS_DOWN) for result in results), results
        with pytest.raises(REDIS_DOWN):
            await client.get("alone")
    finally:
        await client.aclose()


async def test_closing_does_not_wait_for_ever_for_a_redis_that_went_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Redis that accepts the connection and never answers must not hold the process open
    at shutdown: the command still waiting fails as on a lost connection."""
    writers: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        while await reader.read(4096):
            pass

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(client_module, "CLOSE_WAIT", 0.2)
    client = create_redis(f"redis://127.0.0.1:{port}/0")
    try:
        waiting = asyncio.ensure_future(client.get("a"))
        await asyncio.sleep(0.05)
        await asyncio.wait_for(client.aclose(), timeout=5)
        with pytest.raises(REDIS_DOWN):
            await waiting
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()
