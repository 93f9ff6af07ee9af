"""Tolerant readers for the provider's answers, shared by the v2 and compat providers.

The live API is inconsistent (see docs/provider-api.md): ids come as ints or strings,
lists come as JSON arrays or as objects keyed by id, prices as nested or flat objects. Each
reader here accepts every shape seen, skips single entries it cannot read and raises
`ProviderUnavailable` only when the answer as a whole has the wrong shape.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.provider.errors import ProviderUnavailable
from bot.provider.models import Country, Offer, Service

logger = logging.getLogger(__name__)

COUNTRY_NAME_KEYS = ("name_en", "eng", "title_en", "title", "name", "rus")
"""English first: v2 uses `title`; compat uses `name` (often Russian) next to `name_en`,
or sms-activate's `eng`/`rus`."""

SERVICE_NAME_KEYS = ("name_en", "eng", "title", "name", "rus")

_LIST_WRAPPERS = ("countries", "services", "applications", "data", "items")
_MAX_LITERAL_BODY = 1_000_000


def parse_json_body(body: bytes) -> Any:
    """Decode a JSON answer; `ProviderUnavailable` when it is not JSON.

    Also takes the single-quoted pseudo-JSON the v2 documentation shows for `countries`
    and `applications` (`[{'id':0,'title':"Russia"}]`), through `ast.literal_eval`, which
    evaluates literals only.
    """
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested thousands of levels deep
        pass
    text = body.decode("utf-8", "replace").strip()
    if text[:1] in ("[", "{") and len(text) <= _MAX_LITERAL_BODY:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            pass
    raise ProviderUnavailable("the provider's answer could not be read")


def as_id(value: object) -> str | None:
    """An id as a string: 1, "1", 1.0 → "1"; anything else → None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def as_decimal(value: object) -> Decimal | None:
    """A non-negative amount: "15", "15.50", "15,5", 15, 15.5 → Decimal; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = repr(value)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    try:
        amount = Decimal(value.strip().replace(",", "."))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return amount


