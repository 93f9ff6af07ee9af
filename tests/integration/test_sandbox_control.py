"""The sandbox's injected faults, control endpoint and command line."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.sandbox import SandboxState
from bot.sandbox.__main__ import build_state, parse_args
from tests.fixtures.sandbox import SANDBOX_BALANCE, SANDBOX_TOKEN, SandboxHandle

INDIA_V2, TELEGRAM_V2 = 14, 3


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        yield client


async def v2(
    client: httpx.AsyncClient, sandbox: SandboxHandle, method: str, **params: Any
) -> httpx.Response:
    return await client.get(sandbox.v2_url + method, params={"token": SANDBOX_TOKEN, **params})


async def compat(
    client: httpx.AsyncClient, sandbox: SandboxHandle, action: str, **params: Any
) -> httpx.Response:
    return await client.get(
        sandbox.compat_url, params={"action": action, "api_key": SANDBOX_TOKEN, **params}
    )


async def control(
    client: httpx.AsyncClient, sandbox: SandboxHandle, path: str, body: Any = None
) -> httpx.Response:
    url = sandbox.url + "/sandbox/" + path
    if body is None:
        return await client.get(url)
    return await client.post(url, json=body)


# --- faults -------------------------------------------------------------------------------


async def test_5xx_fault_answers_html_and_does_nothing(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    answer = await control(client, sandbox, "faults", {"mode": "5xx", "count": 2})
    assert answer.json()["mode"] == "5xx"
    failed = await v2(client, sandbox, "get-number", country_id=INDIA_V2, application_id=3)
    assert failed.status_code == 502
    assert failed.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in failed.text
    compat_failed = await compat(client, sandbox, "getNumber", country=22, service="tg")
    assert compat_failed.status_code == 502
    assert sandbox.state.activations == {}
    # the count is used up: the next request is served
    assert (await v2(client, sandbox, "get-balance")).json() == {"balance": "1000.00"}
    await control(client, sandbox, "faults", {"mode": "5xx", "status": 503})
    assert (await v2(client, sandbox, "get-balance")).status_code == 503
    assert (await v2(client, sandbox, "get-balance")).status_code == 503  # until cleared
    await control(client, sandbox, "faults", {"mode": None})
    assert (await v2(client, sandbox, "get-balance")).status_code == 200


async def test_slow_fault_delays_the_answer(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    await control(client, sandbox, "faults", {"mode": "slow", "delay": 0.3, "count": 1})
    started = time.monotonic()
    answer = await compat(client, sandbox, "getBalance")
    assert time.monotonic() - started >= 0.29
    assert answer.text == "ACCESS_BALANCE:1000.00"
    with pytest.raises(httpx.ReadTimeout):
        sandbox.set_fault("slow", delay=1.0, count=1)
        await client.get(
            sandbox.v2_url + "get-balance", params={"token": SANDBOX_TOKEN}, timeout=0.1
        )


async def test_malformed_fault_truncates_but_the_request_takes_effect(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    await control(client, sandbox, "faults", {"mode": "malformed", "count": 3})
    bought = await v2(client, sandbox, "get-number", country_id=INDIA_V2, application_id=3)
    assert bought.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        bought.json()
    assert bought.text.startswith('{"request_id":')
    assert len(sandbox.state.activations) == 1  # charged: the answer was lost, not the buy
    text = await compat(client, sandbox, "getBalance")
    assert text.status_code == 200 and not text.text.startswith("ACCESS_")
    listing = await compat(client, sandbox, "getServices")
    with pytest.raises(json.JSONDecodeError):
        json.loads(listing.text)
    assert (await compat(client, sandbox, "getBalance")).text.startswith("ACCESS_BALANCE:")


async def test_no_numbers_fault_hits_purchases_only(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    await control(client, sandbox, "faults", {"mode": "no_numbers", "count": 2})
    assert (await v2(client, sandbox, "get-balance")).json() == {"balance": "1000.00"}
    refused = await v2(client, sandbox, "get-number", country_id=INDIA_V2, application_id=3)
    assert refused.json()["error_code"] == "no_numbers"
    assert (await compat(client, sandbox, "getNumber", country=22, service="tg")).text == (
        "NO_NUMBERS"
    )
    assert sandbox.state.faults.fault is None
    assert (await compat(client, sandbox, "getNumber", country=22, service="tg")).text.startswith(
        "ACCESS_NUMBER:"
    )


async def test_wrong_token_fault_limited_to_methods(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    await control(
        client, sandbox, "faults", {"mode": "wrong_token", "methods": ["get-sms", "getStatus"]}
    )
    assert (await v2(client, sandbox, "get-balance")).json() == {"balance": "1000.00"}
    request_id = (
        await v2(client, sandbox, "get-number", country_id=INDIA_V2, application_id=3)
    ).json()["request_id"]
    assert (await v2(client, sandbox, "get-sms", request_id=request_id)).json() == {
        "success": False,
        "error_code": "wrong_token",
        "error_msg": {"token": "Wrong token!"},
    }
    assert (await compat(client, sandbox, "getStatus", id=request_id)).text == "BAD_KEY"
    current = (await control(client, sandbox, "faults")).json()
    assert current["mode"] == "wrong_token" and current["methods"] == ["get-sms", "getStatus"]


async def test_bad_fault_is_400(client: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    assert (await control(client, sandbox, "faults", {"mode": "flood"})).status_code == 400
    assert (
        await control(client, sandbox, "faults", {"mode": "5xx", "status": 200})
    ).status_code == (400)
    assert (
        await control(client, sandbox, "faults", {"mode": "5xx", "count": "x"})
    ).status_code == (400)
    assert sandbox.state.faults.fault is None


# --- control endpoint ---------------------------------------------------------------------


async def test_accounts(client: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    created = await control(client, sandbox, "accounts", {"token": "alice", "balance": "100"})
    assert created.json() == {"token": "alice", "balance": "100.00"}
    assert (await control(client, sandbox, "accounts/alice")).json() == {
        "token": "alice",
        "balance": "100.00",
    }
    await control(client, sandbox, "accounts", {"token": "alice", "balance": 7.5})
    assert sandbox.balance("alice") == Decimal("7.50")
    assert (await control(client, sandbox, "accounts/bob")).status_code == 404
    assert (await control(client, sandbox, "accounts", {"token": ""})).status_code == 400
    bad_balance = {"token": "carol", "balance": "lots"}
    assert (await control(client, sandbox, "accounts", bad_balance)).status_code == 400
    assert (await v2(client, sandbox, "get-balance", token="alice")).json() == {"balance": "7.50"}


async def test_activations_and_sms(client: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    sandbox.add_account("alice", 500)
    first = (await v2(client, sandbox, "get-number", country_id=INDIA_V2, application_id=3)).json()[
        "request_id"
    ]
    second = (
        await v2(client, sandbox, "get-number", token="alice", country_id=1, application_id=4)
    ).json()["request_id"]
    listed = (await control(client, sandbox, "activations")).json()
    assert [item["id"] for item in listed] == [first, second]
    only_alice = (await client.get(sandbox.url + "/sandbox/activations?token=alice")).json()
    assert [item["id"] for item in only_alice] == [second]
    one = (await control(client, sandbox, f"activations/{first}")).json()
    assert set(one) >= {
        "id", "token", "number", "country_id", "service_id", "cost", "status", "codes", "sms",
        "created_at", "expires_at",
    }  # fmt: skip
    assert one["token"] == SANDBOX_TOKEN and one["status"] == "waiting"
    assert one["country_id"] == 14 and one["service_id"] == 3 and one["compat_country"] == 22
    assert one["expires_at"] - one["created_at"] == pytest.approx(1200)

    before = time.time()
    delivered = await control(client, sandbox, f"activations/{first}/sms", {"code": "123456"})
    assert delivered.status_code == 200
    body = delivered.json()
    assert body["codes"] == ["123456"] and body["status"] == "code"
    assert before - 1 <= body["sms"][0]["arrived_at"] <= time.time() + 1
    random_code = (await control(client, sandbox, f"activations/{second}/sms", {})).json()
    assert len(random_code["codes"][0]) == 6
    waiting = (await client.get(sandbox.url + "/sandbox/activations?status=code")).json()
    assert len(waiting) == 2

    await v2(client, sandbox, "set-status", request_id=first, status="close")
    closed = await control(client, sandbox, f"activations/{first}/sms", {"code": "1"})
    assert closed.status_code == 409
    assert (await control(client, sandbox, "activations/42/sms", {"code": "1"})).status_code == 404
    assert (await control(client, sandbox, "activations/42")).status_code == 404
    assert (await control(client, sandbox, "activations/abc")).status_code == 404


async def test_config(client: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    defaults = (await control(client, sandbox, "config")).json()
    assert defaults["sms_delay"] is None and defaults["activation_lifetime"] == 1200
    assert defaults["early_cancel_seconds"] == 0
    changed = await control(
        client,
        sandbox,
        "config",
        {"sms_delay": [5, 30], "activation_lifetime": 600, "early_cancel_seconds": 60},
    )
    assert changed.json()["sms_delay"] == [5, 30]
    assert sandbox.state.config.activation_lifetime == 600
    partial = await control(client, sandbox, "config", {"sms_delay": 20})
    assert partial.json()["sms_delay"] == 20 and partial.json()["early_cancel_seconds"] == 60
    for bad in (
        {"sms_delay": [30, 5]},
        {"sms_delay": "soon"},
        {"activation_lifetime": 0},
        {"x": 1},
    ):
        assert (await control(client, sandbox, "config", bad)).status_code == 400, bad
    shapes = await control(client, sandbox, "config", {"shapes": {"countries": "list"}})
    assert shapes.json()["shapes"]["countries"] == "list"
    assert (
        await control(client, sandbox, "config", {"shapes": {"countries": "csv"}})
    ).status_code == (400)


async def test_reset(client: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    sandbox.add_account("alice", 5)
    sandbox.configure(sms_delay=3)
    sandbox.set_fault("slow", delay=0.01)
    await v2(client, sandbox, "get-number", country_id=INDIA_V2, application_id=3)
    assert (await control(client, sandbox, "reset", {})).json() == {"ok": True}
    assert sandbox.state.activations == {} and sandbox.state.faults.fault is None
    assert sandbox.state.accounts == {SANDBOX_TOKEN: SANDBOX_BALANCE}
    assert sandbox.state.config.sms_delay is None


async def test_clock_catalog_and_offers(client: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    catalog = (await control(client, sandbox, "catalog")).json()
    india = next(c for c in catalog["countries"] if c["iso"] == "in")
    assert india == {"id": 14, "compat_id": 22, "iso": "in", "name": "India"}
    assert {"id": 3, "code": "tg", "name": "Telegram"} in catalog["services"]

    offer = {"country_id": 14, "service_id": 3, "cost": "9.90", "count": 0}
    assert (await control(client, sandbox, "offers", offer)).json()["compat_service"] == "tg"
    prices = (await v2(client, sandbox, "get-prices", country_id=14)).json()
    assert prices["3"]["cost"] == "9.90" and prices["3"]["count"] == "0"
    unknown = {"country_id": 999, "service_id": 3, "cost": "1", "count": 1}
    assert (await control(client, sandbox, "offers", unknown)).status_code == 404

    request_id = (await v2(client, sandbox, "get-number", country_id=1, application_id=3)).json()[
        "request_id"
    ]
    clock = (await control(client, sandbox, "clock", {"advance": 1300})).json()
    assert clock["offset"] == 1300
    assert sandbox.activation(request_id).expired
    assert (await control(client, sandbox, "clock", {"advance": -1})).status_code == 400


async def test_index_names_the_urls(client: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    text = (await client.get(sandbox.url + "/")).text
    assert sandbox.v2_url in text and sandbox.compat_url in text


# --- state, catalog and command line ------------------------------------------------------


def test_catalog_is_deterministic() -> None:
    first, second, other = SandboxState(), SandboxState(), SandboxState(seed=1)
    assert first.catalog.offers == second.catalog.offers
    assert first.catalog.offers != other.catalog.offers


def test_many_expired_activations_settle_in_one_request() -> None:
    now = [1_000_000.0]
    state = SandboxState(accounts={"bench": 1_000_000}, clock=lambda: now[0])
    country = state.catalog.country_by_v2[1]
    service = state.catalog.service_by_v2[3]
    for _ in range(10_000):
        state.buy("bench", service, country)
    assert state.balance("bench") < 1_000_000
    now[0] += 1201
    assert state.balance("bench") == Decimal("1000000.00")
    assert all(a.status == "cancelled" for a in state.activations.values())


def test_command_line() -> None:
    args = parse_args(
        ["--port", "9000", "--sms-delay", "5:30", "--account", "a=12.5", "--account", "b=1"]
    )
    assert args.port == 9000
    state = build_state(args)
    assert state.accounts == {"a": Decimal("12.50"), "b": Decimal("1.00")}
    assert state.config.sms_delay == (5.0, 30.0)
    defaults = build_state(parse_args([]))
    assert defaults.accounts == {"sandbox-token": Decimal("1000.00")}
    assert defaults.config.sms_delay is None and defaults.config.activation_lifetime == 1200
    assert build_state(parse_args(["--sms-delay", "20"])).config.sms_delay == 20.0
    with pytest.raises(SystemExit):
        parse_args(["--account", "no-balance"])
