"""缴费工资申报 over HTTP: every endpoint's happy path and its error shape, against a live tax side."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook

from client.backup import service as backup_service
from client.services import Services
from tests.conftest import NEW_PASSWORD, csrf_of, log_in
from tests.core.hostile_files import cell, sheet_xml, write_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Api:
    """The browser client with the CSRF header on every write."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.headers = {"X-CSRF-Token": csrf_of(client)}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, json=json, headers=self.headers, **kwargs)

    def put(self, path: str, json: Any) -> httpx.Response:
        return self.client.put(path, json=json, headers=self.headers)

    def upload(
        self, kind: str, data: bytes, name: str = "工资.xlsx", replace: bool = False
    ) -> httpx.Response:
        return self.client.post(
            f"/api/wage-base/{kind}/import",
            headers=self.headers,
            files={"file": (name, data, XLSX)},
            data={"replace": "1" if replace else "0"},
        )

    def rows(self, kind: str = "daily") -> dict[str, Any]:
        response = self.get(f"/api/wage-base/{kind}", size=200)
        assert response.status_code == 200
        return response.json()


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The pinned error shape {ok: false, error: {code, message, field, row}}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False and set(body["error"]) == {"code", "message", "field", "row"}
    return body["error"]


def wait_for_jobs(services: Services) -> None:
    deadline = time.monotonic() + 20
    while services.jobs.find(active_only=True) and time.monotonic() < deadline:
        time.sleep(0.02)


def employees(services: Services, status: str = "正常缴费") -> list[tuple[str, str, str]]:
    """(employee_id, name, id_number) of the logged-in unit's synced employees."""
    return services.store.db.execute_sql(
        "SELECT employee_id, name, id_number FROM enrollment_employee WHERE status = ? AND removed = 0 "
        "ORDER BY id",
        (status,),
    ).fetchall()


def xlsx(
    rows: list[list[Any]], header: tuple[str, ...] = ("姓名", "证件号码", "新缴费工资", "生效年月")
) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def live(services: Services, taxside_factory: Any) -> Any:
    """One 北京 unit (税务自主征收) with 40 employees, logged in; its business date is 2025-03-15."""
    taxside = taxside_factory(units=1, employees=40, seed=5)
    log_in(services, taxside, index=0)
    services.session.popups_shown = True
    return taxside


@pytest.fixture
def api(live: Any, browser_client: httpx.Client) -> Api:
    return Api(browser_client)


def test_pages_and_redirect(api: Api) -> None:
    home = api.client.get("/wage-base", follow_redirects=False)
    assert home.status_code == 302 and home.headers["location"].endswith("/wage-base/daily")
    for path, text in (
        ("/wage-base/daily", "日常缴费工资申报"),
        ("/wage-base/annual", "当前不在年度缴费工资申报开放时间"),
        ("/wage-base/records", "获取反馈"),
    ):
        page = api.get(path)
        assert page.status_code == 200 and text in page.text, path
    nav = api.get("/").text
    assert 'data-nav="wage_base"' in nav


def test_single_entry_edit_and_errors(api: Api, services: Services) -> None:
    (emp_id, name, id_number), *_ = employees(services)
    added = api.post(
        "/api/wage-base/daily/rows",
        {"employee_id": emp_id, "new_base": "8,000", "effective_month": "2025-04"},
    )
    assert added.status_code == 201
    row = added.json()["row"]
    assert (row["name"], row["id_number"], row["new_base"], row["effective_month"]) == (
        name,
        id_number,
        "8000.00",
        "202504",
    )

    again = error_of(
        api.post("/api/wage-base/daily/rows", {"employee_id": emp_id, "new_base": "8000"}), 409
    )
    assert again["code"] == "already_in_draft" and name in again["message"]
    unknown = error_of(
        api.post("/api/wage-base/daily/rows", {"employee_id": "E999999999", "new_base": "1"}), 404
    )
    assert unknown["code"] == "employee_not_found"
    stopped = employees(services, "停止缴费")  # seed 5: 5 of the 40
    refused = error_of(
        api.post("/api/wage-base/daily/rows", {"employee_id": stopped[0][0], "new_base": "8000"}),
        400,
    )
    assert "停止缴费" in refused["message"]
    _, (other, _, _), *_ = employees(services)
    late = error_of(
        api.post(
            "/api/wage-base/daily/rows",
            {"employee_id": other, "new_base": "8000", "effective_month": "202509"},
        ),
        400,
    )
    assert late["field"] == "effective_month" and "超出允许范围" in late["message"]

    # 修改: a base below the floor is kept with a warning (the tax side decides).
    edited = api.put(
        f"/api/wage-base/daily/rows/{row['id']}",
        {"new_base": "100", "effective_month": "202503", "row_version": row["row_version"]},
    )
    assert edited.status_code == 200 and "低于" in edited.json()["row"]["warning"]
    bad = error_of(api.put(f"/api/wage-base/daily/rows/{row['id']}", {"new_base": "abc", "row_version": 2}), 400)
    assert bad["field"] == "new_base" and bad["message"]
    gone = error_of(api.put("/api/wage-base/daily/rows/999999", {"new_base": "8000", "row_version": 1}), 404)
    assert gone["code"] == "draft_row_not_found"
    listed = api.rows()
    assert listed["total"] == 1 and listed["summary"]["warnings"] == 1


