"""CompatProvider against recorded answers of the sms-activate compatible handler_api.php."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from bot.provider import (
    ActivationNotFound,
    ActivationStatus,
    BadStatus,
    Banned,
    CompatProvider,
    EarlyCancelDenied,
    NoBalance,
    NoNumbers,
    PriceTooHigh,
    Provider,
    ProviderBudget,
    ProviderError,
    ProviderUnavailable,
    RetryPolicy,
    WrongToken,
)
from tests.unit.provider_fakes import (
    FakeProviderHttp,
    compat_fake,
    json_answer,
    no_sleep,
    text_answer,
)

TOKEN = "c0mpat-KEY-1234567890abcdef"
URL = "https://api.sms-man.test/stubs/handler_api.php"


@pytest.fixture
def fake() -> FakeProviderHttp:
    return compat_fake()


@pytest.fixture
async def provider(fake: FakeProviderHttp) -> AsyncIterator[CompatProvider]:
    async with fake.client() as http:
        yield CompatProvider(
            http,
            URL,
            budget=ProviderBudget.unlimited().interactive,
            ref="partner42",
            retry=RetryPolicy(attempts=3, sleep=no_sleep),
        )


async def test_compat_provider_satisfies_the_provider_interface(fake: FakeProviderHttp) -> None:
    async with fake.client() as http:
        provider: Provider = CompatProvider(
            http, URL, budget=ProviderBudget.unlimited().interactive
        )
        assert provider.name == "compat"


async def test_balance_is_read_from_the_access_balance_answer(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on("getBalance", text_answer("ACCESS_BALANCE:12.50"))
    assert await provider.get_balance(TOKEN) == Decimal("12.50")
    [sent] = fake.sent
    assert sent.method == "POST"
    assert sent.url == URL
    assert sent.form == {"action": "getBalance", "api_key": TOKEN}


# -- every error word ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error_type"),
    [
        ("BAD_KEY", WrongToken),
        ("BAD_ACTION", ProviderError),
        ("BAD_SERVICE", ProviderError),
        ("NO_NUMBERS", NoNumbers),
        ("NO_BALANCE", NoBalance),
        ("BANNED:2025-01-01 12:00:00", Banned),
        ("WRONG_MAX_PRICE:18.5", PriceTooHigh),
        ("ERROR_SQL", ProviderUnavailable),
    ],
)
async def test_purchase_refusals_become_typed_errors(
    fake: FakeProviderHttp,
    provider: CompatProvider,
    answer: str,
    error_type: type[ProviderError],
) -> None:
    fake.on("getNumber", text_answer(answer))
    with pytest.raises(error_type) as caught:
        await provider.buy_number(TOKEN, service_id="tg", country_id="0", max_price=Decimal(20))
    assert caught.value.code == answer.partition(":")[0]
    assert len(fake.sent) == 1


async def test_a_price_above_the_cap_tells_the_current_minimum(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on("getNumber", text_answer("WRONG_MAX_PRICE:18.5"))
    with pytest.raises(PriceTooHigh) as caught:
        await provider.buy_number(TOKEN, service_id="tg", country_id="0", max_price=Decimal(15))
    assert caught.value.min_price == "18.5"


async def test_a_ban_tells_until_when(fake: FakeProviderHttp, provider: CompatProvider) -> None:
    fake.on("getBalance", text_answer("BANNED:2025-01-01 12:00:00"))
    with pytest.raises(Banned) as caught:
        await provider.get_balance(TOKEN)
    assert "2025-01-01 12:00:00" in str(caught.value)


@pytest.mark.parametrize(
    ("answer", "error_type"),
    [
        ("NO_ACTIVATION", ActivationNotFound),
        ("WRONG_ACTIVATION_ID", ActivationNotFound),
        ("BAD_STATUS", BadStatus),
        ("EARLY_CANCEL_DENIED", EarlyCancelDenied),
        ("BAD_KEY", WrongToken),
    ],
)
async def test_status_change_refusals_become_typed_errors(
    fake: FakeProviderHttp,
    provider: CompatProvider,
    answer: str,
    error_type: type[ProviderError],
) -> None:
    fake.on("setStatus", text_answer(answer))
    with pytest.raises(error_type):
        await provider.finish(TOKEN, "55")


async def test_an_unknown_answer_word_is_a_plain_error_with_the_raw_code(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on("getBalance", text_answer("NEW_FANCY_ERROR"))
    with pytest.raises(ProviderError) as caught:
        await provider.get_balance(TOKEN)
    assert type(caught.value) is ProviderError
    assert caught.value.code == "NEW_FANCY_ERROR"
    assert len(fake.sent) == 1


async def test_a_provider_side_sql_error_is_retried_for_reads(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on("getBalance", text_answer("ERROR_SQL"), text_answer("ACCESS_BALANCE:3"))
    assert await provider.get_balance(TOKEN) == Decimal(3)
    assert len(fake.sent) == 2


@pytest.mark.parametrize(
    "answer",
    [
        text_answer("<html><body>502 Bad Gateway</body></html>"),
        text_answer("", status=200),
        text_answer("ACCESS_BALANCE:lots"),
        text_answer("down", status=500),
        httpx.ReadTimeout("timed out"),
    ],
)
async def test_garbage_and_outages_are_unavailable_after_retries(
    fake: FakeProviderHttp, provider: CompatProvider, answer: httpx.Response | Exception
) -> None:
    fake.on("getBalance", answer)
    with pytest.raises(ProviderUnavailable):
        await provider.get_balance(TOKEN)
    assert len(fake.sent) == 3


# -- buying -------------------------------------------------------------------------------


async def test_buying_returns_the_activation_and_sends_price_cap_and_referral(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on("getNumber", text_answer("ACCESS_NUMBER:123456:79001234567"))
    activation = await provider.buy_number(
        TOKEN, service_id="tg", country_id="0", max_price=Decimal("17.50")
    )
    assert activation.id == "123456"
    assert activation.number == "79001234567"
    assert activation.status is ActivationStatus.WAITING
    assert (activation.service_id, activation.country_id) == ("tg", "0")
    form = fake.sent[0].form
    assert form == {
        "action": "getNumber",
        "api_key": TOKEN,
        "service": "tg",
        "country": "0",
        "maxPrice": "17.5",
        "ref": "partner42",
    }


async def test_buying_without_a_cap_or_referral_sends_neither(fake: FakeProviderHttp) -> None:
    fake.on("getNumber", text_answer("ACCESS_NUMBER:1:+79001234567"))
    async with fake.client() as http:
        provider = CompatProvider(http, URL, budget=ProviderBudget.unlimited().interactive)
        activation = await provider.buy_number(
            TOKEN, service_id="tg", country_id="0", max_price=None
        )
    assert activation.number == "79001234567"
    assert "maxPrice" not in fake.sent[0].form
    assert "ref" not in fake.sent[0].form


@pytest.mark.parametrize(
    "failure",
    [text_answer("oops", status=503), httpx.ReadTimeout("slow"), text_answer("ERROR_SQL")],
)
async def test_a_purchase_is_sent_exactly_once_even_when_it_fails_transiently(
    fake: FakeProviderHttp, provider: CompatProvider, failure: httpx.Response | Exception
) -> None:
    fake.on("getNumber", failure, text_answer("ACCESS_NUMBER:1:79001234567"))
    with pytest.raises(ProviderUnavailable):
        await provider.buy_number(TOKEN, service_id="tg", country_id="0", max_price=Decimal(9))
    assert len(fake.calls("getNumber")) == 1


# -- status -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        ("STATUS_WAIT_CODE", ActivationStatus.WAITING, None),
        ("STATUS_WAIT_RETRY:4821", ActivationStatus.WAIT_RETRY, "4821"),
        ("STATUS_WAIT_RESEND", ActivationStatus.WAIT_RETRY, None),
        ("STATUS_CANCEL", ActivationStatus.CANCELLED, None),
        ("STATUS_OK:123456", ActivationStatus.CODE, "123456"),
        ("STATUS_OK:Your code: 12-34", ActivationStatus.CODE, "Your code: 12-34"),
    ],
)
async def test_every_status_answer_is_understood(
    fake: FakeProviderHttp,
    provider: CompatProvider,
    answer: str,
    status: ActivationStatus,
    code: str | None,
) -> None:
    fake.on("getStatus", text_answer(answer))
    activation = await provider.get_activation(TOKEN, "55")
    assert (activation.id, activation.status, activation.code) == ("55", status, code)
    assert fake.sent[0].form["id"] == "55"


@pytest.mark.parametrize("answer", ["NO_ACTIVATION", "WRONG_ACTIVATION_ID"])
async def test_an_unknown_activation_is_not_found(
    fake: FakeProviderHttp, provider: CompatProvider, answer: str
) -> None:
    fake.on("getStatus", text_answer(answer))
    with pytest.raises(ActivationNotFound):
        await provider.get_activation(TOKEN, "55")
    assert len(fake.sent) == 1


@pytest.mark.parametrize(
    ("action", "status", "answer"),
    [
        ("request_another_code", "3", "ACCESS_RETRY_GET"),
        ("finish", "6", "ACCESS_ACTIVATION"),
        ("cancel", "8", "ACCESS_CANCEL"),
    ],
)
async def test_each_action_sends_its_status(
    fake: FakeProviderHttp, provider: CompatProvider, action: str, status: str, answer: str
) -> None:
    fake.on("setStatus", text_answer(answer))
    await getattr(provider, action)(TOKEN, "55")
    [sent] = fake.sent
    assert (sent.form["id"], sent.form["status"]) == ("55", status)


async def test_cancelling_an_already_cancelled_activation_is_done(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on("setStatus", text_answer("BAD_STATUS"))
    fake.on("getStatus", text_answer("STATUS_CANCEL"))
    await provider.cancel(TOKEN, "55")


async def test_a_refused_cancel_of_a_live_activation_is_reported(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on("setStatus", text_answer("BAD_STATUS"))
    fake.on("getStatus", text_answer("STATUS_OK:1234"))
    with pytest.raises(BadStatus):
        await provider.cancel(TOKEN, "55")


async def test_an_early_cancel_is_refused_with_its_own_error(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on("setStatus", text_answer("EARLY_CANCEL_DENIED"))
    with pytest.raises(EarlyCancelDenied):
        await provider.cancel(TOKEN, "55")


async def test_status_changes_are_not_retried(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on("setStatus", httpx.ReadTimeout("slow"), text_answer("ACCESS_CANCEL"))
    with pytest.raises(ProviderUnavailable):
        await provider.cancel(TOKEN, "55")
    assert len(fake.sent) == 1


# -- lists --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        [
            {"id": 0, "name": "Россия", "name_en": "Russia"},
            {"id": 3, "name": "Китай", "name_en": "China"},
        ],
        {
            "0": {"id": 0, "rus": "Россия", "eng": "Russia"},
            "3": {"id": "3", "rus": "Китай", "eng": "China"},
        },
        {"0": {"name": "Russia"}, "3": {"name": "China"}},
    ],
)
async def test_countries_in_every_shape_with_english_names(
    fake: FakeProviderHttp, provider: CompatProvider, answer: object
) -> None:
    fake.on("getCountries", json_answer(answer))
    countries = await provider.get_countries(TOKEN)
    assert [(c.id, c.name) for c in countries] == [("0", "Russia"), ("3", "China")]


@pytest.mark.parametrize(
    "answer",
    [
        [{"id": "vk", "name": "Вконтакте"}, {"id": "tg", "name": "Telegram"}],
        {"vk": {"name": "Вконтакте"}, "tg": {"name": "Telegram"}},
        {"vk": "Вконтакте", "tg": "Telegram"},
        {
            "status": "success",
            "services": [{"code": "vk", "name": "Вконтакте"}, {"code": "tg", "name": "Telegram"}],
        },
    ],
)
async def test_services_in_every_shape_use_the_string_code_as_id(
    fake: FakeProviderHttp, provider: CompatProvider, answer: object
) -> None:
    fake.on("getServices", json_answer(answer))
    services = await provider.get_services(TOKEN)
    assert [(s.id, s.code, s.name) for s in services] == [
        ("vk", "vk", "Вконтакте"),
        ("tg", "tg", "Telegram"),
    ]


async def test_a_list_refused_for_a_wrong_key_is_wrong_token(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on("getServices", text_answer("BAD_KEY"))
    with pytest.raises(WrongToken):
        await provider.get_services(TOKEN)


async def test_offers_from_the_price_table(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on(
        "getPrices",
        json_answer(
            {
                "0": {"vk": {"cost": "15", "count": 6455}, "wb": {"cost": "50", "count": "124"}},
                "1": {"fb": {"cost": 6, "count": 1000}},
            }
        ),
    )
    offers = {
        (o.country_id, o.service_id): (o.price, o.stock) for o in await provider.get_offers(TOKEN)
    }
    assert offers == {
        ("0", "vk"): (Decimal(15), 6455),
        ("0", "wb"): (Decimal(50), 124),
        ("1", "fb"): (Decimal(6), 1000),
    }


async def test_offers_send_and_apply_the_filters(
    fake: FakeProviderHttp, provider: CompatProvider
) -> None:
    fake.on(
        "getPrices",
        json_answer({"0": {"vk": {"cost": "15", "count": 1}, "tg": {"cost": "20", "count": 2}}}),
    )
    offers = await provider.get_offers(TOKEN, country_id="0", service_id="tg")
    assert [(o.service_id, o.price) for o in offers] == [("tg", Decimal(20))]
    form = fake.sent[0].form
    assert (form["country"], form["service"]) == ("0", "tg")


# -- the token stays secret ---------------------------------------------------------------


async def test_the_token_never_shows_in_errors_reprs_or_logs(
    fake: FakeProviderHttp, provider: CompatProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.on("getBalance", text_answer(f"BANNED:{TOKEN}"))
    fake.on("getStatus", httpx.ConnectError(f"GET {URL}?api_key={TOKEN} failed"))
    fake.on("getPrices", text_answer(f"<html>{TOKEN}</html>"))
    errors: list[ProviderError] = []
    for call in (
        provider.get_balance(TOKEN),
        provider.get_activation(TOKEN, "1"),
        provider.get_offers(TOKEN),
    ):
        with pytest.raises(ProviderError) as caught:
            await call
        errors.append(caught.value)
    for error in errors:
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)
        assert error.__context__ is None
    assert TOKEN not in repr(provider)
    assert caplog.records
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
