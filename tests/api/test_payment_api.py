"""费款缴纳 over HTTP (the JSON API the pages use) against a live reference tax side: arrears
and their refresh job, selection totals, agreements, a debit and the refused second one,
vouchers with their PDF, reprint and void, payment records with export, home alerts."""

from __future__ import annotations

import io
import threading
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from client.services import Services
from tests.api.test_fee_declaration_api import job_result
from tests.api.test_wage_base_api import Api, error_of
from tests.conftest import log_in
from tests.sync.test_payment import debits_per_arrear, declared_elsewhere


@pytest.fixture
def live(services: Services, taxside_factory: Any) -> Any:
    taxside = taxside_factory(units=1, employees=40, seed=5)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, taxside, index=0)
    services.session.popups_shown = True
    declared_elsewhere(taxside, unit.unit_id)
    return taxside


@pytest.fixture
def api(live: Any, browser_client: httpx.Client) -> Api:
    return Api(browser_client)


def arrears(api: Api, **query: Any) -> dict[str, Any]:
    answer = api.get("/api/payment/arrears", **query)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_arrears_pay_and_records(api: Api, live: Any) -> None:
    assert arrears(api)["count"] == 0 and arrears(api)["fetched_at"] is None
    refreshed = job_result(api, api.post("/api/payment/arrears/refresh"))
    listed = arrears(api)
    assert refreshed["count"] == listed["count"] > 2 and "欠费信息" in refreshed["message"]
    assert listed["agreements"] and listed["estimate_note"] and listed["fetched_at"]
    first = listed["items"][0]
    assert isinstance(first["amount"], str) and first["payable"] and first["late_fee_estimate"] is not None
    ids = [i["arrear_id"] for i in listed["items"][:2]]
    picked = api.post("/api/payment/arrears/selection", {"arrear_ids": ids}).json()
    assert picked["count"] == 2
    assert Decimal(picked["total"]) == sum(Decimal(i["total"]) for i in listed["items"][:2])
    agreement = next(a for a in api.get("/api/payment/agreements").json()["items"] if a["can_debit_fees"])

    # A wrong confirmed total is refused before anything is written or sent.
    wrong = api.post("/api/payment/debits", {"agreement_id": agreement["agreement_id"], "arrear_ids": ids,
                                             "confirmed_total": "1.00"})
    assert error_of(wrong, 400)["field"] == "confirmed_total"
    body = {"agreement_id": agreement["agreement_id"], "arrear_ids": ids, "confirmed_total": picked["total"]}
    # Writes need the page's CSRF header.
    assert api.client.post("/api/payment/debits", json=body).status_code == 403
    paid = api.post("/api/payment/debits", body)
    assert paid.status_code == 201, paid.text
    result = paid.json()
    assert result["ok"] and result["debit"]["paid_count"] == 2 and "扣款成功 2 条" in result["message"]
    assert all(len(r["tax_ticket"]) == 18 for r in result["debit"]["results"])
    again = error_of(api.post("/api/payment/debits", body), 409)
    assert again["code"] == "arrear_held" and ids[0] in again["message"] and "已缴款" in again["message"]
    assert debits_per_arrear(live) == dict.fromkeys(ids, 1)
    debit_id = result["debit"]["debit_id"]
    assert api.get(f"/api/payment/debits/{debit_id}").json()["debit"]["paid_total"] == result["debit"]["paid_total"]
    entry = api.get(f"/api/payment/entries/{result['entry']['id']}").json()
    assert entry["entry"]["state_label"] == "扣款完成" and entry["debit"]["debit_id"] == debit_id
    assert error_of(api.get("/api/payment/debits/DB99999999"), 404)["code"] == "debit_not_found"

    records = api.get("/api/payment/records").json()
    assert records["count"] == 2 and {r["arrear_id"] for r in records["items"]} == set(ids)
    synced = job_result(api, api.post("/api/payment/records/sync", {}))
    assert synced["count"] >= 2
    period = records["items"][0]["period_from"]
    export = api.get("/api/payment/records/export", period=period)
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    header = [c.value for c in sheet[1]]
    row = [c.value for c in sheet[2]]
    assert isinstance(row[header.index("电子税票号码")], str) and len(row[header.index("电子税票号码")]) == 18
    assert isinstance(row[header.index("实缴金额")], float)
    assert error_of(api.get("/api/payment/records", period="2025-3"), 400)["field"] == "period"

    alerts = api.get("/api/payment/alerts").json()
    assert alerts["arrears_count"] == listed["count"] - 2 and alerts["messages"]


def test_vouchers_over_http(api: Api, live: Any) -> None:
    job_result(api, api.post("/api/payment/arrears/refresh"))
    ids = [i["arrear_id"] for i in arrears(api)["items"][:2]]
    issued = api.post("/api/payment/vouchers", {"arrear_ids": ids[:1]})
    assert issued.status_code == 201, issued.text
    voucher = issued.json()["voucher"]
    assert issued.json()["ok"] and voucher["state_label"] == "未缴款" and voucher["printed_count"] == 1
    assert voucher["body"]["arrears"][0]["arrear_id"] == ids[0]
    pdf = api.get(f"/api/payment/vouchers/{voucher['voucher_id']}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    held = arrears(api)["items"]
    assert next(i for i in held if i["arrear_id"] == ids[0])["hold_label"] == "已开具缴款凭证"
    refused = error_of(api.post("/api/payment/vouchers", {"arrear_ids": ids}), 409)
    assert voucher["voucher_id"] in refused["message"]
    printed = api.post(f"/api/payment/vouchers/{voucher['voucher_id']}/print").json()
    assert printed["voucher"]["printed_count"] == 2
    listed = api.get("/api/payment/vouchers", date_from=voucher["issued_on"], date_to=voucher["issued_on"]).json()
    assert [v["voucher_id"] for v in listed["items"]] == [voucher["voucher_id"]]
    assert error_of(api.get("/api/payment/vouchers", date_from="2025/01/01"), 400)["field"] == "date_from"
    voided = api.post(f"/api/payment/vouchers/{voucher['voucher_id']}/void").json()
    assert voided["ok"] and voided["voucher"]["state"] == "voided"
    assert error_of(api.post(f"/api/payment/vouchers/{voucher['voucher_id']}/print"), 400)["field"] == "voucher_id"
    synced = job_result(api, api.post("/api/payment/vouchers/sync", {}))
    assert synced["count"] == 1
    assert error_of(api.get("/api/payment/vouchers/BV99999999/pdf"), 404)["code"] == "voucher_not_found"


def test_double_click_over_http_debits_once(api: Api, live: Any) -> None:
    """Two 缴款 clicks (or two windows) at once: one debit, the other answer is 409 naming the arrears."""
    job_result(api, api.post("/api/payment/arrears/refresh"))
    ids = [i["arrear_id"] for i in arrears(api)["items"][:3]]
    total = api.post("/api/payment/arrears/selection", {"arrear_ids": ids}).json()["total"]
    agreement = next(a for a in api.get("/api/payment/agreements").json()["items"] if a["can_debit_fees"])
    body = {"agreement_id": agreement["agreement_id"], "arrear_ids": ids, "confirmed_total": total}
    barrier = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def click() -> None:
        with httpx.Client(base_url=str(api.client.base_url), cookies=api.client.cookies, timeout=30) as window:
            barrier.wait()
            answers.append(window.post("/api/payment/debits", json=body, headers=api.headers))

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409).json()["error"]
    assert refused["code"] == "arrear_held" and ids[0] in refused["message"]
    assert debits_per_arrear(live) == dict.fromkeys(ids, 1)
