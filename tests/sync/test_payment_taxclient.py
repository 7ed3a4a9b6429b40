"""The payment calls of the tax-side client against the live reference tax side: typed
answers (Decimal money, ids and tickets as text), paging with totals over the whole query,
and answers tampered with (a number where text is due) refused as malformed, never guessed."""

from __future__ import annotations

import copy
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from client.errors import ConflictError, NetworkError, TaxSideRejection
from client.sync.taxclient import TaxClient
from client.sync.taxclient_payment import parse_debit, parse_voucher
from tests.sync.test_payment import declared_elsewhere, taxside_rows
from tests.taxside_fixtures import LiveTaxSide


@pytest.fixture
def arrear_ids(taxside: LiveTaxSide, client: TaxClient, unit: Any) -> list[str]:
    declared_elsewhere(taxside, unit.unit_id)
    return [a.arrear_id for a in client.all_arrears(unit.unit_id)[0]]


def test_arrears_paged_with_totals_of_the_whole_query(client: TaxClient, unit: Any, arrear_ids: list[str]) -> None:
    first = client.arrears(unit.unit_id, limit=2)
    assert len(first.items) == 2 and first.has_more and first.count == len(arrear_ids)
    everything, last = client.all_arrears(unit.unit_id)
    assert [a.arrear_id for a in everything] == arrear_ids and last.count == len(arrear_ids)
    assert last.amount_total == sum((a.amount for a in everything), Decimal("0"))
    assert all(isinstance(a.amount, Decimal) and a.state == "unpaid" and a.hold is None for a in everything)
    assert [(a.deadline, a.arrear_id) for a in everything] == sorted((a.deadline, a.arrear_id) for a in everything)
    with pytest.raises(TaxSideRejection):
        client.arrears(unit.unit_id, period="2025-03")


def test_debit_voucher_and_refusals(client: TaxClient, unit: Any, arrear_ids: list[str], taxside: LiveTaxSide) -> None:
    (agreement, *_rest) = [a for a in client.agreements(unit.unit_id) if a.can_debit_fees]
    key = str(uuid.uuid4())
    debit = client.submit_debit(unit.unit_id, agreement.agreement_id, arrear_ids[:2], idempotency_key=key)
    assert debit.status == "done" and debit.paid_count == 2 and not debit.replayed
    assert all(isinstance(r.tax_ticket, str) and len(r.tax_ticket) == 18 for r in debit.results)
    again = client.submit_debit(unit.unit_id, agreement.agreement_id, arrear_ids[:2], idempotency_key=key)
    assert again.replayed and again.debit_id == debit.debit_id  # the same key: the stored answer
    assert client.debit(unit.unit_id, debit.debit_id).paid_total == debit.paid_total
    with pytest.raises(ConflictError) as paid:
        client.submit_debit(unit.unit_id, agreement.agreement_id, arrear_ids[:1], idempotency_key=str(uuid.uuid4()))
    assert paid.value.code == "arrear_paid" and arrear_ids[0] in paid.value.message
    voucher = client.submit_voucher(unit.unit_id, arrear_ids[2:3], idempotency_key=str(uuid.uuid4()))
    assert voucher.state == "open" and voucher.arrears[0].arrear_id == arrear_ids[2]
    with pytest.raises(ConflictError) as held:
        client.submit_debit(unit.unit_id, agreement.agreement_id, arrear_ids[2:3], idempotency_key=str(uuid.uuid4()))
    assert held.value.code == "arrear_on_voucher" and voucher.voucher_id in held.value.message
    voided = client.void_voucher(unit.unit_id, voucher.voucher_id, idempotency_key=str(uuid.uuid4()))
    assert voided.state == "voided" and voided.voided_at
    listed = [v.voucher_id for page in client.iter_vouchers(unit.unit_id) for v in page.items]
    assert listed == [voucher.voucher_id]
    payments = [p for page in client.iter_payments(unit.unit_id) for p in page.items]
    assert {p.arrear_id for p in payments} == set(arrear_ids[:2]) and payments[0].method == "三方协议"
    outcome = client.idempotency_outcome(key)
    assert outcome is not None and outcome.status == 201
    assert taxside_rows(taxside, "SELECT count(*) FROM debit")[0][0] == 1


def raw(taxside: LiveTaxSide, unit: Any, path: str, token_client: TaxClient) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token_client._token}"}
    return httpx.get(f"{taxside.url}/v1/units/{unit.unit_id}{path}", headers=headers, timeout=10).json()


@pytest.mark.parametrize(("field", "value"), [
    ("paid_total", 153600.0), ("debit_id", 1), ("results.0.amount", 100), ("results.0.tax_ticket", 325110250400000001),
    ("results.0.status", "maybe"), ("results", None),
])
def test_tampered_debit_is_malformed(client: TaxClient, unit: Any, arrear_ids: list[str], taxside: LiveTaxSide,
                                     field: str, value: Any) -> None:
    (agreement, *_rest) = [a for a in client.agreements(unit.unit_id) if a.can_debit_fees]
    debit = client.submit_debit(unit.unit_id, agreement.agreement_id, arrear_ids[:1],
                                idempotency_key=str(uuid.uuid4()))
    body = raw(taxside, unit, f"/debits/{debit.debit_id}", client)
    assert parse_debit(body).debit_id == debit.debit_id
    tampered = copy.deepcopy(body)
    *path, last = field.split(".")
    target: Any = tampered
    for step in path:
        target = target[int(step)] if step.isdigit() else target[step]
    target[last] = value
    with pytest.raises(NetworkError) as bad:
        parse_debit(tampered)
    assert bad.value.code == "bad_response"


@pytest.mark.parametrize(("field", "value"), [("total", 1.5), ("voucher_no", 325110250400000002), ("arrears", {}), ("count", 2)])
def test_tampered_voucher_is_malformed(client: TaxClient, unit: Any, arrear_ids: list[str], taxside: LiveTaxSide,
                                       field: str, value: Any) -> None:
    voucher = client.submit_voucher(unit.unit_id, arrear_ids[:1], idempotency_key=str(uuid.uuid4()))
    body = raw(taxside, unit, f"/vouchers/{voucher.voucher_id}", client)
    assert parse_voucher(body).voucher_no == voucher.voucher_no
    with pytest.raises(NetworkError):
        parse_voucher({**body, field: value})
