"""The sandbox's world: accounts, activations, SMS and the clock, shared by both protocols.

Time is lazy: nothing runs in the background. Buying a number computes when its SMS will
arrive (when `sms_delay` is set) and when it expires; the activation is brought up to date
whenever it is read, and a heap of expiry times lets every request settle the activations
whose lifetime has passed (refunding them) in O(log N) each, so balances are right even for
activations nobody polls.

Activation statuses use the bot's names: `waiting` (no SMS yet), `code` (a code is there),
`wait_retry` (another code was asked for), `finished`, `cancelled` (by the user, or by expiry:
then `expired` is true). Rules:

- buying debits the price; cancelling (v2 `reject`/`used`, compat `8`/`-1`) before any code
  refunds it; finishing keeps it; finishing before any code refunds it too (it is a cancel);
- cancelling after a code has arrived is refused (the number was used);
- an activation still open at the end of its lifetime is cancelled and refunded if it never
  got a code, and finished (money kept) if it did;
- cancelling within `early_cancel_seconds` of the purchase is refused.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal

from bot.sandbox.catalog import Catalog, Country, Offer, Service
from bot.sandbox.faults import FaultInjector

SmsDelay = float | tuple[float, float] | None
_CENT = Decimal("0.01")


class ActivationStatus(StrEnum):
    WAITING = "waiting"
    CODE = "code"
    WAIT_RETRY = "wait_retry"
    FINISHED = "finished"
    CANCELLED = "cancelled"


_OPEN = frozenset({ActivationStatus.WAITING, ActivationStatus.CODE, ActivationStatus.WAIT_RETRY})
_AWAITING_SMS = frozenset({ActivationStatus.WAITING, ActivationStatus.WAIT_RETRY})


class StatusChange(StrEnum):
    """What a client asks of an activation, whichever protocol it speaks."""

    READY = "ready"  # compat 1: the number is in use, an SMS is expected
    ANOTHER_CODE = "another_code"  # v2 `ready`, compat 3: wait for one more SMS
    FINISH = "finish"  # v2 `close`, compat 6
    CANCEL = "cancel"  # v2 `reject`/`used`, compat 8/-1


# --- errors: each protocol turns them into its own wire answer -----------------------------


class SandboxError(Exception):
    """A request the sandbox refuses."""


class UnknownToken(SandboxError):
    pass


class UnknownService(SandboxError):
    pass


class NoNumbersAvailable(SandboxError):
    pass


class PriceAboveMax(SandboxError):
    def __init__(self, min_price: Decimal) -> None:
        super().__init__(f"the price is {min_price}")
        self.min_price = min_price


class NotEnoughBalance(SandboxError):
    pass


class ActivationNotFound(SandboxError):
    """No such activation for this token."""


class ActivationClosed(SandboxError):
    """The activation is finished or cancelled (or expired: see `activation.expired`)."""

    def __init__(self, activation: Activation) -> None:
        super().__init__(f"activation {activation.id} is {activation.status}")
        self.activation = activation


class CancelRefused(SandboxError):
    """A code has arrived, so the number cannot be cancelled any more."""


class EarlyCancel(SandboxError):
    def __init__(self, seconds_left: float) -> None:
        super().__init__(f"cancel is possible in {seconds_left:.0f} s")
        self.seconds_left = seconds_left


# --- data ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Sms:
    code: str
    arrived_at: float  # unix seconds (sandbox clock)


@dataclass(slots=True)
class Activation:
    id: int
    token: str
    number: str
    country: Country
    service: Service
    cost: Decimal
    created_at: float
    expires_at: float
    status: ActivationStatus = ActivationStatus.WAITING
    sms: list[Sms] = field(default_factory=list)
    next_sms_at: float | None = None
    expired: bool = False
    refunded: bool = False

    @property
    def codes(self) -> list[str]:
        return [sms.code for sms in self.sms]

    @property
    def last_code(self) -> str | None:
        return self.sms[-1].code if self.sms else None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "token": self.token,
            "number": self.number,
            "country_id": self.country.v2_id,
            "service_id": self.service.v2_id,
            "compat_country": self.country.compat_id,
            "compat_service": self.service.code,
            "cost": str(self.cost),
            "status": self.status.value,
            "codes": self.codes,
            "sms": [{"code": sms.code, "arrived_at": sms.arrived_at} for sms in self.sms],
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "next_sms_at": self.next_sms_at,
            "expired": self.expired,
            "refunded": self.refunded,
        }


ListShape = Literal["object", "list"]
PricesShape = Literal["auto", "nested", "flat"]


@dataclass(slots=True)
class Shapes:
    """Which of the shapes seen in the wild the v2 list methods answer with."""

    countries: ListShape = "object"
    applications: ListShape = "list"
    prices: PricesShape = "auto"  # auto: flat when country_id is given, nested otherwise
    limits: ListShape = "list"  # object (keyed by application id) only with a country_id

    def to_json(self) -> dict[str, str]:
        return {
            "countries": self.countries,
            "applications": self.applications,
            "prices": self.prices,
            "limits": self.limits,
        }

    def update(self, values: Mapping[str, Any]) -> None:
        allowed: dict[str, tuple[str, ...]] = {
            "countries": ("object", "list"),
            "applications": ("object", "list"),
            "prices": ("auto", "nested", "flat"),
            "limits": ("object", "list"),
        }
        for name, value in values.items():
            if name not in allowed:
                raise ValueError(f"unknown shape {name!r}")
            if value not in allowed[name]:
                raise ValueError(f"shape {name} must be one of {', '.join(allowed[name])}")
        for name, value in values.items():
            setattr(self, name, value)


@dataclass(slots=True)
class SandboxConfig:
    sms_delay: SmsDelay = None  # None: SMS only on command; seconds; or (min, max) uniform
    activation_lifetime: float = 1200.0
    early_cancel_seconds: float = 0.0
    shapes: Shapes = field(default_factory=Shapes)
    ignore_max_price: bool = False  # as some sms-activate style providers do

    def to_json(self) -> dict[str, Any]:
        delay = self.sms_delay
        return {
            "sms_delay": list(delay) if isinstance(delay, tuple) else delay,
            "activation_lifetime": self.activation_lifetime,
            "early_cancel_seconds": self.early_cancel_seconds,
            "shapes": self.shapes.to_json(),
            "ignore_max_price": self.ignore_max_price,
        }


def parse_sms_delay(value: object) -> SmsDelay:
    """`None`, seconds, `[min, max]`, or the CLI's "20" / "5:30"."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) == 2:
            return parse_sms_delay([float(parts[0]), float(parts[1])])
        return parse_sms_delay(float(value))
    if isinstance(value, bool):
        raise ValueError("sms_delay must be null, a number of seconds or [min, max]")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("sms_delay must not be negative")
        return float(value)
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = (float(part) for part in value)
        if not 0 <= low <= high:
            raise ValueError("sms_delay [min, max] needs 0 <= min <= max")
        return (low, high)
    raise ValueError("sms_delay must be null, a number of seconds or [min, max]")


