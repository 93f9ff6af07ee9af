"""A stand-in for the SMS-man service: both protocols, accounts, SMS on command or by delay,
expiry, and injected faults. Imports nothing of the bot, only aiohttp and the standard library.

Run it with `python -m bot.sandbox`; in-process use `SandboxState`, `create_app` and
`SandboxServer`. The contract is in docs/CONTRACTS.md ("Sandbox provider").
"""

from bot.sandbox.app import COMPAT_PATH, V2_PATH, SandboxServer, create_app
from bot.sandbox.catalog import Catalog, Country, Offer, Service
from bot.sandbox.faults import Fault, FaultMode
from bot.sandbox.state import (
    Activation,
    ActivationStatus,
    SandboxConfig,
    SandboxState,
    Sms,
    StatusChange,
)

__all__ = [
    "COMPAT_PATH",
    "V2_PATH",
    "Activation",
    "ActivationStatus",
    "Catalog",
    "Country",
    "Fault",
    "FaultMode",
    "Offer",
    "SandboxConfig",
    "SandboxServer",
    "SandboxState",
    "Service",
    "Sms",
    "StatusChange",
    "create_app",
]
