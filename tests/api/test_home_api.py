"""/api/home/status and /api/home/charts, and the home page's status: local data only,
whatever the tax side does (every request to it would answer 503 here, and none arrives)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def tax_side_down(logged_in: Any) -> Any:
    logged_in.fault("/v1/", "error", status=503, count=100_000)
    return logged_in


def untouched(live: Any) -> bool:
    faults = live.sim("GET", "/faults")["items"]
    return len(faults) == 1 and faults[0]["remaining"] == 100_000


def test_home_status_and_charts_read_this_pc_only(browser_client: Any, tax_side_down: Any) -> None:
    status = browser_client.get("/api/home/status").json()
    assert status["ok"] and status["period"] == status["today"].replace("-", "")[:6]
    keys = [line["key"] for line in status["lines"]]
    assert keys[0] == "enrollment" and keys[-1] == "backup" and "arrears" in keys
    assert all(line["state"] in ("ok", "todo", "warn") and line["text"] and line["path"].startswith("/")
               for line in status["lines"])
    assert status["open_count"] == sum(1 for line in status["lines"] if line["state"] != "ok")
    charts = browser_client.get("/api/home/charts").json()
    assert charts["ok"] and len(charts["periods"]) == 12 and charts["periods"][-1] == status["period"]
    assert charts["empty"] and charts["payable"] == ["0.00"] * 12
    page = browser_client.get("/")
    assert page.status_code == 200 and 'id="home-status"' in page.text and 'id="status-backup"' in page.text
    assert "vendor/chartjs/chart.umd.min.js" in page.text
    # 本月待办 and the charts open the page; the old separate 登录提示 panel is gone (its
    # facts are 本月待办's lines); nothing is due here, so nothing is prompted.
    html = page.text
    assert 'id="home-alerts"' not in html and "login-alert" not in html
    assert html.index('id="home-status"') < html.index('id="home-charts"') < html.index('id="home-functions"')
    assert 'data-prompts=""' in html and 'data-login-prompt' not in html and 'id="nearest-arrears"' not in html
    assert untouched(tax_side_down)


def test_home_api_needs_an_entered_unit(browser_client: Any) -> None:
    for path in ("/api/home/status", "/api/home/charts"):
        response = browser_client.get(path)
        body = response.json()
        assert response.status_code == 401 and body["ok"] is False, path
        assert body["error"]["code"] == "not_logged_in" and "请先登录单位" in body["error"]["message"], path