def as_count(value: object) -> int | None:
    """A stock count: 6455 or "6455" → 6455; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float):
        return max(int(value), 0) if math.isfinite(value) else None
    if isinstance(value, str):
        amount = as_decimal(value)
        return int(amount) if amount is not None else None
    return None


_NOT_DIGITS = re.compile(r"[^0-9]+")


def digits(number: object) -> str:
    """A phone number as digits only (no "+", spaces or dashes)."""
    return _NOT_DIGITS.sub("", str(number)) if number is not None else ""


def format_price(price: Decimal) -> str:
    """A price as the provider expects it: "15" when whole, else "15.5" (never "1E+1")."""
    if price == price.to_integral_value():
        return str(int(price))
    return format(price.normalize(), "f")


def flatten_message(value: object) -> str:
    """An `error_msg` as one line, whether a string, an object or a list (nested however
    deep: walked without recursion)."""
    parts: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            pending.extend(reversed(item))
        elif item is not None:
            text = item.strip() if isinstance(item, str) else str(item)
            if text:
                parts.append(text)
    return "; ".join(parts)


def records(data: object) -> Iterator[tuple[str | None, Any]]:
    """(key, entry) pairs of a list (key None) or an object keyed by id.

    Unwraps `{"services": [...]}`-style envelopes. `ProviderUnavailable` when `data` is
    neither a list nor an object.
    """
    if isinstance(data, dict) and len(data) <= 2:
        for wrapper in _LIST_WRAPPERS:
            inner = data.get(wrapper)
            if isinstance(inner, list | dict):
                data = inner
                break
    if isinstance(data, list):
        return ((None, entry) for entry in data)
    if isinstance(data, dict):
        return ((str(key), entry) for key, entry in data.items())
    raise ProviderUnavailable("the provider's answer has an unexpected shape")


def _first_text(entry: dict[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _iso(entry: dict[str, Any]) -> str | None:
    for key in ("iso", "code", "iso_code"):
        value = entry.get(key)
        if isinstance(value, str) and len(value.strip()) == 2 and value.strip().isalpha():
            return value.strip().lower()
    return None


def _require_some(parsed: list[Any], data: object, what: str) -> None:
    if not parsed and data:
        raise ProviderUnavailable(f"the provider's {what} list has an unexpected shape")


def parse_countries(data: object) -> list[Country]:
    """Countries from a list or an object keyed by id; ids as strings, iso from `code`."""
    countries: list[Country] = []
    for key, entry in records(data):
        if isinstance(entry, str) and key is not None:
            countries.append(Country(id=key, name=entry.strip() or key))
            continue
        if not isinstance(entry, dict):
            continue
        country_id = as_id(entry.get("id", key))
        if country_id is None:
            continue
        name = _first_text(entry, COUNTRY_NAME_KEYS) or country_id
        countries.append(Country(id=country_id, name=name, iso=_iso(entry)))
    _require_some(countries, data, "country")
    return countries


def parse_services(data: object, *, code_is_id: bool) -> list[Service]:
    """Services from a list or an object keyed by id.

    v2 (`code_is_id=False`): `id` is a number, `code` ("tg") a short code beside it.
    Compat (`code_is_id=True`): the id *is* the string code (`id`, `code` or the key).
    """
    services: list[Service] = []
    id_keys = ("id", "code", "service") if code_is_id else ("id", "application_id")
    for key, entry in records(data):
        if isinstance(entry, str) and key is not None:
            services.append(
                Service(id=key, name=entry.strip() or key, code=key if code_is_id else None)
            )
            continue
        if not isinstance(entry, dict):
            continue
        service_id = next(
            (found for found in (as_id(entry.get(k)) for k in id_keys) if found), as_id(key)
        )
        if service_id is None:
            continue
        name = _first_text(entry, SERVICE_NAME_KEYS) or service_id
        code = service_id if code_is_id else as_id(entry.get("code"))
        services.append(Service(id=service_id, name=name, code=code))
    _require_some(services, data, "service")
    return services


def _is_price_entry(entry: dict[str, Any]) -> bool:
    return "cost" in entry or "price" in entry


def _offer(country_id: str | None, service_id: str | None, entry: dict[str, Any]) -> Offer | None:
    price = as_decimal(entry.get("cost", entry.get("price")))
    if country_id is None or service_id is None or price is None:
        logger.debug("skipping an unreadable price entry")
        return None
    stock = as_count(entry.get("count", entry.get("numbers")))
    return Offer(country_id=country_id, service_id=service_id, price=price, stock=stock or 0)


def parse_prices(data: object, *, country_hint: str | None = None) -> list[Offer]:
    """Offers from a price table in any of the shapes seen.

    - nested `{country: {service: {"cost", "count"}}}` (v2 and compat);
    - flat `{service: {"cost", "count", "country_id"}}` (v2 with a country filter;
      `country_hint`, the filter we sent, stands in when `country_id` is missing);
    - a list of `{"country_id", "application_id", "cost", "count"}` entries.
    """
    offers: list[Offer | None] = []
    for key, entry in records(data):
        if not isinstance(entry, dict):
            continue
        if _is_price_entry(entry):
            service_id = as_id(entry.get("application_id", entry.get("service", key)))
            country_id = as_id(entry.get("country_id", entry.get("country"))) or country_hint
            offers.append(_offer(country_id, service_id, entry))
            continue
        country_id = as_id(key) if key is not None else as_id(entry.get("country_id"))
        for service_key, service_entry in entry.items():
            if isinstance(service_entry, dict) and _is_price_entry(service_entry):
                offers.append(_offer(country_id, as_id(service_key), service_entry))
    return [offer for offer in offers if offer is not None]


def select_offers(
    offers: Iterable[Offer], country_id: str | None, service_id: str | None
) -> list[Offer]:
    """The offers of `service_id` in `country_id` (None: any); a provider may answer more than
    the filters it was sent."""
    return [
        offer
        for offer in offers
        if (country_id is None or offer.country_id == country_id)
        and (service_id is None or offer.service_id == service_id)
    ]
