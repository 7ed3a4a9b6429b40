"""The payroll-base declaration kinds of the submission journal (缴费工资申报, 3.1.5).

The stored payload is ``{"kind": "daily" | "annual", "rows": [...]}`` as written by
client/core/wage_base.py; rows carry local extras (current base, unit number) that stay
out of the request. The tax side answers 202 with a declaration id and decides later
(all rows or nothing); the accepted bases flow back with the next enrollment update, so
nothing else changes locally.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from client.core.journal import Entry
from client.sync import kinds
from client.sync.taxclient import (
    IdempotencyOutcome,
    TaxClient,
    WageBaseReceipt,
    receipt_from_outcome,
)

DAILY, ANNUAL = "wage_base_daily", "wage_base_annual"
_ROW_FIELDS = ("employee_id", "id_type", "id_number", "name", "base", "bases", "effective_month")


def request_body(payload: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The request as the protocol defines it; the same stored payload gives the same bytes."""
    rows = [{name: row.get(name) for name in _ROW_FIELDS} for row in payload["rows"]]
    return str(payload["kind"]), rows


def _receipt(receipt: WageBaseReceipt) -> kinds.Receipt:
    return kinds.Receipt(receipt.declaration_id, receipt.received_at)


def _send(client: TaxClient, unit_id: str, payload: Mapping[str, Any], key: str) -> kinds.Receipt:
    kind, rows = request_body(payload)
    return _receipt(client.submit_wage_base(unit_id, kind, rows, idempotency_key=key))


def _stored(outcome: IdempotencyOutcome) -> kinds.Receipt | None:
    receipt = receipt_from_outcome(outcome)
    return _receipt(receipt) if receipt is not None else None


def _decision(client: TaxClient, unit_id: str, entry: Entry, payload: kinds.PayloadLoader) -> kinds.Decision:
    found = client.wage_base_declaration(unit_id, str(entry.taxside_id))
    return kinds.Decision(found.status, tuple(asdict(r) for r in found.rejections))


kinds.register(*(kinds.SubmissionKind(name, _send, _stored, _decision) for name in (DAILY, ANNUAL)))
