"""Assembling the sandbox: the aiohttp application and a server that runs it in a loop."""

from __future__ import annotations

import socket
from types import TracebackType

from aiohttp import web

from bot.sandbox import compat, control, v2
from bot.sandbox.http import STATE_KEY
from bot.sandbox.state import SandboxState

V2_PATH = "/control/"
COMPAT_PATH = "/stubs/handler_api.php"


async def _index(request: web.Request) -> web.Response:
    base = f"{request.scheme}://{request.host}"
    return web.Response(
        text=(
            "SMS-man sandbox\n"
            f"v2 (SMSMAN_PROTOCOL=v2):         SMSMAN_API_URL={base}{V2_PATH}\n"
            f"compat (SMSMAN_PROTOCOL=compat): SMSMAN_API_URL={base}{COMPAT_PATH}\n"
            f"control: {base}/sandbox/...\n"
        )
    )


def create_app(state: SandboxState) -> web.Application:
    """The sandbox application over `state`; no middlewares, so the hot path stays short."""
    app = web.Application()
    app[STATE_KEY] = state
    app.router.add_route("*", "/control/{method}", v2.handle)
    app.router.add_route("*", COMPAT_PATH, compat.handle)
    app.router.add_routes(control.routes)
    app.router.add_get("/", _index)
    return app


class SandboxServer:
    """Serve a sandbox on `host:port` (0 = a free port) in the running event loop.

    `async with SandboxServer(state) as server:` then use `server.url`, `server.v2_url`,
    `server.compat_url`. Access logging is off: at benchmark rates it would cost more than
    the answers.
    """

    def __init__(
        self,
        state: SandboxState | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        shutdown_timeout: float = 2.0,
    ) -> None:
        self.state = state if state is not None else SandboxState()
        self.host = host
        self.port = port
        self._runner = web.AppRunner(
            create_app(self.state),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=shutdown_timeout,
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def v2_url(self) -> str:
        return self.url + V2_PATH

    @property
    def compat_url(self) -> str:
        return self.url + COMPAT_PATH

    async def start(self) -> None:
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            await self._runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
