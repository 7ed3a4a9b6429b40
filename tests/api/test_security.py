from __future__ import annotations

import hashlib
import hmac
import re
import socket

import httpx
import pytest

from client.api.server import KEY_COOKIE_PREFIX, SECURITY_HEADERS, UIServer, create_app
from client.services import Services
from tests.conftest import csrf_of


def test_binds_loopback_on_a_free_port(ui: UIServer) -> None:
    assert ui.base_url.startswith("http://127.0.0.1:")
    assert ui.port > 0


def test_launch_key_becomes_a_strict_httponly_cookie_named_by_port(ui: UIServer) -> None:
    with httpx.Client(base_url=ui.base_url) as client:
        response = client.get(ui.launch_url)
        assert response.status_code == 303
        assert response.headers["location"] == "/"  # the key leaves the address bar
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{KEY_COOKIE_PREFIX}{ui.port}=")
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        # The page token never travels in a cookie.
        assert ui.csrf_token not in cookie


def test_request_without_launch_secret_is_refused(ui: UIServer) -> None:
    for path in ("/", "/settings", "/api/system/about", "/static/js/api.js"):
        response = httpx.get(ui.base_url + path)
        assert response.status_code == 403, path
    wrong = httpx.get(ui.base_url + "/", cookies={ui.cookie_name: "guess"})
    assert wrong.status_code == 403
    assert "请从 socialfee 程序打开" in wrong.text
    # Another client's cookie (another port) does not open this one.
    other = httpx.get(ui.base_url + "/", cookies={f"{KEY_COOKIE_PREFIX}1": ui.secret})
    assert other.status_code == 403


def test_foreign_host_header_is_refused(ui: UIServer, browser_client: httpx.Client) -> None:
    ok = browser_client.get("/api/system/about")
    assert ok.status_code == 200
    for host in ("evil.example", f"evil.example:{ui.port}", "127.0.0.1:1"):
        response = browser_client.get("/api/system/about", headers={"Host": host})
        assert response.status_code == 403, host
        assert response.json()["error"]["code"] == "bad_host"


def test_state_change_needs_csrf_token(browser_client: httpx.Client) -> None:
    no_token = browser_client.post("/api/system/settings", json={"page_size": 20})
    assert no_token.status_code == 403
    assert no_token.json()["error"]["code"] == "csrf"
    bad_token = browser_client.post(
        "/api/system/settings", json={"page_size": 20}, headers={"X-CSRF-Token": "0" * 64}
    )
    assert bad_token.status_code == 403
    token = csrf_of(browser_client)
    good = browser_client.post(
        "/api/system/settings", json={"page_size": 20}, headers={"X-CSRF-Token": token}
    )
    assert good.status_code == 200
    assert good.json()["settings"]["page_size"] == 20


def test_cookie_alone_cannot_change_state(ui: UIServer, services: Services) -> None:
    """What a foreign local server sees (the cookie) gives no token that is accepted."""
    before = services.settings.get("page_size")
    cookie = ui.secret  # the value the browser would send to any port on 127.0.0.1
    guesses = [
        "",
        cookie,
        hmac.new(cookie.encode(), b"csrf", hashlib.sha256).hexdigest(),  # the old derivation
        hashlib.sha256(cookie.encode()).hexdigest(),
    ]
    with httpx.Client(base_url=ui.base_url, cookies={ui.cookie_name: cookie}) as client:
        for guess in guesses:
            headers = {"X-CSRF-Token": guess} if guess else {}
            response = client.post("/api/system/settings", json={"page_size": 99}, headers=headers)
            assert response.status_code == 403, guess
            assert response.json()["error"]["code"] == "csrf"
            form = client.post("/api/system/settings/reset", data={"csrf_token": guess})
            assert form.status_code == 403
    assert services.settings.get("page_size") == before


def test_token_is_random_per_launch_not_a_function_of_the_secret(services: Services) -> None:
    secret = "the-same-launch-secret-for-both"
    first = create_app(services, secret, 5000).config["CSRF_TOKEN"]
    second = create_app(services, secret, 5000).config["CSRF_TOKEN"]
    assert first != second
    assert len(first) >= 40
    assert secret not in first
    assert first != hmac.new(secret.encode(), b"csrf", hashlib.sha256).hexdigest()


def test_page_carries_its_token_in_a_meta_tag(ui: UIServer, browser_client: httpx.Client) -> None:
    assert csrf_of(browser_client) == ui.csrf_token
    assert all(ui.csrf_token not in c for c in browser_client.cookies.values())


@pytest.mark.parametrize(
    "path,kind",
    [
        ("/", "text/html"),
        ("/settings", "text/html"),
        ("/api/system/about", "application/json"),
        ("/api/jobs", "application/json"),
        ("/no-such-page", ""),
        ("/static/js/api.js", "javascript"),
    ],
)
def test_security_headers_on_every_response(browser_client: httpx.Client, path: str, kind: str) -> None:
    response = browser_client.get(path)
    assert kind in response.headers["content-type"]
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name].startswith(value), name  # the error page adds a nonce
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    if not path.startswith("/static/"):
        assert response.headers["Cache-Control"] == "no-store"


def test_refusals_carry_the_headers_too(ui: UIServer) -> None:
    response = httpx.get(ui.base_url + "/")
    assert response.status_code == 403
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith(SECURITY_HEADERS["Content-Security-Policy"])
    assert response.headers["Cache-Control"] == "no-store"
    # The error page's one <style> runs by this response's nonce, never 'unsafe-inline'.
    nonce = re.search(r'<style nonce="([^"]+)">', response.text).group(1)
    assert f"style-src 'self' 'nonce-{nonce}'" in csp
    again = httpx.get(ui.base_url + "/")
    assert nonce not in again.headers["Content-Security-Policy"]
    api = httpx.get(ui.base_url + "/api/system/about")
    assert api.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]


def test_idle_half_request_is_dropped(services: Services) -> None:
    server = UIServer(services, idle_timeout=0.5)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as slow:
            # Half a request line and headers, then nothing: a slowloris client.
            slow.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Slow: ".encode())
            slow.settimeout(30)  # generous: the server must close well before
            received = b""
            while chunk := slow.recv(4096):
                received += chunk
            # Closed by the server without an answer to the unfinished request.
            assert b"200 OK" not in received
        # The server still answers a well-behaved client.
        assert httpx.get(server.launch_url, timeout=10).status_code == 303
    finally:
        server.stop()


def test_idle_keep_alive_connection_is_dropped(services: Services) -> None:
    server = UIServer(services, idle_timeout=0.5)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as idle:
            idle.sendall(f"GET /api/system/about HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
            idle.settimeout(30)
            received = b""
            while chunk := idle.recv(4096):  # the answer (403: no cookie), then the close
                received += chunk
            assert received.startswith(b"HTTP/1.1 403")
    finally:
        server.stop()
