from __future__ import annotations

import logging

import httpx

from client import logs
from client.api.server import UIServer
from client.services import Services
from tests.conftest import csrf_of


def test_redact_masks_credentials() -> None:
    text = logs.redact(
        "login password=Secret123 token: abc.def Authorization: Bearer xyz123 url?key=k1k2k3&x=1"
        " proxy socks5://clerk:Pr0xyPass@127.0.0.1:1080"
    )
    for secret in ("Secret123", "abc.def", "xyz123", "k1k2k3", "Pr0xyPass"):
        assert secret not in text
    assert "x=1" in text


def test_log_file_never_contains_secrets(
    services: Services, ui: UIServer, browser_client: httpx.Client
) -> None:
    token = csrf_of(browser_client)
    browser_client.post(
        "/api/system/settings",
        json={"proxy_url": "socks5://clerk:Pr0xyPass@127.0.0.1:1080"},
        headers={"X-CSRF-Token": token},
    )
    log = logging.getLogger("test")
    log.warning("request to %s failed", ui.launch_url)
    log.warning("sending declaration password=Decl4rePass and csrf_token=%s", token)
    try:
        raise RuntimeError(f"token={token}")
    except RuntimeError:
        log.exception("boom")
    logging.getLogger("werkzeug").warning('"GET /?key=%s HTTP/1.1" 303', ui.secret)
    for handler in logging.getLogger().handlers:
        handler.flush()
    content = services.log_path.read_text(encoding="utf-8")
    assert "boom" in content  # the records were written...
    for secret in (ui.secret, token, "Decl4rePass"):
        assert secret not in content  # ...without their secrets
