from __future__ import annotations

import httpx

from client.api.server import KEY_COOKIE, UIServer
from tests.conftest import csrf_of


def test_binds_loopback_on_a_free_port(ui: UIServer) -> None:
    assert ui.base_url.startswith("http://127.0.0.1:")
    assert ui.port > 0


def test_launch_key_becomes_a_strict_httponly_cookie(ui: UIServer) -> None:
    with httpx.Client(base_url=ui.base_url) as client:
        response = client.get(ui.launch_url)
        assert response.status_code == 303
        assert response.headers["location"] == "/"  # the key leaves the address bar
        cookie = response.headers["set-cookie"]
        assert f"{KEY_COOKIE}=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie


def test_request_without_launch_secret_is_refused(ui: UIServer) -> None:
    for path in ("/", "/settings", "/api/system/about", "/static/js/api.js"):
        response = httpx.get(ui.base_url + path)
        assert response.status_code == 403, path
    wrong = httpx.get(ui.base_url + "/", cookies={KEY_COOKIE: "guess"})
    assert wrong.status_code == 403
    assert "请从 socialfee 程序打开" in wrong.text


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
