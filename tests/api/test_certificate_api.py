"""职工缴费证明 over HTTP against a live reference tax side: preview, print (PDF saved, each
employee's hash recorded), 核验 of a printed hash and of a foreign one, xlsx export with IDs as
text and amounts as numbers, and the refusals (no employee, bad range, another unit's id)."""

from __future__ import annotations

import io
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from client.services import Services
from tests.api.test_fee_declaration_api import job_result
from tests.api.test_wage_base_api import Api, error_of
from tests.conftest import NEW_PASSWORD, log_in
from tests.sync.test_payment import declared_elsewhere


@pytest.fixture
def live(services: Services, taxside_factory: Any) -> Any:
    taxside = taxside_factory(units=1, employees=30, seed=5)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, taxside, index=0)
    services.session.popups_shown = True
    declared_elsewhere(taxside, unit.unit_id)
    return taxside


@pytest.fixture
def api(live: Any, browser_client: httpx.Client) -> Api:
    return Api(browser_client)


def employees(api: Api, count: int = 2) -> list[dict[str, Any]]:
    rows = api.get("/api/enrollment", status="正常缴费", size=count).json()["rows"]
    assert len(rows) == count
    return rows


def body(people: list[dict[str, Any]], start: str = "2025-01", end: str = "2025-06") -> dict[str, Any]:
    return {"employee_ids": [e["employee_id"] for e in people], "period_from": start, "period_to": end}


def test_preview_print_verify_export(api: Api, services: Services) -> None:
    people = employees(api)
    assert api.get("/certificate").status_code == 200
    preview = api.post("/api/certificate/preview", body(people))
    assert preview.status_code == 200, preview.text
    persons = preview.json()["persons"]
    assert [p["id_number"] for p in persons] == [e["id_number"] for e in people]
    first = persons[0]
    assert first["rows"] and {r["period"] for r in first["rows"]} == {"202503"} and first["months"] == 1
    assert all(r["state"] == "unpaid" and r["state_label"] == "未缴" for r in first["rows"])
    assert Decimal(first["total"]) == sum(Decimal(r["total"]) for r in first["rows"]) > 0
    assert isinstance(first["rows"][0]["base"], str)

    answer = job_result(api, api.post("/api/certificate/print", body(people)))
    assert len(answer["certificates"]) == 2 and answer["pdf_name"].endswith(".pdf")
    hashes = [c["sha256"] for c in answer["certificates"]]
    assert len(set(hashes)) == 2 and all(len(h) == 64 for h in hashes)
    pdf = api.get(f"/api/certificate/pdf/{answer['pdf_name']}")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for person, digest in zip(persons, hashes, strict=True):
        assert person["name"] in text and person["id_number"] in text and digest[:32] in text
        assert f"{Decimal(person['total']):,.2f}" in text
    assert "本证明由 socialfee 根据税务端数据打印" in text
    assert (services.home / "certificates" / answer["pdf_name"]).is_file()
    assert error_of(api.get("/api/certificate/pdf/settings.json"), 404)["code"] == "certificate_not_found"

    checked = api.post("/api/certificate/verify", {"text": answer["certificates"][1]["qr_text"]}).json()
    assert checked["found"] and checked["record"]["name"] == persons[1]["name"]
    assert checked["record"]["period_from"] == "202501" and checked["record"]["period_to"] == "202506"
    assert persons[1]["name"] in checked["message"] and checked["record"]["operator"]
    upper = api.post("/api/certificate/verify", {"text": f"核验码：{hashes[0].upper()}"}).json()
    assert upper["found"] and upper["sha256"] == hashes[0]
    foreign = api.post("/api/certificate/verify", {"text": "0" * 64}).json()
    assert not foreign["found"] and "没有打印过" in foreign["message"]
    assert error_of(api.post("/api/certificate/verify", {"text": "abc"}), 400)["field"] == "text"
    recent = api.get("/api/certificate/records").json()["items"]
    assert {r["sha256"] for r in recent} >= set(hashes)

    export = api.post("/api/certificate/export", body(people))
    assert export.status_code == 200, export.text
    sheet = load_workbook(io.BytesIO(export.content)).active
    header = [c.value for c in sheet[1]]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    ids = {r[header.index("证件号码")] for r in rows}
    assert ids == {e["id_number"] for e in people} and all(isinstance(i, str) for i in ids)
    assert all(isinstance(r[header.index("费款所属期")], str) for r in rows)
    detail = [r for r in rows if r[header.index("险种")] != "合计"]
    assert all(isinstance(r[header.index("单位缴费")], int | float) for r in detail)
    totals = [r for r in rows if r[header.index("险种")] == "合计"]
    assert [Decimal(str(r[header.index("合计")])) for r in totals] == [Decimal(p["total"]) for p in persons]


