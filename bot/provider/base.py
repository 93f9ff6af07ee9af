"""The one interface the rest of the bot uses to talk to an SMS-man style provider."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from bot.provider.models import Activation, Country, Offer, Service


class Provider(Protocol):
    """An SMS activation provider. Every call takes the user's own API token.

    Reads (balance, lists, prices, status) retry transient failures themselves;
    `buy_number` never retries (a retried buy can buy twice). Failures raise
    `bot.provider.errors.ProviderError` subclasses.
    """

    name: str  # "v2" or "compat": part of an activation's identity in storage

    async def get_balance(self, token: str) -> Decimal: ...

    async def get_countries(self, token: str) -> list[Country]: ...

    async def get_services(self, token: str) -> list[Service]: ...

    async def get_offers(
        self, token: str, *, country_id: str | None = None, service_id: str | None = None
    ) -> list[Offer]:
        """Price and stock, filtered by country and/or service when given."""
        ...

    def price_cap(self, price: Decimal) -> Decimal:
        """The `max_price` to buy a number listed at `price` with: the amount closest to it
        that this protocol can send as a cap, and so the most a purchase can cost."""
        ...

    async def buy_number(
        self, token: str, *, service_id: str, country_id: str, max_price: Decimal | None
    ) -> Activation:
        """Buy one number; `max_price` is sent so the user never pays more than shown."""
        ...

    async def get_activation(self, token: str, activation_id: str) -> Activation:
        """Current status and code of an activation (raises ActivationNotFound when gone)."""
        ...

    async def request_another_code(self, token: str, activation_id: str) -> None:
        """Wait for one more SMS on the same number (v2 `ready`, compat status 3)."""
        ...

    async def finish(self, token: str, activation_id: str) -> None:
        """Close the activation successfully."""
        ...

    async def cancel(self, token: str, activation_id: str) -> None:
        """Cancel; the money returns. A repeated cancel of a cancelled activation is done."""
        ...

    async def aclose(self) -> None:
        """Release what the provider holds (not the shared HTTP client it was given)."""
        ...
