"""Today's new endpoints (查询统计, 职工缴费证明, 年金缴款通知单, 操作员) fed what an attacker or a
careless paste sends, against a live reference tax side: each answers 400 naming the field in
Chinese, never 500; writes need the CSRF token; 只读 is not refused what is only viewing."""

from __future__ import annotations

import io
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from client.api.server import UIServer
from client.core import operators, permissions
from client.core.operators_roles import role_by_key
from client.services import Services
from tests.api.test_fee_declaration_api import job_result
from tests.api.test_wage_base_api import Api, error_of, wait_for_jobs
from tests.conftest import NEW_PASSWORD, log_in
from tests.sync.test_payment import declared_elsewhere

PASSWORD = "Caozuo2025"


@pytest.fixture
def api(services: Services, taxside_factory: Any, browser_client: httpx.Client) -> Api:
    taxside = taxside_factory(units=1, employees=10, seed=5)
    log_in(services, taxside, index=0)
    services.session.popups_shown = True
    return Api(browser_client)


@pytest.mark.parametrize("path", ["/api/queries/bases", "/api/queries/details"])
@pytest.mark.parametrize("page", [str(10**15), str(10**30), "9" * 5000])
def test_a_huge_page_number_is_refused_by_name(api: Api, path: str, page: str) -> None:
    # The row offset of such a page does not fit SQLite's integer: it was a 500.
    error = error_of(api.get(path, page=page), 400)
    assert error["field"] == "page" and "页码" in error["message"]


@pytest.mark.parametrize(("params", "field"), [
    ({"page": "-99999999999999999999"}, "page"),
    ({"page": "２"}, "page"),  # a full-width digit: int() takes it, the table does not mean it
    ({"size": "abc"}, "size"),  # was named "page"
    ({"size": str(10**9)}, "size"),
])
def test_page_and_size_errors_name_their_own_field(api: Api, params: dict[str, str], field: str) -> None:
    error = error_of(api.get("/api/queries/bases", **params), 400)
    assert error["field"] == field and ("页码" in error["message"] or "每页行数" in error["message"])


@pytest.mark.parametrize("query", ["payable", "arrival"])
@pytest.mark.parametrize("month", ["²⁰²⁵-01", "２０２５-01"])
def test_months_in_non_ascii_digits_are_refused(api: Api, query: str, month: str) -> None:
    # str.isdigit() passes superscripts (then int() raised: 500) and full-width digits (sent on as typed).
    listed = api.get(f"/api/queries/{query}", **{"from": month, "to": "2025-03"})
    assert error_of(listed, 400)["field"] == "from"
    exported = api.get(f"/api/queries/{query}/export", **{"from": "2025-01", "to": month})
    assert error_of(exported, 400)["field"] == "to"
    synced = api.post(f"/api/queries/{query}/sync", {"from": month, "to": month})
    assert error_of(synced, 400)["field"] == "from"


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/queries/payable/sync", {"from": "0001-01", "to": "9999-12"}, "to"),
    ("/api/queries/arrival/sync", {"from": "x" * 10_000_000, "to": "2025-01"}, "from"),
    ("/api/queries/details/sync", {"period_from": "000101", "period_to": "999912"}, "period_from"),
    ("/api/queries/details/export", {"name": "x" * 10_000_000}, "name"),
    ("/api/queries/details/export", {"name": ["=HYPERLINK(\"http://x\")"]}, "name"),
    ("/api/certificate/preview", {"employee_ids": [str(i) for i in range(1000)],
                                  "period_from": "202501", "period_to": "202502"}, "employee_ids"),
    ("/api/certificate/preview", {"employee_ids": "../../x", "period_from": "202501"}, "employee_ids"),
    ("/api/certificate/export", {"employee_ids": [{"$ne": 1}]}, "employee_ids"),
    ("/api/certificate/print", {"employee_ids": ["1"], "period_from": "000101", "period_to": "999912"},
     "period_from"),
    ("/api/certificate/verify", {"text": "a" * 1_000_000}, "text"),
    ("/api/certificate/verify", {"text": 12345}, "text"),
])
def test_hostile_bodies_are_refused_by_field(api: Api, path: str, body: dict[str, Any], field: str) -> None:
    error = error_of(api.post(path, body), 400)
    assert error["field"] == field and error["code"] == "validation"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"])  # said in Chinese


@pytest.mark.parametrize("name", ["..%2F..%2Fsocialfee.db", "CON", "缴费证明_20250101000000_zzzzzzzz.pdf",
                                  "缴费证明_20250101000000_00000000.pdf"])
