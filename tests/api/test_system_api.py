from __future__ import annotations

import io
import time

import httpx
from openpyxl import load_workbook

from client.core import audit
from client.services import Services
from tests.conftest import csrf_of


def test_error_shape_is_pinned(browser_client: httpx.Client) -> None:
    token = csrf_of(browser_client)
    response = browser_client.post(
        "/api/system/settings", json={"page_size": "abc"}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error": {
            "code": "validation",
            "message": "「每页行数」必须是整数",
            "field": "page_size",
            "row": None,
        },
    }
    missing = browser_client.get("/api/jobs/nope")
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"code", "message", "field", "row"}
    assert missing.json()["ok"] is False
    unknown = browser_client.get("/api/nothing-here")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"]


def test_pages_for_every_module_answer(logged_in: object, browser_client: httpx.Client) -> None:
    from client.api.pages import NAV

    for entry in NAV:
        response = browser_client.get(entry.path)
        assert response.status_code == 200, entry.path
        assert entry.label in response.text
        if not entry.ready:
            assert "即将推出" in response.text


def test_audit_table_pages_sorts_filters_and_exports(
    services: Services, browser_client: httpx.Client
) -> None:
    for i in range(120):
        audit.record(services.store, "导入" if i % 2 else "导出", f"第{i:03d}项")
    page = browser_client.get("/api/system/audit", params={"page": 2, "size": 50}).json()
    assert page["total"] == 120
    assert len(page["rows"]) == 50
    last = browser_client.get("/api/system/audit", params={"page": 3, "size": 50}).json()
    assert len(last["rows"]) == 20
    by_action = browser_client.get(
        "/api/system/audit", params={"action": "导入", "sort": "at", "order": "asc"}
    ).json()
    assert by_action["total"] == 60
    assert {r["action"] for r in by_action["rows"]} == {"导入"}
    found = browser_client.get("/api/system/audit", params={"q": "第007项"}).json()
    assert [r["detail"] for r in found["rows"]] == ["第007项"]
    bad_sort = browser_client.get("/api/system/audit", params={"sort": "detail; drop"})
    assert bad_sort.status_code == 400
    assert bad_sort.json()["error"]["field"] == "sort"

    ids = [r["id"] for r in found["rows"]]
    token = csrf_of(browser_client)
    exported = browser_client.post(
        "/api/system/audit/export", json={"ids": ids}, headers={"X-CSRF-Token": token}
    )
    assert exported.status_code == 200
    sheet = load_workbook(io.BytesIO(exported.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("时间", "操作员", "操作", "内容", "单位")
    assert rows[1][3] == "第007项"
    nothing = browser_client.post(
        "/api/system/audit/export", json={"ids": []}, headers={"X-CSRF-Token": token}
    )
    assert nothing.status_code == 400


def test_data_check_runs_as_a_job(browser_client: httpx.Client) -> None:
    token = csrf_of(browser_client)
    started = browser_client.post("/api/system/check", headers={"X-CSRF-Token": token})
    assert started.status_code == 202
    job_id = started.json()["job"]["id"]
    for _ in range(200):
        job = browser_client.get(f"/api/jobs/{job_id}").json()["job"]
        if job["state"] != "running":
            break
        time.sleep(0.02)
    assert job["state"] == "succeeded"
    assert job["result"]["ok"] is True
    tables = {t["table"] for t in job["result"]["tables"]}
    assert {"单位", "操作日志"} <= tables  # names the operator reads, never audit_log
    about = browser_client.get("/api/system/about").json()["about"]
    assert about["database_bytes"] > 0
    assert about["version"]