def test_add_many_query_batch_delete_export(api: Api, services: Services) -> None:
    normal = employees(services)
    added = api.post("/api/wage-base/daily/add", {"mode": "normal"}).json()
    assert added["added"] == len(normal) and "已添加" in added["message"]
    again = api.post("/api/wage-base/daily/add", {"mode": "normal"}).json()
    assert again["added"] == 0 and again["already"] == len(normal)
    unit_number = services.store.db.execute_sql(
        "SELECT unit_number FROM enrollment_employee LIMIT 1"
    ).fetchone()[0]
    by_number = api.post(
        "/api/wage-base/daily/add", {"mode": "unit_number", "unit_number": unit_number}
    )
    assert by_number.status_code == 200 and by_number.json()["added"] == 0
    assert (
        error_of(api.post("/api/wage-base/daily/add", {"mode": "unit_number"}), 400)["field"]
        == "unit_number"
    )
    assert error_of(api.post("/api/wage-base/daily/add", {"mode": "all"}), 400)["field"] == "mode"

    # 查询 by person elements: exact ID number, exact name.
    _, name, id_number = normal[3]
    found = api.get("/api/wage-base/daily", id_number=id_number.lower()).json()
    assert [r["name"] for r in found["rows"]] == [name]
    assert api.get("/api/wage-base/daily", name=name).json()["total"] >= 1
    assert error_of(api.get("/api/wage-base/daily", id_type="999"), 400)["field"] == "id_type"

    rows = api.rows()["rows"]
    ids = [r["id"] for r in rows[:3]]
    # 批量修改: +5% on the current base, and the effective month.
    changed = api.post(
        "/api/wage-base/daily/batch",
        {"ids": ids, "ratio_percent": "5", "basis": "current", "effective_month": "2025-04"},
    )
    assert changed.json() == {"ok": True, "changed": 3, "message": "已修改 3 行"}
    after = {r["id"]: r for r in api.rows()["rows"]}
    for r in rows[:3]:
        expected = f"{float(r['current_base']) * 1.05:.2f}"
        assert (
            after[r["id"]]["new_base"] == expected and after[r["id"]]["effective_month"] == "202504"
        )
    fixed = api.post("/api/wage-base/daily/batch", {"ids": ids[:1], "amount": "9000"})
    assert fixed.status_code == 200 and api.rows()["rows"][0]["new_base"] == "9000.00"
    both = error_of(
        api.post("/api/wage-base/daily/batch", {"ids": ids, "ratio_percent": "5", "amount": "1"}),
        400,
    )
    assert both["field"] == "ratio_percent"
    assert error_of(
        api.post("/api/wage-base/daily/batch", {"ids": ids, "ratio_percent": "abc"}), 400
    )["message"]
    assert (
        error_of(api.post("/api/wage-base/daily/batch", {"ids": ids}), 400)["field"]
        == "effective_month"
    )
    assert (
        error_of(api.post("/api/wage-base/daily/batch", {"ratio_percent": "5"}), 400)["field"]
        == "ids"
    )
    assert (
        error_of(api.post("/api/wage-base/daily/batch", {"ids": [], "ratio_percent": "5"}), 400)[
            "field"
        ]
        == "ids"
    )
    assert (
        error_of(api.post("/api/wage-base/daily/batch", {"ids": ["x"], "ratio_percent": "5"}), 400)[
            "field"
        ]
        == "ids"
    )

    # 导出 selected, and all.
    selected = api.post("/api/wage-base/daily/export", {"ids": ids})
    assert selected.status_code == 200 and selected.headers["content-type"] == XLSX
    table = list(load_workbook(io.BytesIO(selected.content)).active.iter_rows(values_only=True))
    assert (
        table[0][:5] == ("姓名", "证件类型", "证件号码", "新缴费工资", "生效年月")
        and len(table) == 4
    )
    everything = api.post("/api/wage-base/daily/export", {})
    assert (
        len(list(load_workbook(io.BytesIO(everything.content)).active.iter_rows()))
        == len(normal) + 1
    )

    # 删除
    deleted = api.post("/api/wage-base/daily/delete", {"ids": ids})
    assert deleted.json()["deleted"] == 3 and api.rows()["total"] == len(normal) - 3
    assert error_of(api.post("/api/wage-base/daily/delete", {}), 400)["field"] == "ids"