def test_a_pdf_name_outside_the_printed_names_is_not_found(api: Api, name: str) -> None:
    answer = api.get(f"/api/certificate/pdf/{name}")
    assert answer.status_code == 404 and answer.json()["ok"] is False
    assert api.post(f"/api/certificate/pdf/{name}/open", {"action": "print"}).status_code in (404, 405)


NEW_POSTS = [
    "/api/queries/unit/sync", "/api/queries/payable/sync", "/api/queries/details/sync",
    "/api/queries/details/export", "/api/certificate/preview", "/api/certificate/print",
    "/api/certificate/export", "/api/certificate/verify", "/api/payment/annuity/preview",
    "/api/payment/annuity/print", "/api/operators", "/api/operators/roles", "/api/operators/mode",
]


def test_new_writes_need_the_csrf_token(api: Api, services: Services) -> None:
    jobs_before = len(services.jobs.find())
    for path in NEW_POSTS:
        for headers in ({}, {"X-CSRF-Token": "0" * 43}):
            answer = api.client.post(path, json={"text": "a" * 64, "period_from": "202501"}, headers=headers)
            assert answer.status_code == 403 and answer.json()["error"]["code"] == "csrf", path
    assert len(services.jobs.find()) == jobs_before  # nothing started


# -- operators and roles -------------------------------------------------------------------------------
@pytest.fixture
def client(ui: UIServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui.base_url, timeout=30, headers={"X-CSRF-Token": ui.csrf_token}) as c:
        assert c.get(ui.launch_url).status_code == 303
        yield c


def _multi(services: Services, units: tuple[str, ...] = ()) -> None:
    operators.start_multi(services.store, "管理员甲", "admin", PASSWORD, PASSWORD)
    readonly = role_by_key(services.store, permissions.READONLY)
    operators.add_operator(services.store, "只读乙", "readonly", PASSWORD, PASSWORD, readonly.id, list(units))


