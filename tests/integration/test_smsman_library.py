"""The public `smsman` client from PyPI works against the sandbox as against the real v2 API.

The library is synchronous (`requests`) with its base URL in a name-mangled class attribute,
so it is pointed at the sandbox with monkeypatch and called in a worker thread while the
sandbox serves in the test's event loop. Every HTTP call has a timeout, and after a deadline
calls fail at once, so even the library's retry-forever `get_balance` cannot hang a test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
import requests
import smsman.smsman as smsman_module
from smsman.errors import LowBalance, NoNumbers, SMSnotReceivedError, WrongTokenError
from smsman.smsman import Smsman

from tests.fixtures.sandbox import SANDBOX_BALANCE, SANDBOX_TOKEN, SandboxHandle

T = TypeVar("T")
INDIA_V2, TELEGRAM_V2 = 14, 3


@pytest.fixture
def library_http(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the library at the sandbox, with timeouts on every request it makes."""
    session = requests.Session()
    session.trust_env = False  # never through a proxy from the environment
    deadline = time.monotonic() + 60

    def get(url: str, params: Any = None, **kwargs: Any) -> requests.Response:
        if time.monotonic() > deadline:
            raise TimeoutError("the smsman library test ran past its deadline")
        return session.get(url, params=params, timeout=5, **kwargs)

    monkeypatch.setattr(Smsman, "_Smsman__base_url", sandbox.url + "/control")
    monkeypatch.setattr(smsman_module, "requests", SimpleNamespace(get=get))
    yield
    session.close()


async def call(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.wait_for(asyncio.to_thread(function, *args), timeout=30)


@pytest.mark.usefixtures("library_http")
async def test_balance_buy_sms_and_reject(sandbox: SandboxHandle) -> None:
    client = Smsman(SANDBOX_TOKEN)
    assert await call(client.get_balance) == float(SANDBOX_BALANCE)

    price = sandbox.state.catalog.offers[(INDIA_V2, TELEGRAM_V2)].cost
    request_id, number = await call(client.request_phone_number, str(INDIA_V2), str(TELEGRAM_V2))
    assert number.startswith("91") and number == sandbox.activation(request_id).number
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE - price

    with pytest.raises(SMSnotReceivedError) as waiting:
        await call(client.get_sms, request_id)
    assert waiting.value.error_message == "Still waiting..."
    sandbox.deliver_sms(request_id, "246810")
    assert await call(client.get_sms, request_id) == "246810"
    assert await call(client.get_balance) == float(SANDBOX_BALANCE - price)

    second_id, _ = await call(client.request_phone_number, str(INDIA_V2), str(TELEGRAM_V2))
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE - 2 * price
    await call(client.reject_number, second_id)
    assert sandbox.activation(second_id).status == "cancelled"
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE - price


@pytest.mark.usefixtures("library_http")
async def test_purchase_errors(sandbox: SandboxHandle) -> None:
    sandbox.add_account("poor", "1.00")
    with pytest.raises(LowBalance):
        await call(Smsman("poor").request_phone_number, str(INDIA_V2), str(TELEGRAM_V2))
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="5", count=0)
    with pytest.raises(NoNumbers):
        await call(Smsman(SANDBOX_TOKEN).request_phone_number, str(INDIA_V2), str(TELEGRAM_V2))
    with pytest.raises(WrongTokenError) as wrong:
        await call(Smsman("nope").request_phone_number, str(INDIA_V2), str(TELEGRAM_V2))
    assert wrong.value.error_message == {"token": "Wrong token!"}
    assert sandbox.balance("poor") == Decimal("1.00")


@pytest.mark.usefixtures("library_http")
async def test_lists(sandbox: SandboxHandle) -> None:
    client = Smsman(SANDBOX_TOKEN)
    countries = await call(client.get_all_countries)
    assert countries["14"]["title"] == "India"
    limits = await call(client.get_limits, str(INDIA_V2), str(TELEGRAM_V2))
    assert limits[0]["numbers"].isdigit()
    # The library only understands applications keyed by id, one of the two live shapes.
    sandbox.configure(shapes={"applications": "object"})
    services = await call(client.get_all_services)
    assert services["3"]["title"] == "Telegram"
