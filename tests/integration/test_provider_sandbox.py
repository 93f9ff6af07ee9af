"""Both providers end to end over real HTTP (the aiohttp-backed client) against the sandbox.

Ids are never hard-coded: each test finds Russia and Telegram in the provider's own lists,
because the two protocols number them differently.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

import pytest

from bot.provider import (
    ActivationNotFound,
    ActivationStatus,
    CompatProvider,
    EarlyCancelDenied,
    NoBalance,
    NoNumbers,
    PriceTooHigh,
    Provider,
    ProviderBudget,
    ProviderUnavailable,
    RetryPolicy,
    V2Provider,
    WrongToken,
    create_http_client,
)
from tests.fixtures.sandbox import SandboxHandle

TOKEN = "integration-token-0123456789"
START = Decimal("500.00")


@dataclass
class Setup:
    provider: Provider
    sandbox: SandboxHandle
    country_id: str  # Russia, in this protocol's numbering
    service_id: str  # Telegram, in this protocol's numbering


@pytest.fixture(params=["v2", "compat"])
async def setup(request: pytest.FixtureRequest, sandbox: SandboxHandle) -> AsyncIterator[Setup]:
    sandbox.add_account(TOKEN, START)
    http = create_http_client()
    budget = ProviderBudget.unlimited().interactive
    retry = RetryPolicy(base_delay=0.01, max_delay=0.05)
    provider: Provider
    if request.param == "v2":
        provider = V2Provider(http, sandbox.v2_url, budget=budget, ref="ref1", retry=retry)
    else:
        provider = CompatProvider(http, sandbox.compat_url, budget=budget, ref="ref1", retry=retry)
    try:
        countries = await provider.get_countries(TOKEN)
        services = await provider.get_services(TOKEN)
        russia = next(c for c in countries if c.name == "Russia")
        telegram = next(s for s in services if s.code == "tg")
        yield Setup(provider, sandbox, russia.id, telegram.id)
    finally:
        await provider.aclose()
        await http.aclose()


async def buy(setup: Setup, max_price: Decimal | None = Decimal(1000)) -> str:
    activation = await setup.provider.buy_number(
        TOKEN, service_id=setup.service_id, country_id=setup.country_id, max_price=max_price
    )
    return activation.id


async def test_balance_is_the_accounts(setup: Setup) -> None:
    assert await setup.provider.get_balance(TOKEN) == START


async def test_lists_have_readable_names(setup: Setup) -> None:
    countries = {c.id: c for c in await setup.provider.get_countries(TOKEN)}
    services = await setup.provider.get_services(TOKEN)
    assert countries[setup.country_id].name == "Russia"
    assert len(countries) > 10
    assert any(s.id == setup.service_id for s in services)
    if setup.provider.name == "v2":  # v2 countries carry their ISO code
        assert countries[setup.country_id].flag == "🇷🇺"


async def test_offers_for_a_country_and_for_one_service(setup: Setup) -> None:
    in_russia = await setup.provider.get_offers(TOKEN, country_id=setup.country_id)
    assert len(in_russia) > 1
    assert {o.country_id for o in in_russia} == {setup.country_id}
    [telegram] = await setup.provider.get_offers(
        TOKEN, country_id=setup.country_id, service_id=setup.service_id
    )
    assert telegram.price > 0
    assert telegram.stock > 0
    everywhere = await setup.provider.get_offers(TOKEN, service_id=setup.service_id)
    assert len({o.country_id for o in everywhere}) > 1


async def test_buying_debits_the_balance_by_the_offered_price(setup: Setup) -> None:
    [offer] = await setup.provider.get_offers(
        TOKEN, country_id=setup.country_id, service_id=setup.service_id
    )
    activation = await setup.provider.buy_number(
        TOKEN, service_id=setup.service_id, country_id=setup.country_id, max_price=offer.price
    )
    assert activation.number.isdigit()
    assert activation.number.startswith("7")  # Russia
    assert activation.status is ActivationStatus.WAITING
    assert await setup.provider.get_balance(TOKEN) == START - offer.price
    assert setup.sandbox.activation(activation.id).cost == offer.price


async def test_a_code_arrives_another_is_asked_for_and_the_activation_is_finished(
    setup: Setup,
) -> None:
    activation_id = await buy(setup)
    provider = setup.provider
    assert (await provider.get_activation(TOKEN, activation_id)).status is ActivationStatus.WAITING

    setup.sandbox.deliver_sms(activation_id, "111111")
    first = await provider.get_activation(TOKEN, activation_id)
    assert (first.status, first.code) == (ActivationStatus.CODE, "111111")

    await provider.request_another_code(TOKEN, activation_id)
    waiting = await provider.get_activation(TOKEN, activation_id)
    assert waiting.status in (ActivationStatus.WAITING, ActivationStatus.WAIT_RETRY)

    setup.sandbox.deliver_sms(activation_id, "222222")
    second = await provider.get_activation(TOKEN, activation_id)
    assert (second.status, second.code) == (ActivationStatus.CODE, "222222")

    paid = await provider.get_balance(TOKEN)
    await provider.finish(TOKEN, activation_id)
    assert setup.sandbox.activation(activation_id).status == "finished"
    assert await provider.get_balance(TOKEN) == paid < START  # finishing keeps the money


async def test_cancelling_refunds_and_cancelling_again_is_harmless(setup: Setup) -> None:
    activation_id = await buy(setup)
    assert await setup.provider.get_balance(TOKEN) < START

    await setup.provider.cancel(TOKEN, activation_id)
    assert await setup.provider.get_balance(TOKEN) == START
    cancelled = await setup.provider.get_activation(TOKEN, activation_id)
    assert cancelled.status is ActivationStatus.CANCELLED

    await setup.provider.cancel(TOKEN, activation_id)
    assert await setup.provider.get_balance(TOKEN) == START  # refunded once


async def test_a_cancel_in_the_first_minutes_can_be_refused(setup: Setup) -> None:
    setup.sandbox.configure(early_cancel_seconds=120)
    activation_id = await buy(setup)
    with pytest.raises(EarlyCancelDenied):
        await setup.provider.cancel(TOKEN, activation_id)
    setup.sandbox.advance(121)
    await setup.provider.cancel(TOKEN, activation_id)
    assert await setup.provider.get_balance(TOKEN) == START


async def test_a_wrong_token_is_reported(setup: Setup) -> None:
    with pytest.raises(WrongToken):
        await setup.provider.get_balance("not-a-real-token")
    with pytest.raises(WrongToken):
        await setup.provider.buy_number(
            "not-a-real-token",
            service_id=setup.service_id,
            country_id=setup.country_id,
            max_price=None,
        )


async def test_no_numbers_is_reported(setup: Setup) -> None:
    setup.sandbox.set_fault("no_numbers")
    with pytest.raises(NoNumbers):
        await buy(setup)
    assert await setup.provider.get_balance(TOKEN) == START


async def test_a_price_cap_below_the_price_buys_nothing(setup: Setup) -> None:
    [offer] = await setup.provider.get_offers(
        TOKEN, country_id=setup.country_id, service_id=setup.service_id
    )
    if setup.provider.name == "v2":  # maxPrice is an integer there
        expected: type[Exception] = NoNumbers
        cap = offer.price.to_integral_value(rounding=ROUND_CEILING) - 1
    else:
        expected, cap = PriceTooHigh, offer.price - Decimal("0.01")
    with pytest.raises(expected):
        await buy(setup, max_price=cap)
    assert await setup.provider.get_balance(TOKEN) == START


async def test_an_empty_balance_is_reported(setup: Setup) -> None:
    setup.sandbox.add_account(TOKEN, Decimal("0.01"))
    with pytest.raises(NoBalance):
        await buy(setup)


async def test_an_unknown_activation_is_not_found(setup: Setup) -> None:
    with pytest.raises(ActivationNotFound):
        await setup.provider.get_activation(TOKEN, "987654")


async def test_reads_ride_out_a_brief_outage_but_a_purchase_is_sent_once(setup: Setup) -> None:
    setup.sandbox.set_fault("5xx", count=2)
    assert await setup.provider.get_balance(TOKEN) == START

    setup.sandbox.set_fault("5xx", count=1)
    with pytest.raises(ProviderUnavailable):
        await buy(setup)
    assert setup.sandbox.state.all_activations(TOKEN) == []
    assert await buy(setup)  # the outage is over


async def test_a_cut_off_answer_is_unavailable(setup: Setup) -> None:
    setup.sandbox.set_fault("malformed")
    with pytest.raises(ProviderUnavailable):
        await setup.provider.get_countries(TOKEN)
