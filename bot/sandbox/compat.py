"""The compatible API (sms-activate protocol): `/stubs/handler_api.php?action=...`.

Plain-text answers (`ACCESS_BALANCE:12.50`, `ACCESS_NUMBER:<id>:<number>`, `STATUS_OK:<code>`)
and JSON for getPrices, getCountries and getServices, all sent as `text/html` the way a PHP
endpoint does. Countries are sms-activate numbers (Russia 0, India 22), services string codes.

Choices where the docs are silent:

- `getNumber` without `country` buys in Russia (0); an unknown country answers NO_NUMBERS,
  an unknown or missing service BAD_SERVICE; `maxPrice` below the price answers
  `WRONG_MAX_PRICE:<price>`.
- `getStatus` of an expired or cancelled activation answers STATUS_CANCEL; of a finished one
  `STATUS_OK:<last code>`; of another key's or an unknown id NO_ACTIVATION.
- `setStatus` `6` before any code cancels and refunds (answers ACCESS_CANCEL); `8`/`-1` on an
  already cancelled activation answers ACCESS_CANCEL again (no second refund); any other
  change of a closed activation, and a cancel after the code arrived, answer BAD_STATUS.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.sandbox.faults import FaultMode, error_page, truncate
from bot.sandbox.http import STATE_KEY, Params, int_param, money_param, read_params
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

_STATUSES = {
    "1": (StatusChange.READY, "ACCESS_READY"),
    "3": (StatusChange.ANOTHER_CODE, "ACCESS_RETRY_GET"),
    "6": (StatusChange.FINISH, "ACCESS_ACTIVATION"),
    "8": (StatusChange.CANCEL, "ACCESS_CANCEL"),
    "-1": (StatusChange.CANCEL, "ACCESS_CANCEL"),
}


def _error_word(error: SandboxError) -> str:
    if isinstance(error, UnknownToken):
        return "BAD_KEY"
    if isinstance(error, UnknownService):
        return "BAD_SERVICE"
    if isinstance(error, NoNumbersAvailable):
        return "NO_NUMBERS"
    if isinstance(error, PriceAboveMax):
        return f"WRONG_MAX_PRICE:{error.min_price}"
    if isinstance(error, NotEnoughBalance):
        return "NO_BALANCE"
    if isinstance(error, ActivationNotFound):
        return "NO_ACTIVATION"
    if isinstance(error, ActivationClosed | CancelRefused):
        return "BAD_STATUS"
    if isinstance(error, EarlyCancel):
        return "EARLY_CANCEL_DENIED"
    return "ERROR_SQL"


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- actions ------------------------------------------------------------------------------


def get_balance(state: SandboxState, params: Params) -> str:
    return f"ACCESS_BALANCE:{state.balance(params.get('api_key'))}"


def get_prices(state: SandboxState, params: Params) -> str:
    catalog = state.catalog
    country_number = int_param(params, "country")
    service_code = params.get("service") or None
    country = catalog.country_by_compat.get(country_number) if country_number is not None else None
    service = catalog.service_by_code.get(service_code) if service_code is not None else None
    if (country_number is not None and country is None) or (
        service_code is not None and service is None
    ):
        return "{}"
    prices: dict[str, dict[str, dict[str, Any]]] = {}
    for c, s, offer in state.offers(country, service):
        prices.setdefault(str(c.compat_id), {})[s.code] = {
            "cost": str(offer.cost),
            "count": offer.count,
        }
    return _dump(prices)


def get_number(state: SandboxState, params: Params) -> str:
    catalog = state.catalog
    service = catalog.service_by_code.get(params.get("service", ""))
    country_number = int_param(params, "country") if params.get("country") else 0
    country = catalog.country_by_compat.get(country_number) if country_number is not None else None
    if country is None:
        state.check_token(params.get("api_key"))
        if service is None:
            raise UnknownService
        raise NoNumbersAvailable
    activation = state.buy(
        params.get("api_key"), service, country, max_price=money_param(params, "maxPrice")
    )
    return f"ACCESS_NUMBER:{activation.id}:{activation.number}"


def get_status(state: SandboxState, params: Params) -> str:
    activation = state.activation(params.get("api_key"), int_param(params, "id"))
    status = activation.status
    if status is ActivationStatus.WAITING:
        return "STATUS_WAIT_CODE"
    if status is ActivationStatus.WAIT_RETRY:
        return f"STATUS_WAIT_RETRY:{activation.last_code}"
    if status is ActivationStatus.CANCELLED:
        return "STATUS_CANCEL"
    return f"STATUS_OK:{activation.last_code}"


def set_status(state: SandboxState, params: Params) -> str:
    token = params.get("api_key")
    state.check_token(token)
    known = _STATUSES.get(params.get("status", "").strip())
    if known is None:
        return "BAD_STATUS"
    change, answer = known
    try:
        activation = state.change_status(token, int_param(params, "id"), change)
    except ActivationClosed as closed:
        if change is StatusChange.CANCEL and closed.activation.status is ActivationStatus.CANCELLED:
            return "ACCESS_CANCEL"
        raise
    if activation.status is ActivationStatus.CANCELLED:
        return "ACCESS_CANCEL"
    return answer


def get_countries(state: SandboxState, params: Params) -> str:
    return _dump(
        [{"id": c.compat_id, "name": c.name_ru, "name_en": c.name} for c in state.catalog.countries]
    )


def get_services(state: SandboxState, params: Params) -> str:
    return _dump([{"id": s.code, "name": s.name_ru} for s in state.catalog.services])


ACTIONS: dict[str, Callable[[SandboxState, Params], str]] = {
    "getBalance": get_balance,
    "getPrices": get_prices,
    "getNumber": get_number,
    "getStatus": get_status,
    "setStatus": set_status,
    "getCountries": get_countries,
    "getServices": get_services,
}


def _text(body: str, *, malformed: bool = False) -> web.Response:
    return web.Response(text=truncate(body) if malformed else body, content_type="text/html")


async def handle(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    params = await read_params(request)
    action = params.get("action", "")
    state.requests[action] += 1
    fault = state.faults.take(action)
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
            return _text("BAD_KEY")
        elif mode is FaultMode.NO_NUMBERS:
            return _text("NO_NUMBERS")
        else:
            malformed = True
    run = ACTIONS.get(action)
    try:
        state.check_token(params.get("api_key"))
        body = run(state, params) if run is not None else "BAD_ACTION"
    except SandboxError as error:
        body = _error_word(error)
    return _text(body, malformed=malformed)
