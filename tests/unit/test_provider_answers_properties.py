"""Whatever SMS-man answers, the provider layer returns its typed models or raises a typed
ProviderError: never a KeyError, TypeError, decimal or pydantic error escaping upwards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from bot.provider import (
    CompatProvider,
    Provider,
    ProviderBudget,
    ProviderError,
    RetryPolicy,
    V2Provider,
)
from bot.provider.models import Activation, Country, Offer, Service
from bot.provider.parsing import (
    parse_countries,
    parse_json_body,
    parse_prices,
    parse_services,
)
from tests.unit.provider_fakes import no_sleep

TOKEN = "Tok3n-props-0001"

# --- JSON values: arbitrary, and shaped like the provider's lists -------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["15", "15,5", "1e999", "-3", "NaN", "", " ", "ru", "0"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
KNOWN_KEYS = [
    "id",
    "title",
    "name",
    "name_en",
    "eng",
    "rus",
    "code",
    "iso",
    "cost",
    "price",
    "count",
    "numbers",
    "country_id",
    "application_id",
    "service",
    "country",
    "countries",
    "services",
    "applications",
    "data",
    "items",
]
entries = st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values, max_size=6)
shaped = st.one_of(
    st.lists(entries, max_size=5),
    st.dictionaries(st.text(max_size=4), entries, max_size=5),
    st.dictionaries(
        st.text(max_size=4), st.dictionaries(st.text(max_size=4), entries, max_size=3), max_size=3
    ),
    st.dictionaries(st.sampled_from(KNOWN_KEYS), st.lists(entries, max_size=3), max_size=2),
)
answers = st.one_of(json_values, shaped)


def typed_or_provider_error(parse: Callable[[], list[Any]], model: type) -> None:
    try:
        parsed = parse()
    except ProviderError:
        return
    assert all(isinstance(item, model) for item in parsed)


@given(answers)
def test_country_lists_parse_or_raise_a_provider_error(data: Any) -> None:
    typed_or_provider_error(lambda: parse_countries(data), Country)


@given(answers, st.booleans())
def test_service_lists_parse_or_raise_a_provider_error(data: Any, code_is_id: bool) -> None:
    typed_or_provider_error(lambda: parse_services(data, code_is_id=code_is_id), Service)


@given(answers, st.one_of(st.none(), st.text(max_size=3)))
def test_price_tables_parse_or_raise_a_provider_error(data: Any, hint: str | None) -> None:
    typed_or_provider_error(lambda: parse_prices(data, country_hint=hint), Offer)


def nested(depth: int, *, in_error: bool = False) -> bytes:
    """JSON nested `depth` levels deep, alone or as the `error_msg` of an error answer."""
    value = b"[" * depth + b"]" * depth
    if in_error:
        return b'{"success": false, "error_code": "x", "error_msg": ' + value + b"}"
    return value


deep = st.builds(nested, st.integers(min_value=1, max_value=5000), in_error=st.booleans())


@given(st.one_of(st.binary(max_size=200), answers.map(lambda v: json.dumps(v).encode()), deep))
def test_any_body_decodes_or_raises_a_provider_error(body: bytes) -> None:
    try:
        decoded = parse_json_body(body)
    except ProviderError:
        return
    assert decoded is not None or body.strip() == b"null"


# --- the providers, over HTTP answering anything ---------------------------------------------

bodies = st.one_of(
    answers.map(lambda v: json.dumps(v).encode()),
    deep,
    st.binary(max_size=120),
    st.sampled_from(
        [
            b"ACCESS_BALANCE:12.5",
            b"ACCESS_BALANCE:abc",
            b"ACCESS_NUMBER:123:79001234567",
            b"ACCESS_NUMBER::",
            b"STATUS_OK:1234",
            b"STATUS_OK:",
            b"STATUS_WAIT_CODE",
            b"STATUS_WAIT_RETRY:55",
            b"STATUS_CANCEL",
            b"ACCESS_READY",
            b"ACCESS_CANCEL",
            b"WRONG_MAX_PRICE:",
            b"BANNED:",
            b"BAD_KEY",
            b"NO_NUMBERS",
            b"<html>502</html>",
            b'{"success": false, "error_code": null, "error_msg": {"x": [1]}}',
            b'{"request_id": [], "number": {}, "sms_code": 5}',
            b'{"balance": {"a": 1}}',
        ]
    ),
)
statuses = st.sampled_from([200, 200, 200, 400, 401, 404, 429, 500, 502])

Call = Callable[[Provider], Awaitable[object]]
CALLS: dict[str, tuple[Call, type | None]] = {
    "balance": (lambda p: p.get_balance(TOKEN), Decimal),
    "countries": (lambda p: p.get_countries(TOKEN), list),
    "services": (lambda p: p.get_services(TOKEN), list),
    "offers": (lambda p: p.get_offers(TOKEN, country_id="1", service_id="2"), list),
    "buy": (
        lambda p: p.buy_number(TOKEN, service_id="2", country_id="1", max_price=Decimal(9)),
        Activation,
    ),
    "status": (lambda p: p.get_activation(TOKEN, "77"), Activation),
    "another": (lambda p: p.request_another_code(TOKEN, "77"), type(None)),
    "finish": (lambda p: p.finish(TOKEN, "77"), type(None)),
    "cancel": (lambda p: p.cancel(TOKEN, "77"), type(None)),
}


async def call_provider(protocol: str, call: Call, status: int, body: bytes) -> object:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        options: dict[str, Any] = {
            "budget": ProviderBudget.unlimited().interactive,
            "retry": RetryPolicy(attempts=1, sleep=no_sleep),
        }
        provider: Provider
        if protocol == "v2":
            provider = V2Provider(http, "https://sms-man.test/control/", **options)
        else:
            provider = CompatProvider(http, "https://sms-man.test/stubs/handler_api.php", **options)
        try:
            return await call(provider)
        finally:
            await provider.aclose()


@given(st.sampled_from(["v2", "compat"]), st.sampled_from(sorted(CALLS)), statuses, bodies)
def test_any_answer_is_a_typed_result_or_a_provider_error(
    protocol: str, name: str, status: int, body: bytes
) -> None:
    call, expected = CALLS[name]
    try:
        result = asyncio.run(call_provider(protocol, call, status, body))
    except ProviderError as error:
        assert TOKEN not in str(error)
        return
    assert expected is not None and isinstance(result, expected)
    if isinstance(result, list):
        assert all(isinstance(item, Country | Service | Offer) for item in result)
