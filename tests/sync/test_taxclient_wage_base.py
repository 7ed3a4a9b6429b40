"""Payroll-base declaration calls of the tax-side client against the live tax side."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from client.errors import NetworkError, TaxSideRejection
from client.sync.taxclient import (
    Employee,
    IdempotencyOutcome,
    RetryPolicy,
    RowRejection,
    TaxClient,
    new_idempotency_key,
    receipt_from_outcome,
    stored_error,
)
from tests.sync.conftest import NEW_PASSWORD
from tests.taxside_fixtures import LiveTaxSide


def employees(client: TaxClient, unit_id: str) -> list[Employee]:
    out: list[Employee] = []
    for page in client.iter_enrollment(unit_id, limit=5000):
        out.extend(e for e in page.items if isinstance(e, Employee))
    return out


def row(emp: Employee, base: str | None = "9000.00", month: str | None = "202503") -> dict[str, Any]:
    return {"employee_id": emp.employee_id, "id_type": emp.id_type, "id_number": emp.id_number,
            "name": emp.name, "base": base, "bases": None, "effective_month": month}


def declarations(ts: LiveTaxSide) -> int:
    con = sqlite3.connect(ts.db_path)
    try:
        return con.execute("SELECT COUNT(*) FROM wage_base_declaration").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def paying(client: TaxClient, unit: Any) -> list[Employee]:
    return [e for e in employees(client, unit.unit_id) if e.status == "正常缴费"]


def test_session_carries_the_business_date(taxside: LiveTaxSide, unit: Any) -> None:
    with TaxClient(taxside.url) as tc:
        assert tc.login(unit.unit_id, unit.initial_password).today == dt.date(2025, 3, 15)


def test_submit_and_replay_under_one_key(
    taxside: LiveTaxSide, client: TaxClient, unit: Any, paying: list[Employee]
) -> None:
    key = new_idempotency_key()
    rows = [row(e) for e in paying[:5]]
    receipt = client.submit_wage_base(unit.unit_id, "daily", rows, idempotency_key=key)
    assert receipt.status == "processing" and receipt.row_count == 5 and not receipt.replayed
    assert receipt.declaration_id.startswith("WB")
    again = client.submit_wage_base(unit.unit_id, "daily", rows, idempotency_key=key)
    assert again.replayed and again.declaration_id == receipt.declaration_id
    assert declarations(taxside) == 1
    decision = client.wage_base_declaration(unit.unit_id, receipt.declaration_id)
    assert decision.status == "processing" and decision.decided_at is None  # 3 s delay


def test_dropped_answer_resolved_from_the_key(
    taxside: LiveTaxSide, client: TaxClient, unit: Any, paying: list[Employee]
) -> None:
    path = f"/v1/units/{unit.unit_id}/wage-base-declarations"
    key = new_idempotency_key()
    rows = [row(e) for e in paying[:3]]
    taxside.fault(path, "drop_after_commit", count=3)  # every try of the client
    with pytest.raises(NetworkError) as exc:
        client.submit_wage_base(unit.unit_id, "daily", rows, idempotency_key=key)
    assert exc.value.code == "network_dropped"
    outcome = client.idempotency_outcome(key)
    assert outcome is not None and outcome.status == 202
    receipt = receipt_from_outcome(outcome)
    assert receipt is not None and receipt.replayed and receipt.row_count == 3
    assert declarations(taxside) == 1
    # a single drop is absorbed by the client's retry under the same key
    taxside.fault(path, "drop_after_commit", count=1)
    retried = client.submit_wage_base(unit.unit_id, "daily", rows[:1], idempotency_key="one-drop")
    assert retried.replayed and declarations(taxside) == 2


def test_accepted_bases_come_back_through_the_feed(
    taxside: LiveTaxSide, client: TaxClient, unit: Any, paying: list[Employee]
) -> None:
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    chosen = paying[:4]
    receipt = client.submit_wage_base(unit.unit_id, "daily", [row(e, "12,345.6") for e in chosen],
                                      idempotency_key=new_idempotency_key())
    decision = client.wage_base_declaration(unit.unit_id, receipt.declaration_id)
    assert decision.status == "accepted" and decision.rejections == () and decision.kind == "daily"
    now = {e.employee_id: e for e in employees(client, unit.unit_id)}
    for emp in chosen:
        assert set(now[emp.employee_id].bases.values()) == {Decimal("12345.60")}
        assert set(now[emp.employee_id].bases) == set(emp.bases)


def test_rejected_with_reasons_per_row(
    taxside: LiveTaxSide, client: TaxClient, unit: Any, paying: list[Employee]
) -> None:
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    rows = [row(paying[0]), row(paying[1], base="100"), row(paying[2], month="203001"),
            {**row(paying[3]), "name": "不是本人"}]
    receipt = client.submit_wage_base(unit.unit_id, "daily", rows, idempotency_key=new_idempotency_key())
    decision = client.wage_base_declaration(unit.unit_id, receipt.declaration_id)
    assert decision.status == "rejected" and decision.decided_at
    assert [(r.row, r.field) for r in decision.rejections] == [
        (2, "base"), (3, "effective_month"), (4, "name")]
    first = decision.rejections[0]
    assert first == RowRejection(2, paying[1].employee_id, paying[1].id_number, paying[1].name, "base",
                                 first.message)
    assert first.message.startswith("新缴费工资 100.00 低于 2024年07月-2025年06月 缴费基数下限")
    assert decision.rejections[1].message == "生效年月 203001 超出允许范围（202407-202504）"
    now = {e.employee_id: e for e in employees(client, unit.unit_id)}
    assert now[paying[0].employee_id].bases == paying[0].bases  # nothing applied


def test_annual_window_closed_then_open(
    taxside: LiveTaxSide, client: TaxClient, unit: Any, paying: list[Employee]
) -> None:
    key = new_idempotency_key()
    rows = [row(paying[0], base="8000", month=None)]
    with pytest.raises(TaxSideRejection) as exc:
        client.submit_wage_base(unit.unit_id, "annual", rows, idempotency_key=key)
    assert exc.value.code == "annual_window_closed"
    assert exc.value.message == "年度缴费工资申报开放时间为7月1日至9月30日，当前不在开放时间内"
    outcome = client.idempotency_outcome(key)
    assert outcome is not None and outcome.status == 422
    assert receipt_from_outcome(outcome) is None
    assert stored_error(outcome) == ("annual_window_closed", exc.value.message)
    for _ in range(4):
        taxside.sim("POST", "/advance-month")  # 2025-07-15
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    with TaxClient(taxside.url) as fresh:
        assert fresh.login(unit.unit_id, NEW_PASSWORD).today == dt.date(2025, 7, 15)
    receipt = client.submit_wage_base(unit.unit_id, "annual", rows, idempotency_key=new_idempotency_key())
    decision = client.wage_base_declaration(unit.unit_id, receipt.declaration_id)
    assert decision.status == "accepted" and decision.kind == "annual"
    assert decision.effective_month == "202507"


def test_per_item_refused_for_a_company(taxside: LiveTaxSide, client: TaxClient, unit: Any,
                                        paying: list[Employee]) -> None:
    rows = [{**row(paying[0], base=None), "bases": {"pension": "9000.00"}}]
    with pytest.raises(TaxSideRejection) as exc:
        client.submit_wage_base(unit.unit_id, "daily", rows, idempotency_key=new_idempotency_key())
    assert exc.value.code == "per_item_not_allowed" and "机关事业单位" in exc.value.message
    assert declarations(taxside) == 0


def test_stored_error_of_unusual_outcomes() -> None:
    ok = IdempotencyOutcome("k", "POST", "/p", 202, {"declaration_id": "WB00000001", "status": "processing",
                                                      "received_at": "2025-03-15T09:00:00", "row_count": 1},
                            "2025-03-15T09:00:00")
    assert stored_error(ok) == ("", "")
    assert receipt_from_outcome(ok) is not None
    odd = IdempotencyOutcome("k", "POST", "/p", 400, {"oops": 1}, "2025-03-15T09:00:00")
    assert stored_error(odd)[0] == "bad_response"
    broken = IdempotencyOutcome("k", "POST", "/p", 202, {"nothing": 1}, "2025-03-15T09:00:00")
    with pytest.raises(NetworkError):
        receipt_from_outcome(broken)


def test_retry_resends_the_same_body(taxside: LiveTaxSide, unit: Any) -> None:
    """Retries under the key resend identical bytes: a 503 first, then the same body lands."""
    tc = TaxClient(taxside.url, retry=RetryPolicy(attempts=2, backoff_s=0.01))
    tc.login(unit.unit_id, unit.initial_password)
    tc.change_password(unit.unit_id, unit.initial_password, NEW_PASSWORD)
    emps = [e for e in employees(tc, unit.unit_id) if e.status == "正常缴费"]
    taxside.fault(f"/v1/units/{unit.unit_id}/wage-base-declarations", "error", status=503, count=1)
    receipt = tc.submit_wage_base(unit.unit_id, "daily", [row(e) for e in emps], idempotency_key="big")
    assert receipt.row_count == len(emps) and not receipt.replayed
    tc.close()
