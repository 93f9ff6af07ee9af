"""Deadlines for provider calls: one watchdog task instead of a timer per call.

A status check runs thousands of times a second at scale; `asyncio.timeout` per call would
arm and cancel a timer handle each time. Instead each call registers its deadline here and
one task, ticking a few times a second, cancels the calls that overran. A call cancelled by
the watchdog raises `ProviderUnavailable` ("did not answer in time"), like any slow answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from bot.provider.errors import ProviderUnavailable

P = ParamSpec("P")
T = TypeVar("T")


class Deadlines:
    """Run provider calls within `timeout` seconds each; `watch()` enforces them."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._deadlines: dict[asyncio.Task[Any], float] = {}
        self._timed_out: set[asyncio.Task[Any]] = set()

    async def call(self, call: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """`call(*args, **kwargs)`, cancelled when it overruns (ProviderUnavailable)."""
        task = asyncio.current_task()
        assert task is not None
        self._deadlines[task] = time.monotonic() + self._timeout
        try:
            result = await call(*args, **kwargs)
        except asyncio.CancelledError:
            if self._withdraw_cancel(task):
                raise ProviderUnavailable("the provider did not answer in time") from None
            raise
        except BaseException:
            self._withdraw_cancel(task)
            raise
        finally:
            del self._deadlines[task]
        self._withdraw_cancel(task)
        return result

    async def watch(self) -> None:
        """The watchdog: cancel the calls that overran their deadline (run as a task)."""
        every = min(0.5, self._timeout / 5)
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for task, deadline in list(self._deadlines.items()):
                if now >= deadline and task not in self._timed_out:
                    self._timed_out.add(task)
                    task.cancel()

    def _withdraw_cancel(self, task: asyncio.Task[Any]) -> bool:
        """Undo the watchdog's cancel of `task`, if any; True when nothing else cancelled it."""
        if task not in self._timed_out:
            return False
        self._timed_out.discard(task)
        return task.uncancel() == 0
