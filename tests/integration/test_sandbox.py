"""The sandbox over real HTTP: both protocols, money, SMS, statuses, expiry."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.sandbox import Activation
from tests.fixtures.sandbox import SANDBOX_BALANCE, SANDBOX_TOKEN, SandboxHandle

INDIA_V2, INDIA_COMPAT = 14, 22
RUSSIA_V2, RUSSIA_COMPAT = 1, 0
TELEGRAM_V2, TELEGRAM_CODE = 3, "tg"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        yield client


class Api:
    """Both protocols of one sandbox, as the bot's HTTP client would call them."""

    def __init__(self, client: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
        self.client = client
        self.sandbox = sandbox

    async def v2(self, method: str, token: str = SANDBOX_TOKEN, **params: Any) -> Any:
        response = await self.client.get(
            self.sandbox.v2_url + method, params={"token": token, **params}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    async def compat(self, action: str, api_key: str = SANDBOX_TOKEN, **params: Any) -> str:
        response = await self.client.get(
            self.sandbox.compat_url, params={"action": action, "api_key": api_key, **params}
        )
        assert response.status_code == 200
        return response.text

    async def buy_v2(self, country: int = INDIA_V2, service: int = TELEGRAM_V2) -> int:
        answer = await self.v2("get-number", country_id=country, application_id=service)
        assert isinstance(answer["request_id"], int)
        return int(answer["request_id"])

    async def buy_compat(self, country: int = INDIA_COMPAT, service: str = TELEGRAM_CODE) -> int:
        answer = await self.compat("getNumber", country=country, service=service)
        assert answer.startswith("ACCESS_NUMBER:")
        return int(answer.split(":")[1])


@pytest.fixture
def api(client: httpx.AsyncClient, sandbox: SandboxHandle) -> Api:
    return Api(client, sandbox)


def price(sandbox: SandboxHandle, country: int = INDIA_V2, service: int = TELEGRAM_V2) -> Decimal:
    return sandbox.state.catalog.offers[(country, service)].cost


def wrong_token(message: object) -> dict[str, object]:
    return {"success": False, "error_code": "wrong_token", "error_msg": message}


# --- balance and lists --------------------------------------------------------------------


async def test_balance_in_both_protocols(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.add_account("poor", "12.5")
    assert await api.v2("get-balance") == {"balance": str(SANDBOX_BALANCE)}
    assert await api.v2("get-balance", token="poor") == {"balance": "12.50"}
    assert await api.compat("getBalance", api_key="poor") == "ACCESS_BALANCE:12.50"


async def test_v2_accepts_post_form_and_query(api: Api, sandbox: SandboxHandle) -> None:
    response = await api.client.post(
        sandbox.v2_url + "get-balance", data={"token": "sandbox-token"}
    )
    assert response.json() == {"balance": "1000.00"}
    compat = await api.client.post(
        sandbox.compat_url, data={"action": "getBalance", "api_key": SANDBOX_TOKEN}
    )
    assert compat.text == "ACCESS_BALANCE:1000.00"


async def test_wrong_token_shapes_differ_by_method(api: Api) -> None:
    for method in ("get-balance", "set-status", "countries", "applications"):
        assert await api.v2(method, token="nope") == wrong_token("Wrong token!"), method
    for method in ("limits", "get-number", "get-prices", "get-sms"):
        assert await api.v2(method, token="nope") == wrong_token({"token": "Wrong token!"}), method
    assert await api.v2("get-balance", token="") == wrong_token("Wrong token!")
    for action in ("getBalance", "getPrices", "getNumber", "getStatus", "setStatus"):
        assert await api.compat(action, api_key="nope") == "BAD_KEY", action


async def test_v2_countries_keyed_by_id_and_applications_as_list(api: Api) -> None:
    countries = await api.v2("countries")
    assert isinstance(countries, dict) and len(countries) >= 40
    assert countries["14"] == {"id": 14, "title": "India", "code": "in"}
    assert countries["1"] == {"id": 1, "title": "Russia", "code": "ru"}
    applications = await api.v2("applications")
    assert isinstance(applications, list) and len(applications) >= 25
    names = {item["name"] for item in applications}
    assert {"Telegram", "WhatsApp", "Discord", "OpenAI", "Tinder"} <= names
    assert {"id": "3", "name": "Telegram", "code": "tg"} in applications


async def test_v2_list_shapes_can_be_switched(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(shapes={"countries": "list", "applications": "object", "limits": "object"})
    countries = await api.v2("countries")
    assert {"id": 14, "title": "India", "code": "in"} in countries
    applications = await api.v2("applications")
    assert applications["3"] == {"id": "3", "title": "Telegram", "code": "tg"}
    limits = await api.v2("limits", country_id=INDIA_V2)
    assert limits["3"]["country_id"] == "14"


async def test_v2_prices_nested_without_country_and_flat_with_one(
    api: Api, sandbox: SandboxHandle
) -> None:
    nested = await api.v2("get-prices")
    assert len(nested) >= 40
    telegram_india = nested["14"]["3"]
    assert telegram_india["cost"] == str(price(sandbox))
    assert isinstance(telegram_india["count"], int)
    flat = await api.v2("get-prices", country_id=INDIA_V2)
    assert flat["3"] == {
        "cost": str(price(sandbox)),
        "count": str(telegram_india["count"]),
        "country_id": 14,
    }
    sandbox.configure(shapes={"prices": "nested"})
    assert set(await api.v2("get-prices", country_id=INDIA_V2)) == {"14"}
    assert await api.v2("get-prices", country_id=9999) == {}


async def test_catalog_has_prices_and_some_empty_stock(sandbox: SandboxHandle) -> None:
    offers = sandbox.state.catalog.offers.values()
    assert any(offer.count == 0 for offer in offers)
    assert all(
        offer.cost >= Decimal("2.00") and offer.cost.as_tuple().exponent == -2 for offer in offers
    )


async def test_v2_limits_list_of_strings(api: Api) -> None:
    limits = await api.v2("limits", country_id=INDIA_V2, application_id=TELEGRAM_V2)
    assert len(limits) == 1
    (row,) = limits
    assert row["application_id"] == "3" and row["country_id"] == "14"
    assert row["numbers"].isdigit()
    assert await api.v2("limits", country_id=9999) == []


async def test_compat_lists_use_their_own_ids(api: Api, sandbox: SandboxHandle) -> None:
    countries = json.loads(await api.compat("getCountries"))
    assert {"id": 22, "name": "Индия", "name_en": "India"} in countries
    assert {"id": 0, "name": "Россия", "name_en": "Russia"} in countries
    services = json.loads(await api.compat("getServices"))
    assert {"id": "tg", "name": "Telegram"} in services
    prices = json.loads(await api.compat("getPrices", country=22, service="tg"))
    assert prices == {
        "22": {
            "tg": {
                "cost": str(price(sandbox)),
                "count": sandbox.state.catalog.offers[(14, 3)].count,
            }
        }
    }
    everything = json.loads(await api.compat("getPrices"))
    assert "0" in everything and "wa" in everything["0"]
    assert await api.compat("getPrices", service="nope") == "{}"


# --- buying -------------------------------------------------------------------------------


async def test_v2_buy_debits_the_price(api: Api, sandbox: SandboxHandle) -> None:
    answer = await api.v2("get-number", country_id=INDIA_V2, application_id=TELEGRAM_V2)
    assert answer["country_id"] == 14 and answer["application_id"] == 3
    assert answer["number"].startswith("91") and answer["number"].isdigit()
    assert len(answer["number"]) == 12
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE - price(sandbox)
    activation = sandbox.activation(answer["request_id"])
    assert activation.status == "waiting" and activation.cost == price(sandbox)


async def test_compat_buy_debits_the_price(api: Api, sandbox: SandboxHandle) -> None:
    activation_id = await api.buy_compat()
    activation = sandbox.activation(activation_id)
    assert activation.country.v2_id == INDIA_V2 and activation.service.v2_id == TELEGRAM_V2
    assert await api.compat("getBalance") == f"ACCESS_BALANCE:{SANDBOX_BALANCE - price(sandbox)}"
    # Russia is the default country of the compatible protocol
    default = sandbox.activation(int((await api.compat("getNumber", service="wa")).split(":")[1]))
    assert default.country.compat_id == RUSSIA_COMPAT and default.number.startswith("79")


async def test_v2_any_country_buys_the_cheapest(api: Api, sandbox: SandboxHandle) -> None:
    answer = await api.v2("get-number", country_id=0, application_id=TELEGRAM_V2)
    cheapest = min(
        offer.cost
        for (country, service), offer in sandbox.state.catalog.offers.items()
        if service == TELEGRAM_V2 and offer.count > 0
    )
    assert sandbox.activation(answer["request_id"]).cost == cheapest


async def test_no_numbers(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="40", count=0)
    no_numbers = {"success": False, "error_code": "no_numbers", "error_msg": "No numbers"}
    assert await api.v2("get-number", country_id=INDIA_V2, application_id=TELEGRAM_V2) == no_numbers
    assert await api.v2("get-number", country_id=INDIA_V2, application_id=999) == no_numbers
    assert await api.v2("get-number", country_id=999, application_id=TELEGRAM_V2) == no_numbers
    assert await api.compat("getNumber", country=INDIA_COMPAT, service="tg") == "NO_NUMBERS"
    assert await api.compat("getNumber", country=999, service="tg") == "NO_NUMBERS"
    assert await api.compat("getNumber", country=INDIA_COMPAT, service="zz") == "BAD_SERVICE"
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE


async def test_max_price_refusal(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="15.50", count=10)
    refused = await api.v2(
        "get-number", country_id=INDIA_V2, application_id=TELEGRAM_V2, maxPrice="15"
    )
    assert refused == {
        "success": False,
        "error_code": "no_numbers",
        "error_msg": "No numbers at this price",
    }
    compat = await api.compat("getNumber", country=INDIA_COMPAT, service="tg", maxPrice="15")
    assert compat == "WRONG_MAX_PRICE:15.50"
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE
    bought = await api.v2(
        "get-number", country_id=INDIA_V2, application_id=TELEGRAM_V2, maxPrice="16"
    )
    assert "request_id" in bought
    assert (await api.compat("getNumber", country=22, service="tg", maxPrice="16")).startswith(
        "ACCESS_NUMBER:"
    )


async def test_v2_reads_max_price_as_the_integer_it_is_documented_to_be(
    api: Api, sandbox: SandboxHandle
) -> None:
    sandbox.state.set_offer(INDIA_V2, TELEGRAM_V2, cost="20", count=10)
    bought = await api.v2(
        "get-number", country_id=INDIA_V2, application_id=TELEGRAM_V2, maxPrice="15.5"
    )
    assert "request_id" in bought, "a fraction is not understood, so it caps nothing"
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE - 20


async def test_not_enough_balance(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.add_account("poor", "1.00")
    answer = await api.v2(
        "get-number", token="poor", country_id=INDIA_V2, application_id=TELEGRAM_V2
    )
    assert answer["success"] is False and answer["error_code"] == "balance"
    assert await api.compat("getNumber", api_key="poor", country=22, service="tg") == "NO_BALANCE"
    assert sandbox.balance("poor") == Decimal("1.00")


# --- SMS ----------------------------------------------------------------------------------


async def test_v2_sms_on_command(api: Api, sandbox: SandboxHandle) -> None:
    request_id = await api.buy_v2()
    waiting = await api.v2("get-sms", request_id=request_id)
    activation = sandbox.activation(request_id)
    assert waiting == {
        "request_id": str(request_id),
        "country_id": 14,
        "application_id": 3,
        "number": activation.number,
        "error_code": "wait_sms",
        "error_msg": "Still waiting...",
    }
    sms = sandbox.deliver_sms(request_id, "123456")
    assert abs(sms.arrived_at - sandbox.state.now()) < 5
    answer = await api.v2("get-sms", request_id=request_id)
    assert answer["sms_code"] == "123456" and answer["request_id"] == str(request_id)
    assert "error_code" not in answer


async def test_compat_sms_on_command(api: Api, sandbox: SandboxHandle) -> None:
    activation_id = await api.buy_compat()
    assert await api.compat("getStatus", id=activation_id) == "STATUS_WAIT_CODE"
    sandbox.deliver_sms(activation_id, "4242")
    assert await api.compat("getStatus", id=activation_id) == "STATUS_OK:4242"


async def test_sms_by_delay_arrives_when_due(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(sms_delay=30)
    request_id = await api.buy_v2()
    assert (await api.v2("get-sms", request_id=request_id))["error_code"] == "wait_sms"
    sandbox.advance(31)
    answer = await api.v2("get-sms", request_id=request_id)
    code = answer["sms_code"]
    assert len(code) == 6 and code.isdigit()
    activation = sandbox.activation(request_id)
    assert activation.sms[0].arrived_at == pytest.approx(activation.created_at + 30)


async def test_sms_delay_range_and_real_time(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(sms_delay=[10, 20])
    activation_id = await api.buy_compat()
    activation = sandbox.activation(activation_id)
    assert activation.next_sms_at is not None
    assert 10 <= activation.next_sms_at - activation.created_at <= 20
    sandbox.configure(sms_delay=0)
    instant = await api.buy_compat()
    assert (await api.compat("getStatus", id=instant)).startswith("STATUS_OK:")


async def test_another_code(api: Api, sandbox: SandboxHandle) -> None:
    request_id = await api.buy_v2()
    sandbox.deliver_sms(request_id, "111111")
    assert await api.v2("set-status", request_id=request_id, status="ready") == {
        "request_id": request_id,
        "success": True,
    }
    assert (await api.v2("get-sms", request_id=request_id))["error_code"] == "wait_sms"
    assert await api.compat("getStatus", id=request_id) == "STATUS_WAIT_RETRY:111111"
    sandbox.deliver_sms(request_id, "222222")
    assert (await api.v2("get-sms", request_id=request_id))["sms_code"] == "222222"
    assert await api.compat("setStatus", id=request_id, status=3) == "ACCESS_RETRY_GET"
    assert await api.compat("getStatus", id=request_id) == "STATUS_WAIT_RETRY:222222"
    sandbox.deliver_sms(request_id, "333333")
    assert sandbox.activation(request_id).codes == ["111111", "222222", "333333"]


async def test_another_code_by_delay(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(sms_delay=5)
    activation_id = await api.buy_compat()
    sandbox.advance(6)
    first = (await api.compat("getStatus", id=activation_id)).removeprefix("STATUS_OK:")
    assert await api.compat("setStatus", id=activation_id, status=3) == "ACCESS_RETRY_GET"
    assert await api.compat("getStatus", id=activation_id) == f"STATUS_WAIT_RETRY:{first}"
    sandbox.advance(6)
    assert (await api.compat("getStatus", id=activation_id)).startswith("STATUS_OK:")
    assert len(sandbox.activation(activation_id).codes) == 2


# --- finishing and cancelling -------------------------------------------------------------


async def test_finish_keeps_the_money(api: Api, sandbox: SandboxHandle) -> None:
    request_id = await api.buy_v2()
    sandbox.deliver_sms(request_id, "5555")
    assert (await api.v2("set-status", request_id=request_id, status="close"))["success"] is True
    assert sandbox.activation(request_id).status == "finished"
    assert (await api.v2("get-sms", request_id=request_id))["sms_code"] == "5555"
    assert await api.compat("getStatus", id=request_id) == "STATUS_OK:5555"
    assert await api.v2("set-status", request_id=request_id, status="reject") == {
        "success": False,
        "error_code": "change_status",
        "error_msg": "The status of this request has already been changed",
    }
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE - price(sandbox)


async def test_compat_statuses(api: Api, sandbox: SandboxHandle) -> None:
    activation_id = await api.buy_compat()
    assert await api.compat("setStatus", id=activation_id, status=1) == "ACCESS_READY"
    sandbox.deliver_sms(activation_id, "777")
    assert await api.compat("setStatus", id=activation_id, status=6) == "ACCESS_ACTIVATION"
    assert await api.compat("setStatus", id=activation_id, status=6) == "BAD_STATUS"
    assert await api.compat("setStatus", id=activation_id, status=42) == "BAD_STATUS"
    assert await api.compat("setStatus", id=999, status=8) == "NO_ACTIVATION"
    # finishing before any code is a cancel: the money comes back
    unused = await api.buy_compat()
    assert await api.compat("setStatus", id=unused, status=6) == "ACCESS_CANCEL"
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE - price(sandbox)


@pytest.mark.parametrize("status", ["reject", "used"])
async def test_v2_cancel_refunds_once(api: Api, sandbox: SandboxHandle, status: str) -> None:
    request_id = await api.buy_v2()
    answer = await api.v2("set-status", request_id=request_id, status=status)
    assert answer == {"request_id": request_id, "success": True}
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE
    again = await api.v2("set-status", request_id=request_id, status=status)
    assert again["error_code"] == "change_status"
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE
    cancelled = await api.v2("get-sms", request_id=request_id)
    assert cancelled["success"] is False and cancelled["error_code"] == "wrong_status"
    assert await api.compat("getStatus", id=request_id) == "STATUS_CANCEL"


@pytest.mark.parametrize("status", ["8", "-1"])
async def test_compat_cancel_refunds_once(api: Api, sandbox: SandboxHandle, status: str) -> None:
    activation_id = await api.buy_compat()
    assert await api.compat("setStatus", id=activation_id, status=status) == "ACCESS_CANCEL"
    assert await api.compat("setStatus", id=activation_id, status=status) == "ACCESS_CANCEL"
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE
    assert await api.compat("getStatus", id=activation_id) == "STATUS_CANCEL"
    assert sandbox.activation(activation_id).status == "cancelled"


async def test_cancel_after_the_code_is_refused(api: Api, sandbox: SandboxHandle) -> None:
    request_id = await api.buy_v2()
    sandbox.deliver_sms(request_id, "9999")
    refused = await api.v2("set-status", request_id=request_id, status="reject")
    assert refused["success"] is False and refused["error_code"] == "wrong_status"
    assert await api.compat("setStatus", id=request_id, status=8) == "BAD_STATUS"
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE - price(sandbox)


async def test_unknown_status_and_request(api: Api, sandbox: SandboxHandle) -> None:
    request_id = await api.buy_v2()
    assert await api.v2("set-status", request_id=request_id, status="later") == {
        "success": False,
        "error_code": "wrong_status",
        "error_msg": "Status later does not exists",
    }
    not_exists = {
        "success": False,
        "error_code": "wrong_request_id",
        "error_msg": "Current request not exists",
    }
    assert await api.v2("get-sms", request_id=1) == not_exists
    assert await api.v2("get-sms", request_id="abc") == not_exists
    assert await api.v2("set-status", request_id=1, status="reject") == not_exists
    assert await api.compat("getStatus", id=1) == "NO_ACTIVATION"
    # another account's activation does not exist for this one
    sandbox.add_account("other", 100)
    assert await api.v2("get-sms", token="other", request_id=request_id) == not_exists
    assert await api.compat("setStatus", api_key="other", id=request_id, status=8) == (
        "NO_ACTIVATION"
    )
    assert sandbox.activation(request_id).status == "waiting"


async def test_compat_bad_action(api: Api) -> None:
    assert await api.compat("getEverything") == "BAD_ACTION"
    assert await api.compat("getEverything", api_key="nope") == "BAD_KEY"


async def test_v2_unknown_method_is_404(api: Api, sandbox: SandboxHandle) -> None:
    response = await api.client.get(sandbox.v2_url + "get-everything", params={"token": "x"})
    assert response.status_code == 404


# --- lifetime -----------------------------------------------------------------------------


async def test_expiry_cancels_and_refunds(api: Api, sandbox: SandboxHandle) -> None:
    request_id = await api.buy_v2()
    activation_id = await api.buy_compat()
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE - 2 * price(sandbox)
    sandbox.advance(1201)
    # the balance is settled even though nobody polled the activations
    assert await api.v2("get-balance") == {"balance": str(SANDBOX_BALANCE)}
    assert (await api.v2("get-sms", request_id=request_id))["error_msg"] == (
        "Current request not exists"
    )
    set_status = await api.v2("set-status", request_id=request_id, status="reject")
    assert set_status["error_msg"] == "Current request not exists"
    assert await api.compat("getStatus", id=activation_id) == "STATUS_CANCEL"
    expired: Activation = sandbox.activation(activation_id)
    assert expired.status == "cancelled" and expired.expired and expired.refunded
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE


async def test_expiry_after_a_code_finishes(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(activation_lifetime=60)
    request_id = await api.buy_v2()
    sandbox.deliver_sms(request_id, "8080")
    sandbox.advance(61)
    assert (await api.v2("get-sms", request_id=request_id))["sms_code"] == "8080"
    assert sandbox.activation(request_id).status == "finished"
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE - price(sandbox)


async def test_sms_due_after_expiry_never_arrives(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(sms_delay=100, activation_lifetime=50)
    activation_id = await api.buy_compat()
    sandbox.advance(200)
    assert await api.compat("getStatus", id=activation_id) == "STATUS_CANCEL"
    assert sandbox.activation(activation_id).codes == []


async def test_early_cancel_is_refused(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(early_cancel_seconds=120)
    request_id = await api.buy_v2()
    activation_id = await api.buy_compat()
    refused = await api.v2("set-status", request_id=request_id, status="reject")
    assert refused["success"] is False and refused["error_code"] == "early_cancel"
    assert await api.compat("setStatus", id=activation_id, status=8) == "EARLY_CANCEL_DENIED"
    # finishing before any code is a cancel too
    assert await api.compat("setStatus", id=activation_id, status=6) == "EARLY_CANCEL_DENIED"
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE - 2 * price(sandbox)
    sandbox.advance(121)
    assert (await api.v2("set-status", request_id=request_id, status="reject"))["success"]
    assert await api.compat("setStatus", id=activation_id, status=8) == "ACCESS_CANCEL"
    assert sandbox.balance(SANDBOX_TOKEN) == SANDBOX_BALANCE
