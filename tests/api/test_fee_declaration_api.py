"""社保费申报 over HTTP: summaries, person details, the local check, submit, records, voids,
against a live reference tax side (no mocks)."""

from __future__ import annotations

import io
import sqlite3
import time
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from client.services import Services
from tests.api.test_wage_base_api import Api, error_of, wait_for_jobs
from tests.conftest import log_in


def job_result(api: Api, answer: httpx.Response) -> dict[str, Any]:
    """Follow a started job to its end; its result (or the failure as an AssertionError)."""
    assert answer.status_code == 202, answer.text
    job = answer.json()["job"]
    deadline = time.monotonic() + 30
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = api.get(f"/api/jobs/{job['id']}").json()["job"]
    assert job["state"] == "succeeded", job
    return job["result"]


def summaries(api: Api, kind: str = "daily", **query: Any) -> dict[str, Any]:
    answer = api.get(f"/api/fee-declaration/{kind}", size=200, **query)
    assert answer.status_code == 200, answer.text
    return answer.json()


def refresh(api: Api, kind: str = "daily") -> dict[str, Any]:
    return job_result(api, api.post(f"/api/fee-declaration/{kind}/refresh"))


def collection_mode(db_path: Any, unit_id: str) -> str:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT collection_mode FROM unit WHERE unit_id = ?", (unit_id,)).fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def live(services: Services, taxside_factory: Any) -> Any:
    """One 北京 unit with 40 employees, logged in; decisions come at the next feedback."""
    taxside = taxside_factory(units=1, employees=40, seed=5)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    log_in(services, taxside, index=0)
    services.session.popups_shown = True
    return taxside


@pytest.fixture
def api(live: Any, browser_client: httpx.Client) -> Api:
    return Api(browser_client)


def test_pages_nav_and_redirect(api: Api) -> None:
    home = api.client.get("/fee-declaration", follow_redirects=False)
    assert home.status_code == 302 and home.headers["location"].endswith("/fee-declaration/daily")
    for path, text in (
        ("/fee-declaration/daily", "本地核对"),
        ("/fee-declaration/special", "退休补收"),
        ("/fee-declaration/records", "获取反馈"),
    ):
        page = api.get(path)
        assert page.status_code == 200 and text in page.text, path
    nav = api.get("/").text
    start = nav.index('data-nav="fee_declaration"')
    assert "即将推出" not in nav[start:nav.index("</a>", start)]


def test_agency_mode_keeps_fee_declarations(services: Services, taxside_factory: Any, browser_client: httpx.Client) -> None:
    taxside = taxside_factory(units=1, employees=20, seed=4)  # seed 4: a 税务代征 unit
    assert collection_mode(taxside.db_path, taxside.unit(0).unit_id) == "税务代征"
    log_in(services, taxside, index=0)
    services.session.popups_shown = True
    nav = browser_client.get("/").text
    assert 'data-nav="fee_declaration"' in nav and 'data-nav="wage_base"' not in nav
    api = Api(browser_client)
    assert refresh(api)["count"] > 0 and summaries(api)["total"] > 0


