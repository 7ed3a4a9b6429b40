"""Payment (费款缴纳, manual 3.1.7) on the reference tax side: arrears with their late fee,
tax tickets and payment records. Debits and vouchers are in taxside/debits.py; the views in
taxside/payment_api.py.

Late fees are never stored for an unpaid arrear: every answer computes them as of its own
business date, by the unit's region pack (rules/latefee.py). A payment stores what was paid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from rules.latefee import late_days, late_fee
from rules.model import RulePack
from taxside import fee_decisions as fd
from taxside import fees
from taxside.db import Store
from taxside.web import ApiError

PackFor = Callable[[str], RulePack]
METHOD_DEBIT, METHOD_VOUCHER = "三方协议", "银行端缴款凭证"
NOT_STORED, STORED = "已缴款未入库", "已入库"
DEFAULT_UNKNOWN_RESOLVE = 2.0
DEFAULT_ARRIVAL_DELAY = 5.0
MAX_ARREARS = 1000  # per debit or voucher
ZERO = Decimal("0.00")

# a.* plus the summary's item name and the paying record's ticket and late fee
ARREAR_COLUMNS = (
    "a.id, a.declaration_pk, a.summary_pk, a.unit_number, a.agency, a.item, s.item_name, a.part,"
    " a.period_from, a.period_to, a.amount, a.deadline, a.state, a.voucher_id, a.debit_pk,"
    " a.paid_at, p.tax_ticket, p.late_days, p.late_fee"
)
ARREAR_FROM = (
    "arrear a JOIN fee_summary s ON s.id = a.summary_pk LEFT JOIN payment p ON p.id = a.payment_pk"
)


def debit_id(pk: int) -> str:
    return f"DB{pk:08d}"


def voucher_id(pk: int) -> str:
    return f"BV{pk:08d}"


def payment_id(pk: int) -> str:
    return f"PM{pk:08d}"


def unknown_resolve_seconds(st: Store) -> float:
    return st.seconds("unknown_resolve_seconds", DEFAULT_UNKNOWN_RESOLVE)


def arrival_delay_seconds(st: Store) -> float:
    return st.seconds("arrival_delay_seconds", DEFAULT_ARRIVAL_DELAY)


def tickets(st: Store, region: str, day: dt.date, count: int) -> list[str]:
    """``count`` new 电子税票号码 (18 digits) from one counter (caller holds the write)."""
    last = int(st.get_meta("ticket_seq") or 0)
    st.set_meta("ticket_seq", str(last + count))
    head = f"3{day:%y}{region[:2]}0{day:%y%m}"  # 10 digits, then an 8-digit serial
    return [f"{head}{(last + k) % 10**8:08d}" for k in range(1, count + 1)]


class LateFees:
    """Late fee of one unit's arrears as of one business date; the pack is looked up only
    when something is overdue (PackError then, when the region has no pack)."""

    def __init__(self, st: Store, unit_pk: int, pack_for: PackFor, day: dt.date) -> None:
        self.st, self.unit_pk, self.pack_for, self.day = st, unit_pk, pack_for, day
        self._pack: RulePack | None = None

    def pack(self) -> RulePack:
        if self._pack is None:
            (region,) = self.st.db.execute_sql(
                "SELECT region FROM unit WHERE id = ?", (self.unit_pk,)
            ).fetchone()
            self._pack = self.pack_for(region)
        return self._pack

    def of(self, amount: str, deadline: str) -> tuple[int, Decimal]:
        due = dt.date.fromisoformat(deadline)
        if self.day <= due:
            return 0, ZERO
        pack = self.pack()
        return late_days(pack, due, self.day), late_fee(pack, Decimal(amount), due, self.day)


def arrear_json(row: tuple[Any, ...], fees_now: LateFees) -> dict[str, Any]:
    (pk, decl, summary, number, agency, item, item_name, part, p_from, p_to, amount, deadline,
     state, voucher, debit, paid_at, ticket, paid_days, paid_fee) = row
    if state == "paid":  # what was paid (an arrear marked paid by /sim has no record)
        days, fee = paid_days or 0, Decimal(paid_fee) if paid_fee is not None else ZERO
    elif state == "unpaid":
        days, fee = fees_now.of(amount, deadline)
    else:
        days, fee = 0, ZERO
    hold = None
    if state == "unpaid":
        hold = "voucher" if voucher else "debit" if debit else None
    return {
        "arrear_id": fd.arrear_id(pk), "declaration_id": fd.declaration_id(decl),
        "summary_id": fees.summary_id(summary), "unit_number": number, "agency": agency,
        "item": item, "item_name": item_name, "part": part,
        "part_name": fees.PART_NAMES.get(part, part), "period_from": p_from, "period_to": p_to,
        "amount": amount, "deadline": deadline, "late_days": days, "late_fee": fees.money(fee),
        "total": fees.money(Decimal(amount) + fee), "state": state, "hold": hold,
        "voucher_id": voucher, "debit_id": debit_id(debit) if debit else None,
        "paid_at": paid_at, "tax_ticket": ticket,
    }


def query_arrears(
    st: Store, unit_pk: int, state: str, period: str | None
) -> list[tuple[Any, ...]]:
    """Every arrear of the query, ordered by (deadline, id)."""
    where, params = ["a.unit_pk = ?"], [unit_pk]
    if state == "unpaid":
        where.append("a.state = 'unpaid'")
    elif state == "paid":
        where.append("a.state = 'paid'")
    if period is not None:
        where.append("a.period_from <= ? AND a.period_to >= ?")
        params += [period, period]
    return st.query(
        f"SELECT {ARREAR_COLUMNS} FROM {ARREAR_FROM} WHERE {' AND '.join(where)}"
        " ORDER BY a.deadline, a.id",
        tuple(params),
    )


def load_arrears(st: Store, unit_pk: int, pks: list[int]) -> dict[int, tuple[Any, ...]]:
    rows: dict[int, tuple[Any, ...]] = {}
    for start in range(0, len(pks), 500):  # SQLite's parameter limit
        chunk = pks[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in st.query(
            f"SELECT {ARREAR_COLUMNS} FROM {ARREAR_FROM} WHERE a.unit_pk = ? AND a.id IN ({marks})",
            (unit_pk, *chunk),
        ):
            rows[row[0]] = row
    return rows


def insert_payments(st: Store, rows: list[tuple[Any, ...]], seq: int) -> list[int]:
    """Payment records (unit_pk, tax_ticket, method, debit_pk, voucher_pk, agreement_pk,
    arrear_pk, amount, late_days, late_fee, total, paid_at) and their arrears paid, in one
    go (caller holds the write); returns the payments' ids in order. ``paid_on`` is the
    business date (``today``), which the simulation moves apart from the clock."""
    if not rows:
        return []
    (last,) = st.db.execute_sql("SELECT COALESCE(MAX(id), 0) FROM payment").fetchone()
    cur = st.db.cursor()
    today = st.today().isoformat()
    cur.executemany(
        "INSERT INTO payment(id, unit_pk, tax_ticket, method, debit_pk, voucher_pk, agreement_pk,"
        " arrear_pk, amount, late_days, late_fee, total, paid_at, arrival, seq, paid_on)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(last + k, *r, NOT_STORED, seq, today) for k, r in enumerate(rows, 1)],
    )
    cur.executemany(
        "UPDATE arrear SET state = 'paid', payment_pk = ?, paid_at = ?, seq = ? WHERE id = ?",
        [(last + k, r[11], seq, r[6]) for k, r in enumerate(rows, 1)],
    )
    return [last + k for k in range(1, len(rows) + 1)]


PAYMENT_COLUMNS = (
    "p.id, p.tax_ticket, p.method, p.debit_pk, p.voucher_pk, g.agreement_no, g.bank, p.arrear_pk,"
    " a.unit_number, a.agency, a.item, s.item_name, a.part, a.period_from, a.period_to,"
    " p.amount, p.late_fee, p.total, p.paid_at, p.arrival, p.stored_at, p.paid_on"
)
PAYMENT_FROM = (
    "payment p JOIN arrear a ON a.id = p.arrear_pk JOIN fee_summary s ON s.id = a.summary_pk"
    " LEFT JOIN agreement g ON g.id = p.agreement_pk"
)


def payment_json(row: tuple[Any, ...]) -> dict[str, Any]:
    (pk, ticket, method, debit, voucher, agreement_no, bank, arrear, number, agency, item,
     item_name, part, p_from, p_to, amount, fee, total, paid_at, arrival, stored_at, paid_on) = row
    return {
        "payment_id": payment_id(pk), "tax_ticket": ticket, "method": method,
        "debit_id": debit_id(debit) if debit else None,
        "voucher_id": voucher_id(voucher) if voucher else None,
        "agreement_no": agreement_no, "bank": bank, "arrear_id": fd.arrear_id(arrear),
        "unit_number": number, "agency": agency, "item": item, "item_name": item_name,
        "part": part, "part_name": fees.PART_NAMES.get(part, part), "period_from": p_from,
        "period_to": p_to, "amount": amount, "late_fee": fee, "total": total,
        "paid_at": paid_at, "paid_on": paid_on or paid_at[:10], "arrival": arrival, "stored_at": stored_at,
    }


def settle_arrivals(st: Store, unit_pk: int | None = None) -> int:
    """Payments older than ``arrival_delay_seconds`` are 已入库 (stored_at = paid + delay)."""
    delay = arrival_delay_seconds(st)
    cutoff = (st.now() - dt.timedelta(seconds=delay)).isoformat()
    where, params = "arrival = ? AND paid_at <= ?", [NOT_STORED, cutoff]
    if unit_pk is not None:
        where += " AND unit_pk = ?"
        params.append(unit_pk)
    if not st.db.execute_sql(f"SELECT 1 FROM payment WHERE {where} LIMIT 1", tuple(params)).fetchone():
        return 0
    with st.write():
        due = st.query(f"SELECT id, unit_pk, paid_at FROM payment WHERE {where}", tuple(params))
        seqs: dict[int, int] = {}
        updates = []
        for pk, unit, paid_at in due:
            if unit not in seqs:
                seqs[unit] = st.log_change("payments", "arrival", unit_pk=unit)
            stored = dt.datetime.fromisoformat(paid_at) + dt.timedelta(seconds=delay)
            updates.append((STORED, stored.replace(microsecond=0).isoformat(), seqs[unit], pk))
        st.db.cursor().executemany(
            "UPDATE payment SET arrival = ?, stored_at = ?, seq = ? WHERE id = ?", updates
        )
    return len(due)


def arrear_refs(value: Any) -> list[tuple[str, int | None]]:
    """``arrear_ids`` of a debit or voucher request: 1-1000 distinct texts, in order."""
    if (not isinstance(value, list) or not value or len(value) > MAX_ARREARS
            or not all(isinstance(v, str) and v for v in value)):
        raise ApiError(400, "bad_request", f"arrear_ids 应为1到{MAX_ARREARS}个欠费编号（文本）的列表")
    seen: set[str] = set()
    for text in value:
        if text in seen:
            raise ApiError(400, "bad_request", f"同一欠费在本次请求中重复：{text}")
        seen.add(text)
    return [(text, fd.parse_id(text, "AR")) for text in value]


def payable(st: Store, unit_pk: int, refs: list[tuple[str, int | None]]) -> list[tuple[Any, ...]]:
    """The arrears, in the order given, if every one can be paid now; else the refusal of
    the first that cannot (whatever the client believes about it)."""
    rows = load_arrears(st, unit_pk, [pk for _, pk in refs if pk is not None])
    out = []
    for text, pk in refs:
        row = rows.get(pk) if pk is not None else None
        if row is None or row[12] == "voided":
            raise ApiError(404, "arrear_not_found", f"未找到欠费 {text}（不存在、不属于本单位或已作废）",
                           arrear_id=text)
        if row[12] == "paid":
            raise ApiError(409, "arrear_paid", f"欠费 {text} 已缴款，请勿重复缴款", arrear_id=text)
        if row[13]:
            raise ApiError(409, "arrear_on_voucher",
                           f"欠费 {text} 已开具银行端缴款凭证 {row[13]}，请到银行缴款或先作废凭证",
                           arrear_id=text, voucher_id=row[13])
        if row[14]:
            raise ApiError(409, "arrear_in_debit",
                           f"欠费 {text} 的扣款结果待银行确认（扣款 {debit_id(row[14])}），请勿重复扣款",
                           arrear_id=text, debit_id=debit_id(row[14]))
        out.append(row)
    return out


def unit_region(st: Store, unit_pk: int) -> str:
    return st.db.execute_sql("SELECT region FROM unit WHERE id = ?", (unit_pk,)).fetchone()[0]
