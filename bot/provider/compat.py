"""The sms-activate compatible API (`handler_api.php`), spoken by SMS-man and many others.

One URL; `action=` selects the method and the key travels as `api_key` in a form POST body.
Answers are bare words (`ACCESS_BALANCE:12.50`, `NO_NUMBERS`) or JSON for the lists.

Decisions worth knowing:
- `cancel` sends status 8, which every sms-activate style provider accepts as "cancel"
  (SMS-man documents it as "number used, cancel"; the older `-1` is not accepted
  everywhere).
- A cancel answered `BAD_STATUS` is checked with `getStatus`: when the activation is already
  cancelled the cancel is done and nothing is raised.
- `STATUS_WAIT_RESEND` is reported as WAIT_RETRY (the provider waits for the SMS to be sent
  again), `STATUS_WAIT_RETRY:<previous>` as WAIT_RETRY with the previous code.
- `ERROR_SQL` is a provider-side failure: `ProviderUnavailable`, so reads retry it.
- `maxPrice` is sent to the kopeck, rounded down (never above the price the user confirmed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any, TypeVar

import httpx

from bot.provider.budget import BudgetLane
from bot.provider.errors import (
    ActivationNotFound,
    BadStatus,
    Banned,
    EarlyCancelDenied,
    NoBalance,
    NoNumbers,
    PriceTooHigh,
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
    digits,
    format_price,
    parse_countries,
    parse_json_body,
    parse_prices,
    parse_services,
    select_offers,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A bare-word answer: an upper-case word, optionally followed by ":" and details.
_WORD = re.compile(r"^[A-Z][A-Z0-9_]*(?::.*)?$", re.DOTALL)

ERRORS: dict[str, type[ProviderError]] = {
    "BAD_KEY": WrongToken,
    "BAD_ACTION": ProviderError,
    "BAD_SERVICE": ProviderError,
    "BAD_STATUS": BadStatus,
    "NO_NUMBERS": NoNumbers,
    "NO_BALANCE": NoBalance,
    "NO_ACTIVATION": ActivationNotFound,
    "WRONG_ACTIVATION_ID": ActivationNotFound,
    "ERROR_SQL": ProviderUnavailable,
    "EARLY_CANCEL_DENIED": EarlyCancelDenied,
    "BANNED": Banned,
    "WRONG_MAX_PRICE": PriceTooHigh,
}

_MESSAGES = {
    "BAD_KEY": "wrong API key",
    "BAD_ACTION": "the provider does not know this action",
    "BAD_SERVICE": "the provider does not know this service",
    "BAD_STATUS": "this status change is not possible now",
    "NO_NUMBERS": "no numbers available",
    "NO_BALANCE": "not enough balance",
    "NO_ACTIVATION": "no such activation",
    "WRONG_ACTIVATION_ID": "no such activation",
    "ERROR_SQL": "the provider had an internal error",
    "EARLY_CANCEL_DENIED": "cancelling is not allowed yet",
}

_KOPECK = Decimal("0.01")

# setStatus codes
STATUS_ANOTHER_CODE = "3"
STATUS_FINISH = "6"
STATUS_CANCEL = "8"

_SUCCESS_PREFIXES = ("ACCESS_", "STATUS_")


def _unexpected(action: str) -> ProviderUnavailable:
    return ProviderUnavailable(f"unexpected answer to {action}")


def _unknown(text: str) -> ProviderError:
    """An answer word we do not know: a plain `ProviderError` carrying it as the code."""
    word = text.partition(":")[0][:40]
    return ProviderError(f"the provider answered {text[:100]}", code=word)


def _error_for(text: str) -> ProviderError | None:
    """The typed error for an error word, None when `text` is not an error we know."""
    word, _, detail = text.partition(":")
    error_type = ERRORS.get(word)
    if error_type is None:
        return None
    if error_type is PriceTooHigh:
        minimum = detail.strip() or None
        message = f"the price is now at least {minimum}" if minimum else "the price is higher"
        return PriceTooHigh(message, code=word, min_price=minimum)
    if error_type is Banned:
        return Banned(f"the account is banned until {detail}" if detail else "banned", code=word)
    return error_type(_MESSAGES.get(word, word), code=word)


class CompatProvider:
    """The `Provider` interface over the sms-activate compatible `handler_api.php`.

    `http` is the shared client (not closed here); `url` the full handler URL; `budget` the
    lane of the process's provider budget every request waits for (`bot.provider.budget`);
    `ref` sent with every purchase when not empty.
    """

    name: str = "compat"

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        budget: BudgetLane,
        ref: str = "",
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._http = http
        self._url = url
        self._parsed_url = httpx.URL(url)
        self._budget = budget
        self._ref = ref
        self._retry = retry

    def __repr__(self) -> str:
        return f"CompatProvider(url={self._url!r})"

    # -- transport ---------------------------------------------------------------------

    async def _call(self, action: str, token: str, params: dict[str, str]) -> str:
        """One POST; the answer text, stripped. Error words are raised as typed errors."""
        response = await post_form(
            self._http,
            self._parsed_url,
            {"action": action, "api_key": token, **params},
            budget=self._budget,
            token=token,
        )
        text = scrub(response.text.strip(), token)
        if _WORD.match(text):
            error = _error_for(text)
            if error is not None:
                raise error
            if not text.startswith(_SUCCESS_PREFIXES):
                raise _unknown(text)
        elif response.is_client_error:
            status = response.status_code
            raise ProviderError(f"the provider answered HTTP {status}", code=f"http_{status}")
        return text

    async def _read(
        self, action: str, token: str, params: dict[str, str], parse: Callable[[str], T]
    ) -> T:
        async def attempt() -> T:
            return parse(await self._call(action, token, params))

        return await retry_transient(attempt, self._retry)

    async def _read_json(
        self, action: str, token: str, params: dict[str, str], parse: Callable[[Any], T]
    ) -> T:
        def decode(text: str) -> T:
            if _WORD.match(text):
                raise _unknown(text)  # a bare word where JSON was expected
            return parse(parse_json_body(text.encode()))

        return await self._read(action, token, params, decode)

    # -- reads -------------------------------------------------------------------------

    async def get_balance(self, token: str) -> Decimal:
        def parse(text: str) -> Decimal:
            word, _, amount = text.partition(":")
            balance = as_decimal(amount) if word == "ACCESS_BALANCE" else None
            if balance is None:
                raise _unexpected("getBalance")
            return balance

        return await self._read("getBalance", token, {}, parse)

    async def get_countries(self, token: str) -> list[Country]:
        return await self._read_json("getCountries", token, {}, parse_countries)

    async def get_services(self, token: str) -> list[Service]:
        return await self._read_json(
            "getServices", token, {}, lambda body: parse_services(body, code_is_id=True)
        )

    async def get_offers(
        self, token: str, *, country_id: str | None = None, service_id: str | None = None
    ) -> list[Offer]:
        params: dict[str, str] = {}
        if country_id is not None:
            params["country"] = country_id
        if service_id is not None:
            params["service"] = service_id
        offers = await self._read_json(
            "getPrices", token, params, lambda body: parse_prices(body, country_hint=country_id)
        )
        return select_offers(offers, country_id, service_id)

    async def get_activation(self, token: str, activation_id: str) -> Activation:
        def parse(text: str) -> Activation:
            word, _, detail = text.partition(":")
            detail = detail.strip()
            code: str | None
            if word == "STATUS_OK" and detail:
                status, code = ActivationStatus.CODE, detail
            elif word == "STATUS_WAIT_RETRY":
                status, code = ActivationStatus.WAIT_RETRY, detail or None
            elif word == "STATUS_WAIT_RESEND":
                status, code = ActivationStatus.WAIT_RETRY, None
            elif word == "STATUS_CANCEL":
                status, code = ActivationStatus.CANCELLED, None
            elif word.startswith("STATUS_WAIT"):
                status, code = ActivationStatus.WAITING, None
            elif _WORD.match(text):
                raise _unknown(text)
            else:
                raise _unexpected("getStatus")
            return Activation(id=activation_id, status=status, code=code)

        return await self._read("getStatus", token, {"id": activation_id}, parse)

    # -- actions (never retried) -------------------------------------------------------

    def price_cap(self, price: Decimal) -> Decimal:
        """`maxPrice` is a decimal here: the price itself, to the kopeck (never above it)."""
        return price.quantize(_KOPECK, rounding=ROUND_DOWN)

    async def buy_number(
        self, token: str, *, service_id: str, country_id: str, max_price: Decimal | None
    ) -> Activation:
        params = {"service": service_id, "country": country_id}
        if max_price is not None:
            params["maxPrice"] = format_price(max_price.quantize(_KOPECK, rounding=ROUND_DOWN))
        if self._ref:
            params["ref"] = self._ref
        text = await self._call("getNumber", token, params)
        word, _, rest = text.partition(":")
        activation_id, _, number = rest.partition(":")
        if word != "ACCESS_NUMBER" or not activation_id.strip():
            # The purchase may have gone through: the caller must not assume it did not.
            raise _unexpected("getNumber")
        logger.debug("bought activation %s", activation_id.strip())
        return Activation(
            id=activation_id.strip(),
            number=digits(number),
            status=ActivationStatus.WAITING,
            country_id=country_id,
            service_id=service_id,
        )

    async def _set_status(self, token: str, activation_id: str, status: str) -> None:
        text = await self._call("setStatus", token, {"id": activation_id, "status": status})
        if not text.startswith("ACCESS_"):
            raise _unknown(text) if _WORD.match(text) else _unexpected("setStatus")

    async def request_another_code(self, token: str, activation_id: str) -> None:
        await self._set_status(token, activation_id, STATUS_ANOTHER_CODE)

    async def finish(self, token: str, activation_id: str) -> None:
        await self._set_status(token, activation_id, STATUS_FINISH)

    async def cancel(self, token: str, activation_id: str) -> None:
        try:
            await self._set_status(token, activation_id, STATUS_CANCEL)
        except BadStatus:
            current = await self.get_activation(token, activation_id)
            if current.status is not ActivationStatus.CANCELLED:
                raise
            logger.debug("activation %s was already cancelled", activation_id)

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client is shared and closed by its owner."""
