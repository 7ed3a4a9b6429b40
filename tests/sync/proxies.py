"""Real proxies on 127.0.0.1 for the network tests and bench/network.py.

``start_pproxy`` runs the ``pproxy`` package (HTTP or SOCKS5, with or without user and
password) in a child process; ``start_portal`` is an HTTP "proxy" that answers every
request with its own HTML page, as a captive portal or a gateway's block page does.
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

USER, PASSWORD = "clerk", "Pr0xy-S3cret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], limit: float = 15.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class RunningProxy:
    scheme: str  # "http" or "socks5"
    port: int
    user: str = ""
    password: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def settings(self) -> dict[str, object]:
        return {"proxy_mode": self.scheme, "proxy_host": self.host, "proxy_port": self.port,
                "proxy_user": self.user}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_pproxy(scheme: str, *, auth: bool = False) -> RunningProxy:
    """pproxy listening on 127.0.0.1; ``--auth 0``: every connection authenticates (its
    default remembers an address that once did, for 30 days)."""
    for _ in range(3):  # a free port can be taken between the probe and the bind
        port = free_port()
        listen = f"{scheme}://127.0.0.1:{port}" + (f"#{USER}:{PASSWORD}" if auth else "")
        proc = subprocess.Popen([sys.executable, "-m", "pproxy", "-l", listen, "--auth", "0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _wait_listening(port, proc):
            return RunningProxy(scheme, port, USER if auth else "", PASSWORD if auth else "", proc)
        proc.kill()
        proc.wait()
    raise RuntimeError("pproxy did not start")


class _Portal(http.server.BaseHTTPRequestHandler):
    def _page(self) -> None:
        body = "<html><body><h1>请先登录上网认证</h1></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _page

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Portal:
    server: http.server.ThreadingHTTPServer

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def settings(self) -> dict[str, object]:
        return {"proxy_mode": "http", "proxy_host": "127.0.0.1", "proxy_port": self.port, "proxy_user": ""}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_portal() -> Portal:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Portal(server)


@pytest.fixture
def proxies() -> Iterator[Callable[..., RunningProxy]]:
    """``proxies("socks5", auth=True)``: started now, stopped after the test."""
    started: list[RunningProxy] = []

    def factory(scheme: str, *, auth: bool = False) -> RunningProxy:
        proxy = start_pproxy(scheme, auth=auth)
        started.append(proxy)
        return proxy

    yield factory
    for proxy in started:
        proxy.stop()


@pytest.fixture
def portal() -> Iterator[Portal]:
    running = start_portal()
    yield running
    running.stop()
