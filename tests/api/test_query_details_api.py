"""社保费申报明细查询 over HTTP against a live reference tax side: the page on entry, 查询
downloading a range as a job, every filter, paging, totals, and the xlsx export (opened
with openpyxl: ID columns text and complete, amounts numbers, nothing a formula)."""

from __future__ import annotations

import io
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from client.services import Services
from tests.api.test_fee_declaration_api import job_result
from tests.api.test_wage_base_api import Api, error_of
from tests.conftest import log_in


@pytest.fixture
def live(services: Services, taxside_factory: Any) -> Any:
    taxside = taxside_factory(units=1, employees=60, seed=5)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, taxside, index=0)
    services.session.popups_shown = True
    taxside.sim("POST", f"/units/{unit.unit_id}/declaration-history", {"from": "202412", "to": "202502"})
    return taxside


@pytest.fixture
def api(live: Any, browser_client: httpx.Client) -> Api:
    return Api(browser_client)


def listed(api: Api, **query: Any) -> dict[str, Any]:
    answer = api.get("/api/queries/details", **query)
    assert answer.status_code == 200, answer.text
    return answer.json()


def declared_amounts(live: Any) -> dict[str, Decimal]:
    """What the tax side holds as declared (arrears of accepted declarations), per part."""
    con = sqlite3.connect(live.db_path)
    try:
        rows = con.execute("SELECT part, amount FROM arrear WHERE deleted = 0").fetchall()
    finally:
        con.close()
    out: dict[str, Decimal] = {"employer": Decimal("0.00"), "employee": Decimal("0.00")}
    for part, amount in rows:
        out[part] += Decimal(amount)
    return out


def test_entry_query_filters_and_totals(api: Api, live: Any) -> None:
    page = api.get("/queries/details")
    assert page.status_code == 200 and "社保费申报明细" in page.text and "申报成功" in page.text
    assert listed(api)["total"] == 0  # nothing downloaded yet: the page shows what is local
    assert api.get("/api/queries/details/options").json()["ranges"] == []

    result = job_result(api, api.post("/api/queries/details/sync", {"period_from": "202412", "period_to": "202502"}))
    assert result["fetched"] > 0 and "2024年12月至2025年02月" in result["message"]
    everything = listed(api, size=500)
    total = everything["total"]
    assert total == result["fetched"] == result["local_rows"]
    expected = declared_amounts(live)
    assert Decimal(everything["totals"]["employer"]) == expected["employer"]
    assert Decimal(everything["totals"]["employee"]) == expected["employee"]
    options = api.get("/api/queries/details/options").json()
    assert options["ranges"][0]["complete"] and options["ranges"][0]["rows"] == total
    assert {o["value"] for o in options["options"]["subitem"]} == {"正常缴费"}
    assert {o["value"] for o in options["options"]["part"]} == {"employer", "employee"}

    # Pages do not overlap and keep the (period, summary) order.
    first, second = listed(api, size=20, page=1)["rows"], listed(api, size=20, page=2)["rows"]
    assert len(first) == len(second) == 20 and not {r["key"] for r in first} & {r["key"] for r in second}
    assert [r["period"] for r in first + second] == sorted(r["period"] for r in first + second)

    one_month = listed(api, period_from="202501", period_to="202501", size=500)
    assert {r["period"] for r in one_month["rows"]} == {"202501"}
    assert 0 < one_month["total"] < total
    pension_ee = listed(api, item="pension", part="employee", size=500)
    assert pension_ee["total"] > 0
    assert all(r["item"] == "pension" and r["employee_amount"] and r["employer_amount"] is None
               for r in pension_ee["rows"])
    row = first[0]
    person = listed(api, id_number=row["id_number"].lower(), size=500)  # 证件号码 case as typed
    assert person["total"] > 3 and {r["id_number"] for r in person["rows"]} == {row["id_number"]}
    assert sum(Decimal(r["employer_amount"] or 0) for r in person["rows"]) == Decimal(person["totals"]["employer"])
    by_name = listed(api, name=row["name"], id_type=row["id_type"], size=500)
    assert {r["name"] for r in by_name["rows"]} == {row["name"]} and by_name["total"] >= person["total"]
    assert listed(api, id_type=row["id_type"])["total"] > 0
    narrow = listed(api, unit_number=row["unit_number"], agency=row["agency"], subitem="正常缴费",
                    period_from="202502", period_to="202502", item=row["item"])
    assert narrow["total"] > 0 and all(r["unit_number"] == row["unit_number"] for r in narrow["rows"])
    assert listed(api, subitem="补缴")["total"] == 0
    assert listed(api, name="没有这个人")["totals"] == {"rows": 0, "capped": False, "employer": "0.00",
                                                      "employee": "0.00"}

    assert error_of(api.get("/api/queries/details", period_from="2025-1"), 400)["field"] == "period_from"
    assert error_of(api.get("/api/queries/details", period_from="202503", period_to="202501"), 400)["field"] == "period_to"
    assert error_of(api.get("/api/queries/details", id_type="999"), 400)["field"] == "id_type"
    assert error_of(api.post("/api/queries/details/sync", {"period_from": "202401"}), 400)["field"] == "period_to"
    assert error_of(api.post("/api/queries/details/sync", {"period_from": "202001", "period_to": "202512"}),
                    400)["field"] == "period_from"
    # 查询 again: nothing new on the tax side, nothing doubled.
    again = job_result(api, api.post("/api/queries/details/sync", {"period_from": "202412", "period_to": "202502"}))
    assert again["fetched"] == 0 and listed(api)["total"] == total


