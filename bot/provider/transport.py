"""The provider client's transport: httpx's API over aiohttp's connection pool and parser.

The watcher sends thousands of small form POSTs a second, so what each one costs in Python
matters more than anything else in the bot. `AiohttpTransport` is the shortest path from an
`httpx.Request` to an `httpx.Response` over aiohttp:

- the body is read whole inside the transport (provider answers are a few hundred bytes)
  and into the `httpx.Response` there, so httpx has no per-chunk async streaming to do;
- the URL, already encoded by httpx, is parsed once per distinct URL (the provider has a
  handful of endpoints) instead of twice per request;
- aiohttp's timeouts are built once per distinct httpx timeout, with a `total` on top that
  httpx has no field for: every request ends by it, however slowly the answer trickles in;
- aiohttp neither decompresses (httpx does, from the headers it sees) nor keeps cookies.

aiohttp's failures become the httpx exceptions callers already handle: `httpx.ConnectError`,
`httpx.ConnectTimeout`, `httpx.ReadTimeout`, `httpx.ReadError`. Their messages never carry
the URL or the body.

`form_request()` builds the `httpx.Request` for a form POST the way
`client.build_request("POST", url, data=...)` does, minus the merging of cookies, query
parameters and header sets that a provider request never needs.

`NoCookiesClient` is an `httpx.AsyncClient` that neither stores nor sends cookies: the
provider authenticates with the token in each request, and httpx's cookie bookkeeping
(a urllib request and response built per call to extract nothing) was a fifth of the
client's CPU per request.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
import yarl

SessionFactory = Callable[[], aiohttp.ClientSession]

_URL_CACHE_SIZE = 256
_HTTP_11 = {"http_version": b"HTTP/1.1"}
_FORM = (b"Content-Type", b"application/x-www-form-urlencoded")


def form_request(http: httpx.AsyncClient, url: httpx.URL, data: Mapping[str, str]) -> httpx.Request:
    """`http.build_request("POST", url, data=data)`: the same request, for less work.

    The client's default headers and timeout apply as with `build_request`; `send()` fills
    in the timeout. Every header is given here, so the body goes in as a stream: httpx then
    has no headers of its own to add (`content=` would look each one up again).
    """
    body = urlencode(data).encode()
    headers = [
        (b"Host", url.netloc),
        *http.headers.raw,
        _FORM,
        (b"Content-Length", str(len(body)).encode()),
    ]
    request = httpx.Request("POST", url, headers=headers, stream=httpx.ByteStream(body))
    request.read()  # `request.content` is then the body
    return request


def create_aiohttp_session(
    ssl_context: ssl.SSLContext, limits: httpx.Limits
) -> aiohttp.ClientSession:
    """An aiohttp session sized by httpx's `limits`; no cookies, no proxies from the environment."""
    connector = aiohttp.TCPConnector(
        limit=limits.max_connections or 0,
        limit_per_host=0,  # one provider host: the global limit is the one that matters
        keepalive_timeout=limits.keepalive_expiry or 15.0,
        ttl_dns_cache=300,
        ssl=ssl_context,
    )
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncBaseTransport` that sends each request over one shared aiohttp session.

    `session_factory` is called on the first request, inside the running event loop.
    `total_timeout` bounds each request as a whole (None: only httpx's per-phase timeouts).
    """

    def __init__(
        self, session_factory: SessionFactory, *, total_timeout: float | None = None
    ) -> None:
        self._session_factory = session_factory
        self._total_timeout = total_timeout
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, yarl.URL] = {}
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None:
            session = self._session = self._session_factory()
        body = request.content or None  # the provider layer only sends bodies httpx has read
        try:
            async with session.request(
                request.method,
                self._url(request.url),
                # httpx encoded the headers (ASCII, else UTF-8); aiohttp encodes them as UTF-8.
                headers=[(name.decode(), value.decode()) for name, value in request.headers.raw],
                data=body,
                allow_redirects=False,
                auto_decompress=False,
                timeout=self._timeout(request.extensions.get("timeout")),
            ) as answer:
                content = await answer.read()
        except aiohttp.ConnectionTimeoutError:
            raise httpx.ConnectTimeout("timed out connecting to the provider") from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise httpx.ReadTimeout("timed out waiting for the provider") from None
        except aiohttp.ClientConnectorError:
            raise httpx.ConnectError("could not connect to the provider") from None
        except (aiohttp.ClientError, OSError) as error:
            raise httpx.ReadError(
                f"connection to the provider failed ({type(error).__name__})"
            ) from None
        response = httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            stream=httpx.ByteStream(content),  # `content=` would add headers of its own
            request=request,
            extensions=_HTTP_11,
        )
        response.read()  # decodes any Content-Encoding; the client's aread() is then a no-op
        return response

    def _url(self, url: httpx.URL) -> yarl.URL:
        text = str(url)
        parsed = self._urls.get(text)
        if parsed is None:
            parsed = yarl.URL(text, encoded=True)  # httpx has already percent-encoded it
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            self._urls[text] = parsed
        return parsed

    def _timeout(self, timeout: dict[str, float | None] | None) -> aiohttp.ClientTimeout:
        key = tuple(sorted(timeout.items())) if timeout else ()
        built = self._timeouts.get(key)
        if built is None:
            limits = timeout or {}
            built = aiohttp.ClientTimeout(
                total=self._total_timeout,
                connect=limits.get("pool"),  # waiting for a pooled connection, and connecting
                sock_connect=limits.get("connect"),
                sock_read=limits.get("read"),
            )
            self._timeouts[key] = built
        return built

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _NoCookies(httpx.Cookies):
    """httpx's cookie store, minus the work: nothing is extracted and nothing is sent."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class NoCookiesClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` without a cookie store (see the module docstring)."""

    _NO_COOKIES = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        if cookies:
            raise ValueError("the provider client keeps no cookies")
