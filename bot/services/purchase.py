"""Buying a number: a quote the user confirms, then exactly one purchase per confirmation.

Money rules enforced here:
- the price shown is the shared catalog's (at most about a minute old) and is kept server
  side with the confirmation, with its cap: the `maxPrice` the protocol can send for it
  (`Provider.price_cap`: the price itself, or on v2, which takes whole roubles only, the
  rouble above a price with kopecks; the card then says "at most"). The provider refuses a
  number dearer than the cap, so a price that rose since is refused, never charged;
- a purchase is one provider call, the buy: the balance on the confirmation card is at most
  a minute old (`Balances`), is not asked again before buying (the provider refuses a number
  the balance cannot pay for), and is lowered by the price afterwards;
- for providers that may ignore `maxPrice` (`SMSMAN_VERIFY_DEBIT`), the balance is read
  before and after buying instead: a number that cost more than its cap is cancelled at once
  (or, refused for now, left for the watcher to cancel) and the user is told, and the record
  keeps what the balance really lost;
- a confirmation buys at most once (an atomic claim on its nonce) and one user buys one
  number at a time (a per-user lock, renewed while the purchase runs), so a double tap never
  buys twice. A failure before anything was sent to the buy endpoint frees the claim (the
  tap may be retried); once the buy was sent the claim is never freed: it ends as the
  record's key, or "unknown" when the provider's answer never came;
- every step has a deadline (the checks, the buy, the balance after, a cancel), each no
  longer than one request, so the whole purchase ends well within its lock;
- buying is never retried; the bought number is recorded in Redis before anyone is told. If
  it cannot be recorded it is cancelled at once; if the provider refuses that for now, a
  minimal record is kept for the watcher to cancel, and failing even that the cancel is
  retried here in the background until it is done.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.provider.base import Provider
from bot.provider.errors import (
    ActivationNotFound,
    NoNumbers,
    PriceTooHigh,
    ProviderError,
    ProviderUnavailable,
)
from bot.provider.models import Activation, Country, Service
from bot.services.balances import Balances
from bot.services.catalog import Catalog
from bot.services.errors import (
    AlreadyBought,
    Busy,
    InsufficientBalance,
    NoToken,
    Overcharged,
    PurchaseInProgress,
    PurchaseNotRecorded,
    PurchaseOutcomeUnknown,
    QuoteExpired,
    UnknownChoice,
)
from bot.services.tokens import require_token
from bot.store import as_text, keys
from bot.store.activations import ActivationRecord, ActivationStore, CloseReason, State
from bot.store.early_cancel import EarlyCancelStore
from bot.store.locks import LockBusy, held
from bot.store.users import UserStore

logger = logging.getLogger(__name__)

QUOTE_VALID_SECONDS = 15 * 60
CLAIM_KEPT_SECONDS = 24 * 3600
PURCHASE_LOCK_SECONDS = 120.0
"""The per-user purchase lock (renewed while the purchase runs; at least 6 requests long)."""

# What a confirmation's claim holds: "buying:<unix time>" while the purchase runs, then the
# activation's key, "unknown" (the buy was sent, no answer came) or "cancelled" (bought,
# could not be recorded, cancelled).
_BUYING = "buying:"
_UNKNOWN = "unknown"
_CANCELLED = "cancelled"

RECORD_ATTEMPTS = 3
RESCUE_FIRST_PAUSE = 10.0
RESCUE_LONGEST_PAUSE = 60.0


@dataclass(frozen=True)
class Quote:
    """What the confirmation card shows; `nonce` identifies it in the ✅ Buy button."""

    nonce: str
    service: Service
    country: Country
    price: Decimal
    cap: Decimal  # the most the number can cost (`Provider.price_cap`)
    stock: int
    balance: Decimal

    @property
    def affordable(self) -> bool:
        return self.balance >= self.price


@dataclass
class _Attempt:
    """How far one purchase got, which decides what its claim becomes."""

    sent: bool = False  # the buy request went out: the claim is never freed after this
    claim: str | None = None  # the claim's final value, when known


class PurchaseService:
    def __init__(
        self,
        provider: Provider,
        redis: Redis,
        users: UserStore,
        activations: ActivationStore,
        catalog: Catalog,
        balances: Balances,
        *,
        activation_timeout: float,
        poll_interval: float,
        early_cancel: EarlyCancelStore | None = None,
        request_timeout: float = 20.0,
        verify_debit: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._provider = provider
        self._redis = redis
        self._users = users
        self._activations = activations
        self._catalog = catalog
        self._balances = balances
        self._timeout = activation_timeout
        self._poll_interval = poll_interval
        self._request_timeout = request_timeout
        self._verify_debit = verify_debit
        self._early_cancel = early_cancel
        # checks + buy + balance after + a cancel, one request each, and some room for Redis
        self._longest = 4 * request_timeout + 10
        self._lock_timeout = max(PURCHASE_LOCK_SECONDS, 6 * request_timeout)
        self._clock = clock
        self._rescues: set[asyncio.Task[None]] = set()

    async def quote(self, user_id: int, service_id: str, country_id: str) -> Quote:
        """Price and stock from the shared catalog and a recent balance, for the card."""
        token = await require_token(self._users, user_id)
        service = await self._catalog.service(token, service_id)
        country = (await self._catalog.countries(token)).get(country_id)
        if service is None or country is None:
            raise UnknownChoice
        offer = await self._catalog.offer(token, service_id, country_id)
        if offer is None:
            raise UnknownChoice
        cap = self._provider.price_cap(offer.price)
        nonce = secrets.token_urlsafe(8)
        balance, _kept = await asyncio.gather(  # one round trip
            self._balances.recent(user_id, token),
            self.keep_confirmation(user_id, nonce, service, country, offer.price, cap),
        )
        return Quote(nonce, service, country, offer.price, cap, offer.stock, balance)

    @property
    def provider_name(self) -> str:
        """The protocol numbers are bought over now (ids mean nothing across protocols)."""
        return self._provider.name

    def price_cap(self, price: Decimal) -> Decimal:
        return self._provider.price_cap(price)

    async def keep_confirmation(
        self,
        user_id: int,
        nonce: str,
        service: Service,
        country: Country,
        price: Decimal,
        cap: Decimal,
    ) -> bool:
        """What `buy(nonce)` buys, kept server side; False when `nonce` already holds one
        (it is never overwritten: a second tap must buy what the first confirmed)."""
        stored = {
            "service": service.model_dump(),
            "country": country.model_dump(),
            "price": str(price),
            "cap": str(cap),
        }
        return bool(
            await self._redis.set(
                keys.confirmation(user_id, nonce),
                json.dumps(stored),
                ex=QUOTE_VALID_SECONDS,
                nx=True,
            )
        )

    async def buy(
        self, user_id: int, chat_id: int, message_id: int | None, nonce: str, language: str
    ) -> ActivationRecord:
        """Buy the number the user confirmed with `nonce`; record it; return the record.

        Besides the provider's refusals (nothing bought) raises: `AlreadyBought`,
        `PurchaseInProgress` or `PurchaseOutcomeUnknown` for a confirmation already used;
        `PurchaseOutcomeUnknown` when the buy got no answer; `Overcharged` and
        `PurchaseNotRecorded` when a bought number is (being) cancelled.
        """
        raw = await self._redis.get(keys.confirmation(user_id, nonce))
        if raw is None:
            raise QuoteExpired
        claim_key = keys.confirmation(user_id, nonce) + ":claim"
        started = f"{_BUYING}{self._clock():.0f}"
        if not await self._redis.set(claim_key, started, nx=True, ex=CLAIM_KEPT_SECONDS):
            raise self._used(await self._redis.get(claim_key))
        attempt = _Attempt()
        lock = self._redis.lock(
            keys.user_lock(user_id), timeout=self._lock_timeout, blocking_timeout=1
        )
        try:
            async with held(lock, renew=True):
                return await self._buy_confirmed(
                    attempt, user_id, chat_id, message_id, as_text(raw), language
                )
        except LockBusy:
            raise Busy from None
        except ProviderUnavailable:
            if attempt.sent:
                raise PurchaseOutcomeUnknown from None
            raise
        except Exception:
            if attempt.sent and attempt.claim is None:
                logger.exception("A purchase failed after the buy was sent")
                raise PurchaseOutcomeUnknown from None
            raise
        finally:
            await self._settle_claim(claim_key, attempt)

    def _used(self, claim: str | bytes | None) -> Exception:
        """What a second tap on a used confirmation gets."""
        value = as_text(claim) if claim else ""
        if value.startswith(_BUYING):
            try:
                started = float(value.removeprefix(_BUYING))
            except ValueError:
                started = 0.0
            if self._clock() - started <= self._longest:
                return PurchaseInProgress()
            return PurchaseOutcomeUnknown()  # the process buying it died on the way
        if value == _UNKNOWN:
            return PurchaseOutcomeUnknown()
        if value == _CANCELLED or not value:
            return AlreadyBought(None)
        return AlreadyBought(value)

    async def _settle_claim(self, claim_key: str, attempt: _Attempt) -> None:
        """The claim's final value; freed (deleted) only when nothing was sent to buy."""
        try:
            if attempt.claim is not None:
                await self._redis.set(claim_key, attempt.claim, ex=CLAIM_KEPT_SECONDS)
            elif attempt.sent:
                await self._redis.set(claim_key, _UNKNOWN, ex=CLAIM_KEPT_SECONDS)
            else:
                await self._redis.delete(claim_key)
        except RedisError:
            # Left as "buying": once the purchase is overdue a tap reads it as unknown.
            logger.warning("Could not settle a purchase's claim")

    async def _buy_confirmed(
        self,
        attempt: _Attempt,
        user_id: int,
        chat_id: int,
        message_id: int | None,
        raw: str,
        language: str,
    ) -> ActivationRecord:
        stored = json.loads(raw)
        service = Service.model_validate(stored["service"])
        country = Country.model_validate(stored["country"])
        price = Decimal(stored["price"])
        cap = Decimal(stored.get("cap", stored["price"]))
        # One read: the number is bought with exactly the token its record keeps for the
        # watcher, even if the user replaces their token meanwhile.
        encrypted = await self._users.get_encrypted_token(user_id)
        if encrypted is None:
            raise NoToken
        token = self._users.decrypt_token(encrypted)
        measure = self._verify_debit
        balance = await self._balance_before(user_id, token, price, measure=measure)
        attempt.sent = True
        try:
            # The client ends a request by `request_timeout`; this is for any other transport.
            async with asyncio.timeout(self._request_timeout + 1):
                activation = await self._provider.buy_number(
                    token, service_id=service.id, country_id=country.id, max_price=cap
                )
        except TimeoutError:
            raise PurchaseOutcomeUnknown from None
        except ProviderUnavailable:
            raise
        except ProviderError as error:
            attempt.sent = False  # refused: nothing was bought, the tap may be retried
            if isinstance(error, NoNumbers | PriceTooHigh):
                await self._catalog.prices_changed(token)  # the card showed an old price
            raise
        charged = (
            await self._charged(user_id, token, balance)
            if measure and balance is not None
            else None
        )
        window = await self._cancel_window()
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
            # What the balance lost when measured; else the price listed (at most the cap).
            price=charged if charged is not None and Decimal(0) < charged else price,
            token=encrypted,
            created_at=now,
            expires_at=now + self._timeout,
            cancel_after=now + window if window else 0.0,
        )
        if charged is not None and charged > cap:
            await self._cancel_overcharged(attempt, token, activation, record, cap)
        try:
            await self._activations.create(record, first_check_at=now + self._poll_interval)
        except RedisError:
            logger.exception("Could not record activation %s; cancelling it", record.key)
            await self._cancel_unrecorded(attempt, token, activation, record)
        attempt.claim = record.key
        if not measure:  # else the balance after was read (and remembered) by `_charged`
            await self._balances.spent(user_id, record.price)
        try:
            await self._users.add_recent_service(user_id, service.id)
        except RedisError:
            logger.warning("Could not remember the recent service of a user")
        return record

    async def _cancel_window(self) -> float:
        """How long the provider is known to refuse cancelling a new number (0: not known)."""
        if self._early_cancel is None:
            return 0.0
        try:
            return await self._early_cancel.window(self._provider.name)
        except RedisError:
            return 0.0

    async def _balance_before(
        self, user_id: int, token: str, price: Decimal, *, measure: bool
    ) -> Decimal | None:
        """The balance before buying, to refuse early what it cannot pay for: asked of the
        provider when the debit is to be measured; else the one remembered from the card
        (asked again only when it is below the price: it may be stale), or None when none is
        remembered (no call: the provider refuses a number the balance cannot pay for)."""
        try:
            async with asyncio.timeout(self._request_timeout):
                if measure:
                    balance = await self._balances.read(user_id, token)
                else:
                    remembered = await self._balances.remembered(user_id)
                    if remembered is None or remembered >= price:
                        return remembered
                    balance = await self._balances.read(user_id, token)
        except TimeoutError:
            raise ProviderUnavailable("the provider did not answer in time") from None
        if balance < price:
            raise InsufficientBalance(balance, price)
        return balance

    async def _charged(self, user_id: int, token: str, before: Decimal) -> Decimal | None:
        """What the purchase took from the balance (None when it cannot be read in time).

        Another purchase of the same user cannot run meanwhile (the lock); a refund the
        watcher got meanwhile makes it look smaller, never larger. Spending elsewhere with
        the same key (the website, another bot) makes it look larger: then a number is
        cancelled that cost what was shown, which the user is told, and the money returns.
        """
        try:
            async with asyncio.timeout(self._request_timeout):
                after = await self._balances.read(user_id, token)
        except (TimeoutError, ProviderError) as error:
            logger.warning("Could not read the balance after a purchase: %s", error)
            return None
        return before - after

    async def _cancel_overcharged(
        self,
        attempt: _Attempt,
        token: str,
        activation: Activation,
        record: ActivationRecord,
        shown: Decimal,
    ) -> None:
        """The number cost more than the price the user confirmed: cancel it and say so."""
        logger.warning(
            "Activation %s cost %s, more than the %s shown; cancelling it",
            record.key,
            record.price,
            shown,
        )
        cancelled = await self._cancel_now(token, record)
        if not cancelled:
            record.expires_at = record.created_at  # the watcher cancels it at its first check
        try:
            await self._activations.create(record, first_check_at=self._clock())
            if cancelled:
                await self._activations.close(
                    record, State.CANCELLED, CloseReason.USER, self._clock()
                )
        except RedisError:
            logger.exception("Could not record overcharged activation %s", record.key)
            if not cancelled:
                self._rescue(token, activation.id, record)
            attempt.claim = _CANCELLED
        else:
            attempt.claim = record.key
        raise Overcharged(charged=record.price, shown=shown, cancelled=cancelled)

    async def _cancel_unrecorded(
        self, attempt: _Attempt, token: str, activation: Activation, record: ActivationRecord
    ) -> None:
        """A bought number Redis would not take: cancel it now, else make sure it will be."""
        cancelled = await self._cancel_now(token, record)
        attempt.claim = _CANCELLED
        if not cancelled:
            record.expires_at = record.created_at  # the watcher cancels it at its first check
            if await self._record_retrying(record):
                attempt.claim = record.key
            else:
                self._rescue(token, activation.id, record)
        raise PurchaseNotRecorded(cancelled=cancelled)

    async def _cancel_now(self, token: str, record: ActivationRecord) -> bool:
        """Cancel at the provider within one request's time; False when it did not happen."""
        try:
            async with asyncio.timeout(self._request_timeout):
                await self._provider.cancel(token, record.id)
        except ActivationNotFound:
            pass  # gone at the provider: nothing to pay for
        except (TimeoutError, ProviderError) as error:
            logger.warning("Could not cancel activation %s now: %s", record.key, error)
            return False
        await self._balances.changed(record.user_id)  # the money is back
        return True

    async def _record_retrying(self, record: ActivationRecord) -> bool:
        for attempt in range(RECORD_ATTEMPTS):
            try:
                await self._activations.create(record, first_check_at=self._clock())
                return True
            except RedisError:
                if attempt + 1 < RECORD_ATTEMPTS:
                    await asyncio.sleep(0.5 * 2**attempt)
        return False

    def _rescue(self, token: str, activation_id: str, record: ActivationRecord) -> None:
        """The last resort for a bought number nothing could record: retry, in the
        background, cancelling it (or recording it for the watcher) until one works."""
        logger.error(
            "Activation %s of user %s is neither recorded nor cancelled; retrying",
            record.key,
            record.user_id,
        )
        task = asyncio.create_task(self._keep_cancelling(token, activation_id, record))
        self._rescues.add(task)
        task.add_done_callback(self._rescues.discard)

    async def _keep_cancelling(
        self, token: str, activation_id: str, record: ActivationRecord
    ) -> None:
        pause = RESCUE_FIRST_PAUSE
        give_up_at = self._clock() + self._timeout
        while self._clock() < give_up_at:
            await asyncio.sleep(pause)
            if await self._cancel_now(token, record):
                logger.info("Activation %s is cancelled after all", record.key)
                return
            if await self._record_retrying(record):
                logger.info("Activation %s is recorded for the watcher to cancel", record.key)
                return
            pause = min(RESCUE_LONGEST_PAUSE, pause * 2)
        logger.error("Gave up cancelling activation %s", record.key)

    async def aclose(self) -> None:
        """Stop the background cancels (logged: the provider refunds them at expiry)."""
        for task in list(self._rescues):
            logger.error("Stopping with activation cancels pending; the provider refunds them")
            task.cancel()
        await asyncio.gather(*self._rescues, return_exceptions=True)
