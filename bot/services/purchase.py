"""Buying a number: a quote the user confirms, then exactly one purchase per confirmation.

Money rules enforced here:
- the price is looked up on the server and kept server side; the buy sends it as `maxPrice`,
  so the user never pays more than the price they confirmed;
- a confirmation buys at most once (an atomic claim on its nonce) and one user buys one
  number at a time (a per-user lock), so a double tap never buys twice;
- buying is never retried; the bought number is recorded in Redis before anyone is told,
  and if it cannot be recorded it is cancelled at once so the money returns.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

from bot.provider.base import Provider
from bot.provider.errors import NoBalance, NoNumbers, PriceTooHigh, ProviderError, WrongToken
from bot.provider.models import Country, Service
from bot.services.catalog import Catalog
from bot.services.errors import (
    AlreadyBought,
    Busy,
    InsufficientBalance,
    NoToken,
    QuoteExpired,
    ServiceError,
    UnknownChoice,
)
from bot.services.tokens import require_token
from bot.store import as_text, keys
from bot.store.activations import ActivationRecord, ActivationStore
from bot.store.users import UserStore

logger = logging.getLogger(__name__)

QUOTE_VALID_SECONDS = 15 * 60
CLAIM_KEPT_SECONDS = 24 * 3600
# Failures after which we know no number was bought (a timeout or a 5xx leaves it unknown,
# so such a confirmation is never bought again: the provider refunds an unknown purchase
# when it expires).
NOTHING_BOUGHT = (NoBalance, NoNumbers, PriceTooHigh, WrongToken, InsufficientBalance, NoToken)


@dataclass(frozen=True)
class Quote:
    """What the confirmation card shows; `nonce` identifies it in the ✅ Buy button."""

    nonce: str
    service: Service
    country: Country
    price: Decimal
    stock: int
    balance: Decimal

    @property
    def affordable(self) -> bool:
        return self.balance >= self.price


class PurchaseService:
    def __init__(
        self,
        provider: Provider,
        redis: Redis,
        users: UserStore,
        activations: ActivationStore,
        catalog: Catalog,
        *,
        activation_timeout: float,
        poll_interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._provider = provider
        self._redis = redis
        self._users = users
        self._activations = activations
        self._catalog = catalog
        self._timeout = activation_timeout
        self._poll_interval = poll_interval
        self._clock = clock

    async def quote(self, user_id: int, service_id: str, country_id: str) -> Quote:
        """Fresh price, stock and balance for the confirmation card."""
        token = await require_token(self._users, user_id)
        service = await self._catalog.service(token, service_id)
        country = (await self._catalog.countries(token)).get(country_id)
        if service is None or country is None:
            raise UnknownChoice
        offer = await self._catalog.fresh_offer(token, service_id, country_id)
        if offer is None:
            raise UnknownChoice
        balance = await self._provider.get_balance(token)
        nonce = secrets.token_urlsafe(8)
        stored = {
            "service": service.model_dump(),
            "country": country.model_dump(),
            "price": str(offer.price),
        }
        await self._redis.set(
            keys.confirmation(user_id, nonce), json.dumps(stored), ex=QUOTE_VALID_SECONDS
        )
        return Quote(nonce, service, country, offer.price, offer.stock, balance)

    async def buy(
        self, user_id: int, chat_id: int, message_id: int | None, nonce: str, language: str
    ) -> ActivationRecord:
        """Buy the number the user confirmed with `nonce`; record it; return the record."""
        raw = await self._redis.get(keys.confirmation(user_id, nonce))
        if raw is None:
            raise QuoteExpired
        claim_key = keys.confirmation(user_id, nonce) + ":claim"
        if not await self._redis.set(claim_key, "buying", nx=True, ex=CLAIM_KEPT_SECONDS):
            result = await self._redis.get(claim_key)
            bought = as_text(result) if result else None
            raise AlreadyBought(bought if bought != "buying" else None)
        try:
            async with self._redis.lock(keys.user_lock(user_id), timeout=120, blocking_timeout=1):
                record = await self._buy_confirmed(
                    user_id, chat_id, message_id, as_text(raw), language
                )
        except LockError:
            await self._redis.delete(claim_key)
            raise Busy from None
        except (ProviderError, ServiceError) as error:
            if isinstance(error, NOTHING_BOUGHT):
                await self._redis.delete(claim_key)  # nothing was bought: the tap may be retried
            raise
        await self._redis.set(claim_key, record.key, ex=CLAIM_KEPT_SECONDS)
        return record

    async def _buy_confirmed(
        self, user_id: int, chat_id: int, message_id: int | None, raw: str, language: str
    ) -> ActivationRecord:
        stored = json.loads(raw)
        service = Service.model_validate(stored["service"])
        country = Country.model_validate(stored["country"])
        price = Decimal(stored["price"])
        # One read: the number is bought with exactly the token its record keeps for the
        # watcher, even if the user replaces their token meanwhile.
        encrypted = await self._users.get_encrypted_token(user_id)
        if encrypted is None:
            raise NoToken
        token = self._users.decrypt_token(encrypted)
        balance = await self._provider.get_balance(token)
        if balance < price:
            raise InsufficientBalance(balance, price)
        activation = await self._provider.buy_number(
            token, service_id=service.id, country_id=country.id, max_price=price
        )
        now = self._clock()
        record = ActivationRecord(
            provider=self._provider.name,
            id=activation.id,
            user_id=user_id,
            chat_id=chat_id,
            message_id=message_id,
            language=language,
            number=activation.number,
            service_id=service.id,
            service_name=service.name,
            country_id=country.id,
            country_name=country.name,
            country_iso=country.iso,
            price=price,
            token=encrypted,
            created_at=now,
            expires_at=now + self._timeout,
        )
        try:
            await self._activations.create(record, first_check_at=now + self._poll_interval)
        except RedisError:
            logger.exception("Could not record activation %s; cancelling it", record.key)
            try:
                await self._provider.cancel(token, activation.id)
            except ProviderError:
                logger.exception("Cancelling unrecorded activation %s failed", record.key)
            raise
        try:
            await self._users.add_recent_service(user_id, service.id)
        except RedisError:
            logger.warning("Could not remember the recent service of a user")
        return record
