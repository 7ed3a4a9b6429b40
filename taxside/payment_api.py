"""Payment views (费款缴纳, manual 3.1.7): arrears, agreements, debits, vouchers, payment
records. The work is in taxside/payments.py, debits.py and vouchers.py."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, g, request

from rules.model import PackError
from rules.periods import parse_period
from taxside import agreements, debits, fees, vouchers
from taxside import fee_decisions as fd
from taxside import payments as pay
from taxside.decisions import decide_due
from taxside.regionrules import find_pack
from taxside.web import (
    ApiError,
    body_json,
    date_arg,
    decode_cursor,
    encode_cursor,
    idempotent,
    json_response,
    parse_limit,
    require_token,
    store,
)

bp = Blueprint("payments", __name__, url_prefix="/v1")
ARREAR_STATES = ("unpaid", "paid", "all")
MAX_VOUCHER_DAYS = 366


def settle(unit_pk: int | None = None) -> None:
    """What is due lazily: declarations and voids, unknown debit results, voucher expiry,
    arrival of payments."""
    decide_due(unit_pk)
    st = store()
    debits.resolve_due(st, unit_pk)
    vouchers.expire_due(st, unit_pk)
    pay.settle_arrivals(st, unit_pk)


def rules_unavailable(exc: PackError) -> ApiError:
    return ApiError(422, "rules_unavailable", f"税务端没有本地区的业务规则，暂不能计算滞纳金：{exc}")


def _period() -> str | None:
    text = request.args.get("period")
    if not text:
        return None
    if not re.fullmatch(r"\d{6}", text):
        raise ApiError(400, "bad_period", "费款所属期应为 YYYYMM 格式，如 202503")
    try:
        return str(parse_period(text))
    except ValueError as exc:
        raise ApiError(400, "bad_period", str(exc)) from None


def _cursor(feed: str) -> dict[str, Any] | None:
    text = request.args.get("cursor")
    if not text:
        return None
    cur = decode_cursor(text, feed)
    if cur.get("u") != g.unit_pk:
        raise ApiError(400, "bad_cursor", "查询游标与本单位不符，请重新查询")
    if not all(isinstance(cur.get(k, 0), int) for k in ("k", "s")) or not isinstance(cur.get("d", ""), str):
        raise ApiError(400, "bad_cursor", "查询游标无效，请重新查询")
    return cur


# -- arrears ---------------------------------------------------------------------------------------
@bp.get("/units/<unit_id>/arrears")
@require_token()
def arrears(unit_id: str) -> Response:
    state = request.args.get("state", "unpaid")
    if state not in ARREAR_STATES:
        raise ApiError(400, "bad_request", "state 应为 unpaid（未缴）、paid（已缴）或 all（全部）")
    period = _period()
    limit = parse_limit()
    cur = _cursor("arrears")
    after = (str(cur.get("d", "")), int(cur.get("k", 0))) if cur else ("", 0)
    settle(g.unit_pk)
    st = store()
    rows = pay.query_arrears(st, g.unit_pk, state, period)
    late = pay.LateFees(st, g.unit_pk, find_pack, st.today())
    try:
        items = [pay.arrear_json(r, late) for r in rows]
    except PackError as exc:
        raise rules_unavailable(exc) from None
    amount = sum((Decimal(i["amount"]) for i in items), Decimal("0.00"))
    fee = sum((Decimal(i["late_fee"]) for i in items), Decimal("0.00"))
    page = [i for i, r in zip(items, rows, strict=True) if (r[11], r[0]) > after][: limit + 1]
    more = len(page) > limit
    page = page[:limit]
    if page:
        after = (page[-1]["deadline"], int(page[-1]["arrear_id"][2:]))
    return json_response({
        "items": page,
        "next_cursor": encode_cursor({"f": "arrears", "u": g.unit_pk, "d": after[0], "k": after[1]}),
        "has_more": more, "today": st.today().isoformat(), "count": len(items),
        "amount_total": fees.money(amount), "late_fee_total": fees.money(fee),
    })


# -- agreements ------------------------------------------------------------------------------------
@bp.get("/units/<unit_id>/agreements")
@require_token()
def agreement_list(unit_id: str) -> Response:
    st = store()
    agreements.ensure(st, g.unit_pk)
    return json_response({"items": [agreements.as_json(r) for r in agreements.rows_of(st, g.unit_pk)]})


# -- debits ----------------------------------------------------------------------------------------
def _confirmed_total(value: object) -> Decimal | None:
    """The total the payer confirmed (optional): a decimal text with at most two places."""
    if value is None:
        return None
    try:
        amount = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2:
        raise ApiError(400, "bad_request", "confirmed_total 应为金额文本（如 \"153676.80\"）")
    return amount


@bp.post("/units/<unit_id>/debits")
@require_token()
@idempotent
def debit(unit_id: str) -> Response:
    body = body_json()
    text = body.get("agreement_id")
    if not isinstance(text, str) or not text:
        raise ApiError(400, "bad_request", "agreement_id 应为三方协议编号（文本）")
    refs = pay.arrear_refs(body.get("arrear_ids"))
    confirmed = _confirmed_total(body.get("confirmed_total"))
    st = store()
    settle(g.unit_pk)  # inside the write: a resolved debit or an expired voucher frees arrears
    agreements.ensure(st, g.unit_pk)
    apk = agreements.parse_agreement_id(text)
    agreement = agreements.load(st, g.unit_pk, apk) if apk is not None else None
    if agreement is None:
        raise ApiError(404, "agreement_not_found", f"未找到三方协议 {text}", agreement_id=text)
    rows = pay.payable(st, g.unit_pk, refs)
    try:
        pk = debits.create(st, g.unit_pk, agreement, rows, find_pack, confirmed)
    except PackError as exc:
        raise rules_unavailable(exc) from None
    loaded = debits.load(st, g.unit_pk, pk)
    assert loaded is not None
    return json_response(debits.as_json(st, loaded), 201)


@bp.get("/units/<unit_id>/debits/<debit_id>")
@require_token()
def debit_state(unit_id: str, debit_id: str) -> Response:
    settle(g.unit_pk)
    st = store()
    pk = fd.parse_id(debit_id, "DB")
    row = debits.load(st, g.unit_pk, pk) if pk is not None else None
    if row is None:
        raise ApiError(404, "debit_not_found", "未找到该扣款记录")
    return json_response(debits.as_json(st, row))


# -- vouchers --------------------------------------------------------------------------------------
@bp.post("/units/<unit_id>/vouchers")
@require_token()
@idempotent
def voucher_issue(unit_id: str) -> Response:
    refs = pay.arrear_refs(body_json().get("arrear_ids"))
    st = store()
    settle(g.unit_pk)
    rows = pay.payable(st, g.unit_pk, refs)
    try:
        pk = vouchers.create(st, g.unit_pk, rows, find_pack)
    except PackError as exc:
        raise rules_unavailable(exc) from None
    row = vouchers.load(st, g.unit_pk, pk)
    assert row is not None
    return json_response(vouchers.as_json(st, row), 201)


@bp.get("/units/<unit_id>/vouchers")
@require_token()
def voucher_list(unit_id: str) -> Response:
    st = store()
    today = st.today()
    start = date_arg("from", today - dt.timedelta(days=MAX_VOUCHER_DAYS), "开具日期")
    end = date_arg("to", today, "开具日期")
    if end < start or (end - start).days > MAX_VOUCHER_DAYS:
        raise ApiError(
            400, "bad_date_range",
            f"开具日期范围无效：起始日期不能晚于结束日期，且相隔不超过{MAX_VOUCHER_DAYS}天",
        )
    limit = parse_limit(100)
    cur = _cursor("vouchers")
    after = (str(cur.get("d", "")), int(cur.get("k", 0))) if cur else ("", 0)
    settle(g.unit_pk)
    rows = vouchers.page(st, g.unit_pk, start, end, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        after = (rows[-1][4], rows[-1][0])
    return json_response({
        "items": [vouchers.as_json(st, r) for r in rows],
        "next_cursor": encode_cursor({"f": "vouchers", "u": g.unit_pk, "d": after[0], "k": after[1]}),
        "has_more": more, "from": start.isoformat(), "to": end.isoformat(),
    })


@bp.get("/units/<unit_id>/vouchers/<voucher_id>")
@require_token()
def voucher_one(unit_id: str, voucher_id: str) -> Response:
    settle(g.unit_pk)
    st = store()
    return json_response(vouchers.as_json(st, vouchers.find(st, g.unit_pk, voucher_id)))


@bp.post("/units/<unit_id>/vouchers/<voucher_id>/voids")
@require_token()
@idempotent
def voucher_void(unit_id: str, voucher_id: str) -> Response:
    body_json()  # `{}`: still has to be JSON
    st = store()
    settle(g.unit_pk)
    vouchers.void(st, g.unit_pk, vouchers.find(st, g.unit_pk, voucher_id))
    return json_response(vouchers.as_json(st, vouchers.find(st, g.unit_pk, voucher_id)))


# -- payment records -------------------------------------------------------------------------------
@bp.get("/units/<unit_id>/payments")
@require_token()
def payment_list(unit_id: str) -> Response:
    """A feed: without a cursor every record by payment_id (mode ``full``), the last page
    handing over an incremental cursor at the listing's start; with it, the records changed
    since, by change sequence (so an arrival is served again)."""
    method = request.args.get("method")
    if method is not None and method not in (pay.METHOD_DEBIT, pay.METHOD_VOUCHER):
        raise ApiError(400, "bad_request", f"method 应为 {pay.METHOD_DEBIT} 或 {pay.METHOD_VOUCHER}")
    period = _period()
    limit = parse_limit()
    cur = _cursor("payments")
    settle(g.unit_pk)
    st = store()
    where, params = ["p.unit_pk = ?"], [g.unit_pk]
    if method:
        where.append("p.method = ?")
        params.append(method)
    if period:
        where.append("a.period_from <= ? AND a.period_to >= ?")
        params += [period, period]
    full = cur is None or cur.get("m") == "full"
    start = int(cur.get("s", 0)) if cur else st.max_seq()
    last = int(cur.get("k", 0)) if cur else 0
    if full:
        where.append("p.id > ?")
        params.append(last)
        order = "p.id"
    else:
        where.append("(p.seq, p.id) > (?, ?)")
        params += [start, last]
        order = "p.seq, p.id"
    rows = st.query(
        f"SELECT {pay.PAYMENT_COLUMNS}, p.seq FROM {pay.PAYMENT_FROM} WHERE {' AND '.join(where)}"
        f" ORDER BY {order} LIMIT ?",
        (*params, limit + 1),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if full and more:
        nxt = {"m": "full", "s": start, "k": rows[-1][0]}
    elif full:
        nxt = {"m": "inc", "s": start, "k": 2**62}  # past every row of seq `start`
    elif rows:
        nxt = {"m": "inc", "s": rows[-1][-1], "k": rows[-1][0]}
    else:
        nxt = {"m": "inc", "s": start, "k": last}
    return json_response({
        "mode": "full" if full else "incremental",
        "items": [pay.payment_json(r[:-1]) for r in rows],
        "next_cursor": encode_cursor({"f": "payments", "u": g.unit_pk, **nxt}),
        "has_more": more,
    })
