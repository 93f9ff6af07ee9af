"""Build the provider the settings ask for."""

from __future__ import annotations

import httpx

from bot.config import OFFICIAL_COMPAT_URL, OFFICIAL_V2_URL, Protocol, Settings
from bot.provider.base import Provider
from bot.provider.compat import CompatProvider
from bot.provider.http import RateLimiter
from bot.provider.v2 import V2Provider


def create_provider(settings: Settings, http: httpx.AsyncClient, limiter: RateLimiter) -> Provider:
    """A v2 or compat provider on `settings.provider_url`, sending `settings.smsman_ref`.

    `http` and `limiter` are shared by the whole process; the caller owns and closes `http`.
    """
    if settings.smsman_protocol is Protocol.COMPAT:
        return CompatProvider(http, settings.provider_url, limiter=limiter, ref=settings.smsman_ref)
    return V2Provider(http, settings.provider_url, limiter=limiter, ref=settings.smsman_ref)


def create_former_provider(
    settings: Settings, http: httpx.AsyncClient, limiter: RateLimiter
) -> Provider | None:
    """The other protocol's provider at SMS-man's official address, so that numbers bought
    before SMSMAN_PROTOCOL changed are still watched, cancelled and finished. None when
    SMSMAN_API_URL points elsewhere: that service's other address is unknown."""
    if settings.smsman_api_url is not None:
        return None
    if settings.smsman_protocol is Protocol.COMPAT:
        return V2Provider(http, OFFICIAL_V2_URL, limiter=limiter, ref=settings.smsman_ref)
    return CompatProvider(http, OFFICIAL_COMPAT_URL, limiter=limiter, ref=settings.smsman_ref)
