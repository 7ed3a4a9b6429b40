"""Simulation calls for the queries (only with ``--simulation``; see taxside/sim.py): what
makes 到账信息 differ from a client's payment records.

- ``POST /sim/units/{unit_id}/payments/{payment_id}/reversal``: the bank reverses a payment
  (冲正): the record is gone from the tax side and its arrear is unpaid again.
- ``PUT /sim/units/{unit_id}/payments/{payment_id}`` ``{"total": "100.00"}``: the tax side
  holds another paid amount for the record (its late fee kept, the amount the rest).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import Blueprint, Response

from taxside import fee_decisions as fd
from taxside import fees
from taxside import payments as pay
from taxside.web import ApiError, body_json, json_response, load_unit, store

bp = Blueprint("sim_queries", __name__, url_prefix="/sim")


def _payment(unit_pk: int, payment_id: str) -> tuple[int, int]:
    pk = fd.parse_id(payment_id, "PM")
    row = store().query("SELECT id, arrear_pk FROM payment WHERE id = ? AND unit_pk = ?",
                        (pk if pk is not None else -1, unit_pk))
    if not row:
        raise ApiError(404, "payment_not_found", f"未找到缴款记录 {payment_id}")
    return row[0][0], row[0][1]


@bp.post("/units/<unit_id>/payments/<payment_id>/reversal")
def reversal(unit_id: str, payment_id: str) -> Response:
    unit_pk = load_unit(unit_id)["pk"]
    st = store()
    with st.write():
        pk, arrear_pk = _payment(unit_pk, payment_id)
        st.db.execute_sql("DELETE FROM payment WHERE id = ?", (pk,))
        seq = st.log_change("arrears", "reversal", unit_pk=unit_pk, entity_id=fd.arrear_id(arrear_pk))
        st.db.execute_sql(
            "UPDATE arrear SET state = 'unpaid', paid_at = NULL, payment_pk = NULL, debit_pk = NULL,"
            " voucher_id = NULL, seq = ? WHERE id = ?", (seq, arrear_pk),
        )
    return json_response({"payment_id": payment_id, "arrear_id": fd.arrear_id(arrear_pk), "reversed": True})


@bp.put("/units/<unit_id>/payments/<payment_id>")
def change_amount(unit_id: str, payment_id: str) -> Response:
    unit_pk = load_unit(unit_id)["pk"]
    body = body_json()
    try:
        total = Decimal(str(body["total"]))
        if not total.is_finite() or total < 0:
            raise ValueError
    except (KeyError, InvalidOperation, ValueError):
        raise ApiError(400, "bad_request", "total 应为不小于0的金额文本") from None
    st = store()
    with st.write():
        pk, _arrear = _payment(unit_pk, payment_id)
        (late_fee,) = st.query("SELECT late_fee FROM payment WHERE id = ?", (pk,))[0]
        seq = st.log_change("payments", "amount", unit_pk=unit_pk, entity_id=payment_id)
        st.db.execute_sql(
            "UPDATE payment SET total = ?, amount = ?, seq = ? WHERE id = ?",
            (fees.money(total), fees.money(total - Decimal(late_fee)), seq, pk),
        )
        row = st.query(f"SELECT {pay.PAYMENT_COLUMNS} FROM {pay.PAYMENT_FROM} WHERE p.id = ?", (pk,))[0]
    return json_response(pay.payment_json(row))
