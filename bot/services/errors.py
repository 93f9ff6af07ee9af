"""Errors of the use cases, phrased for what the user did (handlers translate them)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.store.activations import ActivationRecord


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


class CancelRefused(ServiceError):
    """The provider will not cancel: an SMS has just arrived (or the number was closed on
    its side). Nothing was refunded; the card catches up in a moment."""


class PurchaseInProgress(ServiceError):
    """This confirmation is being bought right now (a second tap): wait for the first."""


class PurchaseOutcomeUnknown(ServiceError):
    """The buy was sent and its answer never came: the number may or may not be bought.
    The confirmation is used up (it is never bought twice)."""


class Overcharged(ServiceError):
    """The number cost more than the price the user confirmed; it was cancelled
    (`cancelled`), or is being cancelled by the watcher. The money returns."""

    def __init__(self, charged: Decimal, shown: Decimal, *, cancelled: bool) -> None:
        super().__init__(f"charged {charged}, more than {shown}")
        self.charged = charged
        self.shown = shown
        self.cancelled = cancelled


class PurchaseNotRecorded(ServiceError):
    """A number was bought but could not be recorded; it was cancelled (`cancelled`), or is
    being cancelled. The money returns."""

    def __init__(self, *, cancelled: bool) -> None:
        super().__init__("bought but not recorded")
        self.cancelled = cancelled


class ReplacedWithoutNumber(ServiceError):
    """🔄 Replace cancelled the number (the money is back) but bought no new one: `reason`
    says why (no numbers at the price confirmed, the balance, the provider...)."""

    def __init__(self, replaced: ActivationRecord, reason: Exception) -> None:
        super().__init__(f"{replaced.key} cancelled, no new number: {reason}")
        self.replaced = replaced
        self.reason = reason
