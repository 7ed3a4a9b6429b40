"""关于 page: the 升级 panel, 检查更新 and 升级方式 over the UI server's HTTP API, with the
refusal's Chinese reason in the one error shape."""

from __future__ import annotations

from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client.core import upgrade_manifest as um
from client.services import Services
from tests.conftest import csrf_of
from tests.taxside_fixtures import LiveTaxSide
from tests.upgrade.conftest import publish


def test_about_check_and_mode(taxside: LiveTaxSide, services: Services, browser_client: httpx.Client,
                              release_key: Ed25519PrivateKey, packages: dict[str, Path]) -> None:
    services.settings.update({"taxside_url": taxside.url})
    page = browser_client.get("/about").text
    assert "检查更新" in page and 'id="upgrade-start"' in page and "js/pages/upgrade.js" in page
    headers = {"X-CSRF-Token": csrf_of(browser_client)}
    state = browser_client.get("/api/upgrade").json()
    assert state["upgrade"]["mode"] == "auto" and not state["upgrade"]["checked_at"]
    assert [m["value"] for m in state["modes"]] == ["auto", "notify", "manual"]

    publish(taxside, packages["0.2.0"], "0.2.0", Ed25519PrivateKey.generate())  # not our key
    refused = browser_client.post("/api/upgrade/check", json={}, headers=headers)
    assert refused.status_code == 422
    assert refused.json() == {"ok": False, "error": {"code": "upgrade_bad_signature",
                                                     "message": um.MSG_BAD_SIGNATURE, "field": None, "row": None}}

    publish(taxside, packages["0.2.0"], "0.2.0", release_key, notes="修复：打印偏移")
    ok = browser_client.post("/api/upgrade/check", json={}, headers=headers).json()
    assert ok["upgrade"]["available"] and ok["upgrade"]["latest"]["notes"] == "修复：打印偏移"
    assert ok["upgrade"]["error"] == ""

    bad = browser_client.post("/api/upgrade/mode", json={"upgrade_mode": "sometimes"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "upgrade_mode"
    saved = browser_client.post("/api/upgrade/mode", json={"upgrade_mode": "manual"}, headers=headers).json()
    assert saved["upgrade"]["mode"] == "manual" and services.settings.get("upgrade_mode") == "manual"
