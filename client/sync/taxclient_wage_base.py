"""Payroll-base declaration calls of the tax-side client (manual 3.1.5, docs/protocol.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from client.sync.taxclient_transport import IdempotencyOutcome, Transport, malformed


@dataclass(frozen=True)
class WageBaseReceipt:
    """The tax side received a payroll-base declaration (202); the decision comes later."""

    declaration_id: str
    status: str  # processing
    received_at: str
    row_count: int
    replayed: bool  # the answer of an earlier send under the same key


@dataclass(frozen=True)
class RowRejection:
    row: int  # 1-based position in the submitted rows
    employee_id: str | None
    id_number: str | None
    name: str | None
    field: str  # employee / name / id_number / base / effective_month / bases.pension ...
    message: str


@dataclass(frozen=True)
class WageBaseDecision:
    declaration_id: str
    kind: str  # daily / annual
    status: str  # processing / accepted / rejected
    received_at: str
    decided_at: str | None
    row_count: int
    rejections: tuple[RowRejection, ...]
    effective_month: str | None = None  # annual: the month the bases take effect


class WageBaseCalls(Transport):
    # -- payroll-base declarations (manual 3.1.5) ------------------------------------------
    def submit_wage_base(
        self, unit_id: str, kind: str, rows: list[dict[str, Any]], *, idempotency_key: str
    ) -> WageBaseReceipt:
        """Send a declaration as given. Keep ``idempotency_key`` with the submission before
        calling: after a NetworkError, ``idempotency_outcome(key)`` tells whether it landed."""
        result = self._request(
            "POST", f"/v1/units/{unit_id}/wage-base-declarations", idempotency_key=idempotency_key,
            body={"kind": kind, "rows": rows},
        )
        assert result is not None
        data, resp = result
        try:
            return _receipt(data, replayed=resp.headers.get("Idempotent-Replayed") == "true")
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(exc) from None

    def wage_base_declaration(self, unit_id: str, declaration_id: str) -> WageBaseDecision:
        data = self._get(f"/v1/units/{unit_id}/wage-base-declarations/{declaration_id}")
        try:
            return WageBaseDecision(
                declaration_id=str(data["declaration_id"]), kind=str(data["kind"]),
                status=str(data["status"]), received_at=str(data["received_at"]),
                decided_at=data.get("decided_at"), row_count=int(data["row_count"]),
                rejections=tuple(
                    RowRejection(
                        row=int(r["row"]), employee_id=r.get("employee_id"), id_number=r.get("id_number"),
                        name=r.get("name"), field=str(r["field"]), message=str(r["message"]),
                    )
                    for r in data.get("rejections") or ()
                ),
                effective_month=data.get("effective_month"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(exc) from None


def _receipt(data: Mapping[str, Any], *, replayed: bool) -> WageBaseReceipt:
    return WageBaseReceipt(
        declaration_id=str(data["declaration_id"]), status=str(data["status"]),
        received_at=str(data["received_at"]), row_count=int(data["row_count"]), replayed=replayed,
    )


def receipt_from_outcome(outcome: IdempotencyOutcome) -> WageBaseReceipt | None:
    """The receipt a declaration sent under a key got, resolved from the key's stored
    outcome; None when the tax side refused it (see ``stored_error``)."""
    if not 200 <= outcome.status < 300:
        return None
    try:
        return _receipt(outcome.response, replayed=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise malformed(exc) from None