def test_summaries_refresh_query_and_details(api: Api, live: Any) -> None:
    assert summaries(api)["total"] == 0  # nothing fetched yet
    result = refresh(api)
    listed = summaries(api)
    assert result["count"] == listed["total"] > 0 and "已获取" in result["message"]
    rows = listed["rows"]
    assert {r["state_label"] for r in rows} == {"待申报"}
    totals = listed["totals"]
    assert totals["count"] == len(rows) and totals["fetched_at"]
    assert sum(int(r["amount"].replace(".", "")) for r in rows) == int(totals["amount"].replace(".", ""))
    first = rows[0]
    by_unit = summaries(api, unit_number=first["unit_number"], agency=first["agency"],
                        period=first["period_from"])
    assert by_unit["total"] >= 1 and all(r["unit_number"] == first["unit_number"] for r in by_unit["rows"])
    assert summaries(api, period="209901")["total"] == 0
    bad = error_of(api.get("/api/fee-declaration/daily", period="2025-3"), 400)
    assert bad["field"] == "period" and "费款所属期" in bad["message"]

    # 人员明细: from the tax side first, from this PC once downloaded by the check; the same rows.
    sid = next(r["summary_id"] for r in rows if r["has_details"] and r["headcount"] > 5)
    head = api.get(f"/api/fee-declaration/summaries/{sid}/details", page=1, size=5).json()
    second = api.get(f"/api/fee-declaration/summaries/{sid}/details", page=2, size=5).json()
    assert head["source"] == "taxside" and head["total"] == next(r["headcount"] for r in rows if r["summary_id"] == sid)
    assert len(head["rows"]) == 5 and {r["employee_id"] for r in head["rows"]}.isdisjoint(
        r["employee_id"] for r in second["rows"])
    assert head["rows"][0]["id_type_name"] == "居民身份证" and head["rows"][0]["name"]
    job_result(api, api.post("/api/fee-declaration/check", {"summary_ids": [sid]}))
    local = api.get(f"/api/fee-declaration/summaries/{sid}/details", page=1, size=5).json()
    assert local["source"] == "local" and local["rows"] == head["rows"] and local["total"] == head["total"]
    missing = error_of(api.get("/api/fee-declaration/summaries/FS99999999/details"), 404)
    assert missing["code"] == "summary_not_found"


def test_check_finds_a_base_changed_on_the_tax_side(api: Api, live: Any, services: Services) -> None:
    refresh(api)
    ids = [r["summary_id"] for r in summaries(api)["rows"]]
    same = job_result(api, api.post("/api/fee-declaration/check", {"summary_ids": ids}))
    assert same["ok"] and not same["difference_count"] and "一致" in same["message"], same["message"]

    # One employee's base changes on the tax side after our last enrollment update (made a
    # while ago: stored times have one-second steps).
    with services.store.write() as db:
        db.execute_sql("UPDATE feed_cursor SET updated_at = datetime(updated_at, '-1 minute')")
    (changed,) = live.sim("POST", f"/units/{live.unit(0).unit_id}/base-changes", {"count": 1, "ratio": "1.5"})[
        "employee_ids"]
    refresh(api)
    found = job_result(api, api.post("/api/fee-declaration/check", {"summary_ids": ids}))
    assert not found["ok"] and found["stale"] and found["difference_count"] > 0
    assert {d["employee_id"] for d in found["differences"]} == {changed}
    assert {d["kind"] for d in found["differences"]} <= {"base", "amount"}
    assert any(i["differs"] for i in found["items"])

    exported = api.post("/api/fee-declaration/check/export", {"summary_ids": ids})
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    book = load_workbook(io.BytesIO(exported.content))
    diffs = list(book["职工差异"].iter_rows(values_only=True))
    assert len(diffs) - 1 == found["difference_count"]
    assert all(isinstance(row[8], str) for row in diffs[1:])  # ID numbers stay text

    none = error_of(api.post("/api/fee-declaration/check", {"summary_ids": []}), 400)
    assert none["field"] == "summary_ids"