def test_template_insured_and_import(api: Api, services: Services, tmp_path: Path) -> None:
    template = api.post("/api/wage-base/daily/template")
    assert template.status_code == 200 and template.headers["content-type"] == XLSX
    assert "attachment" in template.headers["content-disposition"]
    head = next(load_workbook(io.BytesIO(template.content)).active.iter_rows(values_only=True))
    assert head[:5] == ("姓名", "证件类型", "证件号码", "新缴费工资", "生效年月")

    insured = api.post("/api/wage-base/daily/insured")
    book = load_workbook(io.BytesIO(insured.content)).active
    rows = list(book.iter_rows(min_row=2, values_only=True))
    normal = employees(services)
    assert len(rows) == len(normal) and all(isinstance(r[2], str) and len(r[2]) == 18 for r in rows)
    assert book.cell(2, 3).number_format == "@"

    # The downloaded file, filled in offline, round-trips.
    for n, cells in enumerate(book.iter_rows(min_row=2, max_col=5), start=2):
        cells[3].value, cells[4].value = 7000 + n, "202504"
    out = io.BytesIO()
    book.parent.save(out)
    report = error_of(api.post("/api/wage-base/daily/import-report"), 404)
    assert report["code"] == "no_report"
    first = api.upload("daily", out.getvalue())
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["imported"] == len(normal) and body["bad_rows"] == 0 and body["report"] is False

    # A second import over a non-empty draft needs replace=1; until then nothing changes.
    _, name, id_number = normal[0]
    second = xlsx(
        [[name, id_number, "9000", "202504"], ["某某", "110105199001011234", "9000", "202504"]]
    )
    refused = error_of(api.upload("daily", second), 409)
    assert refused["code"] == "draft_not_empty" and str(len(normal)) in refused["message"]
    assert api.rows()["total"] == len(normal)

    # Not a spreadsheet: 400 with a Chinese reason, the draft untouched even with replace=1.
    for data, name_ in (
        (b"%PDF-1.4 not a table", "工资.pdf"),
        (b"", "空.xlsx"),
        (b"PK\x03\x04broken", "坏.xlsx"),
    ):
        bad = error_of(api.upload("daily", data, name_, replace=True), 400)
        assert bad["field"] == "file" and any(
            "\u4e00" <= ch <= "\u9fff" for ch in bad["message"]
        ), bad
    assert api.rows()["total"] == len(normal)
    # A crafted workbook (its one cell at XFD1048576; 2 KB that once took the server down) is
    # refused over HTTP with a Chinese reason, whatever the chosen mode; the draft is as it was
    # and the server still answers.
    far = write_xlsx(tmp_path / "far.xlsx", sheet_xml([b'<row r="1048576">' + cell("XFD1048576", 1) + b"</row>"]))
    for mode in ("merge", "replace"):
        refused_far = api.client.post(
            "/api/wage-base/daily/import", headers=api.headers,
            files={"file": ("far.xlsx", far.read_bytes(), XLSX)}, data={"mode": mode},
        )
        assert error_of(refused_far, 400)["field"] == "file"
    assert api.rows()["total"] == len(normal)
    missing = error_of(
        api.client.post("/api/wage-base/daily/import", headers=api.headers, data={"replace": "1"}),
        400,
    )
    assert missing["field"] == "file"

    # With replace=1: one good row, one bad; the error report is there to download.
    replaced = api.upload("daily", second, replace=True).json()
    assert (replaced["imported"], replaced["bad_rows"], replaced["report"]) == (1, 1, True)
    problem = replaced["problems"][0]
    assert problem["row"] == 3 and problem["severity"] == "error" and problem["message"]
    assert api.rows()["total"] == 1
    report_file = api.post("/api/wage-base/daily/import-report")
    assert report_file.status_code == 200
    lines = list(load_workbook(io.BytesIO(report_file.content)).active.iter_rows(values_only=True))
    assert lines[1][-1] == "错误原因" and lines[2][1] == "110105199001011234"
    reasons = [
        b.reason
        for b in backup_service.list_backups(
            backup_service.backup_folder(services.home, services.settings)
        )
    ]
    assert "导入覆盖缴费工资申报列表之前" in reasons  # backed up before replacing

    # Replacing with a file whose every row is bad keeps the list as it was.
    all_bad = api.upload(
        "daily", xlsx([["某某", "110105199001011234", "abc", "202504"]]), replace=True
    )
    assert all_bad.json()["imported"] == 0 and all_bad.json()["kept"] is True
    assert "申报列表保持不变" in all_bad.json()["message"]
    assert [r["id_number"] for r in api.rows()["rows"]] == [id_number]


