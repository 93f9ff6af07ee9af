"""The provider client's transport over a real local HTTP server: what a caller sees."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from bot.provider.http import create_http_client
from bot.provider.transport import form_request


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[web.Request], dict[str, bytes]]]:
    """A server that records each request and its body; answers by path."""
    seen: list[web.Request] = []
    bodies: dict[str, bytes] = {}
    released = asyncio.Event()

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        bodies[request.path] = await request.read()
        if request.path == "/gzip":
            payload = gzip.compress(b'{"balance": "12.50"}')
            return web.Response(
                body=payload,
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        if request.path == "/cookie":
            response = web.Response(text="ok")
            response.set_cookie("session", "abc")
            return response
        if request.path == "/redirect":
            raise web.HTTPFound("/elsewhere")
        if request.path == "/slow":
            await released.wait()
        if request.path == "/drop":
            assert request.transport is not None
            request.transport.close()  # the connection dies before any answer
            await asyncio.sleep(1)
        return web.Response(text="ACCESS_NUMBER:42:79001234567", headers={"X-Trace": "t1"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", seen, bodies
    released.set()
    await runner.cleanup()


async def test_a_form_post_arrives_whole_and_the_answer_is_read_whole(
    server: tuple[str, list[web.Request], dict[str, bytes]],
) -> None:
    base, seen, bodies = server
    async with create_http_client() as http:
        response = await http.post(
            httpx.URL(base + "/stubs/handler_api.php"),
            data={"api_key": "k é", "action": "getNumber"},
        )
    assert response.status_code == 200
    assert response.text == "ACCESS_NUMBER:42:79001234567"
    assert response.headers["x-trace"] == "t1"
    assert bodies["/stubs/handler_api.php"] == b"api_key=k+%C3%A9&action=getNumber"
    sent = seen[0].headers
    assert sent["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent["User-Agent"].startswith("smsman-bot/")


async def test_a_compressed_answer_is_decoded_once(
    server: tuple[str, list[web.Request], dict[str, bytes]],
) -> None:
    base, _, _ = server
    async with create_http_client() as http:
        response = await http.post(base + "/gzip", data={})
    assert response.json() == {"balance": "12.50"}


async def test_cookies_are_neither_kept_nor_sent(
    server: tuple[str, list[web.Request], dict[str, bytes]],
) -> None:
    base, seen, _ = server
    async with create_http_client() as http:
        await http.post(base + "/cookie", data={})
        await http.post(base + "/after", data={})
        assert not http.cookies
    assert "Cookie" not in seen[1].headers


async def test_redirects_are_not_followed(
    server: tuple[str, list[web.Request], dict[str, bytes]],
) -> None:
    base, seen, _ = server
    async with create_http_client() as http:
        response = await http.post(base + "/redirect", data={})
    assert response.status_code == 302
    assert [request.path for request in seen] == ["/redirect"]


async def test_many_requests_at_once_share_the_pool(
    server: tuple[str, list[web.Request], dict[str, bytes]],
) -> None:
    base, _, bodies = server
    async with create_http_client() as http:
        answers = await asyncio.gather(
            *(http.post(httpx.URL(f"{base}/n{n}"), data={"n": str(n)}) for n in range(200))
        )
    assert all(answer.status_code == 200 for answer in answers)
    assert {bodies[f"/n{n}"] for n in range(200)} == {f"n={n}".encode() for n in range(200)}


async def test_a_slow_server_is_a_read_timeout_without_the_url(
    server: tuple[str, list[web.Request], dict[str, bytes]],
) -> None:
    base, _, _ = server
    async with create_http_client(timeout=httpx.Timeout(0.2, connect=5.0)) as http:
        with pytest.raises(httpx.ReadTimeout) as caught:
            await http.post(base + "/slow?api_key=SECRET", data={})
    assert "127.0.0.1" not in str(caught.value)
    assert "SECRET" not in str(caught.value)


async def test_a_dropped_connection_is_a_read_error(
    server: tuple[str, list[web.Request], dict[str, bytes]],
) -> None:
    base, _, _ = server
    async with create_http_client() as http:
        with pytest.raises(httpx.ReadError):
            await http.post(base + "/drop", data={})
        # and the client still works afterwards
        response = await http.post(base + "/fine", data={})
    assert response.status_code == 200


async def test_nobody_listening_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with create_http_client() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.post(f"http://127.0.0.1:{port}/", data={})
    assert str(port) not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["https://api.sms-man.com/control/get-sms", "http://127.0.0.1:8081/stubs/handler_api.php"],
)
async def test_a_form_request_is_the_one_httpx_would_build(url: str) -> None:
    form = {"token": "t/k+n", "request_id": "42", "name": "é &"}
    async with create_http_client() as http:
        ours = form_request(http, httpx.URL(url), form)
        theirs = http.build_request("POST", url, data=form)
    assert ours.method == theirs.method
    assert ours.url == theirs.url
    assert ours.content == theirs.content
    assert sorted(ours.headers.multi_items()) == sorted(
        (name, value) for name, value in theirs.headers.multi_items()
    )