def test_submit_feedback_records_and_void(api: Api, live: Any, services: Services) -> None:
    refresh(api)
    rows = summaries(api)["rows"]
    ids = [r["summary_id"] for r in rows]
    answer = api.post("/api/fee-declaration/submit", {"summary_ids": ids})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert "正在发送" in body["message"] and body["job"]
    wait_for_jobs(services)
    listed = summaries(api)["rows"]
    assert {r["state_label"] for r in listed} == {"已提交申报"}
    again = error_of(api.post("/api/fee-declaration/submit", {"summary_ids": ids[:1]}), 409)
    assert again["code"] == "summary_submitted" and "已提交申报" in again["message"]

    records = api.get("/api/fee-declaration/records").json()
    (mine,) = records["rows"]
    assert mine["status_label"] == "待反馈" and records["open"]["awaiting"] == 1
    feedback = api.post("/api/fee-declaration/records/feedback").json()
    assert feedback["accepted"] == 1 and "申报成功" in feedback["message"]
    assert api.post("/api/fee-declaration/records/feedback").json()["message"] == "无需获取反馈"
    (mine,) = api.get("/api/fee-declaration/records").json()["rows"]
    assert mine["status_label"] == "申报成功" and mine["can_void"] and mine["declaration_id"]
    total = sum(int(r["amount"].replace(".", "")) for r in rows)
    assert int(mine["total_amount"].replace(".", "")) == total

    # A declaration made elsewhere (电子税务局) arrives with 同步, one row per declaration.
    special = live.sim("POST", f"/units/{live.unit(0).unit_id}/special-summaries",
                       {"special_type": "补缴", "from": "202501", "to": "202502", "count": 2})["items"]
    live.sim("POST", f"/units/{live.unit(0).unit_id}/fee-declarations",
             {"summary_ids": [s["summary_id"] for s in special]})
    synced = api.post("/api/fee-declaration/records/sync", {}).json()
    assert synced["count"] == 2 and "已同步" in synced["message"]
    rows_now = api.get("/api/fee-declaration/records").json()["rows"]
    assert sorted(r["channel"] for r in rows_now) == ["本客户端", "电子税务局"]
    only_ok = api.get("/api/fee-declaration/records", status="accepted").json()
    assert only_ok["total"] == 2
    bad_range = error_of(api.post("/api/fee-declaration/records/sync",
                                  {"date_from": "2025-03-15", "date_to": "2025-03-01"}), 400)
    assert bad_range["field"] == "date_from" and "申报日期" in bad_range["message"]
    bad_date = error_of(api.get("/api/fee-declaration/records", date_from="2025/03/01"), 400)
    assert bad_date["field"] == "date_from" and "YYYY-MM-DD" in bad_date["message"]

    # 作废: a reason of at most 100 characters, through the journal, the result by feedback.
    did = mine["declaration_id"]
    empty = error_of(api.post(f"/api/fee-declaration/records/{did}/void", {"reason": " "}), 400)
    assert empty["field"] == "reason" and "作废原因" in empty["message"]
    long = error_of(api.post(f"/api/fee-declaration/records/{did}/void", {"reason": "错" * 101}), 400)
    assert long["field"] == "reason"
    voided = api.post(f"/api/fee-declaration/records/{did}/void", {"reason": "申报数据有误"})
    assert voided.status_code == 201 and "获取反馈" in voided.json()["message"]
    wait_for_jobs(services)
    twice = error_of(api.post(f"/api/fee-declaration/records/{did}/void", {"reason": "再次"}), 409)
    assert twice["code"] == "void_submitted"
    assert api.post("/api/fee-declaration/records/feedback").json()["accepted"] == 1
    row = next(r for r in api.get("/api/fee-declaration/records").json()["rows"] if r["declaration_id"] == did)
    assert row["status_label"] == "已作废" and not row["can_void"]
    # Its summaries are pending again on the tax side.
    refresh(api)
    assert {r["state_label"] for r in summaries(api)["rows"]} == {"待申报"}


def test_offline_submit_is_kept_as_pending(api: Api, live: Any, services: Services) -> None:
    refresh(api)
    ids = [r["summary_id"] for r in summaries(api)["rows"]][:2]
    live.fault(f"/v1/units/{live.unit(0).unit_id}/fee-declarations", "error", status=503, method="POST")
    answer = api.post("/api/fee-declaration/submit", {"summary_ids": ids})
    assert answer.status_code == 201
    wait_for_jobs(services)
    (row,) = api.get("/api/fee-declaration/records").json()["rows"]
    assert row["status_label"] in ("待提交", "待确认")  # saved, sent again later: nothing lost
    live.clear_faults()
    sent = api.post("/api/fee-declaration/records/send")
    assert sent.status_code == 202
    wait_for_jobs(services)
    (row,) = api.get("/api/fee-declaration/records").json()["rows"]
    assert row["status_label"] in ("待反馈", "申报成功")
