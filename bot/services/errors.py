"""Errors of the use cases, phrased for what the user did (handlers translate them)."""

from __future__ import annotations

from decimal import Decimal


class ServiceError(Exception):
    """Base of the use-case errors."""


class NoToken(ServiceError):
    """The user has not stored an API token yet."""


class InvalidTokenFormat(ServiceError):
    """What was sent cannot be an API token (empty, spaces, far too short or long)."""


class InsufficientBalance(ServiceError):
    def __init__(self, balance: Decimal, price: Decimal) -> None:
        super().__init__(f"balance {balance} is below the price {price}")
        self.balance = balance
        self.price = price


class QuoteExpired(ServiceError):
    """The confirmation is unknown or too old: show the menu again."""


class AlreadyBought(ServiceError):
    """This confirmation was already used (a double tap). `activation_key` when it bought."""

    def __init__(self, activation_key: str | None) -> None:
        super().__init__("confirmation already used")
        self.activation_key = activation_key


class Busy(ServiceError):
    """Another action on the same thing is in progress; try again in a moment."""


class UnknownChoice(ServiceError):
    """A service or country id that the catalog does not have (stale or forged button)."""


class NotYourActivation(ServiceError):
    """Unknown activation, or one that belongs to someone else (forged callback)."""


class ActivationClosed(ServiceError):
    """The activation is already finished or cancelled."""


class CodeAlreadyReceived(ServiceError):
    """Cancel refused: a code arrived, the number is paid for."""


class NoCodeYet(ServiceError):
    """Finish/another code before any code arrived."""


class CancelTooEarly(ServiceError):
    """The provider refuses to cancel in the first minutes. `retry_in` seconds, estimated."""

    def __init__(self, retry_in: int) -> None:
        super().__init__(f"cancel allowed in about {retry_in} s")
        self.retry_in = retry_in
