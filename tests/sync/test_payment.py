"""费款缴纳 through the payment service (real login, the one sender, the journal) against the
live reference tax side with its simulation and fault injection: arrears and the local
late-fee estimate, agreements, debits with partial success, every failure reason shown
with what to do, an unknown bank answer resolved automatically, vouchers with their PDF,
voids and payment records."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from client.core import home_status, journal
from client.core import payment as core
from client.core import payment_records as records
from client.core import payment_views as views
from client.errors import ConflictError, ValidationError
from client.sync.payment import PaymentService
from client.sync.taxclient import TaxClient
from tests.conftest import NEW_PASSWORD, log_in
from tests.taxside_fixtures import LiveTaxSide


# -- helpers shared by the other payment tests -----------------------------------------------------
def taxside_rows(taxside: LiveTaxSide, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(taxside.db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def debits_per_arrear(taxside: LiveTaxSide) -> dict[str, int]:
    """Arrear id -> how many debits on the tax side asked the bank for it."""
    rows = taxside_rows(taxside, "SELECT arrear_pk, count(*) FROM debit_result GROUP BY arrear_pk")
    return {f"AR{pk:08d}": int(n) for pk, n in rows}


def payments_per_arrear(taxside: LiveTaxSide) -> dict[str, int]:
    rows = taxside_rows(taxside, "SELECT arrear_pk, count(*) FROM payment GROUP BY arrear_pk")
    return {f"AR{pk:08d}": int(n) for pk, n in rows}


def declared_elsewhere(taxside: LiveTaxSide, unit_id: str) -> dict[str, Any]:
    """A declaration on the 电子税务局, accepted at once: its summaries become arrears."""
    return taxside.sim("POST", f"/units/{unit_id}/fee-declarations", {})


def settle(services: Any) -> None:
    deadline = time.monotonic() + 30
    while services.jobs.find(active_only=True) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not services.jobs.find(active_only=True)


def agreement_of(svc: PaymentService) -> core.AgreementRow:
    return next(a for a in svc.agreements() if a.can_debit_fees)


def pay(svc: PaymentService, arrear_ids: list[str], agreement_id: str | None = None) -> Any:
    """缴款 of the chosen arrears with the total as the page shows it."""
    pk = svc._unit()[0]
    total = views.selection(svc.store, pk, arrear_ids).total
    return svc.pay_by_debit(agreement_id or agreement_of(svc).agreement_id, arrear_ids, str(total), "财务")


def start_live(services: Any, taxside_factory: Any) -> LiveTaxSide:
    """A live tax side with unit 2 logged in and its current period declared (arrears)."""
    ts = taxside_factory(units=3, employees=40)
    ts.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, ts)
    services.session.popups_shown = True
    declared_elsewhere(ts, unit.unit_id)
    return ts


def refreshed_service(services: Any) -> PaymentService:
    service = PaymentService(services.session)
    service.refresh()
    return service


@pytest.fixture
def services(engine_services: Any) -> Any:
    """On SQLite and on PostgreSQL (tests/sync/conftest.py)."""
    return engine_services


@pytest.fixture
def live(services: Any, taxside_factory: Any) -> LiveTaxSide:
    return start_live(services, taxside_factory)


@pytest.fixture
def svc(services: Any, live: LiveTaxSide) -> PaymentService:
    return refreshed_service(services)


def unit_id(svc: PaymentService) -> str:
    return svc._unit()[1]


# -- tests -------------------------------------------------------------------------------------------------
def test_arrears_view_with_estimate_and_agreement_warnings(svc: PaymentService, live: LiveTaxSide) -> None:
    pk = svc._unit()[0]
    view = svc.arrears_view()
    assert view.count == len(view.items) > 0
    assert view.amount_total == sum((line.arrear.amount for line in view.items), Decimal("0"))
    assert view.today and view.fetched_at and "以税务端计算为准" in view.to_dict()["estimate_note"]
    assert all(line.payable and line.late_fee_estimate is not None for line in view.items)
    first = view.items[0].to_dict()
    assert isinstance(first["amount"], str) and first["label"].startswith("欠费 ")
    chosen = [line.arrear.arrear_id for line in view.items[:2]]
    picked = views.selection(svc.store, pk, chosen)
    assert picked.count == 2 and picked.total == sum((line.arrear.total for line in view.items[:2]), Decimal("0"))
    # An agreement whose scope does not cover fees is shown with the reason.
    other = [a for a in live.sim("GET", f"/units/{unit_id(svc)}/agreements")["items"]]
    live.sim("PUT", f"/units/{unit_id(svc)}/agreements/{other[0]['agreement_id']}", {"scope": "所有非批扣"})
    svc.refresh()
    (bad,) = [a for a in svc.agreements() if a.agreement_id == other[0]["agreement_id"]]
    assert not bad.can_debit_fees and "所有非批扣" in bad.warning
    with pytest.raises(ValidationError, match="不能缴纳社保费"):
        svc.pay_by_debit(bad.agreement_id, chosen, str(picked.total), "财务")


def test_debit_paid_and_records(svc: PaymentService, live: LiveTaxSide, tmp_path: Any) -> None:
    pk = svc._unit()[0]
    chosen = [line.arrear.arrear_id for line in svc.arrears_view().items[:3]]
    result = pay(svc, chosen)
    assert result.ok and result.debit is not None, result.message
    assert result.debit.paid_count == 3 and "扣款成功 3 条" in result.message
    assert all(r.tax_ticket and len(r.tax_ticket) == 18 for r in result.debit.results)
    assert debits_per_arrear(live) == dict.fromkeys(chosen, 1)
    # The paid arrears are no longer payable, locally first, and the tax side agrees.
    with pytest.raises(ConflictError, match="已缴款"):
        pay(svc, chosen[:1])
    svc.refresh()
    assert not set(chosen) & {line.arrear.arrear_id for line in svc.arrears_view().items}
    local = records.payments(svc.store, pk)
    assert {r.arrear_id for r in local} == set(chosen) and all(r.method == "三方协议" for r in local)
    assert svc.sync_payments() >= 3
    period = local[0].period_from
    target = tmp_path / "缴款记录.xlsx"
    assert records.export_payments(svc.store, pk, period, target) >= 1
    sheet = load_workbook(target).active
    header = [c.value for c in sheet[1]]
    row = [c.value for c in sheet[2]]
    assert isinstance(row[header.index("电子税票号码")], str) and isinstance(row[header.index("实缴金额")], float)


RESET = {"balance": "10000000.00", "state": "有效", "scope": "费批扣", "account_name_ok": True, "budget_ok": True}


def set_agreement(live: LiveTaxSide, svc: PaymentService, agreement_id: str, **changes: Any) -> None:
    live.sim("PUT", f"/units/{unit_id(svc)}/agreements/{agreement_id}", changes)


def test_partial_success_balance_taken_arrear_by_arrear(svc: PaymentService, live: LiveTaxSide) -> None:
    pk = svc._unit()[0]
    lines = sorted(svc.arrears_view().items, key=lambda line: line.arrear.total, reverse=True)
    big, small = lines[0].arrear, lines[-1].arrear
    assert big.total > small.total
    agreement = agreement_of(svc)
    set_agreement(live, svc, agreement.agreement_id, balance=str(small.total))
    result = pay(svc, [big.arrear_id, small.arrear_id])
    assert result.ok and result.debit is not None  # accepted: one paid
    by_id = {r.arrear_id: r for r in result.debit.results}
    assert by_id[big.arrear_id].status == "failed" and by_id[big.arrear_id].code == "insufficient_balance"
    assert by_id[small.arrear_id].status == "paid" and by_id[small.arrear_id].tax_ticket
    assert "扣款成功 1 条" in result.message and "扣款失败 1 条" in result.message
    (reason,) = result.entry.reasons
    assert big.arrear_id in reason["message"] and "余额不足" in reason["message"] and "存入足额资金" in reason["message"]
    shown = {line.arrear.arrear_id: line for line in svc.arrears_view().items}
    assert shown[big.arrear_id].payable and not shown[small.arrear_id].payable
    assert [r.arrear_id for r in records.payments(svc.store, pk)] == [small.arrear_id]
    assert debits_per_arrear(live) == {big.arrear_id: 1, small.arrear_id: 1}
    assert payments_per_arrear(live) == {small.arrear_id: 1}


@pytest.mark.parametrize(("code", "change"), [
    ("insufficient_balance", {"balance": "0.00"}),
    ("account_name_mismatch", {"account_name_ok": False}),
    ("agreement_invalid", {"state": "已失效"}),
    ("not_allowed", {"scope": "所有非批扣"}),
    ("budget_subject", {"budget_ok": False}),
    ("bank_timeout", None),
])
def test_each_failure_reason_shown_with_what_to_do(
    svc: PaymentService, live: LiveTaxSide, code: str, change: dict[str, Any] | None
) -> None:
    agreement = agreement_of(svc)  # as the page showed it: the change comes after
    if change is None:
        live.sim("POST", f"/units/{unit_id(svc)}/bank-answers", {"answer": "bank_timeout", "count": 1})
    else:
        set_agreement(live, svc, agreement.agreement_id, **change)
    chosen = [svc.arrears_view().items[0].arrear.arrear_id]
    result = pay(svc, chosen, agreement.agreement_id)
    assert result.entry.state == journal.REJECTED and result.debit is not None
    (failed,) = result.debit.results
    shown = failed.to_dict()
    assert failed.status == "failed" and failed.code == code and shown["status_label"] == "扣款失败"
    assert shown["advice"] == records.FAILURE_ADVICE[code] and failed.message
    assert failed.message in result.entry.reasons[0]["message"]
    assert records.FAILURE_ADVICE[code] in result.entry.reasons[0]["message"]
    # Nothing was taken: the arrear can be paid again once the cause is fixed.
    if change is not None:
        set_agreement(live, svc, agreement.agreement_id, **RESET)
    svc.refresh()
    assert pay(svc, chosen).ok
    assert payments_per_arrear(live) == {chosen[0]: 1}


def test_voucher_issue_print_reprint_pay_and_void(svc: PaymentService, live: LiveTaxSide, services: Any) -> None:
    pk, uid, _region = svc._unit()
    ids = [line.arrear.arrear_id for line in svc.arrears_view().items]
    issued = svc.issue_voucher(ids[:2], "财务")
    assert issued.ok and issued.voucher is not None and issued.pdf_path
    voucher = issued.voucher
    assert voucher.state == "open" and voucher.printed_count == 1 and len(voucher.voucher_no) == 18
    pdf = Path(issued.pdf_path)
    assert pdf == services.home / "vouchers" / f"{voucher.voucher_no}.pdf" and pdf.read_bytes().startswith(b"%PDF")
    assert not list(pdf.parent.glob("*.tmp"))
    # Held by the open voucher: neither a debit nor a second voucher.
    with pytest.raises(ConflictError, match="缴款凭证"):
        pay(svc, ids[:1])
    with pytest.raises(ConflictError, match="缴款凭证"):
        svc.issue_voucher(ids[1:3], "财务")
    again, _path = svc.print_voucher(voucher.voucher_id)
    assert again.printed_count == 2
    # Paid at the bank: no more reprints, arrears paid, payment records of that method.
    live.sim("POST", f"/units/{uid}/vouchers/{voucher.voucher_id}/pay", {})
    with pytest.raises(ValidationError, match="已缴款"):
        svc.print_voucher(voucher.voucher_id)
    svc.sync_payments()  # 缴款记录 are 三方协议 payments: the voucher's shows on its print record
    assert records.payments(svc.store, pk) == [] and svc.voucher_records()[0].state == "paid"
    # Another voucher, voided: its arrear is free again and can be debited.
    other = svc.issue_voucher(ids[2:3], "财务")
    assert other.voucher is not None
    void = svc.void_voucher(other.voucher.voucher_id, "财务")
    assert void.ok and void.voucher is not None and void.voucher.state == "voided" and "已作废" in void.message
    with pytest.raises(ConflictError, match="不能作废"):
        svc.void_voucher(other.voucher.voucher_id, "财务")
    svc.refresh()
    assert pay(svc, ids[2:3]).ok
    assert svc.sync_vouchers() == 2
    # Another PC's voucher is not a print record of this PC.
    other_pc = TaxClient(live.url, timeout=5)
    other_pc.login(uid, NEW_PASSWORD)
    other_pc.submit_voucher(uid, ids[3:4], idempotency_key="other-pc-voucher-2")
    other_pc.close()
    assert svc.sync_vouchers() == 2
    listed = svc.voucher_records(date_from=voucher.issued_on, date_to=voucher.issued_on)
    assert {v.voucher_id: v.state for v in listed} == {voucher.voucher_id: "paid", other.voucher.voucher_id: "voided"}
    assert svc.voucher_records(date_from="2000-01-01", date_to="2000-01-31") == []


def test_void_refused_by_the_tax_side_refreshes_the_voucher(svc: PaymentService, live: LiveTaxSide) -> None:
    """Paid at the bank after our last look: the void is refused with the tax side's reason
    and the local record turns 已缴款."""
    uid = unit_id(svc)
    ids = [line.arrear.arrear_id for line in svc.arrears_view().items]
    voucher = svc.issue_voucher(ids[:1], "财务").voucher
    assert voucher is not None
    live.sim("POST", f"/units/{uid}/vouchers/{voucher.voucher_id}/pay", {})
    result = svc.void_voucher(voucher.voucher_id, "财务")
    assert result.entry.state == journal.REJECTED and "不能作废" in result.message
    assert svc.voucher_records()[0].state == "paid"


def test_home_alerts(svc: PaymentService, services: Any) -> None:
    alerts = svc.home_alerts()
    view = svc.arrears_view()
    assert alerts.arrears_count == view.count and alerts.arrears_total == view.total
    deadlines = [a["deadline"] for a in alerts.arrears]
    assert deadlines == sorted(deadlines) and "欠费未缴纳" in alerts.messages[0]
    pk = svc._unit()[0]
    with services.store.write() as db:
        db.execute_sql("UPDATE enrollment_employee SET bases = '{}' WHERE unit_id = ? AND id IN "
                       "(SELECT id FROM enrollment_employee WHERE unit_id = ? AND status = '正常缴费' LIMIT 3)",
                       (pk, pk))
    alerts = svc.home_alerts()
    assert alerts.without_base == 3 and any("3 名职工尚未申报缴费工资" in m for m in alerts.messages)
    # The home page says these facts once, in 本月待办: its 欠费缴纳 line (which carries the
    # nearest arrears) and 缴费工资 line name the same count, total, deadline and employees.
    today = svc.session.business_date()
    status = home_status.home_status(svc.store, pk, today=today, now=dt.datetime.now(), pack=None)
    arrears_line, wage_line = status.line("arrears"), status.line("wage_base")
    assert arrears_line is not None and wage_line is not None
    assert arrears_line.text.startswith(f"{alerts.arrears_count} 条欠费未缴，合计 {alerts.arrears_total:,.2f} 元，"
                                        f"最近的限缴日期为 {alerts.arrears[0]['deadline']}")
    assert arrears_line.state in ("todo", "warn") and f"有 {alerts.without_base} 名正常缴费的职工" in wage_line.text
    assert [a["days_left"] for a in alerts.arrears] == sorted(a["days_left"] for a in alerts.arrears)


def test_expired_voucher_frees_its_arrears_on_refresh(svc: PaymentService, live: LiveTaxSide) -> None:
    ids = [line.arrear.arrear_id for line in svc.arrears_view().items]
    voucher = svc.issue_voucher(ids[:1], "财务").voucher
    assert voucher is not None
    with pytest.raises(ConflictError, match="缴款凭证"):
        pay(svc, ids[:1])
    after = (dt.date.fromisoformat(voucher.deadline) + dt.timedelta(days=3)).isoformat()
    live.sim("PUT", "/settings", {"today": after})
    svc.refresh()
    assert records.voucher(svc.store, svc._unit()[0], voucher.voucher_id).state == "expired"
    line = next(x for x in svc.arrears_view().items if x.arrear.arrear_id == ids[0])
    assert line.payable and line.arrear.late_days > 0 and line.arrear.late_fee > 0
    with pytest.raises(ValidationError, match="已过期"):
        svc.print_voucher(voucher.voucher_id)
    result = pay(svc, ids[:1])
    assert result.ok and result.debit is not None and result.debit.results[0].late_fee > 0


def test_payment_records_follow_arrival(svc: PaymentService, live: LiveTaxSide) -> None:
    pk = svc._unit()[0]
    live.sim("PUT", "/settings", {"arrival_delay_seconds": 600})
    chosen = [line.arrear.arrear_id for line in svc.arrears_view().items[:2]]
    assert pay(svc, chosen).ok
    assert {r.arrival for r in records.payments(svc.store, pk)} == {"已缴款未入库"}
    live.sim("PUT", "/settings", {"arrival_delay_seconds": 0})  # the treasury has booked them
    assert svc.sync_payments() == 2
    stored = records.payments(svc.store, pk)
    assert {r.arrival for r in stored} == {"已入库"} and all(r.stored_at for r in stored)
    assert all(r.item_name and r.bank for r in stored)  # described by the tax side's record
    assert records.payments(svc.store, pk, stored[0].period_from) == stored
    with pytest.raises(ValidationError, match="YYYYMM"):
        records.payments(svc.store, pk, "202513")


def test_a_total_confirmed_on_an_earlier_day_is_checked_against_todays(svc: PaymentService, live: LiveTaxSide) -> None:
    """The list was fetched before the deadline; the operator confirms its total a few days
    later: the bank would take today's late fee, so the tax side refuses the debit as a whole
    (nothing asked of the bank), and the list shown now has today's figures."""
    pk = svc._unit()[0]
    line = svc.arrears_view().items[0]
    stale = views.selection(svc.store, pk, [line.arrear.arrear_id]).total
    after = (dt.date.fromisoformat(line.arrear.deadline) + dt.timedelta(days=5)).isoformat()
    live.sim("PUT", "/settings", {"today": after})
    refused = svc.pay_by_debit(agreement_of(svc).agreement_id, [line.arrear.arrear_id], str(stale), "财务")
    assert refused.entry.state == journal.REJECTED and not refused.ok
    assert "应缴金额已变化" in refused.message and f"{stale:,.2f}" in refused.message and refused.arrears_refreshed
    assert debits_per_arrear(live) == {}
    fresh = next(x for x in svc.arrears_view().items if x.arrear.arrear_id == line.arrear.arrear_id)
    assert fresh.arrear.late_fee > 0 and fresh.arrear.total > stale
    result = pay(svc, [line.arrear.arrear_id])
    assert result.ok and result.debit is not None and result.debit.results[0].total == fresh.arrear.total