def parse_money(value: object) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not an amount: {value!r}")
    return amount.quantize(_CENT)


# --- the state ----------------------------------------------------------------------------

FIRST_ACTIVATION_ID = 100_000_001


class SandboxState:
    """Everything the sandbox knows. All methods are synchronous and O(1) or O(log N)."""

    def __init__(
        self,
        *,
        accounts: Mapping[str, Decimal | str | int] | None = None,
        sms_delay: SmsDelay = None,
        activation_lifetime: float = 1200.0,
        early_cancel_seconds: float = 0.0,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._initial_accounts = dict(accounts or {})
        self._initial_config = (sms_delay, activation_lifetime, early_cancel_seconds)
        self._seed = seed
        self._clock = clock
        self.faults = FaultInjector()
        self.reset()

    def reset(self) -> None:
        """Back to the state at construction: same accounts and config, nothing bought."""
        sms_delay, lifetime, early_cancel = self._initial_config
        self.config = SandboxConfig(
            sms_delay=parse_sms_delay(sms_delay),
            activation_lifetime=lifetime,
            early_cancel_seconds=early_cancel,
        )
        self.catalog = Catalog(self._seed)
        self.accounts: dict[str, Decimal] = {
            token: parse_money(balance) for token, balance in self._initial_accounts.items()
        }
        self.activations: dict[int, Activation] = {}
        # Requests answered, by method (v2 name or compat action): what a client cost.
        self.requests: Counter[str] = Counter()
        self._expiry: list[tuple[float, int]] = []
        self._next_id = FIRST_ACTIVATION_ID
        self._rng = random.Random(f"sandbox-{self._seed}")
        self.time_offset = 0.0
        self.faults.clear()

    # --- clock ----------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self.time_offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (expiry and delayed SMS without waiting)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.time_offset += seconds
        self.settle()

    # --- configuration --------------------------------------------------------------------

    def configure(
        self,
        *,
        sms_delay: object = ...,
        activation_lifetime: float | None = None,
        early_cancel_seconds: float | None = None,
        shapes: Mapping[str, Any] | None = None,
        ignore_max_price: bool | None = None,
    ) -> SandboxConfig:
        """Change what is given; leave the rest. Applies to activations bought afterwards."""
        delay = self.config.sms_delay if sms_delay is ... else parse_sms_delay(sms_delay)
        if activation_lifetime is not None and activation_lifetime <= 0:
            raise ValueError("activation_lifetime must be positive")
        if early_cancel_seconds is not None and early_cancel_seconds < 0:
            raise ValueError("early_cancel_seconds must not be negative")
        if shapes is not None:
            self.config.shapes.update(shapes)
        self.config.sms_delay = delay
        if activation_lifetime is not None:
            self.config.activation_lifetime = float(activation_lifetime)
        if early_cancel_seconds is not None:
            self.config.early_cancel_seconds = float(early_cancel_seconds)
        if ignore_max_price is not None:
            self.config.ignore_max_price = bool(ignore_max_price)
        return self.config

    # --- accounts -------------------------------------------------------------------------

    def add_account(self, token: str, balance: Decimal | str | int = Decimal(0)) -> Decimal:
        """Create an account or set its balance."""
        if not token:
            raise ValueError("the token must not be empty")
        amount = parse_money(balance)
        self.accounts[token] = amount
        return amount

    def balance(self, token: str | None) -> Decimal:
        self.settle()
        balance = self.accounts.get(token) if token else None
        if balance is None:
            raise UnknownToken
        return balance

    def regenerate_token(self, old: str, new: str) -> None:
        """The account's owner regenerated its API key: `old` stops working at once, the
        balance and the activations now answer to `new`."""
        if not new or new in self.accounts:
            raise ValueError("the new token must be new and not empty")
        self.accounts[new] = self.accounts.pop(old)
        for activation in self.activations.values():
            if activation.token == old:
                activation.token = new

    def check_token(self, token: str | None) -> None:
        if not token or token not in self.accounts:
            raise UnknownToken

    # --- buying ---------------------------------------------------------------------------

    def buy(
        self,
        token: str | None,
        service: Service | None,
        country: Country | None,
        *,
        max_price: Decimal | None = None,
    ) -> Activation:
        """Buy a number; `country=None` means the cheapest country with stock."""
        self.settle()
        self.check_token(token)
        assert token is not None
        if service is None:
            raise UnknownService
        offer: Offer | None
        if country is None:
            found = self.catalog.cheapest(service)
            if found is None:
                raise NoNumbersAvailable
            country, offer = found
        else:
            offer = self.catalog.offer(country, service)
            if offer is None or offer.count <= 0:
                raise NoNumbersAvailable
        if max_price is not None and offer.cost > max_price and not self.config.ignore_max_price:
            raise PriceAboveMax(offer.cost)
        if self.accounts[token] < offer.cost:
            raise NotEnoughBalance
        self.accounts[token] -= offer.cost
        now = self.now()
        activation = Activation(
            id=self._next_id,
            token=token,
            number=self._new_number(country),
            country=country,
            service=service,
            cost=offer.cost,
            created_at=now,
            expires_at=now + self.config.activation_lifetime,
            next_sms_at=self._sms_time(now),
        )
        self._next_id += 1
        self.activations[activation.id] = activation
        heapq.heappush(self._expiry, (activation.expires_at, activation.id))
        return activation

    def _new_number(self, country: Country) -> str:
        missing = country.national_length - len(country.mobile_prefix)
        first = str(self._rng.randint(2, 9)) if not country.mobile_prefix else ""
        rest = "".join(str(self._rng.randint(0, 9)) for _ in range(missing - len(first)))
        return country.dial_code + country.mobile_prefix + first + rest

    def _sms_time(self, now: float) -> float | None:
        delay = self.config.sms_delay
        if delay is None:
            return None
        if isinstance(delay, tuple):
            return now + self._rng.uniform(*delay)
        return now + delay

    def _new_code(self) -> str:
        return f"{self._rng.randint(0, 999_999):06d}"

    # --- reading and changing activations -------------------------------------------------

    def activation(self, token: str | None, activation_id: int | None) -> Activation:
        """An activation of this token, brought up to date."""
        self.settle()
        self.check_token(token)
        activation = self.activations.get(activation_id) if activation_id is not None else None
        if activation is None or activation.token != token:
            raise ActivationNotFound
        self._bring_up_to_date(activation, self.now())
        return activation

    def get(self, activation_id: int) -> Activation | None:
        """Any activation by id, brought up to date (for the control endpoint)."""
        activation = self.activations.get(activation_id)
        if activation is not None:
            self._bring_up_to_date(activation, self.now())
        return activation

    def all_activations(self, token: str | None = None) -> list[Activation]:
        now = self.now()
        result = []
        for activation in self.activations.values():
            if token is None or activation.token == token:
                self._bring_up_to_date(activation, now)
                result.append(activation)
        return result

    def change_status(
        self, token: str | None, activation_id: int | None, change: StatusChange
    ) -> Activation:
        activation = self.activation(token, activation_id)
        if activation.status not in _OPEN:
            raise ActivationClosed(activation)
        now = self.now()
        if change is StatusChange.CANCEL or (change is StatusChange.FINISH and not activation.sms):
            if activation.sms:
                raise CancelRefused
            wait = activation.created_at + self.config.early_cancel_seconds - now
            if wait > 0:
                raise EarlyCancel(wait)
            self._cancel(activation)
        elif change is StatusChange.FINISH:
            activation.status = ActivationStatus.FINISHED
            activation.next_sms_at = None
        elif change is StatusChange.ANOTHER_CODE and activation.status is ActivationStatus.CODE:
            activation.status = ActivationStatus.WAIT_RETRY
            activation.next_sms_at = self._sms_time(now)
        # READY changes nothing: the sandbox's numbers are always ready.
        return activation

    def deliver_sms(self, activation_id: int, code: str | None = None) -> Sms:
        """An SMS arrives now on an open activation (a random code when none is given)."""
        activation = self.get(activation_id)
        if activation is None:
            raise ActivationNotFound
        if activation.status not in _OPEN:
            raise ActivationClosed(activation)
        return self._receive(activation, code or self._new_code(), self.now())

    def _receive(self, activation: Activation, code: str, at: float) -> Sms:
        sms = Sms(code=code, arrived_at=at)
        activation.sms.append(sms)
        activation.status = ActivationStatus.CODE
        activation.next_sms_at = None
        return sms

    def _cancel(self, activation: Activation) -> None:
        activation.status = ActivationStatus.CANCELLED
        activation.next_sms_at = None
        if not activation.refunded:
            activation.refunded = True
            self.accounts[activation.token] = (
                self.accounts.get(activation.token, Decimal(0)) + activation.cost
            )

    def _bring_up_to_date(self, activation: Activation, now: float) -> None:
        if activation.status not in _OPEN:
            return
        due = activation.next_sms_at
        if (
            due is not None
            and due <= now
            and due <= activation.expires_at
            and activation.status in _AWAITING_SMS
        ):
            self._receive(activation, self._new_code(), due)
        if now >= activation.expires_at:
            if activation.sms:
                activation.status = ActivationStatus.FINISHED
                activation.next_sms_at = None
            else:
                activation.expired = True
                self._cancel(activation)

    def settle(self) -> None:
        """Close the activations whose lifetime has passed. O(1) when there are none."""
        expiry = self._expiry
        if not expiry:
            return
        now = self.now()
        while expiry and expiry[0][0] <= now:
            _, activation_id = heapq.heappop(expiry)
            activation = self.activations.get(activation_id)
            if activation is not None:
                self._bring_up_to_date(activation, now)

    # --- catalog --------------------------------------------------------------------------

    def set_offer(
        self, country_id: int, service_id: int, *, cost: object, count: int
    ) -> tuple[Country, Service, Offer]:
        """Force the price and stock of one (v2 country id, v2 service id) pair."""
        country = self.catalog.country_by_v2.get(country_id)
        service = self.catalog.service_by_v2.get(service_id)
        if country is None or service is None:
            raise KeyError("unknown country_id or service_id")
        if count < 0:
            raise ValueError("count must not be negative")
        return country, service, self.catalog.set_offer(country, service, parse_money(cost), count)

    def offers(
        self, country: Country | None = None, service: Service | None = None
    ) -> Iterable[tuple[Country, Service, Offer]]:
        countries = (country,) if country is not None else self.catalog.countries
        services = (service,) if service is not None else self.catalog.services
        offers = self.catalog.offers
        for c in countries:
            for s in services:
                offer = offers.get((c.v2_id, s.v2_id))
                if offer is not None:
                    yield c, s, offer
