"""年金缴款通知单 over HTTP against a live tax side: a 山西 government unit gets the 职业年金 of
its declared pension bases at the pack's 8% / 4%, a PDF with the totals and a recorded hash;
a 北京 unit has no such function (404, not a faked notice)."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from client.services import Services
from rules.packs import load_pack
from tests.api.test_fee_declaration_api import job_result
from tests.api.test_wage_base_api import Api, error_of
from tests.conftest import log_in
from tests.sync.test_payment import declared_elsewhere


def _login(services: Services, taxside_factory: Any, index: int) -> Any:
    taxside = taxside_factory(units=3, employees=40, seed=5)
    unit = log_in(services, taxside, index=index)
    services.session.popups_shown = True
    declared_elsewhere(taxside, unit.unit_id)
    return taxside, unit


def test_shanxi_government_unit_gets_the_notice(services: Services, taxside_factory: Any,
                                                browser_client: httpx.Client) -> None:
    taxside, unit = _login(services, taxside_factory, 2)  # the last 山西 unit is a government unit
    api = Api(browser_client)
    page = api.get("/payment/annuity")
    assert page.status_code == 200 and "职业年金" in page.text and "8%" in page.text and "annuity-form" in page.text
    home = api.get("/").text
    assert "/payment/annuity" in home  # the home function opens this page
    preview = job_result(api, api.post("/api/payment/annuity/preview", {"period_from": "2025-03", "period_to": "2025-03"}))
    notice = preview["notice"]
    (period,) = notice["periods"]
    con = sqlite3.connect(taxside.db_path)
    try:
        bases = {n: json.loads(b).get("pension") for n, b in con.execute(
            "SELECT e.id_number, e.bases FROM employee e JOIN unit u ON u.id = e.unit_pk WHERE u.unit_id = ?"
            " AND e.status = '正常缴费' AND e.deleted = 0 AND e.items LIKE '%pension%'", (unit.unit_id,))}
    finally:
        con.close()
    assert period["rows_total"] == period["headcount"] == len(period["rows"])
    assert period["period"] == "202503" and period["headcount"] == len([b for b in bases.values() if b]) > 0
    limits = load_pack("140000").period_for("202503").item("pension").base
    for r in period["rows"]:
        base = Decimal(r["base"])
        assert base == limits.clamp(Decimal(bases[r["id_number"]]))  # the declared base: floor and cap applied
        assert Decimal(r["employer"]) == (base * Decimal("0.08")).quantize(Decimal("0.01"))
        assert Decimal(r["employee"]) == (base * Decimal("0.04")).quantize(Decimal("0.01"))
    assert Decimal(notice["total"]) == sum(Decimal(r["total"]) for r in period["rows"])
    assert notice["employer_rate"] == "0.08" and "国办发" in notice["source"]

    answer = job_result(api, api.post("/api/payment/annuity/print", {"period_from": "2025-03", "period_to": "2025-03"}))
    pdf = api.get(f"/api/certificate/pdf/{answer['pdf_name']}")
    assert pdf.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "职业年金缴款通知单" in text and f"{Decimal(notice['total']):,.2f}" in text
    assert answer["sha256"][:32] in text and period["rows"][0]["id_number"] in text
    checked = api.post("/api/certificate/verify", {"text": answer["qr_text"]}).json()
    assert checked["found"] and checked["record"]["kind"] == "annuity" and checked["record"]["kind_label"] == "年金缴款通知单"
    # bounded: at most 12 periods, and a period the pack has no rules for is refused by name
    too_long = api.post("/api/payment/annuity/preview", {"period_from": "2024-07", "period_to": "2025-07"})
    assert "12" in error_of(too_long, 400)["message"]
    assert "202001" in error_of(api.post("/api/payment/annuity/preview", {"period_from": "2020-01"}), 400)["message"]


def test_beijing_has_no_annuity_notice(services: Services, taxside_factory: Any, browser_client: httpx.Client) -> None:
    _login(services, taxside_factory, 0)
    api = Api(browser_client)
    assert api.get("/payment/annuity").status_code == 404
    refused = error_of(api.post("/api/payment/annuity/preview", {"period_from": "2025-03"}), 404)
    assert refused["code"] == "annuity_unavailable" and "年金" in refused["message"]
    assert "/payment/annuity" not in api.get("/").text


@pytest.mark.parametrize("government, reason", [(False, "机关事业单位"), (None, "机关事业单位")])
def test_availability_names_why(government: bool | None, reason: str) -> None:
    from client.core.annuity import availability

    assert availability(load_pack("140000"), True).available
    assert reason in availability(load_pack("140000"), government).reason
    assert not availability(load_pack("310000"), True).available
    assert "规则" in availability(None, True).reason


def test_a_period_nobody_owes_is_said_and_printed_nothing(services: Services, taxside_factory: Any,
                                                          browser_client: httpx.Client) -> None:
    """202502: nothing declared, so no 机关事业单位 person has a pension base: no 0-person notice."""
    _login(services, taxside_factory, 2)
    api = Api(browser_client)
    body = {"period_from": "2025-02", "period_to": "2025-02"}
    preview = job_result(api, api.post("/api/payment/annuity/preview", body))
    assert preview["empty"] is True and preview["notice"] is None
    assert "202502" in preview["message"] and "机关事业单位" in preview["message"]
    assert "养老保险缴费基数" in preview["message"] and "不打印" in preview["message"]
    job = api.post("/api/payment/annuity/print", body).json()["job"]
    deadline = time.monotonic() + 30
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = api.get(f"/api/jobs/{job['id']}").json()["job"]
    assert job["state"] == "failed" and job["error"]["code"] == "annuity_empty"
    assert job["error"]["message"] == preview["message"]
    folder = services.home / "certificates"
    assert not folder.exists() or not list(folder.iterdir())
    assert api.get("/api/certificate/records").json()["items"] == []
    # A range with one owed period is a notice (the empty month shows as such inside it).
    both = job_result(api, api.post("/api/payment/annuity/preview", {"period_from": "2025-02", "period_to": "2025-03"}))
    assert both["empty"] is False and [p["headcount"] > 0 for p in both["notice"]["periods"]] == [False, True]


def test_too_many_periods_says_how_many_were_chosen(services: Services, taxside_factory: Any,
                                                    browser_client: httpx.Client) -> None:
    _login(services, taxside_factory, 2)
    message = error_of(Api(browser_client).post("/api/payment/annuity/preview",
                                                {"period_from": "2024-07", "period_to": "2025-07"}), 400)["message"]
    assert "最多 12 个" in message and "已选 13 个" in message and "202407" in message
