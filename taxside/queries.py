"""Queries (查询统计, manual 3.1.8) on the reference tax side: unit insurance registrations,
employees' payroll bases, what is payable per fee period and item, and payment arrivals.

Everything served is derived from what the tax side already stores (units and their
numbers, employees and their bases as accepted payroll-base declarations left them,
arrears of accepted fee declarations, payment records): nothing is invented per call.
The declaration-details feed (申报明细) is another module's.

``sim_bp`` (registered only with ``--simulation``, by taxside/sim.py) is what makes 到账信息
differ from a client's payment records:

- ``POST /sim/units/{unit_id}/payments/{payment_id}/reversal``: the bank reverses a payment
  (冲正): the record is gone from the tax side and its arrear is unpaid again.
- ``PUT /sim/units/{unit_id}/payments/{payment_id}`` ``{"total": "100.00"}``: the tax side
  holds another paid amount for the record (its late fee kept, the amount the rest).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, g, request

from rules.item_names import DEFAULT_NAMES, ORDER, item_names
from rules.model import PackError
from rules.periods import Period, parse_period
from taxside import fee_decisions as fd
from taxside import fees
from taxside import payments as pay
from taxside.data import STATUS_NORMAL
from taxside.decisions import decide_due
from taxside.jsonutil import loads
from taxside.payment_api import settle
from taxside.regionrules import find_pack
from taxside.web import (
    ApiError,
    body_json,
    decode_cursor,
    encode_cursor,
    json_response,
    load_unit,
    parse_limit,
    require_token,
    store,
    unit_numbers,
)

bp = Blueprint("queries", __name__, url_prefix="/v1")
sim_bp = Blueprint("sim_queries", __name__, url_prefix="/sim")
ITEM_NAMES = DEFAULT_NAMES  # the codes; a unit's names come from its pack (unit_item_names)
ITEM_ORDER = ORDER
REGISTERED, SUSPENDED = "正常参保", "暂停缴费"
MAX_PAYABLE_MONTHS = 120
ZERO = Decimal("0.00")


# -- 单位参保信息 ------------------------------------------------------------------------------------
def registered_on(number: str, item: str) -> str:
    """参保日期: fixed per unit number and item (a digest, so every call and every tax side
    built from the same data agree), between 2005 and 2020."""
    digest = int(hashlib.sha256(f"{number}:{item}".encode()).hexdigest()[:8], 16)
    return (dt.date(2005, 1, 1) + dt.timedelta(days=digest % 5844)).replace(day=1).isoformat()


def unit_item_names(unit: dict[str, Any]) -> dict[str, str]:
    """The names the unit's fee summaries carry: its region's pack, current period."""
    try:
        pack = find_pack(unit["region"])
    except PackError:
        pack = None
    return item_names(pack, fees.current_period(store().today()))


def registrations(unit_pk: int, unit: dict[str, Any]) -> list[dict[str, Any]]:
    """One registration per unit number and item it covers; 暂停缴费 while no employee of
    that number with 正常缴费 pays the item (so leavers and hires change it)."""
    paying: set[tuple[str, str]] = set()
    for number, items in store().query(
        "SELECT DISTINCT unit_number, items FROM employee WHERE unit_pk = ? AND deleted = 0"
        " AND status = ?", (unit_pk, STATUS_NORMAL),
    ):
        paying.update((number, i) for i in loads(items))
    names = unit_item_names(unit)
    out = []
    for n in unit_numbers(unit_pk):
        for item in sorted(n["items"], key=lambda i: ITEM_ORDER.index(i) if i in ITEM_ORDER else 99):
            out.append({
                "unit_number": n["number"], "kind": n["kind"], "item": item,
                "item_name": names.get(item, item),
                "status": REGISTERED if (n["number"], item) in paying else SUSPENDED,
                "registered_on": registered_on(n["number"], item), "agency": n["agency"],
                "tax_authority": unit["tax_authority"], "collection_mode": unit["collection_mode"],
                "industry_risk_class": unit["industry_risk_class"] if item == "injury" else None,
            })
    return out


@bp.get("/units/<unit_id>/insurance-registrations")
@require_token()
def insurance_registrations(unit_id: str) -> Response:
    unit = load_unit(unit_id)
    rows = registrations(g.unit_pk, unit)
    for name in ("tax_authority", "unit_number", "agency"):
        if request.args.get(name):
            rows = [r for r in rows if r[name] == request.args[name]]
    return json_response({"items": rows, "unit_name": unit["name"], "taxpayer_id": unit["taxpayer_id"],
                          "today": store().today().isoformat()})


# -- 职工缴费基数 ------------------------------------------------------------------------------------
NO_ID = 1 << 62  # "after every id of this seq": an incremental cursor at a seq boundary


@bp.get("/units/<unit_id>/payroll-bases")
@require_token()
def payroll_bases(unit_id: str) -> Response:
    """The bases as held now. Without a cursor: every employee, paged by id (the first page
    has ``total``); the last page's ``next_cursor`` is the version to ask from next time.
    With that cursor: only the employees changed since (an accepted payroll-base
    declaration, a hire, a leaver, a status change), in change order, removed ones as
    ``deleted`` (the same (seq, id) feed as enrollment). Decided payroll-base declarations
    are applied first, so an accepted one shows at once."""
    limit = parse_limit()
    decide_due(g.unit_pk)
    st = store()
    text = request.args.get("cursor")
    total = None
    if text:
        cur = decode_cursor(text, "payroll_bases")
        if (cur.get("u") != g.unit_pk or cur.get("m") not in ("full", "inc")
                or not isinstance(cur.get("k"), int) or not isinstance(cur.get("s"), int)):
            raise ApiError(400, "bad_cursor", "查询游标与本单位不符，请重新查询")
    else:
        # The seq before the first page: a row changed while the pages are read is served
        # again by the incremental feed that follows.
        cur = {"f": "payroll_bases", "u": g.unit_pk, "m": "full", "s": st.max_seq(), "k": 0}
        total = st.query("SELECT COUNT(*) FROM employee WHERE unit_pk = ? AND deleted = 0",
                         (g.unit_pk,))[0][0]
    columns = "id, unit_number, status, bases, updated_at, deleted, seq"
    if cur["m"] == "full":
        rows = st.query(
            f"SELECT {columns} FROM employee WHERE unit_pk = ? AND deleted = 0 AND id > ? ORDER BY id LIMIT ?",
            (g.unit_pk, cur["k"], limit + 1),
        )
    else:
        rows = st.query(
            f"SELECT {columns} FROM employee WHERE unit_pk = ? AND (seq, id) > (?, ?) ORDER BY seq, id LIMIT ?",
            (g.unit_pk, cur["s"], cur["k"], limit + 1),
        )
    more = len(rows) > limit
    rows = rows[:limit]
    if cur["m"] == "full":
        nxt = {**cur, "k": rows[-1][0]} if more else {**cur, "m": "inc", "k": NO_ID}
    else:
        nxt = {**cur, "s": rows[-1][6], "k": rows[-1][0]} if rows else cur
    body: dict[str, Any] = {
        "mode": "full" if cur["m"] == "full" else "incremental",
        "items": [{"employee_id": f"E{pk:09d}", "unit_number": number, "status": status,
                   "bases": {} if deleted else loads(bases), "updated_at": updated, "deleted": bool(deleted)}
                  for pk, number, status, bases, updated, deleted, _seq in rows],
        "next_cursor": encode_cursor(nxt),
        "has_more": more,
    }
    if total is not None:
        body["total"] = total
    return json_response(body)


# -- 应缴信息 ------------------------------------------------------------------------------------------
def _period_arg(name: str, default: Period) -> Period:
    text = request.args.get(name)
    if not text:
        return default
    if not re.fullmatch(r"\d{6}", text):
        raise ApiError(400, "bad_period", "费款所属期应为 YYYYMM 格式，如 202503")
    try:
        return parse_period(text)
    except ValueError as exc:
        raise ApiError(400, "bad_period", str(exc)) from None


def payables(unit_pk: int, start: Period, end: Period, item: str | None) -> list[dict[str, Any]]:
    """应缴 / 已缴 / 未缴 per fee period range, unit number and item, from the arrears of
    accepted declarations (voided ones left out); 未缴 counts held arrears too."""
    where, params = ["a.unit_pk = ?", "a.deleted = 0", "a.state != 'voided'",
                     "a.period_to >= ?", "a.period_from <= ?"], [unit_pk, str(start), str(end)]
    if item:
        where.append("a.item = ?")
        params.append(item)
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for p_from, p_to, number, agency, code, name, amount, state, deadline in store().query(
        "SELECT a.period_from, a.period_to, a.unit_number, a.agency, a.item, s.item_name, a.amount,"
        " a.state, a.deadline FROM arrear a JOIN fee_summary s ON s.id = a.summary_pk"
        f" WHERE {' AND '.join(where)} ORDER BY a.period_from, a.period_to, a.item, a.id", tuple(params),
    ):
        row = groups.setdefault((p_from, p_to, number, code), {
            "period_from": p_from, "period_to": p_to, "unit_number": number, "agency": agency,
            "item": code, "item_name": name, "payable": ZERO, "paid": ZERO, "unpaid": ZERO,
            "arrear_count": 0, "unpaid_count": 0, "deadline": None,
        })
        value = Decimal(amount)
        row["payable"] += value
        row["arrear_count"] += 1
        if state == "paid":
            row["paid"] += value
        else:
            row["unpaid"] += value
            row["unpaid_count"] += 1
            row["deadline"] = min(filter(None, (row["deadline"], deadline)))
    out = []
    for row in groups.values():
        row["state"] = "已缴清" if not row["unpaid_count"] else ("未缴" if row["paid"] == ZERO else "部分缴纳")
        out.append({**row, **{k: fees.money(row[k]) for k in ("payable", "paid", "unpaid")}})
    return out


@bp.get("/units/<unit_id>/payables")
@require_token()
def payable_list(unit_id: str) -> Response:
    st = store()
    settle(g.unit_pk)  # decisions and payments due first: 已缴 is as of now
    current = fees.current_period(st.today())
    end = _period_arg("to", current)
    start = _period_arg("from", end.add_months(-11))
    if start.index > end.index or end.index - start.index >= MAX_PAYABLE_MONTHS:
        raise ApiError(400, "bad_period_range",
                       f"费款所属期范围无效：起应不晚于止，且不超过{MAX_PAYABLE_MONTHS}个月")
    item = request.args.get("item") or None
    if item is not None and item not in ITEM_NAMES:
        raise ApiError(400, "bad_request", f"item 应为：{'、'.join(ITEM_NAMES)}")
    rows = payables(g.unit_pk, start, end, item)
    return json_response({
        "items": rows, "from": str(start), "to": str(end), "current_period": str(current),
        "payable_total": fees.money(sum((Decimal(r["payable"]) for r in rows), ZERO)),
        "paid_total": fees.money(sum((Decimal(r["paid"]) for r in rows), ZERO)),
        "unpaid_total": fees.money(sum((Decimal(r["unpaid"]) for r in rows), ZERO)),
    })


# -- 到账信息 ------------------------------------------------------------------------------------------
def _date_arg(name: str) -> str | None:
    text = request.args.get(name)
    if not text:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        dt.date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "bad_date", f"{name} 应为 YYYY-MM-DD 格式的缴款日期，如 2025-03-15") from None
    return text


@bp.get("/units/<unit_id>/payment-arrivals")
@require_token()
def payment_arrivals(unit_id: str) -> Response:
    """Payment records whose 费款所属期 range meets ``from``-``to`` and / or whose 缴款日期
    (the business date of the payment) is within ``paid_from``-``paid_to``, with their
    arrival state, paged by payment id; arrivals due are settled first. Without any of
    them: the twelve months of fee periods up to the current one."""
    st = store()
    current = fees.current_period(st.today())
    paid_from, paid_to = _date_arg("paid_from"), _date_arg("paid_to")
    if paid_from and paid_to and paid_from > paid_to:
        raise ApiError(400, "bad_date_range", "缴款日期范围无效：起应不晚于止")
    by_date = bool(paid_from or paid_to)
    where, params = ["p.unit_pk = ?", "p.id > ?"], [g.unit_pk]
    start = end = None
    if not by_date or request.args.get("from") or request.args.get("to"):
        end = _period_arg("to", current)
        start = _period_arg("from", end.add_months(-11))
        if start.index > end.index or end.index - start.index >= MAX_PAYABLE_MONTHS:
            raise ApiError(400, "bad_period_range",
                           f"费款所属期范围无效：起应不晚于止，且不超过{MAX_PAYABLE_MONTHS}个月")
        where += ["a.period_to >= ?", "a.period_from <= ?"]
        params += [str(start), str(end)]
    # Rows made before paid_on was recorded answer by their clock's date.
    for bound, op in ((paid_from, ">="), (paid_to, "<=")):
        if bound:
            where.append(f"coalesce(p.paid_on, substr(p.paid_at, 1, 10)) {op} ?")
            params.append(bound)
    limit = parse_limit()
    text = request.args.get("cursor")
    cur = decode_cursor(text, "arrivals") if text else {"f": "arrivals", "u": g.unit_pk, "k": 0}
    if cur.get("u") != g.unit_pk or not isinstance(cur.get("k"), int):
        raise ApiError(400, "bad_cursor", "查询游标与本单位不符，请重新查询")
    params.insert(1, cur["k"])
    settle(g.unit_pk)
    rows = st.query(
        f"SELECT {pay.PAYMENT_COLUMNS} FROM {pay.PAYMENT_FROM} WHERE {' AND '.join(where)} ORDER BY p.id LIMIT ?",
        (*params, limit + 1),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return json_response({
        "items": [pay.payment_json(r) for r in rows],
        "next_cursor": encode_cursor({**cur, "k": rows[-1][0]}) if more else None,
        "has_more": more, "from": str(start) if start else None, "to": str(end) if end else None,
        "paid_from": paid_from, "paid_to": paid_to, "current_period": str(current),
    })


# -- /sim: payments the bank reversed or the tax side holds otherwise ---------------------------------
def _payment(unit_pk: int, payment_id: str) -> tuple[int, int]:
    pk = fd.parse_id(payment_id, "PM")
    row = store().query("SELECT id, arrear_pk FROM payment WHERE id = ? AND unit_pk = ?",
                        (pk if pk is not None else -1, unit_pk))
    if not row:
        raise ApiError(404, "payment_not_found", f"未找到缴款记录 {payment_id}")
    return row[0][0], row[0][1]


@sim_bp.post("/units/<unit_id>/payments/<payment_id>/reversal")
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


@sim_bp.put("/units/<unit_id>/payments/<payment_id>")
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
