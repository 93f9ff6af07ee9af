"""Build the provider the settings ask for."""

from __future__ import annotations

import httpx

from bot.config import OFFICIAL_COMPAT_URL, OFFICIAL_V2_URL, Protocol, Settings
from bot.provider.base import Provider
from bot.provider.budget import BudgetLane, ProviderBudget
from bot.provider.compat import CompatProvider
from bot.provider.v2 import V2Provider


def create_budget(settings: Settings) -> ProviderBudget:
    """The process's provider budget: `SMSMAN_MAX_RPS` in all, `SMSMAN_TOKEN_RPS` per key."""
    return ProviderBudget(settings.smsman_max_rps, settings.smsman_token_rps)


def create_provider(settings: Settings, http: httpx.AsyncClient, budget: BudgetLane) -> Provider:
    """A v2 or compat provider on `settings.provider_url`, sending `settings.smsman_ref`.

    `http` and the budget `budget` is a lane of are shared by the whole process; the caller
    owns and closes `http`.
    """
    if settings.smsman_protocol is Protocol.COMPAT:
        return CompatProvider(http, settings.provider_url, budget=budget, ref=settings.smsman_ref)
    return V2Provider(http, settings.provider_url, budget=budget, ref=settings.smsman_ref)


def create_former_provider(
    settings: Settings, http: httpx.AsyncClient, budget: BudgetLane
) -> Provider | None:
    """The other protocol's provider at SMS-man's official address, so that numbers bought
    before SMSMAN_PROTOCOL changed are still watched, cancelled and finished. None when
    SMSMAN_API_URL points elsewhere: that service's other address is unknown."""
    if settings.smsman_api_url is not None:
        return None
    if settings.smsman_protocol is Protocol.COMPAT:
        return V2Provider(http, OFFICIAL_V2_URL, budget=budget, ref=settings.smsman_ref)
    return CompatProvider(http, OFFICIAL_COMPAT_URL, budget=budget, ref=settings.smsman_ref)
