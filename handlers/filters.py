"""Pure filters run in the event loop, not in a worker thread.

aiogram runs every filter that is not a coroutine function in a worker thread
(`asyncio.to_thread`), and two kinds the routers use everywhere are not: magic filters
(`F.chat.type == …`, `F.text.startswith("/")`) and states used as filters
(`TokenForm.waiting_token`). Each check then costs a hand-off to the thread pool and back
(35-60 µs of CPU and a turn of the event loop) to compare one attribute; a text message
passed five of them on its way to a handler. Both only read the event and the state name
given to them, so `run_pure_filters_in_loop` makes them coroutines, once, after the routers
are assembled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.fsm.state import State


def run_pure_filters_in_loop(router: Router) -> int:
    """Turn the magic and state filters of `router` and every router under it into
    coroutines; how many were turned."""
    turned = 0
    for each in router.chain_tail:
        for observer in each.observers.values():
            # `_handler` carries the filters set on the router itself (observer.filter(…)).
            for handler in (observer._handler, *observer.handlers):
                for filter_object in handler.filters or ():
                    if _is_pure(filter_object):
                        filter_object.callback = _coroutine(filter_object.callback)
                        filter_object.awaitable = True
                        turned += 1
    return turned


def _is_pure(filter_object: FilterObject) -> bool:
    if filter_object.awaitable:
        return False
    return filter_object.magic is not None or isinstance(filter_object.callback, State)


def _coroutine(check: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def run(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    return run
