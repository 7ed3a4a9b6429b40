"""查询统计 over HTTP (the JSON the pages use) against a live reference tax side: the /queries
shell, each query's update job, filters, exports opened with openpyxl (ID columns complete
and text, amounts numbers, no formulas), the reconciliation flags of 到账信息, offline."""

from __future__ import annotations

import io
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from client.services import Services
from tests.api.test_fee_declaration_api import job_result
from tests.api.test_wage_base_api import Api, error_of
from tests.conftest import log_in
from tests.sync.test_payment import declared_elsewhere, pay, refreshed_service


@pytest.fixture
def live(services: Services, taxside_factory: Any) -> Any:
    taxside = taxside_factory(units=1, employees=30, seed=5)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0, "arrival_delay_seconds": 0})
    unit = log_in(services, taxside, index=0)
    services.session.popups_shown = True
    taxside.unit_id = unit.unit_id
    return taxside


@pytest.fixture
def api(live: Any, browser_client: httpx.Client) -> Api:
    return Api(browser_client)


def sheet_of(response: httpx.Response) -> tuple[list[str], list[list[Any]]]:
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f"  # never a formula
    return rows[0], rows[1:]


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def column(header: list[str], rows: list[list[Any]], title: str) -> list[Any]:
    return [r[header.index(title)] for r in rows]


def test_shell_and_pages(api: Api) -> None:
    home = api.client.get("/queries", follow_redirects=False)
    assert home.status_code == 302 and home.headers["location"].endswith("/queries/unit")
    for path, title in (("unit", "单位参保信息查询"), ("bases", "职工缴费基数查询"),
                        ("payable", "社保费应缴信息查询"), ("arrival", "社保费到账信息查询")):
        page = api.get(f"/queries/{path}")
        assert page.status_code == 200 and title in page.text
        for tab in ("单位参保信息", "职工缴费基数", "申报明细", "应缴信息", "到账信息"):
            assert tab in page.text
        assert 'href="/queries/details"' in page.text and "尚未从税务端更新" in page.text
    nav = api.get("/").text
    assert 'href="/queries"' in nav
    assert error_of(api.post("/api/queries/nothing/sync", {}), 404)["code"] == "not_found"


def test_unit_registrations(api: Api) -> None:
    assert api.get("/api/queries/unit").json()["items"] == []
    result = job_result(api, api.post("/api/queries/unit/sync", {}))
    listed = api.get("/api/queries/unit").json()
    assert result["count"] == listed["count"] > 0 and listed["state"]["synced_at"]
    assert "上次从税务端更新" in api.get("/queries/unit").text
    first = listed["items"][0]
    assert listed["options"]["unit_number"] and first["unit_number"] in listed["options"]["unit_number"]
    only = api.get("/api/queries/unit", unit_number=first["unit_number"]).json()["items"]
    assert only and {r["unit_number"] for r in only} == {first["unit_number"]}
    assert api.get("/api/queries/unit", agency="不存在的经办机构").json()["items"] == []
    header, rows = sheet_of(api.get("/api/queries/unit/export", unit_number=first["unit_number"]))
    numbers = column(header, rows, "单位编号")
    assert len(rows) == len(only) and all(isinstance(n, str) and n == first["unit_number"] for n in numbers)
    assert all(isinstance(d, str) and len(d) == 10 for d in column(header, rows, "参保日期"))


def test_bases_with_person_elements_and_export(api: Api, services: Services) -> None:
    result = job_result(api, api.post("/api/queries/bases/sync", {}))
    page = api.get("/api/queries/bases", size=500).json()
    assert page["total"] == result["rows"] > result["employees"] > 0 and page["without_person"] == 0
    row = page["rows"][0]
    assert row["name"] and row["id_number"] and isinstance(row["base"], str)
    by_id = api.get("/api/queries/bases", id_number=row["id_number"]).json()
    assert by_id["total"] > 0 and {r["employee_id"] for r in by_id["rows"]} == {row["employee_id"]}
    by_item = api.get("/api/queries/bases", item="pension", size=500).json()
    assert by_item["total"] and {r["item"] for r in by_item["rows"]} == {"pension"}
    assert error_of(api.get("/api/queries/bases", item="pensions"), 400)["field"] == "item"
    assert error_of(api.get("/api/queries/bases", id_type="999"), 400)["field"] == "id_type"

    header, rows = sheet_of(api.get("/api/queries/bases/export"))
    assert len(rows) == page["total"]
    ids = column(header, rows, "证件号码")
    assert all(isinstance(i, str) for i in ids)  # text: 18 digits and a final X survive
    assert ids == [r["id_number"] for r in page["rows"]]  # complete, in the page's order
    assert all(isinstance(n, str) for n in column(header, rows, "单位编号"))
    assert all(is_number(b) for b in column(header, rows, "缴费基数"))

    # An employee removed from this PC's enrollment: the row stays, the person elements empty.
    pk = services.session.require_entered().local_id
    with services.store.write() as db:
        db.execute_sql("DELETE FROM enrollment_employee WHERE unit_id = ? AND employee_id = ?",
                       (pk, row["employee_id"]))
    page = api.get("/api/queries/bases", size=500).json()
    assert page["without_person"] == 1
    assert all(r["name"] == "" for r in page["rows"] if r["employee_id"] == row["employee_id"])


