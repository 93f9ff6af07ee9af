"""What to tell the user when a use case or the provider refuses: one translated sentence."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from bot.provider.errors import (
    ActivationNotFound,
    Banned,
    NoBalance,
    NoNumbers,
    PriceTooHigh,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    WrongToken,
)
from bot.services.errors import (
    ActivationClosed,
    AlreadyBought,
    Busy,
    CancelRefused,
    CancelTooEarly,
    CodeAlreadyReceived,
    InsufficientBalance,
    InvalidTokenFormat,
    NoCodeYet,
    NoToken,
    NotYourActivation,
    Overcharged,
    PurchaseInProgress,
    PurchaseNotRecorded,
    PurchaseOutcomeUnknown,
    QuoteExpired,
    ReplacedWithoutNumber,
    ServiceError,
    UnknownChoice,
)
from bot.store.crypto import KeyMismatch
from bot.telegram.cards import format_money

# What handlers expect from the layers below and explain instead of crashing.
EXPECTED_ERRORS = (ServiceError, ProviderError, KeyMismatch)


def explain(error: Exception) -> str:
    """A short message (it also fits a callback alert) saying what happened and what to do."""
    match error:
        case NoToken():
            return _("You have no SMS-man API token set yet. Send /token to set it.")
        case InvalidTokenFormat():
            return _(
                "That does not look like an SMS-man API token. Copy it from sms-man.com → "
                "Profile → API and send it again."
            )
        case WrongToken() | KeyMismatch():
            return _("SMS-man does not accept your token. Check it and set it again with /token.")
        case InsufficientBalance():
            return _(
                "Your balance {balance} is less than the price {price}. Top it up first."
            ).format(balance=format_money(error.balance), price=format_money(error.price))
        case NoBalance():
            return _("Not enough money on your SMS-man balance for this number. Top it up first.")
        case NoNumbers():
            return _("No numbers left for this service in this country. Try another country.")
        case PriceTooHigh():
            return _("The price has just gone up. Check the new price before buying.")
        case Banned():
            return _("SMS-man has blocked your account. Contact SMS-man support.")
        case ProviderUnavailable() | RateLimited():
            return _("SMS-man is not answering right now. Please try again in a minute.")
        case ActivationNotFound():
            return _("SMS-man no longer knows this number.")
        case ProviderError():
            return _("SMS-man refused the request. Please try again later.")
        case Busy():
            return _("Still working on your previous tap. Try again in a moment.")
        case AlreadyBought():
            return _("This confirmation has already been used. Please choose the number again.")
        case PurchaseInProgress():
            return _("Already buying this number, one moment…")
        case PurchaseOutcomeUnknown():
            return explain_unknown_purchase()
        case Overcharged() if error.cancelled:
            return _(
                "SMS-man charged {charged} for this number, more than the {price} you "
                "confirmed, so I cancelled it: the money is back on your balance."
            ).format(charged=format_money(error.charged), price=format_money(error.shown))
        case Overcharged():
            return _(
                "SMS-man charged {charged} for this number, more than the {price} you "
                "confirmed, so it is being cancelled: the money returns to your balance "
                "within a few minutes."
            ).format(charged=format_money(error.charged), price=format_money(error.shown))
        case PurchaseNotRecorded() if error.cancelled:
            return _(
                "The number was bought but I could not save it, so I cancelled it: the money "
                "is back on your balance. Please try again in a minute."
            )
        case PurchaseNotRecorded():
            return _(
                "The number was bought but I could not save it, so it is being cancelled: the "
                "money returns to your balance within a few minutes."
            )
        case QuoteExpired():
            return _("This confirmation is too old. Please choose the number again.")
        case UnknownChoice():
            return _("This service or country is no longer offered. Please choose again.")
        case NotYourActivation():
            return _("This button is not for you. Your numbers are in /numbers.")
        case ActivationClosed():
            return _("This number is already closed.")
        case CodeAlreadyReceived():
            return _(
                "A code has already arrived, so the number is paid for and cannot be cancelled."
            )
        case NoCodeYet():
            return _("No code has arrived yet.")
        case CancelRefused():
            return _(
                "SMS-man did not cancel this number: an SMS has probably just arrived. The "
                "card shows it in a moment."
            )
        case CancelTooEarly():
            return _(
                "SMS-man allows cancelling a little later: try again in about {seconds} s."
            ).format(seconds=error.retry_in)
        case ReplacedWithoutNumber():
            return _(
                "The number is cancelled and the money is back, but no new one was bought: {reason}"
            ).format(reason=explain(error.reason))
    return _("Something went wrong. Please try again.")


def explain_unknown_purchase() -> str:
    """After a timeout or server error on buying nobody knows whether the number was bought."""
    return _(
        "SMS-man did not answer in time, so it is not known whether the number was bought. "
        "I will not buy it again with this button. If it was bought, it shows up in your "
        "history on sms-man.com; nobody uses it, so it expires and the money returns to your "
        "balance automatically. Check /balance before trying again."
    )
