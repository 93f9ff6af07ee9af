"""V2Provider against recorded answers of every shape the v2 API is known to give."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from bot.provider import (
    ActivationNotFound,
    ActivationStatus,
    AlreadyChanged,
    BadStatus,
    EarlyCancelDenied,
    NoBalance,
    NoNumbers,
    Provider,
    ProviderBudget,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    RetryPolicy,
    V2Provider,
    WrongToken,
)
from tests.unit.provider_fakes import FakeProviderHttp, json_answer, no_sleep, text_answer, v2_fake

TOKEN = "Tok3n-v2-9f8e7d6c5b4a"
BASE_URL = "https://api.sms-man.test/control/"


@pytest.fixture
def fake() -> FakeProviderHttp:
    return v2_fake()


@pytest.fixture
async def provider(fake: FakeProviderHttp) -> AsyncIterator[V2Provider]:
    async with fake.client() as http:
        yield V2Provider(
            http,
            BASE_URL,
            budget=ProviderBudget.unlimited().interactive,
            ref="partner42",
            retry=RetryPolicy(attempts=3, sleep=no_sleep),
        )


async def test_v2_provider_satisfies_the_provider_interface(fake: FakeProviderHttp) -> None:
    async with fake.client() as http:
        provider: Provider = V2Provider(
            http, BASE_URL, budget=ProviderBudget.unlimited().interactive
        )
        assert provider.name == "v2"
        await provider.aclose()
        assert not http.is_closed  # the shared client belongs to its owner


# -- balance ------------------------------------------------------------------------------


@pytest.mark.parametrize("balance", ["799.70", 799.7])
async def test_balance_is_read_as_exact_rubles(
    fake: FakeProviderHttp, provider: V2Provider, balance: object
) -> None:
    fake.on("get-balance", json_answer({"balance": balance}))
    assert await provider.get_balance(TOKEN) == Decimal("799.70")


async def test_requests_are_form_posts_with_the_token_in_the_body(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("get-balance", json_answer({"balance": "1"}))
    await provider.get_balance(TOKEN)
    [sent] = fake.sent
    assert sent.method == "POST"
    assert sent.url == BASE_URL + "get-balance"
    assert TOKEN not in sent.url
    assert sent.form["token"] == TOKEN


@pytest.mark.parametrize(
    "error_msg", ["Wrong token!", {"token": "Wrong token!"}, {"token": ["Wrong token!"]}]
)
async def test_wrong_token_is_reported_whatever_the_message_shape(
    fake: FakeProviderHttp, provider: V2Provider, error_msg: object
) -> None:
    fake.on(
        "get-balance",
        json_answer({"success": False, "error_code": "wrong_token", "error_msg": error_msg}),
    )
    with pytest.raises(WrongToken) as caught:
        await provider.get_balance(TOKEN)
    assert caught.value.code == "wrong_token"
    assert caught.value.message == "Wrong token!"
    assert len(fake.sent) == 1  # a wrong token is not worth retrying


# -- lists --------------------------------------------------------------------------------


async def test_countries_as_a_list_with_int_ids(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("countries", json_answer([{"id": 0, "title": "Russia"}, {"id": 3, "title": "China"}]))
    countries = await provider.get_countries(TOKEN)
    assert [(c.id, c.name) for c in countries] == [("0", "Russia"), ("3", "China")]


async def test_countries_as_an_object_keyed_by_id_carry_their_iso_code(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "countries",
        json_answer(
            {
                "1": {"id": "1", "title": "Russia", "code": "ru"},
                "14": {"id": 14, "title": "India", "code": "IN"},
                "99": {"title": "Somewhere"},
            }
        ),
    )
    countries = {c.id: c for c in await provider.get_countries(TOKEN)}
    assert countries["1"].iso == "ru"
    assert countries["1"].flag == "🇷🇺"
    assert countries["14"].iso == "in"
    assert countries["99"].name == "Somewhere"  # the id comes from the key
    assert countries["99"].flag == "🌐"


async def test_countries_in_the_documentations_single_quoted_form(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("countries", text_answer("""[{'id':0,'title':"Russia"}, {'id':3,'title':"China"}]"""))
    assert [c.name for c in await provider.get_countries(TOKEN)] == ["Russia", "China"]


async def test_services_as_a_list_with_name_and_code(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "applications",
        json_answer(
            [
                {"id": "1", "name": "Vkontakte", "code": "vk"},
                {"id": "3", "name": "Telegram", "code": "tg"},
            ]
        ),
    )
    services = await provider.get_services(TOKEN)
    assert [(s.id, s.name, s.code) for s in services] == [
        ("1", "Vkontakte", "vk"),
        ("3", "Telegram", "tg"),
    ]


async def test_services_as_an_object_with_titles(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "applications",
        json_answer(
            {"3": {"id": 3, "title": "Telegram", "code": "tg"}, "7": {"title": "WhatsApp"}}
        ),
    )
    services = {s.id: s for s in await provider.get_services(TOKEN)}
    assert services["3"].name == "Telegram"
    assert services["7"].name == "WhatsApp"


async def test_a_list_answer_of_the_wrong_shape_is_unavailable(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("countries", json_answer("Russia, China"))
    with pytest.raises(ProviderUnavailable):
        await provider.get_countries(TOKEN)


# -- offers -------------------------------------------------------------------------------

NESTED_PRICES = {
    "0": {"1": {"cost": "15", "count": 6455}, "2": {"cost": "50", "count": 124}},
    "1": {"3": {"cost": "6.50", "count": "1000"}},
}


async def test_offers_from_the_nested_price_table(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("get-prices", json_answer(NESTED_PRICES))
    offers = {(o.country_id, o.service_id): o for o in await provider.get_offers(TOKEN)}
    assert offers[("0", "1")].price == Decimal("15")
    assert offers[("0", "1")].stock == 6455
    assert offers[("1", "3")].price == Decimal("6.50")
    assert offers[("1", "3")].stock == 1000
    assert len(offers) == 3


async def test_offers_filter_by_country_on_the_server_and_by_service_here(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("get-prices", json_answer(NESTED_PRICES))  # a server that ignores the filter
    offers = await provider.get_offers(TOKEN, country_id="0", service_id="2")
    assert [(o.country_id, o.service_id, o.price, o.stock) for o in offers] == [
        ("0", "2", Decimal("50"), 124)
    ]
    assert fake.sent[0].form["country_id"] == "0"


async def test_offers_from_the_flat_price_table(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "get-prices",
        json_answer(
            {
                "1": {"cost": "15", "count": 10, "country_id": 14},
                "3": {"cost": "22.5", "count": "0", "country_id": "14"},
            }
        ),
    )
    offers = await provider.get_offers(TOKEN, country_id="14")
    assert {(o.country_id, o.service_id, o.price, o.stock) for o in offers} == {
        ("14", "1", Decimal("15"), 10),
        ("14", "3", Decimal("22.5"), 0),
    }


async def test_flat_prices_without_a_country_belong_to_the_country_asked_for(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("get-prices", json_answer({"3": {"cost": "6", "count": 5}}))
    [offer] = await provider.get_offers(TOKEN, country_id="7", service_id="3")
    assert (offer.country_id, offer.service_id) == ("7", "3")


async def test_an_unreadable_price_entry_is_skipped_not_fatal(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "get-prices", json_answer({"0": {"1": {"cost": "n/a", "count": 1}, "2": {"cost": "5"}}})
    )
    offers = await provider.get_offers(TOKEN)
    assert [(o.service_id, o.stock) for o in offers] == [("2", 0)]


# -- buying -------------------------------------------------------------------------------


@pytest.mark.parametrize("request_id", [1001, "1001"])
async def test_buying_returns_the_activation_with_a_string_id(
    fake: FakeProviderHttp, provider: V2Provider, request_id: object
) -> None:
    fake.on(
        "get-number",
        json_answer(
            {
                "request_id": request_id,
                "country_id": 1,
                "application_id": 3,
                "number": "79002415539",
            }
        ),
    )
    activation = await provider.buy_number(
        TOKEN, service_id="3", country_id="1", max_price=Decimal("15.00")
    )
    assert activation.id == "1001"
    assert activation.number == "79002415539"
    assert activation.status is ActivationStatus.WAITING
    assert (activation.country_id, activation.service_id) == ("1", "3")


@pytest.mark.parametrize(("max_price", "sent"), [(Decimal("15.00"), "15"), (Decimal("100"), "100")])
async def test_buying_sends_the_max_price_and_the_referral(
    fake: FakeProviderHttp, provider: V2Provider, max_price: Decimal, sent: str
) -> None:
    fake.on("get-number", json_answer({"request_id": 1, "number": "+7 900 241-55-39"}))
    activation = await provider.buy_number(
        TOKEN, service_id="3", country_id="0", max_price=max_price
    )
    form = fake.sent[0].form
    assert form["maxPrice"] == sent
    assert form["ref"] == "partner42"
    assert (form["application_id"], form["country_id"]) == ("3", "0")
    assert "currency" not in form
    assert activation.number == "79002415539"


async def test_a_price_with_kopecks_is_never_sent_as_the_integer_max_price(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    """v2 documents maxPrice as an integer: 12.5 can be neither rounded up (a higher cap than
    the user confirmed) nor down (it would refuse the number shown), so none is sent."""
    fake.on("get-number", json_answer({"request_id": 1, "number": "1"}))
    await provider.buy_number(TOKEN, service_id="3", country_id="0", max_price=Decimal("12.50"))
    assert "maxPrice" not in fake.sent[0].form


async def test_buying_without_a_price_cap_or_referral_sends_neither(fake: FakeProviderHttp) -> None:
    fake.on("get-number", json_answer({"request_id": 1, "number": "1"}))
    async with fake.client() as http:
        provider = V2Provider(
            http, BASE_URL.rstrip("/"), budget=ProviderBudget.unlimited().interactive
        )
        await provider.buy_number(TOKEN, service_id="3", country_id="0", max_price=None)
    form = fake.sent[0].form
    assert "maxPrice" not in form
    assert "ref" not in form
    assert fake.sent[0].url == BASE_URL + "get-number"


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        ("no_numbers", NoNumbers),
        ("no_channels", NoNumbers),
        ("balance", NoBalance),
        ("wrong_token", WrongToken),
    ],
)
async def test_buying_refusals_become_typed_errors(
    fake: FakeProviderHttp, provider: V2Provider, code: str, error_type: type[ProviderError]
) -> None:
    fake.on("get-number", json_answer({"success": False, "error_code": code, "error_msg": "No!"}))
    with pytest.raises(error_type) as caught:
        await provider.buy_number(TOKEN, service_id="3", country_id="0", max_price=None)
    assert caught.value.code == code


async def test_an_unknown_error_code_is_a_plain_provider_error_with_the_raw_code(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "get-number",
        json_answer({"success": False, "error_code": "brand_new_code", "error_msg": "Huh"}),
    )
    with pytest.raises(ProviderError) as caught:
        await provider.buy_number(TOKEN, service_id="3", country_id="0", max_price=None)
    assert type(caught.value) is ProviderError
    assert caught.value.code == "brand_new_code"
    assert caught.value.message == "Huh"


@pytest.mark.parametrize(
    "failure",
    [
        text_answer("Bad gateway", status=502),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
    ],
)
async def test_a_purchase_is_sent_exactly_once_even_when_it_fails_transiently(
    fake: FakeProviderHttp, provider: V2Provider, failure: httpx.Response | Exception
) -> None:
    fake.on("get-number", failure, json_answer({"request_id": 2, "number": "1"}))
    with pytest.raises(ProviderUnavailable):
        await provider.buy_number(TOKEN, service_id="3", country_id="0", max_price=Decimal(10))
    assert len(fake.calls("get-number")) == 1


async def test_a_purchase_answer_without_a_request_id_is_not_taken_as_a_number(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("get-number", json_answer({"number": "79002415539"}))
    with pytest.raises(ProviderUnavailable):
        await provider.buy_number(TOKEN, service_id="3", country_id="0", max_price=None)


# -- status -------------------------------------------------------------------------------


@pytest.mark.parametrize("sms_code", ["1243", 1243])
async def test_a_received_code_is_reported(
    fake: FakeProviderHttp, provider: V2Provider, sms_code: object
) -> None:
    fake.on(
        "get-sms",
        json_answer(
            {
                "request_id": 1,
                "country_id": 1,
                "application_id": 1,
                "number": "79002415539",
                "sms_code": sms_code,
            }
        ),
    )
    activation = await provider.get_activation(TOKEN, "1")
    assert activation.status is ActivationStatus.CODE
    assert activation.code == "1243"
    assert activation.number == "79002415539"
    assert fake.sent[0].form["request_id"] == "1"


async def test_no_sms_yet_is_waiting_not_an_error(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "get-sms",
        json_answer(
            {
                "request_id": 1,
                "number": "79002415539",
                "error_code": "wait_sms",
                "error_msg": "Still waiting...",
            }
        ),
    )
    activation = await provider.get_activation(TOKEN, "1")
    assert activation.status is ActivationStatus.WAITING
    assert activation.code is None


@pytest.mark.parametrize("code", ["wrong_request", "wrong_status", None])
async def test_an_expired_or_unknown_request_is_not_found(
    fake: FakeProviderHttp, provider: V2Provider, code: str | None
) -> None:
    fake.on(
        "get-sms",
        json_answer(
            {"success": False, "error_code": code, "error_msg": "Current request not exists"}
        ),
    )
    with pytest.raises(ActivationNotFound):
        await provider.get_activation(TOKEN, "1")


async def test_polling_a_cancelled_request_reports_it_cancelled(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "get-sms",
        json_answer({"success": False, "error_code": "wrong_status", "error_msg": "Wrong status"}),
    )
    activation = await provider.get_activation(TOKEN, "1")
    assert activation.status is ActivationStatus.CANCELLED


async def test_polling_retries_a_flaky_provider(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "get-sms",
        text_answer("oops", status=503),
        httpx.ReadTimeout("slow"),
        json_answer({"request_id": 1, "sms_code": "77"}),
    )
    activation = await provider.get_activation(TOKEN, "1")
    assert activation.code == "77"
    assert len(fake.calls("get-sms")) == 3


# -- status changes -----------------------------------------------------------------------

OK = json_answer({"request_id": 1, "success": True})


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("request_another_code", "ready"),
        ("finish", "close"),
        ("cancel", "reject"),
    ],
)
async def test_each_action_sends_its_status(
    fake: FakeProviderHttp, provider: V2Provider, action: str, status: str
) -> None:
    fake.on("set-status", OK)
    await getattr(provider, action)(TOKEN, "1")
    [sent] = fake.sent
    assert (sent.form["request_id"], sent.form["status"]) == ("1", status)


CHANGED = json_answer({"success": False, "error_code": "change_status", "error_msg": "Changed"})


async def test_cancelling_a_cancelled_request_again_is_done(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("set-status", CHANGED)
    fake.on("get-sms", json_answer({"error_code": "wrong_status", "error_msg": "Cancelled"}))
    await provider.cancel(TOKEN, "1")


async def test_a_cancel_answered_change_status_is_confirmed_before_it_counts_as_done(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    """`change_status` also answers a cancel of a request that got its code: no refund."""
    fake.on("set-status", CHANGED)
    fake.on("get-sms", json_answer({"request_id": "1", "number": "7900", "sms_code": "1234"}))
    with pytest.raises(AlreadyChanged):
        await provider.cancel(TOKEN, "1")


@pytest.mark.parametrize("action", ["finish", "request_another_code"])
async def test_other_changes_of_a_changed_request_are_refused(
    fake: FakeProviderHttp, provider: V2Provider, action: str
) -> None:
    fake.on("set-status", CHANGED)
    with pytest.raises(AlreadyChanged):
        await getattr(provider, action)(TOKEN, "1")


async def test_an_invalid_status_is_bad_status_not_a_missing_request(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "set-status",
        json_answer(
            {
                "success": False,
                "error_code": "wrong_status",
                "error_msg": "Status ready does not exists",
            }
        ),
    )
    with pytest.raises(BadStatus):
        await provider.finish(TOKEN, "1")


async def test_a_cancel_refused_during_the_first_minutes_is_early_cancel_denied(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "set-status",
        json_answer(
            {"success": False, "error_code": "early_cancel", "error_msg": "Cancel in 60 seconds"}
        ),
    )
    with pytest.raises(EarlyCancelDenied):
        await provider.cancel(TOKEN, "1")


async def test_status_changes_are_not_retried(fake: FakeProviderHttp, provider: V2Provider) -> None:
    fake.on("set-status", text_answer("down", status=500), OK)
    with pytest.raises(ProviderUnavailable):
        await provider.cancel(TOKEN, "1")
    assert len(fake.sent) == 1


# -- failures -----------------------------------------------------------------------------


async def test_reads_retry_a_bounded_number_of_times(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("get-balance", text_answer("down", status=500))
    with pytest.raises(ProviderUnavailable):
        await provider.get_balance(TOKEN)
    assert len(fake.sent) == 3


async def test_reads_recover_after_being_rate_limited(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("get-balance", text_answer("slow down", status=429), json_answer({"balance": "5"}))
    assert await provider.get_balance(TOKEN) == Decimal(5)


async def test_persistent_rate_limiting_is_reported_as_such(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("get-balance", text_answer("slow down", status=429))
    with pytest.raises(RateLimited):
        await provider.get_balance(TOKEN)


@pytest.mark.parametrize(
    "answer",
    [
        text_answer("<html>502 Bad Gateway</html>"),
        json_answer(["not", "a", "balance"]),
        json_answer({"balance": "lots"}),
        text_answer(""),
    ],
)
async def test_garbage_answers_are_unavailable(
    fake: FakeProviderHttp, provider: V2Provider, answer: httpx.Response
) -> None:
    fake.on("get-balance", answer)
    with pytest.raises(ProviderUnavailable):
        await provider.get_balance(TOKEN)


async def test_a_wrong_url_is_a_lasting_error_not_retried(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on("get-balance", text_answer("<html>Not Found</html>", status=404))
    with pytest.raises(ProviderError) as caught:
        await provider.get_balance(TOKEN)
    assert not isinstance(caught.value, ProviderUnavailable)
    assert caught.value.code == "http_404"
    assert len(fake.sent) == 1


async def test_an_error_body_on_an_http_error_status_is_still_read(
    fake: FakeProviderHttp, provider: V2Provider
) -> None:
    fake.on(
        "get-balance",
        json_answer(
            {"success": False, "error_code": "wrong_token", "error_msg": "Bad"}, status=401
        ),
    )
    with pytest.raises(WrongToken):
        await provider.get_balance(TOKEN)


# -- the token stays secret ---------------------------------------------------------------


async def test_the_token_never_shows_in_errors_reprs_or_logs(
    fake: FakeProviderHttp, provider: V2Provider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.on(
        "get-balance",
        json_answer(
            {"success": False, "error_code": "wrong_token", "error_msg": f"Token {TOKEN} is wrong"}
        ),
    )
    fake.on("get-sms", httpx.ConnectError(f"cannot reach {BASE_URL}get-sms?token={TOKEN}"))
    fake.on("get-number", json_answer({"request_id": 5, "number": "1"}))
    errors: list[ProviderError] = []
    for call in (
        provider.get_balance(TOKEN),
        provider.get_activation(TOKEN, "1"),
    ):
        with pytest.raises(ProviderError) as caught:
            await call
        errors.append(caught.value)
    await provider.buy_number(TOKEN, service_id="1", country_id="1", max_price=None)

    for error in errors:
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)
        assert error.__cause__ is None
        assert error.__context__ is None
    assert TOKEN not in repr(provider)
    assert caplog.records  # httpx logged each request
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
