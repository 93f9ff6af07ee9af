"""Build the provider the settings ask for."""

from __future__ import annotations

import httpx

from bot.config import Protocol, Settings
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
