"""Typed provider errors. Every answer that is not a result becomes one of these."""

from __future__ import annotations


class ProviderError(Exception):
    """The provider refused or failed. `code` is the raw error code when there is one.

    Messages never contain the API token.
    """

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or code or type(self).__name__)
        self.code = code
        self.message = message


class WrongToken(ProviderError):
    """The API token is wrong or revoked."""


class NoBalance(ProviderError):
    """The balance does not cover the price."""


class NoNumbers(ProviderError):
    """No numbers for this service and country right now."""


class PriceTooHigh(ProviderError):
    """The current price is above the maximum we sent (compat `WRONG_MAX_PRICE:<min>`)."""

    def __init__(self, message: str = "", *, code: str | None = None, min_price: str | None = None):
        super().__init__(message, code=code)
        self.min_price = min_price


class ActivationNotFound(ProviderError):
    """The activation is unknown or expired ("Current request not exists", NO_ACTIVATION)."""


class EarlyCancelDenied(ProviderError):
    """The provider refuses to cancel during the first minutes after buying."""


class BadStatus(ProviderError):
    """The status change is not valid for this activation now (wrong_status, BAD_STATUS)."""


class AlreadyChanged(ProviderError):
    """v2 `change_status`: the status already changed (a repeated reject is done)."""


class Banned(ProviderError):
    """The account is banned (compat `BANNED:<until>`)."""


class RateLimited(ProviderError):
    """The provider asks us to slow down (HTTP 429)."""


class ProviderUnavailable(ProviderError):
    """Transient: 5xx, timeout, connection error or an answer that cannot be parsed."""


TRANSIENT_ERRORS: tuple[type[ProviderError], ...] = (ProviderUnavailable, RateLimited)
