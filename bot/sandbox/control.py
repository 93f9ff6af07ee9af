"""The control endpoint `/sandbox/...`: JSON in, JSON out, for tests, benchmarks and demos.

Errors answer `{"error": "..."}` with 400 (bad input), 404 (unknown account or activation)
or 409 (an SMS for a closed activation).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.sandbox.http import STATE_KEY
from bot.sandbox.state import ActivationClosed, SandboxState

routes = web.RouteTableDef()


class BadInput(Exception):
    pass


def _fail(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError:
        raise BadInput("the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{name} must be a number")
    return float(value)


def _state(request: web.Request) -> SandboxState:
    return request.app[STATE_KEY]


def _activation_id(request: web.Request) -> int | None:
    try:
        return int(request.match_info["activation_id"])
    except ValueError:
        return None


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _bad_input_is_400(handler: Handler) -> Handler:
    """Answer 400 with the reason when the request's values are unusable (control routes
    only: the protocol routes stay free of wrappers)."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except (BadInput, ValueError, TypeError) as error:
            return _fail(400, str(error))

    return wrapper


@routes.post("/sandbox/accounts")
@_bad_input_is_400
async def put_account(request: web.Request) -> web.Response:
    body = await _body(request)
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise BadInput("token must be a non-empty string")
    balance = _state(request).add_account(token, body.get("balance", "0"))
    return web.json_response({"token": token, "balance": str(balance)})


@routes.get("/sandbox/accounts/{token}")
async def get_account(request: web.Request) -> web.Response:
    state = _state(request)
    token = request.match_info["token"]
    state.settle()  # expired activations refund first
    balance = state.accounts.get(token)
    if balance is None:
        return _fail(404, "no such account")
    return web.json_response({"token": token, "balance": str(balance)})


@routes.get("/sandbox/activations")
async def list_activations(request: web.Request) -> web.Response:
    token = request.query.get("token")
    status = request.query.get("status")
    return web.json_response(
        [
            activation.to_json()
            for activation in _state(request).all_activations(token)
            if status is None or activation.status.value == status
        ]
    )


@routes.get("/sandbox/activations/{activation_id}")
async def get_activation(request: web.Request) -> web.Response:
    activation_id = _activation_id(request)
    activation = _state(request).get(activation_id) if activation_id is not None else None
    if activation is None:
        return _fail(404, "no such activation")
    return web.json_response(activation.to_json())


@routes.post("/sandbox/activations/{activation_id}/sms")
@_bad_input_is_400
async def post_sms(request: web.Request) -> web.Response:
    body = await _body(request)
    code = body.get("code")
    if code is not None and (not isinstance(code, str | int) or isinstance(code, bool)):
        raise BadInput("code must be a string")
    state = _state(request)
    activation_id = _activation_id(request)
    activation = state.get(activation_id) if activation_id is not None else None
    if activation is None:
        return _fail(404, "no such activation")
    try:
        state.deliver_sms(activation.id, str(code) if code is not None else None)
    except ActivationClosed as closed:
        return _fail(409, f"the activation is {closed.activation.status.value}")
    return web.json_response(activation.to_json())


@routes.get("/sandbox/config")
async def get_config(request: web.Request) -> web.Response:
    return web.json_response(_state(request).config.to_json())


@routes.post("/sandbox/config")
@_bad_input_is_400
async def post_config(request: web.Request) -> web.Response:
    body = await _body(request)
    known = {
        "sms_delay",
        "activation_lifetime",
        "early_cancel_seconds",
        "shapes",
        "ignore_max_price",
    }
    unknown = set(body) - known
    if unknown:
        raise BadInput(f"unknown settings: {', '.join(sorted(unknown))}")
    shapes = body.get("shapes")
    if shapes is not None and not isinstance(shapes, dict):
        raise BadInput("shapes must be an object")
    ignore_max_price = body.get("ignore_max_price")
    if ignore_max_price is not None and not isinstance(ignore_max_price, bool):
        raise BadInput("ignore_max_price must be true or false")
    config = _state(request).configure(
        sms_delay=body.get("sms_delay", ...),
        activation_lifetime=_number(body, "activation_lifetime"),
        early_cancel_seconds=_number(body, "early_cancel_seconds"),
        shapes=shapes,
        ignore_max_price=ignore_max_price,
    )
    return web.json_response(config.to_json())


@routes.get("/sandbox/faults")
async def get_faults(request: web.Request) -> web.Response:
    fault = _state(request).faults.fault
    return web.json_response(fault.to_json() if fault is not None else {"mode": None})


@routes.post("/sandbox/faults")
@_bad_input_is_400
async def post_faults(request: web.Request) -> web.Response:
    body = await _body(request)
    count = body.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise BadInput("count must be null or an integer")
    methods = body.get("methods")
    if methods is not None and (
        not isinstance(methods, list) or not all(isinstance(m, str) for m in methods)
    ):
        raise BadInput("methods must be null or a list of method names")
    status = body.get("status", 502)
    if isinstance(status, bool) or not isinstance(status, int):
        raise BadInput("status must be an integer")
    delay = _number(body, "delay")
    fault = _state(request).faults.set(
        body.get("mode"),
        delay=2.0 if delay is None else delay,
        count=count,
        methods=methods,
        status=status,
    )
    return web.json_response(fault.to_json() if fault is not None else {"mode": None})


@routes.post("/sandbox/reset")
@_bad_input_is_400
async def post_reset(request: web.Request) -> web.Response:
    _state(request).reset()
    return web.json_response({"ok": True})


@routes.post("/sandbox/clock")
@_bad_input_is_400
async def post_clock(request: web.Request) -> web.Response:
    body = await _body(request)
    seconds = _number(body, "advance")
    if seconds is None:
        raise BadInput("advance (seconds) is required")
    state = _state(request)
    state.advance(seconds)
    return web.json_response({"now": state.now(), "offset": state.time_offset})


@routes.get("/sandbox/catalog")
async def get_catalog(request: web.Request) -> web.Response:
    catalog = _state(request).catalog
    return web.json_response(
        {
            "countries": [
                {"id": c.v2_id, "compat_id": c.compat_id, "iso": c.iso, "name": c.name}
                for c in catalog.countries
            ],
            "services": [{"id": s.v2_id, "code": s.code, "name": s.name} for s in catalog.services],
        }
    )


@routes.post("/sandbox/offers")
@_bad_input_is_400
async def post_offer(request: web.Request) -> web.Response:
    body = await _body(request)
    country_id, service_id, count = (
        body.get("country_id"),
        body.get("service_id"),
        body.get("count"),
    )
    for name, value in (("country_id", country_id), ("service_id", service_id), ("count", count)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInput(f"{name} must be an integer")
    assert isinstance(country_id, int) and isinstance(service_id, int) and isinstance(count, int)
    try:
        country, service, offer = _state(request).set_offer(
            country_id, service_id, cost=body.get("cost"), count=count
        )
    except KeyError:
        return _fail(404, "unknown country_id or service_id")
    return web.json_response(
        {
            "country_id": country.v2_id,
            "service_id": service.v2_id,
            "compat_country": country.compat_id,
            "compat_service": service.code,
            "cost": str(offer.cost),
            "count": offer.count,
        }
    )
