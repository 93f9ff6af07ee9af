"""🔄 Replace: a number that gets no SMS is cancelled (the money returns) and the same service
is bought in the same country, at no more than the price confirmed for the first, in one tap.

Money rules:
- the new number is bought only after the provider confirmed the cancel; a cancel refused
  for now (the provider's first minutes) raises `CancelTooEarly` and nothing is bought;
- the purchase goes through `PurchaseService.buy` with a confirmation whose nonce is derived
  from the replaced number, so a double tap (or a tap on a stale card) buys at most once:
  the second one finds the first one's purchase (in progress, or its number);
- the cap is the replaced number's: a price that went up since is refused by the provider,
  and the user is told that the first number was cancelled and the money is back.
"""

from __future__ import annotations

import hashlib

from bot.provider.errors import ProviderError
from bot.provider.models import Country, Service
from bot.services.activations import ActivationService
from bot.services.errors import (
    ActivationClosed,
    AlreadyBought,
    CodeAlreadyReceived,
    Overcharged,
    PurchaseInProgress,
    PurchaseNotRecorded,
    PurchaseOutcomeUnknown,
    ReplacedWithoutNumber,
    ServiceError,
    UnknownChoice,
)
from bot.services.purchase import PurchaseService
from bot.store.activations import ActivationRecord, CloseReason, State

_MAYBE_BOUGHT = (PurchaseInProgress, PurchaseOutcomeUnknown, Overcharged, PurchaseNotRecorded)
"""What the purchase raises when a number may exist: it reports those itself."""


def replacement_nonce(key: str) -> str:
    """The confirmation nonce of the number replacing activation `key` (one per number)."""
    return "r" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


class ReplaceService:
    def __init__(self, purchase: PurchaseService, activations: ActivationService) -> None:
        self._purchase = purchase
        self._activations = activations

    async def replace(
        self, user_id: int, key: str, chat_id: int, message_id: int | None, language: str
    ) -> ActivationRecord:
        """Cancel `key` and buy its like; the new number's record.

        Raises what a cancel raises (`CancelTooEarly`, `CancelRefused`, `CodeAlreadyReceived`,
        `Busy`, `NotYourActivation`), `PurchaseInProgress` while another tap is replacing it,
        and `ReplacedWithoutNumber` when the first is cancelled but no new one was bought.
        """
        old = await self._activations.owned(user_id, key)
        if old.provider != self._purchase.provider_name:
            raise UnknownChoice  # bought over another protocol: its ids mean nothing now
        if old.codes:
            raise CodeAlreadyReceived
        if old.is_open:
            try:
                old = await self._activations.cancel(user_id, key, CloseReason.REPLACED)
            except ActivationClosed:
                old = await self._activations.owned(user_id, key)  # another tap cancelled it
        if old.state is not State.CANCELLED:
            raise ActivationClosed
        nonce = replacement_nonce(key)
        await self._purchase.keep_confirmation(
            user_id,
            nonce,
            Service(id=old.service_id, name=old.service_name),
            Country(id=old.country_id, name=old.country_name, iso=old.country_iso),
            old.price,
            self._purchase.price_cap(old.price),
        )
        try:
            return await self._purchase.buy(user_id, chat_id, message_id, nonce, language)
        except AlreadyBought as error:
            if error.activation_key is None:
                raise
            return await self._activations.owned(user_id, error.activation_key)
        except _MAYBE_BOUGHT:
            raise
        except (ProviderError, ServiceError) as error:
            raise ReplacedWithoutNumber(old, error) from error
