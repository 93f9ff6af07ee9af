"""SMS-man's own JSON API ("v2", `https://api.sms-man.com/control/<method>`).

Every request is a form POST with the key in the body (`token`), so the key never lands in a
URL or an access log. Reads go through `retry_transient`; `get-number` and `set-status` are
sent exactly once.

Decisions worth knowing:
- `no_channels` is raised as `NoNumbers` (code kept): the provider has no free line to
  receive on right now, which for the user means the same thing, "try later".
- `get-sms` answering `wrong_status` means the request was cancelled (by us, the provider or
  expiry): it becomes an `Activation` with status CANCELLED, not an error.
- `set-status` answering `change_status` means the request's status already changed, which
  is not the same as cancelled (a finished request answers it too). A cancel answered so is
  confirmed with `get-sms`, as the compat client confirms `BAD_STATUS`: cancelled there → done,
  no error (the money went back then); anything else (a code, finished) → `AlreadyChanged`:
  nothing was refunded. To `ready`/`close` it raises `AlreadyChanged`.
- `maxPrice` is documented as an integer: a whole price is sent as it is; a price with
  kopecks is not sent at all (the whole rouble below would refuse the very number the user
  confirmed, the one above would let the provider charge more than shown). The purchase
  service checks what the balance really lost either way (docs/provider-api.md).
- "Current request not exists" (an expired or unknown request) raises `ActivationNotFound`,
  whatever `error_code` comes with it (clients in the wild match the message).
- Two codes the docs do not list are typed too: `wrong_request_id` → `ActivationNotFound`,
  `early_cancel` → `EarlyCancelDenied`. Any other unknown code is a plain `ProviderError`
  whose `code` is the raw one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal
from typing import Any, TypeVar

import httpx

from bot.provider.budget import BudgetLane
from bot.provider.errors import (
    ActivationNotFound,
    AlreadyChanged,
    BadStatus,
    EarlyCancelDenied,
    NoBalance,
    NoNumbers,
    ProviderError,
    ProviderUnavailable,
    WrongToken,
)
from bot.provider.http import (
    DEFAULT_RETRY,
    RetryPolicy,
    post_form,
    retry_transient,
    scrub,
)
from bot.provider.models import Activation, ActivationStatus, Country, Offer, Service
from bot.provider.parsing import (
    as_decimal,
    as_id,
    digits,
    flatten_message,
    format_price,
    parse_countries,
    parse_json_body,
    parse_prices,
    parse_services,
    select_offers,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

ERRORS: dict[str, type[ProviderError]] = {
    "wrong_token": WrongToken,
    "no_numbers": NoNumbers,
    "no_channels": NoNumbers,
    "balance": NoBalance,
    "wrong_status": BadStatus,
    "change_status": AlreadyChanged,
    # Not in the docs, but a client must expect them (the sandbox speaks them too):
    "wrong_request_id": ActivationNotFound,
    "early_cancel": EarlyCancelDenied,
}

_NOT_EXISTS = re.compile(r"request\b.*\bnot\s+exist", re.IGNORECASE)


def _unexpected(method: str) -> ProviderUnavailable:
    return ProviderUnavailable(f"unexpected answer to {method}")


class V2Provider:
    """The `Provider` interface over SMS-man's v2 API.

    `http` is the shared client (not closed here); `budget` the lane of the process's
    provider budget every request waits for (`bot.provider.budget`); `ref` the referral id
    sent with every purchase when not empty; `retry` how reads retry.
    """

    name: str = "v2"

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        budget: BudgetLane,
        ref: str = "",
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._http = http
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._urls: dict[str, httpx.URL] = {}  # per method, parsed once
        self._budget = budget
        self._ref = ref
        self._retry = retry

    def __repr__(self) -> str:
        return f"V2Provider(base_url={self._base_url!r})"

    # -- transport ---------------------------------------------------------------------

    async def _call(self, method: str, token: str, params: dict[str, str]) -> Any:
        """One POST; the decoded JSON body. No error mapping of the body yet."""
        url = self._urls.get(method)
        if url is None:
            url = self._urls[method] = httpx.URL(self._base_url + method)
        response = await post_form(
            self._http, url, {"token": token, **params}, budget=self._budget, token=token
        )
        try:
            return parse_json_body(response.content)
        except ProviderUnavailable:
            if response.is_client_error:
                status = response.status_code
                raise ProviderError(
                    f"the provider answered HTTP {status}", code=f"http_{status}"
                ) from None
            raise

    async def _read(
        self, method: str, token: str, params: dict[str, str], parse: Callable[[Any], T]
    ) -> T:
        """An idempotent read: call, check and parse, retried on transient errors."""

        async def attempt() -> T:
            body = await self._call(method, token, params)
            _raise_for_error(body, token)
            return parse(body)

        return await retry_transient(attempt, self._retry)

    # -- reads -------------------------------------------------------------------------

    async def get_balance(self, token: str) -> Decimal:
        def parse(body: Any) -> Decimal:
            balance = as_decimal(body.get("balance")) if isinstance(body, dict) else None
            if balance is None:
                raise _unexpected("get-balance")
            return balance

        return await self._read("get-balance", token, {}, parse)

    async def get_countries(self, token: str) -> list[Country]:
        return await self._read("countries", token, {}, parse_countries)

    async def get_services(self, token: str) -> list[Service]:
        return await self._read(
            "applications", token, {}, lambda body: parse_services(body, code_is_id=False)
        )

    async def get_offers(
        self, token: str, *, country_id: str | None = None, service_id: str | None = None
    ) -> list[Offer]:
        params = {"country_id": country_id} if country_id is not None else {}
        offers = await self._read(
            "get-prices", token, params, lambda body: parse_prices(body, country_hint=country_id)
        )
        return select_offers(offers, country_id, service_id)

    async def get_activation(self, token: str, activation_id: str) -> Activation:
        def parse(body: Any) -> Activation:
            if not isinstance(body, dict):
                raise _unexpected("get-sms")

            def activation(status: ActivationStatus, code: str | None = None) -> Activation:
                return Activation(
                    id=activation_id,
                    number=digits(body.get("number")),
                    status=status,
                    code=code,
                    country_id=as_id(body.get("country_id")),
                    service_id=as_id(body.get("application_id")),
                )

            code = as_id(body.get("sms_code"))
            if code is not None:
                return activation(ActivationStatus.CODE, code)
            error_code = body.get("error_code")
            if error_code == "wait_sms":
                return activation(ActivationStatus.WAITING)
            if error_code == "wrong_status" and not _is_not_found(body):
                return activation(ActivationStatus.CANCELLED)
            _raise_for_error(body, token)
            if "request_id" in body or "number" in body:
                return activation(ActivationStatus.WAITING)
            raise _unexpected("get-sms")

        async def attempt() -> Activation:
            body = await self._call("get-sms", token, {"request_id": activation_id})
            return parse(body)

        return await retry_transient(attempt, self._retry)

    # -- actions (never retried) -------------------------------------------------------

    def price_cap(self, price: Decimal) -> Decimal:
        """`maxPrice` is an integer here: a price with kopecks is capped at the rouble above
        (the confirmation card says so); `buy_number` sends only a whole cap."""
        return price.to_integral_value(rounding=ROUND_CEILING)

    async def buy_number(
        self, token: str, *, service_id: str, country_id: str, max_price: Decimal | None
    ) -> Activation:
        params = {"country_id": country_id, "application_id": service_id}
        if max_price is not None and max_price == max_price.to_integral_value():
            params["maxPrice"] = format_price(max_price)
        if self._ref:
            params["ref"] = self._ref
        body = await self._call("get-number", token, params)
        _raise_for_error(body, token)
        request_id = as_id(body.get("request_id")) if isinstance(body, dict) else None
        if request_id is None:
            # The purchase may have gone through: the caller must not assume it did not.
            raise _unexpected("get-number")
        logger.debug("bought activation %s", request_id)
        return Activation(
            id=request_id,
            number=digits(body.get("number")),
            status=ActivationStatus.WAITING,
            country_id=as_id(body.get("country_id")) or country_id,
            service_id=as_id(body.get("application_id")) or service_id,
        )

    async def _set_status(self, token: str, activation_id: str, status: str) -> None:
        body = await self._call(
            "set-status", token, {"request_id": activation_id, "status": status}
        )
        if not isinstance(body, dict):
            raise _unexpected("set-status")
        _raise_for_error(body, token)

    async def request_another_code(self, token: str, activation_id: str) -> None:
        await self._set_status(token, activation_id, "ready")

    async def finish(self, token: str, activation_id: str) -> None:
        await self._set_status(token, activation_id, "close")

    async def cancel(self, token: str, activation_id: str) -> None:
        try:
            await self._set_status(token, activation_id, "reject")
        except AlreadyChanged:
            current = await self.get_activation(token, activation_id)
            if current.status is not ActivationStatus.CANCELLED:
                raise
            logger.debug("activation %s was already cancelled", activation_id)

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client is shared and closed by its owner."""


def _is_not_found(body: dict[str, Any]) -> bool:
    return bool(_NOT_EXISTS.search(flatten_message(body.get("error_msg"))))


def _raise_for_error(body: Any, token: str) -> None:
    """Raise the typed error for an error answer (`error_code` or `success: false`)."""
    if not isinstance(body, dict):
        return
    error_code = body.get("error_code")
    if error_code in (None, "") and body.get("success") is not False:
        return
    code = str(error_code) if error_code not in (None, "") else None
    message = scrub(flatten_message(body.get("error_msg")), token)
    if _is_not_found(body):
        raise ActivationNotFound(message, code=code)
    error_type = ERRORS.get(code or "", ProviderError)
    raise error_type(message or (code or "the provider refused"), code=code)
