"""The shared HTTP plumbing: the aiohttp-backed client, retries, one send (the budget it waits
for is tested in test_provider_budget.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from bot.provider import (
    NoNumbers,
    ProviderBudget,
    ProviderUnavailable,
    RateLimited,
    RetryPolicy,
    WrongToken,
    create_http_client,
    retry_transient,
)
from bot.provider.http import post_form
from bot.provider.transport import AiohttpTransport

NO_WAIT = ProviderBudget.unlimited().interactive

# -- virtual time ------------------------------------------------------------------------


@dataclass
class VirtualTime:
    """A clock that only moves when told, and a sleep that records what it was asked."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        await asyncio.sleep(0)


# -- retries ------------------------------------------------------------------------------


def flaky(*outcomes: Exception | str) -> tuple[Callable[[], asyncio.Future[str]], list[int]]:
    calls: list[int] = []

    def call() -> asyncio.Future[str]:
        calls.append(1)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        outcome = outcomes[min(len(calls), len(outcomes)) - 1]
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
        return future

    return call, calls


async def test_a_read_survives_transient_failures() -> None:
    time = VirtualTime()
    call, calls = flaky(ProviderUnavailable("down"), RateLimited("slow"), "balance")
    assert await retry_transient(call, RetryPolicy(attempts=3, sleep=time.sleep)) == "balance"
    assert len(calls) == 3
    assert len(time.sleeps) == 2


async def test_retries_give_up_after_the_attempts_with_growing_jittered_pauses() -> None:
    time = VirtualTime()
    call, calls = flaky(ProviderUnavailable("down"))
    policy = RetryPolicy(attempts=4, base_delay=1.0, max_delay=3.0, sleep=time.sleep)
    with pytest.raises(ProviderUnavailable):
        await retry_transient(call, policy)
    assert len(calls) == 4
    first, second, third = time.sleeps
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0
    assert 1.5 <= third <= 3.0  # capped at max_delay


async def test_jitter_spreads_callers_that_failed_together() -> None:
    policy = RetryPolicy()
    assert len({round(policy.delay(1), 6) for _ in range(20)}) > 1


@pytest.mark.parametrize("error", [WrongToken("bad"), NoNumbers("none")])
async def test_lasting_errors_are_not_retried(error: Exception) -> None:
    time = VirtualTime()
    call, calls = flaky(error, "never")
    with pytest.raises(type(error)):
        await retry_transient(call, RetryPolicy(sleep=time.sleep))
    assert len(calls) == 1
    assert time.sleeps == []


# -- one send -----------------------------------------------------------------------------


def mock_client(answer: httpx.Response | Exception) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("answer", "error_type"),
    [
        (httpx.Response(429), RateLimited),
        (httpx.Response(500), ProviderUnavailable),
        (httpx.Response(503), ProviderUnavailable),
        (httpx.Response(408), ProviderUnavailable),
        (httpx.ConnectTimeout("connect timeout"), ProviderUnavailable),
        (httpx.ReadTimeout("read timeout"), ProviderUnavailable),
        (httpx.ConnectError("refused"), ProviderUnavailable),
        (httpx.RemoteProtocolError("bad http"), ProviderUnavailable),
    ],
)
async def test_outages_become_typed_errors_without_the_url(
    answer: httpx.Response | Exception, error_type: type[Exception]
) -> None:
    url = "https://provider.test/path?api_key=SECRET"
    async with mock_client(answer) as http:
        with pytest.raises(error_type) as caught:
            await post_form(http, url, {"api_key": "SECRET"}, budget=NO_WAIT, token="SECRET")
    assert "provider.test" not in str(caught.value)
    assert "SECRET" not in str(caught.value)
    assert caught.value.__context__ is None


async def test_a_client_error_status_is_left_for_the_provider_to_read() -> None:
    async with mock_client(httpx.Response(401, text="BAD_KEY")) as http:
        response = await post_form(http, "https://p.test/", {}, budget=NO_WAIT, token="k")
    assert response.status_code == 401


# -- the real aiohttp-backed client -------------------------------------------------------


@pytest.fixture
async def local_server() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    received: list[dict[str, str]] = []
    released = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        form = await request.post()
        received.append({key: str(value) for key, value in form.items()})
        if request.path == "/slow":
            await released.wait()  # answers only when the test is over
        return web.Response(text="ACCESS_BALANCE:42.00")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", received
    released.set()
    await runner.cleanup()


async def test_the_client_runs_on_aiohttp_with_the_agreed_timeouts() -> None:
    client = create_http_client()
    try:
        assert isinstance(client._transport, AiohttpTransport)
        assert client.timeout.connect == 5.0
        assert client.timeout.read == 15.0
    finally:
        await client.aclose()


async def test_the_client_sends_form_posts_over_real_http(
    local_server: tuple[str, list[dict[str, str]]],
) -> None:
    url, received = local_server
    client = create_http_client()
    try:
        answers = await asyncio.gather(
            *(
                post_form(
                    client,
                    f"{url}/stubs/handler_api.php",
                    {"api_key": f"k{n}"},
                    budget=NO_WAIT,
                    token=f"k{n}",
                )
                for n in range(50)
            )
        )
    finally:
        await client.aclose()
    assert {answer.text for answer in answers} == {"ACCESS_BALANCE:42.00"}
    assert sorted(form["api_key"] for form in received) == sorted(f"k{n}" for n in range(50))


async def test_a_provider_that_does_not_answer_in_time_is_unavailable(
    local_server: tuple[str, list[dict[str, str]]],
) -> None:
    url, _ = local_server
    client = create_http_client(timeout=httpx.Timeout(0.2, connect=5.0))
    try:
        with pytest.raises(ProviderUnavailable):
            await post_form(client, f"{url}/slow", {"api_key": "k"}, budget=NO_WAIT, token="k")
    finally:
        await client.aclose()


async def test_a_provider_that_is_down_is_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = create_http_client()
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await post_form(
                client,
                f"http://127.0.0.1:{port}/",
                {"api_key": "k"},
                budget=NO_WAIT,
                token="k",
            )
    finally:
        await client.aclose()
    assert str(port) not in str(caught.value)
