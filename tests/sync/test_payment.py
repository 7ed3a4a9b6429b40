"""费款缴纳 through the payment service (real login, the one sender, the journal) against the
live reference tax side with its simulation and fault injection: arrears and the local
late-fee estimate, agreements, debits with partial success, every failure reason shown
with what to do, an unknown bank answer resolved automatically, vouchers with their PDF,
voids and payment records."""

from __future__ import annotations

import sqlite3
import time
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from client.core import payment as core
from client.core import payment_records as records
from client.core import payment_views as views
from client.errors import ConflictError, ValidationError
from client.sync.payment import PaymentService
from tests.conftest import log_in
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