def test_submit_checks_and_records(api: Api, live: Any, services: Services) -> None:
    assert error_of(api.post("/api/wage-base/daily/submit", {}), 400)["field"] == "draft"  # empty
    (first, first_name, _), (second, second_name, _), *_ = employees(services)
    api.post(
        "/api/wage-base/daily/rows",
        {"employee_id": first, "new_base": "8000", "effective_month": "202504"},
    )
    row = api.post(
        "/api/wage-base/daily/rows",
        {"employee_id": second, "new_base": "", "effective_month": "202504"},
    )
    blocked = error_of(api.post("/api/wage-base/daily/submit", {"confirmed": True}), 400)
    assert blocked["field"] == "draft" and "未填写" in blocked["message"]
    row_id = row.json()["row"]["id"]
    api.put(f"/api/wage-base/daily/rows/{row_id}", {"new_base": "8000", "effective_month": "", "row_version": 1})
    assert "生效年月" in error_of(api.post("/api/wage-base/daily/submit", {}), 400)["message"]

    # A zero base needs 确认: 409 confirm_submit, then confirmed goes out.
    api.put(f"/api/wage-base/daily/rows/{row_id}", {"new_base": "0", "effective_month": "202504", "row_version": 2})
    ask = error_of(api.post("/api/wage-base/daily/submit", {}), 409)
    assert ask["code"] == "confirm_submit" and "为 0" in ask["message"]
    assert api.rows()["total"] == 2
    sent = api.post("/api/wage-base/daily/submit", {"confirmed": True})
    assert sent.status_code == 201
    entry = sent.json()["entry"]
    assert entry["state"] == "queued" and entry["row_count"] == 2 and sent.json()["job"]
    assert api.rows()["total"] == 0
    wait_for_jobs(services)

    records = api.get("/api/wage-base/records").json()
    assert records["total"] == 1 and records["rows"][0]["state"] == "awaiting"
    assert records["rows"][0]["state_label"] == "待反馈" and records["open"]["awaiting"] == 1
    assert api.get("/api/wage-base/records", state="accepted").json()["total"] == 0
    assert error_of(api.get("/api/wage-base/records", state="nope"), 400)["field"] == "state"
    assert (
        error_of(api.get("/api/wage-base/records", date_from="15/03/2025"), 400)["field"]
        == "date_from"
    )
    nothing = api.post("/api/wage-base/records/send").json()
    assert nothing["message"] == "没有待发送的申报" and nothing["job"] is None

    # The base of 0 is below the floor: the tax side rejects the whole declaration.
    live.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    feedback = api.post("/api/wage-base/records/feedback").json()
    assert (
        feedback["checked"] == 1
        and feedback["rejected"] == 1
        and "申报失败 1 笔" in feedback["message"]
    )
    done = api.get("/api/wage-base/records").json()["rows"][0]
    assert done["state_label"] == "申报失败" and done["reason_count"] >= 1
    assert api.post("/api/wage-base/records/feedback").json()["message"] == "无需获取反馈"

    reasons = api.get(f"/api/wage-base/records/{done['id']}/reasons").json()
    assert reasons["total"] == done["reason_count"]
    assert any(r["row"] == 2 and "下限" in r["message"] for r in reasons["rows"])
    assert (
        error_of(api.get("/api/wage-base/records/99999/reasons"), 404)["code"]
        == "submission_not_found"
    )

    # 复制回申报列表: both rows back, the rejected one with its reason.
    copied = api.post(f"/api/wage-base/records/{done['id']}/copy-back").json()
    assert copied["kind"] == "daily" and "已复制 2 行" in copied["message"]
    back = {r["name"]: r for r in api.rows()["rows"]}
    assert len(back) == 2 and back[second_name]["warning"].startswith("上次申报失败：")
    assert back[first_name]["warning"] == ""  # that row had nothing wrong
    assert (
        error_of(api.post("/api/wage-base/records/99999/copy-back"), 404)["code"]
        == "submission_not_found"
    )