def test_paid_months_show_paid(api: Api) -> None:
    people = employees(api, 1)
    before = api.post("/api/certificate/preview", body(people)).json()["persons"][0]
    assert before["rows"] and all(r["state"] == "unpaid" for r in before["rows"])
    # Pay every arrear by 三方协议 through the client, as the operator would.
    job_result(api, api.post("/api/payment/arrears/refresh"))
    listed = api.get("/api/payment/arrears").json()
    ids = [i["arrear_id"] for i in listed["items"]]
    picked = api.post("/api/payment/arrears/selection", {"arrear_ids": ids}).json()
    agreement = next(a for a in listed["agreements"] if a["can_debit_fees"])
    paid = api.post("/api/payment/debits", {"agreement_id": agreement["agreement_id"], "arrear_ids": ids,
                                            "confirmed_total": picked["total"]})
    assert paid.status_code == 201 and paid.json()["ok"], paid.text
    after = api.post("/api/certificate/preview", body(people)).json()["persons"][0]
    assert [r["total"] for r in after["rows"]] == [r["total"] for r in before["rows"]]
    assert all(r["state"] == "paid" and r["state_label"] == "已缴" and r["paid_on"] for r in after["rows"])


def test_refusals(api: Api) -> None:
    people = employees(api, 1)
    assert error_of(api.post("/api/certificate/preview", body([])), 400)["field"] == "employee_ids"
    assert error_of(api.post("/api/certificate/preview", body(people, "2025-06", "2025-01")), 400)["field"] == "period_from"
    assert error_of(api.post("/api/certificate/preview", body(people, "2010-01", "2025-06")), 400)["field"] == "period_to"
    assert error_of(api.post("/api/certificate/preview", body(people, "2025-13", "2025-06")), 400)["field"] == "period_from"
    missing = api.post("/api/certificate/preview", {**body(people), "employee_ids": ["E999999999"]})
    assert missing.status_code == 404
    too_many = {**body(people), "employee_ids": [f"E{n:09d}" for n in range(51)]}
    assert "最多" in error_of(api.post("/api/certificate/preview", too_many), 400)["message"]
    # Writes need the page's CSRF header.
    assert api.client.post("/api/certificate/print", json=body(people)).status_code == 403


@pytest.mark.parametrize("kind, message", [("error", "繁忙"), ("malformed_json", "格式有误"), ("cut_body", "")])
def test_tax_side_faults_print_nothing(api: Api, live: Any, services: Services, kind: str, message: str) -> None:
    people = employees(api, 1)
    live.fault(f"/v1/units/{live.unit(0).unit_id}/contributions", kind, status=503, count=100)
    job = api.post("/api/certificate/print", body(people)).json()["job"]
    deadline = time.monotonic() + 30
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = api.get(f"/api/jobs/{job['id']}").json()["job"]
    assert job["state"] == "failed" and message in job["error"]["message"]
    assert not (services.home / "certificates").exists() or not list((services.home / "certificates").iterdir())
    assert api.get("/api/certificate/records").json()["items"] == []
    live.clear_faults()
    assert job_result(api, api.post("/api/certificate/print", body(people)))["pdf_name"]


