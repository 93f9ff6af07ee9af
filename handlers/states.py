"""What the user is typing into, kept in the FSM storage (Redis)."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class TokenForm(StatesGroup):
    waiting_token = State()  # the next message is the API token


class BuyForm(StatesGroup):
    choosing_service = State()  # text typed now filters the service menu
    choosing_country = State()  # text typed now filters the country menu