def test_export_keeps_ids_as_text_and_amounts_as_numbers(api: Api, live: Any, services: Services) -> None:
    job_result(api, api.post("/api/queries/details/sync", {"period_from": "202412", "period_to": "202502"}))
    # A name that a spreadsheet would run as a formula stays text.
    with services.store.write() as db:
        db.execute_sql("UPDATE query_detail SET name = '=HYPERLINK(\"http://x\")' WHERE id = "
                       "(SELECT MIN(id) FROM query_detail WHERE period = '202412')")
    flt = {"period_from": "202412", "period_to": "202501"}
    expected = listed(api, size=500, **flt)
    total = expected["total"]
    started = api.post("/api/queries/details/export", flt)
    result = job_result(api, started)
    assert result["rows"] == total
    job_id = started.json()["job"]["id"]
    answer = api.get(f"/api/queries/details/export/{job_id}")
    assert answer.status_code == 200 and answer.content[:2] == b"PK"
    sheet = load_workbook(io.BytesIO(answer.content)).active
    header = [c.value for c in sheet[1]]
    assert header[:9] == ["费款所属期", "单位编号", "社保经办机构", "征收项目", "征收品目", "征收子目",
                          "证件类型", "证件号码", "姓名"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == total
    col = {name: header.index(name) for name in header}
    ids = [r[col["证件号码"]] for r in rows]
    assert all(isinstance(i, str) and len(i) >= 8 for i in ids)
    # Complete: the same ID numbers (with their X and leading zeros) as the tax side's rows.
    con = sqlite3.connect(live.db_path)
    try:
        known = {r[0] for r in con.execute("SELECT id_number FROM employee")}
    finally:
        con.close()
    assert set(ids) <= known
    assert all(isinstance(r[col["费款所属期"]], str) and isinstance(r[col["单位编号"]], str) for r in rows)
    assert all(isinstance(r[col["缴费基数"]], float | int) for r in rows)
    employer = sum(Decimal(str(r[col["单位缴纳金额"]])) for r in rows if r[col["单位缴纳金额"]] is not None)
    assert employer == Decimal(expected["totals"]["employer"])
    formula_cells = [c for c in sheet["I"] if c.value == '=HYPERLINK("http://x")']  # I: 姓名
    assert formula_cells and all(c.data_type == "s" for c in formula_cells)
    # Sent once, then gone.
    assert error_of(api.get(f"/api/queries/details/export/{job_id}"), 400)["field"] == "job_id"


@pytest.mark.parametrize("flt", [{}, {"item": "pension"}, {"period_from": "202501", "period_to": "202502", "part": "employer"}])
def test_pages_placed_by_counts_are_the_ordered_rows(api: Api, services: Services, flt: dict[str, str]) -> None:
    """Pages without person elements are found through the cached counts per (month,
    summary): page by page they are exactly the rows in (period, summary, id) order."""
    from client.core import query_details

    job_result(api, api.post("/api/queries/details/sync", {"period_from": "202412", "period_to": "202502"}))
    unit_pk = services.session.require_entered().local_id
    query = query_details._Query(services.store, unit_pk, query_details.DetailFilter.parse(flt))
    expected = [(r[1], r[0], r[2]) for r in services.store.db.execute_sql(query.rows_sql(), query.params)]
    got: list[tuple[str, str, str]] = []
    page = 1
    while True:
        rows = listed(api, size=37, page=page, **flt)["rows"]
        got += [(r["period"], r["summary_id"], r["employee_id"]) for r in rows]
        if len(rows) < 37:
            break
        page += 1
    refs = dict(services.store.db.execute_sql("SELECT id, summary_id FROM query_detail_summary").fetchall())
    assert got == [(p, refs[ref], emp) for p, ref, emp in expected] and len(got) > 37


def test_an_export_never_downloaded_is_removed_at_the_next_export_or_after_a_time(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from client.api import query_details as view

    job_result(api, api.post("/api/queries/details/sync", {"period_from": "202412", "period_to": "202502"}))
    first = api.post("/api/queries/details/export", {"period_from": "202412", "period_to": "202412"})
    job_result(api, first)
    first_id = first.json()["job"]["id"]
    folder = view._exports[first_id].target.parent
    assert folder.is_dir()
    # The next export supersedes the file left behind.
    removed: list[Path] = []
    remove = view._remove
    monkeypatch.setattr(view, "_remove", lambda f: (removed.append(f), remove(f)))
    monkeypatch.setattr(view, "EXPORT_TTL_SECONDS", 0.05)
    second = api.post("/api/queries/details/export", {"period_from": "202501", "period_to": "202501"})
    assert not folder.exists() and first_id not in view._exports
    assert error_of(api.get(f"/api/queries/details/export/{first_id}"), 400)["field"] == "job_id"
    job_result(api, second)
    second_id = second.json()["job"]["id"]
    # Not downloaded: its timer removes it (polled, never timed).
    for _ in range(200):
        if second_id not in view._exports:
            break
        time.sleep(0.05)
    assert second_id not in view._exports
    assert len(removed) == 2 and removed[0] == folder and not removed[1].exists()
    assert removed[1].name.startswith("sf-details-")
    assert error_of(api.get(f"/api/queries/details/export/{second_id}"), 400)["field"] == "job_id"
