"""What one provider request costs the client: the provider layer's client against the others.

    .venv/bin/python -m bench.http_client                 # 5 interleaved rounds of 5 s each
    .venv/bin/python -m bench.http_client --rounds 9 --seconds 3 --concurrency 256

A local aiohttp server (its own process) answers every `POST /get-sms` with the provider's
"still waiting" JSON. Each client, in a fresh process of its own, keeps `--concurrency`
requests in flight for `--seconds` after a one-second warm-up, posting the same form the
watcher posts and reading each answer whole:

- `aiohttp`: a bare `aiohttp.ClientSession` loop, the fastest client on these machines;
- `provider`: `bot.provider.http.create_http_client()`, httpx on the bot's own aiohttp
  transport without a cookie store, each request built by `form_request` from a URL
  parsed once, as `post_form` sends them;
- `httpx`: a default `httpx.AsyncClient` (httpcore's pure-Python HTTP/1.1), for scale.

The clients take turns round after round, so drift on a shared machine hits them all alike.
Printed per client: the median requests/s and the median CPU microseconds per request of
the client's process, and both as a ratio of bare aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from aiohttp import web

from bot.provider.transport import form_request
from bot.runtime.redis_server import free_port

CLIENTS = ("aiohttp", "provider", "httpx")
ANSWER = {
    "request_id": 1,
    "sms_code": None,
    "error_code": "wait_sms",
    "error_msg": "Still waiting...",
}
TOKEN = "t" * 32


def serve(port: int) -> None:
    async def get_sms(request: web.Request) -> web.Response:
        await request.post()
        return web.json_response(ANSWER)

    app = web.Application()
    app.router.add_post("/get-sms", get_sms)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def measure(client: str, url: str, concurrency: int, seconds: float) -> dict[str, float]:
    deadline = 0.0
    done = 0

    async def loop(send: Callable[[dict[str, str]], Awaitable[bytes]], start: int) -> None:
        nonlocal done
        n = start
        while time.monotonic() < deadline:
            await send({"token": TOKEN, "request_id": str(n)})
            done += 1
            n += concurrency

    async def run(send: Callable[[dict[str, str]], Awaitable[bytes]]) -> None:
        await asyncio.gather(*(loop(send, n) for n in range(concurrency)))

    async def timed(send: Callable[[dict[str, str]], Awaitable[bytes]]) -> dict[str, float]:
        nonlocal deadline, done
        deadline = time.monotonic() + 1.0  # warm-up: connections, caches
        await run(send)
        done = 0
        cpu = time.process_time()
        started = time.monotonic()
        deadline = started + seconds
        await run(send)
        elapsed = time.monotonic() - started
        cpu = time.process_time() - cpu
        return {"rps": done / elapsed, "cpu_us": cpu / done * 1e6}

    if client == "aiohttp":
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def send_aiohttp(form: dict[str, str]) -> bytes:
                async with session.post(url, data=form) as response:
                    return await response.read()

            return await timed(send_aiohttp)

    if client == "provider":
        from bot.provider.http import create_http_client

        http = create_http_client()
        target: httpx.URL | str = httpx.URL(url)  # as the providers hold it
    else:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=concurrency)
        http = httpx.AsyncClient(limits=limits)
        target = url
    async with http:

        async def send_httpx(form: dict[str, str]) -> bytes:
            if isinstance(target, httpx.URL):  # the provider layer's way: see post_form
                return (await http.send(form_request(http, target, form))).content
            return (await http.post(target, data=form)).content

        return await timed(send_httpx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--role", choices=("controller", "server", "client"), default="controller")
    parser.add_argument("--client", choices=CLIENTS)
    parser.add_argument("--port", type=int)
    args = parser.parse_args()

    if args.role == "server":
        serve(args.port)
        return
    if args.role == "client":
        url = f"http://127.0.0.1:{args.port}/get-sms"
        result = asyncio.run(measure(args.client, url, args.concurrency, args.seconds))
        print(json.dumps(result))
        return

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.http_client", "--role", "server", "--port", str(port)]
    )
    try:
        wait_for_port(port)
        results: dict[str, list[dict[str, float]]] = {client: [] for client in CLIENTS}
        for round_ in range(1, args.rounds + 1):
            for client in CLIENTS:
                command = [
                    sys.executable,
                    "-m",
                    "bench.http_client",
                    "--role",
                    "client",
                    "--client",
                    client,
                    "--port",
                    str(port),
                    "--concurrency",
                    str(args.concurrency),
                    "--seconds",
                    str(args.seconds),
                ]
                output = subprocess.run(command, check=True, capture_output=True, text=True)
                results[client].append(json.loads(output.stdout))
            print(f"round {round_}/{args.rounds} done", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
    report(results, args)


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    def median(client: str, key: str) -> float:
        return statistics.median(run[key] for run in results[client])

    base_rps = median("aiohttp", "rps")
    base_cpu = median("aiohttp", "cpu_us")
    print(
        f"concurrency {args.concurrency}, {args.rounds} rounds of {args.seconds:g} s, "
        "medians (min-max requests/s):"
    )
    for client in CLIENTS:
        rps = median(client, "rps")
        cpu = median(client, "cpu_us")
        spread = [run["rps"] for run in results[client]]
        print(
            f"  {client:9} {rps:7.0f} req/s ({min(spread):.0f}-{max(spread):.0f}) "
            f"= {rps / base_rps:.2f} of aiohttp; "
            f"{cpu:4.0f} us CPU per request = {cpu / base_cpu:.2f}x aiohttp's"
        )


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


if __name__ == "__main__":
    main()
