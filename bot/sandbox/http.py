"""HTTP plumbing shared by the protocol handlers: where the state lives, reading parameters."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from aiohttp import web

from bot.sandbox.state import SandboxState

STATE_KEY = web.AppKey("sandbox_state", SandboxState)

Params = Mapping[str, str]


async def read_params(request: web.Request) -> Params:
    """Parameters from the query string, overridden by a form body (both protocols allow
    GET and POST)."""
    if request.method == "POST" and request.body_exists:
        form = await request.post()
        if form:
            merged = dict(request.query)
            merged.update((name, value) for name, value in form.items() if isinstance(value, str))
            return merged
    return request.query


def int_param(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def money_param(params: Params, name: str) -> Decimal | None:
    value = params.get(name)
    if not value:
        return None
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None
