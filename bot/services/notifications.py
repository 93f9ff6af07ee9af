"""What the watcher tells users about; implemented on the Telegram side by bot.telegram.notifier."""

from __future__ import annotations

from typing import Protocol

from bot.store.activations import ActivationRecord


class RecipientGone(Exception):
    """The user cannot be reached any more (blocked the bot, deleted the chat)."""


class Notifier(Protocol):
    async def code_received(self, record: ActivationRecord, code: str) -> None:
        """Push the code as a new message (so the phone notifies) and update the card."""
        ...

    async def card_changed(self, record: ActivationRecord) -> None:
        """Re-render the number card (time left, closed by timeout or by the provider)."""
        ...