def _operator(client: httpx.Client, login_name: str) -> None:
    answer = client.post("/api/operator/login", json={"login_name": login_name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("role_id", [10**30, 2**63, -(2**70), 0])
def test_a_role_id_out_of_range_is_not_found(client: httpx.Client, services: Services, role_id: int) -> None:
    _multi(services)
    _operator(client, "admin")
    answer = client.post("/api/operators", json={"name": "丙", "login_name": "bing", "password": PASSWORD,
                                                 "confirm_password": PASSWORD, "role_id": role_id})
    assert error_of(answer, 404)["code"] == "role_not_found"
    gone = client.post(f"/api/operators/roles/{abs(role_id)}/delete", json={})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "role_not_found"


@pytest.mark.parametrize("action", ["", "/password", "/freeze", "/delete"])
def test_an_operator_id_out_of_range_is_not_found(client: httpx.Client, services: Services, action: str) -> None:
    _multi(services)
    _operator(client, "admin")
    answer = client.post(f"/api/operators/{2**63}{action}", json={"frozen": True, "password": PASSWORD})
    assert error_of(answer, 404)["code"] == "operator_not_found"


def test_only_units_of_this_pc_can_be_assigned(client: httpx.Client, services: Services) -> None:
    _multi(services)
    _operator(client, "admin")
    readonly = role_by_key(services.store, permissions.READONLY)
    answer = client.post("/api/operators", json={"name": "丙", "login_name": "bing", "password": PASSWORD,
                                                 "confirm_password": PASSWORD, "role_id": readonly.id,
                                                 "units": ["x"] * 1000})
    error = error_of(answer, 400)
    assert error["field"] == "units" and "本机没有登记单位 x" in error["message"]
    assert [o.login_name for o in operators.list_operators(services.store)] == ["admin", "readonly"]


@pytest.mark.parametrize("next_path", ["/\\evil.example", "/\t/evil.example", "//evil.example"])
def test_the_operator_login_never_sends_to_another_host(client: httpx.Client, services: Services,
                                                        next_path: str) -> None:
    _multi(services)
    page = client.get("/operator-login", params={"next": next_path})
    assert page.status_code == 200 and "evil.example" not in page.text


@pytest.mark.parametrize("next_path", ["/\\evil.example", "/\t/evil.example", "/\n/evil.example"])
def test_the_unit_login_never_sends_to_another_host(client: httpx.Client, next_path: str) -> None:
    page = client.get("/login", params={"next": next_path})
    assert page.status_code == 200 and "evil.example" not in page.text


def test_readonly_may_compute_and_print_the_annuity_notice(client: httpx.Client, services: Services,
                                                          taxside_factory: Any) -> None:
    """Viewing figures is 只读's: the page opens, so 预览 and 打印通知单 must not be refused."""
    taxside = taxside_factory(units=3, employees=40, seed=5)
    unit = log_in(services, taxside, index=2)  # the last 山西 unit is a government unit
    declared_elsewhere(taxside, unit.unit_id)
    services.session.logout()
    _multi(services, (unit.unit_id,))
    _operator(client, "readonly")
    assert client.post("/api/session/login", json={"unit_id": unit.unit_id, "password": NEW_PASSWORD}).status_code == 200
    assert client.post("/api/session/confirm", json={"confirmed": True}).status_code == 200
    wait_for_jobs(services)  # the refreshes a login starts
    services.session.popups_shown = True
    assert client.get("/payment/annuity").status_code == 200
    api = Api.__new__(Api)
    api.client, api.headers = client, {}
    body = {"period_from": "2025-03", "period_to": "2025-03"}
    preview = job_result(api, client.post("/api/payment/annuity/preview", json=body))
    assert preview["notice"]["periods"][0]["headcount"] > 0
    printed = job_result(api, client.post("/api/payment/annuity/print", json=body))
    assert client.get(f"/api/certificate/pdf/{printed['pdf_name']}").status_code == 200
    # and still nothing that changes data
    refused = client.post("/api/payment/debits", json={})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


# -- formulas from the tax side's data reach no cell as a formula ----------------------------------------
FORMULAS = ('=HYPERLINK("http://evil.example","点我")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3")


def _cells(response: httpx.Response) -> list[Any]:
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    found = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
                found.append(cell.value)
    return found


def test_formula_names_from_the_tax_side_stay_text_in_every_new_export(
    services: Services, taxside_factory: Any, browser_client: httpx.Client
) -> None:
    taxside = taxside_factory(units=1, employees=10, seed=5)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0, "arrival_delay_seconds": 0})
    con = sqlite3.connect(taxside.db_path)
    try:  # the tax side's own data, as another client or a hostile answer could leave it
        ids = [r[0] for r in con.execute("SELECT id FROM employee ORDER BY id LIMIT ?", (len(FORMULAS),))]
        for pk, name in zip(ids, FORMULAS, strict=True):
            con.execute("UPDATE employee SET name = ? WHERE id = ?", (name, pk))
        con.commit()
    finally:
        con.close()
    unit = log_in(services, taxside, index=0)
    services.session.popups_shown = True
    declared_elsewhere(taxside, unit.unit_id)
    con = sqlite3.connect(taxside.db_path)
    try:  # the declared details keep the name as declared: hostile there too
        for pk, name in zip(ids, FORMULAS, strict=True):
            con.execute("UPDATE fee_detail SET name = ? WHERE employee_pk = ?", (name, pk))
        con.commit()
    finally:
        con.close()
    api = Api(browser_client)
    rows = api.get("/api/enrollment", size=50).json()["rows"]
    chosen = [r for r in rows if r["name"] in FORMULAS]
    assert len(chosen) == len(FORMULAS)
    body = {"employee_ids": [r["employee_id"] for r in chosen], "period_from": "2025-01", "period_to": "2025-06"}
    exported = _cells(api.post("/api/certificate/export", body))
    assert set(FORMULAS) <= set(exported)
    job_result(api, api.post("/api/queries/bases/sync", {}))
    assert set(FORMULAS) <= set(_cells(api.get("/api/queries/bases/export")))
    job_result(api, api.post("/api/queries/details/sync", {"period_from": "202501", "period_to": "202506"}))
    export_job = api.post("/api/queries/details/export", {})
    job = job_result(api, export_job)
    assert job["rows"] > 0
    details = _cells(api.get(f"/api/queries/details/export/{export_job.json()['job']['id']}"))
    assert set(FORMULAS) <= set(details)


def test_a_failed_export_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import Flask

    from client.api.files import send_xlsx
    from client.errors import ValidationError

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def half_written(target: Path) -> None:
        target.write_bytes(b"PK half a workbook")
        raise ValidationError("导出的行数超过 Excel 的上限", field="rows")

    with Flask(__name__).test_request_context(), pytest.raises(ValidationError):
        send_xlsx(half_written, "职工缴费基数.xlsx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["/api/certificate/verify", "/api/certificate/preview", "/api/queries/details/sync",
                                  "/api/operators/roles", "/api/payment/annuity/preview"])
def test_json_nested_too_deep_is_bad_json_not_a_crash(api: Api, path: str) -> None:
    # json.loads raises RecursionError here, which Flask's get_json did not turn into bad JSON: a 500.
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    answer = api.client.post(path, content=deep, headers={**api.headers, "content-type": "application/json"})
    assert answer.status_code in (400, 404), answer.text  # 404: this 北京 unit has no 年金缴款通知单
    assert answer.json()["ok"] is False and answer.json()["error"]["code"] != "internal"
