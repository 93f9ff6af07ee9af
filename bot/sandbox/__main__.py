"""`python -m bot.sandbox`: serve the SMS-man sandbox until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from decimal import Decimal

from bot.sandbox.app import SandboxServer
from bot.sandbox.state import SandboxState, SmsDelay, parse_money, parse_sms_delay

DEFAULT_ACCOUNT = ("sandbox-token", Decimal("1000.00"))

logger = logging.getLogger("bot.sandbox")


def _account(value: str) -> tuple[str, Decimal]:
    token, sep, balance = value.partition("=")
    if not sep or not token:
        raise argparse.ArgumentTypeError("expected TOKEN=BALANCE, e.g. my-token=250.00")
    try:
        return token, parse_money(balance)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _sms_delay(value: str) -> SmsDelay:
    try:
        return parse_sms_delay(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.sandbox",
        description=(
            "A local stand-in for the SMS-man service, speaking both the v2 API (/control/) "
            "and the compatible API (/stubs/handler_api.php), with a control API under "
            "/sandbox/ (see docs/CONTRACTS.md)."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (8765)")
    parser.add_argument(
        "--sms-delay",
        type=_sms_delay,
        default=None,
        metavar="SECONDS|MIN:MAX",
        help=(
            "an SMS arrives this many seconds after a purchase (or uniformly between MIN and "
            "MAX); default: only when sent with POST /sandbox/activations/{id}/sms"
        ),
    )
    parser.add_argument(
        "--account",
        type=_account,
        action="append",
        default=[],
        metavar="TOKEN=BALANCE",
        help=(
            "an API token and its balance in RUB (repeatable); without any, one demo account "
            f"{DEFAULT_ACCOUNT[0]} with balance {DEFAULT_ACCOUNT[1]} is created"
        ),
    )
    parser.add_argument(
        "--lifetime",
        type=float,
        default=1200.0,
        metavar="SECONDS",
        help="activation lifetime; unused activations are then cancelled and refunded (1200)",
    )
    parser.add_argument(
        "--early-cancel",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="refuse cancelling during this long after a purchase (0)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the catalog and codes (0)")
    return parser.parse_args(argv)


async def serve(state: SandboxState, host: str, port: int) -> None:
    async with SandboxServer(state, host=host, port=port) as server:
        accounts = ", ".join(f"{token} ({balance})" for token, balance in state.accounts.items())
        logger.info(
            "SMS-man sandbox on %s: SMSMAN_API_URL=%s for v2, %s for compat; accounts: %s",
            server.url,
            server.v2_url,
            server.compat_url,
            accounts,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        logger.info("SMS-man sandbox stopped")


def build_state(args: argparse.Namespace) -> SandboxState:
    return SandboxState(
        accounts=dict(args.account or [DEFAULT_ACCOUNT]),
        sms_delay=args.sms_delay,
        activation_lifetime=args.lifetime,
        early_cancel_seconds=args.early_cancel,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    state = build_state(args)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(state, args.host, args.port))


if __name__ == "__main__":
    main()
