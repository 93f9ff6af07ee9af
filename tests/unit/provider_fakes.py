"""A scripted fake of the provider's HTTP side, for the provider unit tests.

`FakeProviderHttp` routes each request by a key (the v2 method or the compat `action`) to a
script of answers: each answer is an `httpx.Response`, an exception to raise (a timeout, a
refused connection) or a callable building a response from the form. The last answer of a
script repeats. Every request is recorded with its parsed form.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

Answer = httpx.Response | Exception | Callable[[dict[str, str]], httpx.Response]


def json_answer(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


def text_answer(body: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, text=body)


@dataclass
class SentRequest:
    method: str
    url: str
    key: str
    form: dict[str, str]


@dataclass
class FakeProviderHttp:
    key_of: Callable[[httpx.Request, dict[str, str]], str]
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    sent: list[SentRequest] = field(default_factory=list)

    def on(self, key: str, *answers: Answer) -> FakeProviderHttp:
        self.scripts[key] = list(answers)
        return self

    def handler(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        key = self.key_of(request, form)
        self.sent.append(SentRequest(request.method, str(request.url), key, form))
        script = self.scripts.get(key)
        if not script:
            return text_answer(f"no script for {key}", status=599)
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(form)
        return answer

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))

    def calls(self, key: str) -> list[SentRequest]:
        return [request for request in self.sent if request.key == key]


def v2_fake() -> FakeProviderHttp:
    return FakeProviderHttp(
        key_of=lambda request, form: request.url.path.rstrip("/").rsplit("/", 1)[-1]
    )


def compat_fake() -> FakeProviderHttp:
    return FakeProviderHttp(key_of=lambda request, form: form.get("action", ""))


async def no_sleep(delay: float) -> None:
    """A retry sleep that does not wait: the tests check what is sent, not how long."""