def test_accepted_declaration_cannot_be_copied_back(
    api: Api, live: Any, services: Services
) -> None:
    (emp, _, _), *_ = employees(services)
    api.post(
        "/api/wage-base/daily/rows",
        {"employee_id": emp, "new_base": "9000", "effective_month": "202504"},
    )
    entry = api.post("/api/wage-base/daily/submit", {}).json()["entry"]
    wait_for_jobs(services)
    live.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    assert api.post("/api/wage-base/records/feedback").json()["accepted"] == 1
    refused = error_of(api.post(f"/api/wage-base/records/{entry['id']}/copy-back"), 409)
    assert refused["code"] == "not_rejected"


def test_annual_window(api: Api, live: Any, services: Services) -> None:
    (emp, _, _), *_ = employees(services)
    closed = error_of(
        api.post("/api/wage-base/annual/rows", {"employee_id": emp, "new_base": "9000"}), 409
    )
    assert closed["code"] == "annual_window_closed" and "开放时间" in closed["message"]
    assert (
        error_of(api.post("/api/wage-base/annual/add", {"mode": "normal"}), 409)["code"]
        == "annual_window_closed"
    )
    assert (
        error_of(api.upload("annual", xlsx([], ("证件号码", "新缴费工资"))), 409)["code"]
        == "annual_window_closed"
    )
    summary = api.rows("annual")["summary"]
    assert summary["annual_open"] is False and summary["annual_window"]


def test_agency_unit_has_no_wage_base_module(
    services: Services, taxside_factory: Any, browser_client: httpx.Client
) -> None:
    taxside = taxside_factory(units=1, employees=20, seed=4)  # seed 4: a 税务代征 unit
    unit = log_in(services, taxside, index=0)
    services.session.popups_shown = True
    from client.core import units

    assert units.registration(unit.unit_id).collection_mode == "税务代征"
    home = browser_client.get("/")
    assert 'data-nav="wage_base"' not in home.text and "缴费工资申报" not in home.text
    page = browser_client.get("/wage-base/daily")
    assert page.status_code == 404 and "税务代征" in page.text
    api = Api(browser_client)
    for response in (
        api.get("/api/wage-base/daily"),
        api.get("/api/wage-base/records"),
        api.post("/api/wage-base/daily/add", {"mode": "normal"}),
        api.post("/api/wage-base/records/feedback"),
    ):
        error = error_of(response, 404)
        assert error["code"] == "module_hidden" and "税务代征" in error["message"]


def test_annual_window_open(api: Api, live: Any, services: Services) -> None:
    live.sim("PUT", "/settings", {"today": "2025-08-01"})
    unit = live.unit(0)
    services.session.login(unit.unit_id, NEW_PASSWORD)  # the business date comes with the login
    services.session.registration()
    services.session.confirm()
    wait_for_jobs(services)
    (emp, _, _), *_ = employees(services)
    row = api.post("/api/wage-base/annual/rows", {"employee_id": emp, "new_base": "9000"})
    assert row.status_code == 201 and row.json()["row"]["effective_month"] == ""
    month = error_of(
        api.post(
            "/api/wage-base/annual/batch",
            {"ids": [row.json()["row"]["id"]], "effective_month": "202507"},
        ),
        400,
    )
    assert "由系统自动处理" in month["message"]
    summary = api.rows("annual")["summary"]
    assert summary["annual_open"] is True and summary["annual_month"] == "202507"
    entry = api.post("/api/wage-base/annual/submit", {}).json()["entry"]
    assert entry["kind_label"] == "年度缴费工资申报" and "生效年月 202507" in entry["summary"]
    assert api.rows("daily")["total"] == 0  # the daily list is its own