def test_employee_search_is_the_pages_own(api: Api, services: Services) -> None:
    """查找职工 answers from /api/certificate (the certificate permission), with only what choosing needs."""
    person = employees(api, 1)[0]
    by_name = api.get("/api/certificate/employees", q=person["name"]).json()
    assert by_name["ok"] and person["employee_id"] in {r["employee_id"] for r in by_name["rows"]}
    by_id = api.get("/api/certificate/employees", q=person["id_number"][:10]).json()
    assert person["id_number"] in {r["id_number"] for r in by_id["rows"]}
    assert set(by_id["rows"][0]) == {"employee_id", "name", "id_type", "id_number", "status"}
    assert error_of(api.get("/api/certificate/employees", q=" "), 400)["field"] == "q"
    assert api.get("/api/certificate/employees", q="没有这个人").json()["rows"] == []


def test_a_role_with_only_the_certificate_can_find_employees(live: Any, api: Api, services: Services) -> None:
    from client.core import operators
    from client.core.operators_roles import save_role

    person = employees(api, 1)[0]
    operators.start_multi(services.store, "管理员甲", "admin", "Caozuo2025", "Caozuo2025")
    role = save_role(services.store, None, "缴费证明查看", ["certificate.view"])
    unit_id = live.unit(0).unit_id
    operators.add_operator(services.store, "证明乙", "cert", "Caozuo2025", "Caozuo2025", role.id, [unit_id])
    login = api.post("/api/operator/login", {"login_name": "cert", "password": "Caozuo2025"})
    assert login.status_code == 200, login.text
    # The operator enters the unit, as in the window.
    assert api.post("/api/session/login", {"unit_id": unit_id, "password": NEW_PASSWORD}).status_code == 200
    assert api.post("/api/session/confirm", {"confirmed": True}).status_code == 200
    assert api.get("/api/enrollment", name=person["name"]).status_code == 403  # not this role's
    found = api.get("/api/certificate/employees", q=person["name"])
    assert found.status_code == 200, found.text
    assert person["employee_id"] in {r["employee_id"] for r in found.json()["rows"]}


def test_unknown_employee_names_the_field_and_value(api: Api) -> None:
    people = employees(api, 1)
    answer = api.post("/api/certificate/preview", {**body(people), "employee_ids": [people[0]["employee_id"], "E999999999"]})
    error = error_of(answer, 404)
    assert error["field"] == "employee_ids" and error["code"] == "employee_not_found"
    assert "职工" in error["message"] and "E999999999" in error["message"] and "第 2 名" in error["message"]


@pytest.mark.parametrize("text", [["a" * 64], {"text": "a" * 64}, 7])
def test_verify_takes_only_text(api: Api, text: Any) -> None:
    error = error_of(api.post("/api/certificate/verify", {"text": text}), 400)
    assert error["field"] == "text" and "文本" in error["message"]


def test_range_too_long_says_how_many(api: Api) -> None:
    message = error_of(api.post("/api/certificate/preview", body(employees(api, 1), "2010-01", "2025-06")), 400)["message"]
    assert "120" in message and "已选 186 个月" in message


def test_a_pdf_is_served_only_to_the_unit_that_printed_it(services: Services, taxside_factory: Any,
                                                         browser_client: httpx.Client) -> None:
    """Two units on this PC share the PDF folder: the other unit's operator gets 404, not the file."""
    taxside = taxside_factory(units=2, employees=10, seed=5)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    first = log_in(services, taxside, index=0)
    declared_elsewhere(taxside, first.unit_id)
    api = Api(browser_client)
    printed = job_result(api, api.post("/api/certificate/print", body(employees(api, 1))))["pdf_name"]
    assert api.get(f"/api/certificate/pdf/{printed}").status_code == 200
    log_in(services, taxside, index=1)
    services.session.popups_shown = True
    assert (services.home / "certificates" / printed).is_file()
    refused = error_of(api.get(f"/api/certificate/pdf/{printed}"), 404)
    assert refused["code"] == "certificate_not_found" and "本单位" in refused["message"]
    opened = api.post(f"/api/certificate/pdf/{printed}/open", {"action": "open"})
    assert error_of(opened, 404)["code"] == "certificate_not_found"
    assert api.get("/api/certificate/records").json()["items"] == []
