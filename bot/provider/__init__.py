"""SMS-man provider: one interface (`Provider`), a v2 and a compat implementation."""

from bot.provider.base import Provider
from bot.provider.budget import BudgetLane, Lane, ProviderBudget, RateLimiter
from bot.provider.compat import CompatProvider
from bot.provider.errors import (
    TRANSIENT_ERRORS,
    ActivationNotFound,
    AlreadyChanged,
    BadStatus,
    Banned,
    EarlyCancelDenied,
    NoBalance,
    NoNumbers,
    PriceTooHigh,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    WrongToken,
)
from bot.provider.factory import create_provider
from bot.provider.http import RetryPolicy, create_http_client, retry_transient
from bot.provider.models import Activation, ActivationStatus, Country, Offer, Service
from bot.provider.v2 import V2Provider

__all__ = [
    "TRANSIENT_ERRORS",
    "Activation",
    "ActivationNotFound",
    "ActivationStatus",
    "AlreadyChanged",
    "BadStatus",
    "Banned",
    "BudgetLane",
    "CompatProvider",
    "Country",
    "EarlyCancelDenied",
    "Lane",
    "NoBalance",
    "NoNumbers",
    "Offer",
    "PriceTooHigh",
    "Provider",
    "ProviderBudget",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimited",
    "RateLimiter",
    "RetryPolicy",
    "Service",
    "V2Provider",
    "WrongToken",
    "create_http_client",
    "create_provider",
    "retry_transient",
]
