"""What the watcher tells users about; implemented on the Telegram side by bot.telegram.notifier."""

from __future__ import annotations

from typing import Protocol

from bot.store.activations import ActivationRecord


class RecipientGone(Exception):
    """The user cannot be reached any more (blocked the bot, deleted the chat)."""


class PushRefused(Exception):
    """Telegram refused this message for good (e.g. its text cannot be parsed): sending the
    same again would fail the same way, unlike a network error or flood control."""


class Notifier(Protocol):
    async def code_received(self, record: ActivationRecord, code: str) -> None:
        """Push the code as a new message (so the phone notifies); once this returns the code
        counts as delivered. The card is updated apart, with `card_changed`."""
        ...

    async def card_changed(self, record: ActivationRecord) -> None:
        """Re-render the number card (a code arrived, time left, closed by timeout or by the
        provider)."""
        ...

    async def token_rejected(self, record: ActivationRecord) -> None:
        """The provider no longer accepts the token this number is watched with (the user
        regenerated it): ask the user to set the new one. Sent once, not at every check."""
        ...