def test_payable_and_arrival_reconciliation(api: Api, live: Any, services: Services) -> None:
    declared = declared_elsewhere(live, live.unit_id)
    payment = refreshed_service(services)
    arrears = [a.arrear.arrear_id for a in payment.arrears_view().items]
    assert pay(payment, arrears[:3]).ok
    period = declared["summaries"][0]["period_from"]

    job_result(api, api.post("/api/queries/payable/sync", {"from": period, "to": period}))
    listed = api.get("/api/queries/payable", **{"from": period, "to": period}).json()
    totals = listed["totals"]
    assert Decimal(totals["payable"]) == Decimal(declared["total_amount"]) and Decimal(totals["paid"]) > 0
    header, rows = sheet_of(api.get("/api/queries/payable/export", **{"from": period, "to": period}))
    assert len(rows) == listed["count"] and all(isinstance(v, str) for v in column(header, rows, "费款所属期起"))
    assert all(is_number(v) for v in column(header, rows, "应缴金额"))
    assert error_of(api.get("/api/queries/payable", **{"from": "2025-13"}), 400)["field"] == "from"
    assert error_of(api.post("/api/queries/payable/sync", {"from": "202504", "to": "202503"}), 400)["field"] == "from"

    job_result(api, api.post("/api/queries/arrival/sync", {}))
    view = api.get("/api/queries/arrival").json()
    assert view["count"] == 3 and view["flagged"] == 0 and "一致 3 笔" in view["summary"]
    first, second = view["items"][0], view["items"][1]
    live.sim("POST", f"/units/{live.unit_id}/payments/{first['payment_id']}/reversal")
    live.sim("PUT", f"/units/{live.unit_id}/payments/{second['payment_id']}", {"total": "2.00"})
    result = job_result(api, api.post("/api/queries/arrival/sync", {}))
    assert result["flagged"] == 2
    view = api.get("/api/queries/arrival").json()
    by_id = {r["payment_id"]: r for r in view["items"]}
    assert by_id[first["payment_id"]]["flagged"] and by_id[first["payment_id"]]["check"] == "税务端未查到"
    assert by_id[second["payment_id"]]["check"] == "金额不一致" and "2.00" in by_id[second["payment_id"]]["check_text"]
    assert "不一致 2 笔" in view["summary"] and "税务端未查到 1 笔，金额不一致 1 笔" in view["summary"]
    header, rows = sheet_of(api.get("/api/queries/arrival/export"))
    tickets = column(header, rows, "电子税票号码")
    assert len(rows) == 3 and all(isinstance(t, str) and len(t) == 18 for t in tickets)
    checks = column(header, rows, "核对结果")
    assert sorted(checks) == sorted(["税务端未查到", "金额不一致", "一致"])
    missing = rows[checks.index("税务端未查到")]
    assert missing[header.index("税务端实缴金额")] is None and is_number(missing[header.index("本机记录实缴金额")])


def test_one_name_per_item_code_on_every_page_and_export(api: Api, live: Any, services: Services) -> None:
    declared = declared_elsewhere(live, live.unit_id)
    payment = refreshed_service(services)
    owed = payment.arrears_view().items
    assert pay(payment, [a.arrear.arrear_id for a in owed[:3]]).ok
    # What 缴款 (and 社保费申报: the same summaries) call each item.
    paying = {a.arrear.item: a.arrear.item_name for a in owed}
    period = declared["summaries"][0]["period_from"]
    for query, body in (("unit", {}), ("bases", {}), ("payable", {"from": period, "to": period}), ("arrival", {})):
        job_result(api, api.post(f"/api/queries/{query}/sync", body))
    # A row stored under another name (an earlier client's 企业职工基本养老保险) reads as the pack names it.
    with services.store.write() as db:
        db.execute_sql("UPDATE query_registration SET item_name = '企业职工基本养老保险' WHERE item = 'pension'")

    seen: dict[str, set[str]] = {}
    for row in [*api.get("/api/queries/unit").json()["items"], *api.get("/api/queries/bases", size=500).json()["rows"],
                *api.get("/api/queries/payable", **{"from": period, "to": period}).json()["items"]]:
        seen.setdefault(row["item"], set()).add(row["item_name"])
    assert all(len(names) == 1 for names in seen.values()), seen
    names = {code: next(iter(found)) for code, found in seen.items()}
    assert {c: n for c, n in paying.items() if c in names} == {c: names[c] for c in paying if c in names}
    assert names["pension"] == paying["pension"] == "基本养老保险"
    arrival = api.get("/api/queries/arrival").json()["items"]
    assert arrival and {r["item_name"] for r in arrival} <= set(paying.values())
    for path, params in (("unit", {}), ("bases", {}), ("payable", {"from": period, "to": period}), ("arrival", {})):
        header, rows = sheet_of(api.get(f"/api/queries/{path}/export", **params))
        assert rows and set(column(header, rows, "征收项目")) <= set(names.values()), path
    page = api.get("/queries/bases").text
    assert all(f">{n}</option>" in page for c, n in names.items() if c in paying)  # the item filter too


def test_offline_and_logged_out(api: Api, services: Services, live: Any) -> None:
    job_result(api, api.post("/api/queries/unit/sync", {}))
    # The tax side goes away: the update fails with the reason, the local rows stay.
    live.running.stop()
    started = api.post("/api/queries/unit/sync", {})
    assert started.status_code == 202
    job = started.json()["job"]
    deadline = time.monotonic() + 30
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = api.get(f"/api/jobs/{job['id']}").json()["job"]
    assert job["state"] == "failed" and job["error"]["message"]
    assert api.get("/api/queries/unit").json()["count"] > 0
    services.session._offline = True  # the session's offline mode (after the connection was lost)
    answer = error_of(api.post("/api/queries/unit/sync", {}), 502)
    assert answer["code"] == "offline" and "离线" in answer["message"]
    assert api.get("/api/queries/unit").json()["count"] > 0  # local data still shows
    assert "离线模式" in api.get("/queries/unit").text
    services.session._offline = False
    services.session.logout()
    assert api.get("/api/queries/unit").status_code in (401, 403)
    assert api.client.get("/queries/bases", follow_redirects=False).status_code in (302, 303)
