"""Simulation calls for payment (only with ``--simulation``; see taxside/sim.py): the
simulated bank's agreements and answers, vouchers paid at a counter, payment delays."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, request

from taxside import agreements, payment_api, vouchers
from taxside.db import Store
from taxside.web import ApiError, body_json, json_response, load_unit, store

bp = Blueprint("sim_payments", __name__, url_prefix="/sim")
MAX_DELAY = 86_400
SETTINGS = {"unknown_resolve_seconds": 2.0, "arrival_delay_seconds": 5.0}
BANK_ANSWERS = ("unknown", "bank_timeout")


@bp.before_app_request
def _settle() -> None:
    if request.path.startswith("/sim/"):  # every /sim call settles what is due
        payment_api.settle()


def settings(st: Store) -> dict[str, Any]:
    return {key: st.seconds(key, default) for key, default in SETTINGS.items()}


def check_settings(body: dict[str, Any]) -> dict[str, float]:
    """The payment delays of a PUT /sim/settings body (validated; stored by the caller)."""
    out = {}
    for key in SETTINGS:
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_DELAY:
            raise ApiError(400, "bad_settings", f"{key} 应为0到{MAX_DELAY}之间的秒数")
        out[key] = float(value)
    return out


def _agreement(st: Store, unit_pk: int, text: str) -> tuple[Any, ...]:
    pk = agreements.parse_agreement_id(text)
    row = agreements.load(st, unit_pk, pk) if pk is not None else None
    if row is None:
        raise ApiError(404, "agreement_not_found", f"未找到三方协议 {text}")
    return row


@bp.get("/units/<unit_id>/agreements")
def sim_agreements(unit_id: str) -> Response:
    st = store()
    unit = load_unit(unit_id)
    agreements.ensure(st, unit["pk"])
    rows = agreements.rows_of(st, unit["pk"])
    return json_response({"items": [agreements.as_json(r, simulation=True) for r in rows]})


@bp.put("/units/<unit_id>/agreements/<agreement_id>")
def put_agreement(unit_id: str, agreement_id: str) -> Response:
    body = body_json()
    sets: dict[str, Any] = {}
    if "balance" in body:
        try:
            balance = Decimal(str(body["balance"]))
        except InvalidOperation:
            balance = Decimal("-1")
        if isinstance(body["balance"], bool) or not balance.is_finite() or balance < 0:
            raise ApiError(400, "bad_request", "balance 应为不小于0的金额文本，如 \"1000000.00\"")
        sets["balance"] = f"{balance.quantize(Decimal('0.01'))}"
    if "state" in body:
        if body["state"] not in (agreements.VALID, agreements.INVALID):
            raise ApiError(400, "bad_request", "state 应为 有效 或 已失效")
        sets["state"] = body["state"]
    if "scope" in body:
        if body["scope"] not in agreements.SCOPES:
            raise ApiError(400, "bad_request", f"scope 应为{'、'.join(agreements.SCOPES)}之一")
        sets["scope"] = body["scope"]
    for flag in ("account_name_ok", "budget_ok"):
        if flag in body:
            if not isinstance(body[flag], bool):
                raise ApiError(400, "bad_request", f"{flag} 应为 true 或 false")
            sets[flag] = int(body[flag])
    st = store()
    unit = load_unit(unit_id)
    agreements.ensure(st, unit["pk"])
    with st.write():
        row = _agreement(st, unit["pk"], agreement_id)
        if sets:
            seq = st.log_change("agreements", "upsert", unit_pk=unit["pk"], entity_id=agreement_id)
            st.db.execute_sql(
                f"UPDATE agreement SET {', '.join(f'{k} = ?' for k in sets)}, seq = ? WHERE id = ?",
                (*sets.values(), seq, row[0]),
            )
        row = _agreement(st, unit["pk"], agreement_id)
    return json_response(agreements.as_json(row, simulation=True))


@bp.post("/units/<unit_id>/bank-answers")
def bank_answers(unit_id: str) -> Response:
    """The next ``count`` arrears the unit debits get ``answer`` from the bank."""
    body = body_json()
    answer, count, resolve_to = body.get("answer"), body.get("count", 1), body.get("resolve_to", "paid")
    if answer not in BANK_ANSWERS:
        raise ApiError(400, "bad_request", "answer 应为 unknown（原交易状态不明）或 bank_timeout")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100_000:
        raise ApiError(400, "bad_count", "count 应为1到100000之间的整数")
    if resolve_to not in ("paid", "failed"):
        raise ApiError(400, "bad_request", "resolve_to 应为 paid 或 failed")
    st = store()
    unit = load_unit(unit_id)
    with st.write():
        st.db.execute_sql(
            "INSERT INTO bank_answer(unit_pk, answer, resolve_to, remaining) VALUES (?,?,?,?)",
            (unit["pk"], answer, resolve_to, count),
        )
        queued = [
            {"answer": a, "resolve_to": r, "remaining": n}
            for a, r, n in st.query(
                "SELECT answer, resolve_to, remaining FROM bank_answer WHERE unit_pk = ?"
                " AND remaining > 0 ORDER BY id", (unit["pk"],),
            )
        ]
    return json_response({"items": queued}, 201)


@bp.post("/units/<unit_id>/vouchers/<voucher_id>/pay")
def pay_voucher(unit_id: str, voucher_id: str) -> Response:
    st = store()
    unit = load_unit(unit_id)
    with st.write():
        row = vouchers.find(st, unit["pk"], voucher_id)
        vouchers.pay_at_bank(st, unit["pk"], row)
        row = vouchers.find(st, unit["pk"], voucher_id)
    return json_response(vouchers.as_json(st, row))
