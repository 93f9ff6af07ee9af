"""The v2 ("control") API: `/control/<method>`, JSON answers, the key in `token`.

Answers follow the provider's documentation and the shapes seen from the live service
(docs/provider-api.md), including its inconsistencies, on purpose:

- errors are `{"success": false, "error_code": ..., "error_msg": ...}` with HTTP 200; for a
  wrong token `error_msg` is the string "Wrong token!" in get-balance, set-status, countries
  and applications, and the object `{"token": "Wrong token!"}` in limits, get-number,
  get-prices and get-sms;
- `request_id` is an int in get-number and set-status answers and a string in get-sms;
- countries answer keyed by id with int ids, applications as a list with string ids (both
  switchable with the `shapes` config); get-prices is nested by country, or flat (keyed by
  application, `count` a string) when a `country_id` is given; limits is a list of strings.

`maxPrice` is documented as an integer and read as one: a whole number caps the price
("no_numbers", "No numbers at this price", when the price is above it); a value with a
fraction ("15.5") is not understood and caps nothing. What the live service does with one is
not documented; the sandbox takes the worst case for a client, which then pays whatever the
number costs.

Error codes used: `wrong_token`, `no_numbers` (also when the price is above `maxPrice`:
"No numbers at this price"), `balance`, `wait_sms`, `wrong_status` (unknown status, get-sms
on a cancelled request, or a cancel after the code arrived), `change_status` (the request is
already finished or cancelled), and two codes the docs do not list, which a client must
handle generically: `wrong_request_id` with the message "Current request not exists"
(unknown or expired request; clients in the wild match the message) and `early_cancel`
(cancel refused during the first `early_cancel_seconds`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.sandbox.faults import FaultMode, error_page, truncate
from bot.sandbox.http import STATE_KEY, Params, int_param, read_params
from bot.sandbox.state import (
    ActivationClosed,
    ActivationNotFound,
    ActivationStatus,
    CancelRefused,
    EarlyCancel,
    NoNumbersAvailable,
    NotEnoughBalance,
    PriceAboveMax,
    SandboxError,
    SandboxState,
    StatusChange,
    UnknownService,
    UnknownToken,
)

Answer = dict[str, Any] | list[Any]

NOT_EXISTS = "Current request not exists"
_TOKEN_AS_OBJECT = frozenset({"limits", "get-number", "get-prices", "get-sms"})
_STATUSES = {
    "ready": StatusChange.ANOTHER_CODE,
    "close": StatusChange.FINISH,
    "reject": StatusChange.CANCEL,
    "used": StatusChange.CANCEL,
}


def _error(code: str, message: str | dict[str, str]) -> dict[str, Any]:
    return {"success": False, "error_code": code, "error_msg": message}


def wrong_token(method: str) -> dict[str, Any]:
    message: str | dict[str, str] = "Wrong token!"
    if method in _TOKEN_AS_OBJECT:
        message = {"token": "Wrong token!"}
    return _error("wrong_token", message)


NO_NUMBERS = _error("no_numbers", "No numbers")


def _error_answer(method: str, error: SandboxError) -> dict[str, Any]:
    if isinstance(error, UnknownToken):
        return wrong_token(method)
    if isinstance(error, NoNumbersAvailable | UnknownService):
        return NO_NUMBERS
    if isinstance(error, PriceAboveMax):
        return _error("no_numbers", "No numbers at this price")
    if isinstance(error, NotEnoughBalance):
        return _error("balance", "Not enough money on your balance")
    if isinstance(error, ActivationNotFound):
        return _error("wrong_request_id", NOT_EXISTS)
    if isinstance(error, ActivationClosed):
        if error.activation.expired:
            return _error("wrong_request_id", NOT_EXISTS)
        return _error("change_status", "The status of this request has already been changed")
    if isinstance(error, CancelRefused):
        return _error(
            "wrong_status", "The code has been received: the request can not be cancelled"
        )
    if isinstance(error, EarlyCancel):
        return _error(
            "early_cancel", f"The request can be cancelled in {error.seconds_left:.0f} seconds"
        )
    return _error("error", str(error) or type(error).__name__)


# --- methods ------------------------------------------------------------------------------


def get_balance(state: SandboxState, params: Params) -> Answer:
    return {"balance": str(state.balance(params.get("token")))}


def limits(state: SandboxState, params: Params) -> Answer:
    state.check_token(params.get("token"))
    catalog = state.catalog
    country_id = int_param(params, "country_id") or None
    service_id = int_param(params, "application_id") or None
    country = catalog.country_by_v2.get(country_id) if country_id is not None else None
    service = catalog.service_by_v2.get(service_id) if service_id is not None else None
    if (country_id is not None and country is None) or (service_id is not None and service is None):
        return []
    rows = [
        {
            "application_id": str(s.v2_id),
            "country_id": str(c.v2_id),
            "numbers": str(offer.count),
        }
        for c, s, offer in state.offers(country, service)
    ]
    if country is not None and state.config.shapes.limits == "object":
        return {row["application_id"]: row for row in rows}
    return rows


def get_number(state: SandboxState, params: Params) -> Answer:
    state.check_token(params.get("token"))
    catalog = state.catalog
    country_id = int_param(params, "country_id") or 0
    country = catalog.country_by_v2.get(country_id)
    if country_id and country is None:
        raise NoNumbersAvailable
    service_id = int_param(params, "application_id")
    service = catalog.service_by_v2.get(service_id) if service_id is not None else None
    max_price = int_param(params, "maxPrice")  # an integer; "15.5" caps nothing
    activation = state.buy(
        params.get("token"),
        service,
        country,
        max_price=Decimal(max_price) if max_price is not None else None,
    )
    return {
        "request_id": activation.id,
        "country_id": activation.country.v2_id,
        "application_id": activation.service.v2_id,
        "number": activation.number,
    }


def get_sms(state: SandboxState, params: Params) -> Answer:
    activation = state.activation(params.get("token"), int_param(params, "request_id"))
    status = activation.status
    if status is ActivationStatus.CANCELLED:
        if activation.expired:
            return _error("wrong_request_id", NOT_EXISTS)
        return _error("wrong_status", "The request has been cancelled")
    answer: dict[str, Any] = {
        "request_id": str(activation.id),
        "country_id": activation.country.v2_id,
        "application_id": activation.service.v2_id,
        "number": activation.number,
    }
    if status is ActivationStatus.CODE or status is ActivationStatus.FINISHED:
        answer["sms_code"] = activation.last_code
    else:
        answer["error_code"] = "wait_sms"
        answer["error_msg"] = "Still waiting..."
    return answer


def set_status(state: SandboxState, params: Params) -> Answer:
    token = params.get("token")
    state.check_token(token)
    status = params.get("status", "")
    change = _STATUSES.get(status)
    if change is None:
        return _error("wrong_status", f"Status {status} does not exists")
    activation = state.change_status(token, int_param(params, "request_id"), change)
    return {"request_id": activation.id, "success": True}


def get_prices(state: SandboxState, params: Params) -> Answer:
    state.check_token(params.get("token"))
    country_id = int_param(params, "country_id") or None
    country = state.catalog.country_by_v2.get(country_id) if country_id is not None else None
    if country_id is not None and country is None:
        return {}
    flat = country is not None and state.config.shapes.prices in ("auto", "flat")
    if flat:
        return {
            str(s.v2_id): {
                "cost": str(offer.cost),
                "count": str(offer.count),
                "country_id": c.v2_id,
            }
            for c, s, offer in state.offers(country)
        }
    nested: dict[str, dict[str, dict[str, Any]]] = {}
    for c, s, offer in state.offers(country):
        nested.setdefault(str(c.v2_id), {})[str(s.v2_id)] = {
            "cost": str(offer.cost),
            "count": offer.count,
        }
    return nested


def countries(state: SandboxState, params: Params) -> Answer:
    state.check_token(params.get("token"))
    rows = [{"id": c.v2_id, "title": c.name, "code": c.iso} for c in state.catalog.countries]
    if state.config.shapes.countries == "list":
        return rows
    return {str(row["id"]): row for row in rows}


def applications(state: SandboxState, params: Params) -> Answer:
    state.check_token(params.get("token"))
    services = state.catalog.services
    if state.config.shapes.applications == "list":
        return [{"id": str(s.v2_id), "name": s.name, "code": s.code} for s in services]
    return {str(s.v2_id): {"id": str(s.v2_id), "title": s.name, "code": s.code} for s in services}


METHODS: dict[str, Callable[[SandboxState, Params], Answer]] = {
    "get-balance": get_balance,
    "limits": limits,
    "get-number": get_number,
    "get-sms": get_sms,
    "set-status": set_status,
    "get-prices": get_prices,
    "countries": countries,
    "applications": applications,
}


def _json(answer: Answer, *, malformed: bool = False) -> web.Response:
    body = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    if malformed:
        body = truncate(body)
    return web.Response(text=body, content_type="application/json")


async def handle(request: web.Request) -> web.StreamResponse:
    method = request.match_info["method"]
    run = METHODS.get(method)
    if run is None:
        return web.json_response(
            {"name": "Not Found", "message": "Page not found.", "code": 0, "status": 404},
            status=404,
        )
    state = request.app[STATE_KEY]
    state.requests[method] += 1
    params = await read_params(request)
    fault = state.faults.take(method)
    malformed = False
    if fault is not None:
        mode = fault.mode
        if mode is FaultMode.SERVER_ERROR:
            return web.Response(
                status=fault.status, text=error_page(fault.status), content_type="text/html"
            )
        if mode is FaultMode.SLOW:
            await asyncio.sleep(fault.delay)
        elif mode is FaultMode.WRONG_TOKEN:
            return _json(wrong_token(method))
        elif mode is FaultMode.NO_NUMBERS:
            return _json(NO_NUMBERS)
        else:
            malformed = True
    try:
        answer = run(state, params)
    except SandboxError as error:
        answer = _error_answer(method, error)
    return _json(answer, malformed=malformed)
