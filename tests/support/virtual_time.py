"""Virtual time for tests of things that sleep: a clock that moves only when everything that
runs is asleep on it, straight to the next wake-up, so hours pass in microseconds and the
order of events is exact."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

SETTLE_STEPS = 20
"""Loop turns given to the tasks woken at one instant to run until they sleep again (the
chains under test are a few steps long: a grant, the caller resuming, its next call)."""


class VirtualTime:
    """`clock()` and `sleep()` to inject; `run()` and `advance()` move the clock."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        waker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, delay), next(self._order), waker))
        await waker

    async def settle(self) -> None:
        for _ in range(SETTLE_STEPS):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Let `seconds` pass, waking every sleeper due meanwhile at its own instant."""
        until = self.now + seconds
        await self.settle()
        while self._wake_next(until):
            await self.settle()
        self.now = until
        await self.settle()

    async def run(self, work: Awaitable[T], *, limit: float = 1e6) -> T:
        """Await `work`, moving the clock whenever nothing else can run (at most `limit` s)."""
        task = asyncio.ensure_future(work)
        until = self.now + limit
        await self.settle()
        while not task.done():
            if not self._wake_next(until):
                task.cancel()
                raise AssertionError("virtual time: the work waits for something else")
            await self.settle()
        return task.result()

    def _wake_next(self, until: float) -> bool:
        sleepers = self._sleepers
        while sleepers and sleepers[0][2].done():  # a cancelled sleep
            heapq.heappop(sleepers)
        if not sleepers or sleepers[0][0] > until:
            return False
        at, _, waker = heapq.heappop(sleepers)
        self.now = max(self.now, at)
        waker.set_result(None)
        return True
