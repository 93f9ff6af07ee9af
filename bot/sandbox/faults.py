"""Injected failures, so the bot's error paths can be exercised against a live server.

One fault is active at a time. It hits the protocol endpoints only (never `/sandbox/...`),
optionally only some methods (v2 method names such as `get-sms` or compat actions such as
`getStatus`), and optionally only the next `count` requests it hits.

- `5xx`: HTTP 502 (or the fault's `status`) with an nginx-style HTML page; nothing is done.
- `slow`: sleep `delay` seconds, then handle the request normally.
- `malformed`: handle the request (it takes effect: a purchase is charged), then send a
  truncated body with HTTP 200, as when a proxy cuts an answer short.
- `no_numbers`: number purchases answer "no numbers"; other methods are not hit.
- `wrong_token`: every hit request answers as if the key were wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

PURCHASE_METHODS = frozenset({"get-number", "getNumber"})


class FaultMode(StrEnum):
    SERVER_ERROR = "5xx"
    SLOW = "slow"
    MALFORMED = "malformed"
    NO_NUMBERS = "no_numbers"
    WRONG_TOKEN = "wrong_token"  # noqa: S105 (a fault name, not a secret)


@dataclass(slots=True)
class Fault:
    mode: FaultMode
    delay: float = 2.0
    count: int | None = None  # requests still to hit; None = until cleared
    methods: frozenset[str] | None = None
    status: int = 502

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "delay": self.delay,
            "count": self.count,
            "methods": sorted(self.methods) if self.methods is not None else None,
            "status": self.status,
        }


class FaultInjector:
    """Holds the active fault and decides, per request, whether it hits."""

    def __init__(self) -> None:
        self.fault: Fault | None = None

    def set(
        self,
        mode: FaultMode | str | None,
        *,
        delay: float = 2.0,
        count: int | None = None,
        methods: Iterable[str] | None = None,
        status: int = 502,
    ) -> Fault | None:
        """Activate a fault (`mode=None` or `count=0` clears it)."""
        if mode is None or count == 0:
            self.fault = None
            return None
        if count is not None and count < 0:
            raise ValueError("count must be null or a non-negative integer")
        if delay < 0:
            raise ValueError("delay must not be negative")
        if not 500 <= status <= 599:
            raise ValueError("status must be a 5xx HTTP status")
        self.fault = Fault(
            mode=FaultMode(mode),
            delay=delay,
            count=count,
            methods=frozenset(methods) if methods is not None else None,
            status=status,
        )
        return self.fault

    def clear(self) -> None:
        self.fault = None

    def take(self, method: str) -> Fault | None:
        """The fault hitting this request, if any; counts the hit."""
        fault = self.fault
        if fault is None:
            return None
        if fault.methods is not None and method not in fault.methods:
            return None
        if fault.mode is FaultMode.NO_NUMBERS and method not in PURCHASE_METHODS:
            return None
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                self.fault = None
        return fault


_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def error_page(status: int) -> str:
    """The HTML body a reverse proxy sends when the backend is down."""
    title = f"{status} {_REASONS.get(status, 'Server Error')}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )


def truncate(body: str) -> str:
    """Cut an answer short: JSON loses its second half, text becomes a broken HTML page."""
    if body[:1] in "{[":
        return body[: max(1, len(body) // 2)]
    return "<!DOCTYPE html><html><head><meta charset="
