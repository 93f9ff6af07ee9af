"""An in-memory Provider for fast unit tests of the use cases (the sandbox covers HTTP)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.provider.errors import (
    ActivationNotFound,
    EarlyCancelDenied,
    NoNumbers,
    PriceTooHigh,
    WrongToken,
)
from bot.provider.models import Activation, ActivationStatus, Country, Offer, Service


class MemoryProvider:
    name = "mem"

    def __init__(self, token: str, balance: str = "100") -> None:
        self.balances = {token: Decimal(balance)}
        self.countries = [Country(id="1", name="Russia", iso="ru"), Country(id="14", name="India")]
        self.services = [
            Service(id="3", name="Telegram", code="tg"),
            Service(id="1", name="VK", code="vk"),
        ]
        self.prices = {("3", "1"): (Decimal("15.50"), 10), ("3", "14"): (Decimal("9"), 0)}
        self.activations: dict[str, dict[str, object]] = {}
        self.buy_calls: list[dict[str, object]] = []
        self.cancel_calls: list[str] = []
        self.buy_delay = 0.0
        self.early_cancel = False
        self._next_id = 100

    def _check(self, token: str) -> None:
        if token not in self.balances:
            raise WrongToken("Wrong token!", code="wrong_token")

    async def get_balance(self, token: str) -> Decimal:
        self._check(token)
        return self.balances[token]

    async def get_countries(self, token: str) -> list[Country]:
        self._check(token)
        return list(self.countries)

    async def get_services(self, token: str) -> list[Service]:
        self._check(token)
        return list(self.services)

    async def get_offers(
        self, token: str, *, country_id: str | None = None, service_id: str | None = None
    ) -> list[Offer]:
        self._check(token)
        return [
            Offer(country_id=c, service_id=s, price=price, stock=stock)
            for (s, c), (price, stock) in self.prices.items()
            if (country_id is None or c == country_id) and (service_id is None or s == service_id)
        ]

    def price_cap(self, price: Decimal) -> Decimal:
        return price

    async def buy_number(
        self, token: str, *, service_id: str, country_id: str, max_price: Decimal | None
    ) -> Activation:
        self._check(token)
        self.buy_calls.append({"service": service_id, "country": country_id, "max": max_price})
        if self.buy_delay:
            await asyncio.sleep(self.buy_delay)
        price, stock = self.prices[(service_id, country_id)]
        if stock <= 0:
            raise NoNumbers(code="no_numbers")
        if max_price is not None and price > max_price:
            raise PriceTooHigh(code="WRONG_MAX_PRICE", min_price=str(price))
        self.balances[token] -= price
        self._next_id += 1
        activation_id = str(self._next_id)
        self.activations[activation_id] = {"token": token, "price": price, "status": "waiting"}
        return Activation(id=activation_id, number="79001234567")

    async def get_activation(self, token: str, activation_id: str) -> Activation:
        if activation_id not in self.activations:
            raise ActivationNotFound(code="not_found")
        return Activation(id=activation_id, status=ActivationStatus.WAITING)

    async def request_another_code(self, token: str, activation_id: str) -> None:
        return None

    async def finish(self, token: str, activation_id: str) -> None:
        self.activations[activation_id]["status"] = "finished"

    async def cancel(self, token: str, activation_id: str) -> None:
        self.cancel_calls.append(activation_id)
        if self.early_cancel:
            raise EarlyCancelDenied(code="EARLY_CANCEL_DENIED")
        activation = self.activations[activation_id]
        if activation["status"] == "waiting":
            activation["status"] = "cancelled"
            price = activation["price"]
            assert isinstance(price, Decimal)
            self.balances[token] += price

    async def aclose(self) -> None:
        return None
