"""The Redis client the bot and the watcher use: commands issued together travel together.

A burst of updates means many tasks each sending a command or two at nearly the same moment
(the visit of every update, the FSM write of every tap). redis-py sends each one on its own:
a pooled connection checked out, a socket write, a wake-up for the reply, the connection
returned, for every command. `PipeliningRedis` collects the commands that tasks issue in the
same turn of the event loop and sends them as one pipeline (not a transaction: each command
runs as it would alone, in order) over one connection: one write, one read. A command issued
alone goes as before. This is what ioredis calls auto-pipelining.

What stays as it was: every caller gets its own reply or its own error (a failed command
fails only its caller; a lost connection fails the commands that were on it, with the
error redis-py raises, so `REDIS_DOWN` still tells an outage), scripts reload themselves
after NOSCRIPT, and explicit pipelines and transactions (`client.pipeline()`) go their own
way. What changes: a command already handed to Redis runs even if its caller is cancelled
meanwhile, as a command written to the socket always could.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

CLOSE_WAIT = 5.0
"""Seconds `aclose` waits for the replies to commands already issued."""

Pending = tuple[tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]"]


class PipeliningRedis(Redis):
    """redis-py's asyncio client, sending the commands issued in one event-loop turn as one
    pipeline (see the module's text). Build it with `PipeliningRedis.from_pool(pool)`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: list[Pending] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._closing = False

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        if self._pending is None:
            self._pending = []
            loop.call_soon(self._send_pending)
        self._pending.append((args, options, reply))
        return await reply

    def _send_pending(self) -> None:
        """At the end of the turn that issued them: send what was collected, in a task of its
        own, so that a caller cancelled meanwhile cancels nobody else's command."""
        batch, self._pending = self._pending or [], None
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[Pending]) -> None:
        try:
            results = await self._execute(batch)
        except BaseException as error:  # the connection's: every command on it fails
            told: BaseException = error
            if self._closing and isinstance(error, asyncio.CancelledError):
                told = RedisConnectionError("the Redis client was closed before Redis answered")
            for _args, _options, reply in batch:
                _settle(reply, error=told)
            if not isinstance(error, Exception):
                raise
            return
        for (_args, _options, reply), result in zip(batch, results, strict=True):
            if isinstance(result, ResponseError):
                _settle(reply, error=result)
            else:
                _settle(reply, result=result)

    async def _execute(self, batch: list[Pending]) -> list[Any]:
        """The replies in order, a command's own error (`ResponseError`) in its place."""
        if len(batch) == 1:
            args, options, _reply = batch[0]
            try:
                return [await super().execute_command(*args, **options)]
            except ResponseError as error:
                return [error]
        pipe = self.pipeline(transaction=False)
        for args, options, _reply in batch:
            pipe.execute_command(*args, **options)
        return list(await pipe.execute(raise_on_error=False))

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close once the commands already issued have had their replies, waiting at most
        `CLOSE_WAIT` seconds (a Redis that went quiet must not hold the process open); the
        commands still unanswered then fail as on a lost connection."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_WAIT
        while (self._pending or self._sending) and loop.time() < deadline:
            if self._sending:
                await asyncio.wait(self._sending, timeout=deadline - loop.time())
            else:
                await asyncio.sleep(0)  # what was collected is sent at the end of this turn
        self._closing = True
        for task in self._sending:
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        await super().aclose(close_connection_pool)


def _settle(
    reply: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    if reply.done():  # its caller was cancelled: nobody waits for it
        return
    if error is None:
        reply.set_result(result)
    elif isinstance(error, asyncio.CancelledError):
        reply.cancel()
    else:
        reply.set_exception(error)
