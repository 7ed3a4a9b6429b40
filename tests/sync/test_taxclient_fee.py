"""Fee-declaration calls of the tax-side client against the live tax side, under faults."""

from __future__ import annotations

from typing import Any

import pytest

from client.errors import ConflictError, NetworkError, TaxSideRejection
from client.sync.taxclient import (
    RetryPolicy,
    TaxClient,
    fee_receipt_from_outcome,
    new_idempotency_key,
    void_receipt_from_outcome,
)
from tests.sync.conftest import NEW_PASSWORD
from tests.sync.fee_helpers import declarations, voids
from tests.taxside_fixtures import LiveTaxSide


@pytest.fixture
def fast(taxside: LiveTaxSide, unit: Any, client: TaxClient) -> TaxClient:
    """A client with quick retries (the password is changed by ``client``)."""
    tc = TaxClient(taxside.url, timeout=1.0, retry=RetryPolicy(attempts=3, backoff_s=0.01))
    tc.login(unit.unit_id, NEW_PASSWORD)
    yield tc
    tc.close()


def accepted_declaration(taxside: LiveTaxSide, client: TaxClient, unit: Any) -> str:
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    found, _ = client.all_fee_summaries(unit.unit_id)
    receipt = client.submit_fee_declaration(
        unit.unit_id, [(s.summary_id, s.version) for s in found], idempotency_key=new_idempotency_key()
    )
    assert client.fee_declaration(unit.unit_id, receipt.declaration_id).status == "accepted"
    return receipt.declaration_id


def test_summaries_details_and_declaration(taxside: LiveTaxSide, client: TaxClient, unit: Any) -> None:
    found, last = client.all_fee_summaries(unit.unit_id)
    assert last.current_period == "202503" and last.today == "2025-03-15"
    assert client.fee_summary(unit.unit_id, found[0].summary_id) == found[0]
    page = client.fee_summary_details(unit.unit_id, found[0].summary_id, offset=0, limit=10)
    assert page.total == found[0].headcount and len(page.items) == min(10, page.total)
    rows = [d for p in client.iter_fee_summary_details(unit.unit_id, found[0].summary_id, found[0].version, 50)
            for d in p.items]
    assert len(rows) == found[0].headcount and len({r.employee_id for r in rows}) == len(rows)
    key = new_idempotency_key()
    pairs = [(s.summary_id, s.version) for s in found]
    first = client.submit_fee_declaration(unit.unit_id, pairs, idempotency_key=key)
    again = client.submit_fee_declaration(unit.unit_id, pairs, idempotency_key=key)
    assert (first.declaration_id, first.replayed, again.replayed) == (again.declaration_id, False, True)
    assert declarations(taxside) == 1
    outcome = client.idempotency_outcome(key)
    assert outcome is not None and fee_receipt_from_outcome(outcome) is not None
    state = client.fee_declaration(unit.unit_id, first.declaration_id)
    assert state.summary_count == len(found) and state.status in ("processing", "accepted")


def test_refusals_map_to_chinese_errors(taxside: LiveTaxSide, client: TaxClient, unit: Any) -> None:
    with pytest.raises(TaxSideRejection, match="未找到该预处理汇总"):
        client.fee_summary(unit.unit_id, "FS99999999")
    with pytest.raises(TaxSideRejection, match="未找到该社保费申报记录"):
        client.fee_declaration(unit.unit_id, "FD99999999")
    with pytest.raises(TaxSideRejection, match="未找到该作废申请"):
        client.fee_void(unit.unit_id, "FV99999999")
    with pytest.raises(TaxSideRejection, match="申报日期范围无效"):
        client.fee_declaration_records(unit.unit_id, date_from="2024-01-01", date_to="2025-03-15")
    found, _ = client.all_fee_summaries(unit.unit_id)
    with pytest.raises(ConflictError, match="重新查询人员明细"):
        client.fee_summary_details(unit.unit_id, found[0].summary_id, version=found[0].version + 1)
    declaration_id = accepted_declaration(taxside, client, unit)
    with pytest.raises(TaxSideRejection, match="作废原因"):
        client.void_fee_declaration(unit.unit_id, declaration_id, "字" * 101, idempotency_key=new_idempotency_key())
    key = new_idempotency_key()
    receipt = client.void_fee_declaration(unit.unit_id, declaration_id, "申报有误", idempotency_key=key)
    outcome = client.idempotency_outcome(key)
    assert outcome is not None and void_receipt_from_outcome(outcome) == receipt.__class__(
        **{**receipt.__dict__, "replayed": True})
    decided = client.fee_void(unit.unit_id, receipt.void_id)
    assert decided.status == "accepted" and decided.rejection_message is None and voids(taxside) == 1
    records = client.fee_declaration_records(unit.unit_id, date_from="2025-03-01", date_to="2025-03-15")
    (record,) = records.items
    assert record.record_status == "已作废" and record.void_id == receipt.void_id


READS = {
    "summaries": lambda c, u, ids: c.fee_summaries(u),
    "summary": lambda c, u, ids: c.fee_summary(u, ids["summary"]),
    "details": lambda c, u, ids: c.fee_summary_details(u, ids["summary"], offset=0),
    "declaration": lambda c, u, ids: c.fee_declaration(u, ids["declaration"]),
    "records": lambda c, u, ids: c.fee_declaration_records(u),
    "void": lambda c, u, ids: c.fee_void(u, ids["void"]),
}
PATHS = {
    "summaries": "/fee-summaries", "summary": "/fee-summaries/", "details": "/fee-summaries/",
    "declaration": "/fee-declarations/", "records": "/fee-declaration-records",
    "void": "/fee-declaration-voids/",
}


@pytest.mark.parametrize("fault", ["timeout", "error", "malformed_json", "wrong_content_type", "drop_after_commit"])
@pytest.mark.parametrize("call", sorted(READS))
def test_every_read_under_faults(
    taxside: LiveTaxSide, client: TaxClient, fast: TaxClient, unit: Any, call: str, fault: str
) -> None:
    declaration_id = accepted_declaration(taxside, client, unit)
    found, _ = client.all_fee_summaries(unit.unit_id, state="all")
    void = client.void_fee_declaration(unit.unit_id, declaration_id, "申报有误", idempotency_key=new_idempotency_key())
    ids = {"summary": found[0].summary_id, "declaration": declaration_id, "void": void.void_id}
    spec = {"hold_s": 3} if fault == "timeout" else {"status": 503} if fault == "error" else {}
    prefix = f"/v1/units/{unit.unit_id}{PATHS[call]}"
    # Fewer failures than the retries: the call succeeds; more: a Chinese NetworkError.
    taxside.fault(prefix, fault, method="GET", count=2, **spec)
    assert READS[call](fast, unit.unit_id, ids) is not None
    taxside.clear_faults()
    taxside.fault(prefix, fault, method="GET", count=5, **spec)
    with pytest.raises(NetworkError) as err:
        READS[call](fast, unit.unit_id, ids)
    assert err.value.message in ("等待税务端响应超时", "税务端繁忙，请稍后再试", "服务器返回信息格式有误",
                                 "与税务端的连接意外中断，请稍后再试")
