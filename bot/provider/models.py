"""Typed results of the provider layer, the same for both protocols."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Country(BaseModel):
    """A country numbers can be bought in. `id` is the provider's own id, as a string."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    iso: str | None = None  # ISO 3166-1 alpha-2, lower case, when the provider gives one

    @property
    def flag(self) -> str:
        """The flag emoji for `iso`, or a globe when unknown."""
        if not self.iso or len(self.iso) != 2 or not self.iso.isalpha():
            return "🌐"
        return "".join(chr(0x1F1E6 + ord(letter) - ord("a")) for letter in self.iso.lower())


class Service(BaseModel):
    """A service (Telegram, WhatsApp…) numbers are bought for. `id` is the provider's id."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    code: str | None = None  # short code such as "tg", when the provider gives one


class Offer(BaseModel):
    """Price (RUB, an estimate) and stock of numbers of one service in one country."""

    model_config = ConfigDict(frozen=True)

    country_id: str
    service_id: str
    price: Decimal
    stock: int


class ActivationStatus(StrEnum):
    WAITING = "waiting"  # no SMS yet
    CODE = "code"  # a code is there (`code` is set)
    WAIT_RETRY = "wait_retry"  # another code was requested; `code` may hold the previous one
    CANCELLED = "cancelled"  # cancelled (by us, the provider or expiry)


class Activation(BaseModel):
    """A bought number, or the current state of one."""

    model_config = ConfigDict(frozen=True)

    id: str
    number: str = ""  # digits only, without "+"; may be empty in a status check
    status: ActivationStatus = ActivationStatus.WAITING
    code: str | None = None
    country_id: str | None = None
    service_id: str | None = None
