"""Bank vouchers (银行端缴款凭证) on the reference tax side.

A voucher fixes its figures when issued and holds its arrears (``arrear.voucher_id``, which
the fee-declaration void check reads) while open. It ends paid at the bank (/sim), voided
by the payer, or expired once its deadline has passed (lazily, ``expire_due``); the last two
free the arrears again.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from taxside import fee_decisions as fd
from taxside import fees
from taxside import payments as pay
from taxside.db import Store
from taxside.web import ApiError

COLUMNS = (
    "v.id, v.voucher_no, v.state, v.issued_at, v.issued_on, v.deadline, v.count,"
    " v.amount_total, v.late_fee_total, v.total, v.paid_at, v.voided_at, u.taxpayer_id, u.name,"
    " u.tax_authority"
)
FROM = "voucher v JOIN unit u ON u.id = v.unit_pk"


def create(st: Store, unit_pk: int, arrears: list[tuple[Any, ...]], pack_for: pay.PackFor) -> int:
    """Issue a voucher for ``arrears`` (checked payable; caller holds the write)."""
    today, now = st.today(), st.now().isoformat()
    late = pay.LateFees(st, unit_pk, pack_for, today)
    items = []
    for n, row in enumerate(arrears, 1):
        days, fee = late.of(row[10], row[11])
        items.append((n, row[0], row[10], days, fee, Decimal(row[10]) + fee))
    earliest = min(dt.date.fromisoformat(r[11]) for r in arrears)
    deadline = max(earliest, today)  # overdue: valid on the day of issue only
    amount = sum((Decimal(i[2]) for i in items), Decimal("0.00"))
    fee_total = sum((i[4] for i in items), Decimal("0.00"))
    (number,) = pay.tickets(st, pay.unit_region(st, unit_pk), today, 1)
    seq = st.log_change("vouchers", "issue", unit_pk=unit_pk)
    cur = st.db.execute_sql(
        "INSERT INTO voucher(unit_pk, voucher_no, state, issued_at, issued_on, deadline, count,"
        " amount_total, late_fee_total, total, seq) VALUES (?,?,'open',?,?,?,?,?,?,?,?)",
        (unit_pk, number, now, today.isoformat(), deadline.isoformat(), len(items),
         fees.money(amount), fees.money(fee_total), fees.money(amount + fee_total), seq),
    )
    pk = int(cur.lastrowid)
    cursor = st.db.cursor()
    cursor.executemany(
        "INSERT INTO voucher_item(voucher_pk, n, arrear_pk, amount, late_days, late_fee, total)"
        " VALUES (?,?,?,?,?,?,?)",
        [(pk, n, a, amt, days, fees.money(fee), fees.money(tot))
         for n, a, amt, days, fee, tot in items],
    )
    cursor.executemany(
        "UPDATE arrear SET voucher_id = ?, seq = ? WHERE id = ?",
        [(pay.voucher_id(pk), seq, i[1]) for i in items],
    )
    return pk


def load(st: Store, unit_pk: int, pk: int) -> tuple[Any, ...] | None:
    return st.db.execute_sql(
        f"SELECT {COLUMNS} FROM {FROM} WHERE v.id = ? AND v.unit_pk = ?", (pk, unit_pk)
    ).fetchone()


def find(st: Store, unit_pk: int, text: str) -> tuple[Any, ...]:
    pk = fd.parse_id(text, "BV")
    row = load(st, unit_pk, pk) if pk is not None else None
    if row is None:
        raise ApiError(404, "voucher_not_found", "未找到该缴款凭证")
    return row


def as_json(st: Store, row: tuple[Any, ...]) -> dict[str, Any]:
    (pk, number, state, issued_at, issued_on, deadline, count, amount, fee, total, paid_at,
     voided_at, taxpayer, name, office) = row
    items = [
        {"arrear_id": fd.arrear_id(a), "unit_number": un, "agency": ag, "item": item,
         "item_name": item_name, "part": part, "part_name": fees.PART_NAMES.get(part, part),
         "period_from": pf, "period_to": pt, "amount": amt, "late_fee": lf, "total": tot}
        for a, un, ag, item, item_name, part, pf, pt, amt, lf, tot in st.query(
            "SELECT i.arrear_pk, a.unit_number, a.agency, a.item, s.item_name, a.part,"
            " a.period_from, a.period_to, i.amount, i.late_fee, i.total FROM voucher_item i"
            " JOIN arrear a ON a.id = i.arrear_pk JOIN fee_summary s ON s.id = a.summary_pk"
            " WHERE i.voucher_pk = ? ORDER BY i.n",
            (pk,),
        )
    ]
    return {
        "voucher_id": pay.voucher_id(pk), "voucher_no": number, "state": state,
        "issued_at": issued_at, "issued_on": issued_on, "deadline": deadline,
        "taxpayer_id": taxpayer, "unit_name": name, "tax_office": office, "count": count,
        "amount_total": amount, "late_fee_total": fee, "total": total, "arrears": items,
        "paid_at": paid_at, "voided_at": voided_at,
    }


def page(
    st: Store, unit_pk: int, start: dt.date, end: dt.date, after: tuple[str, int], limit: int
) -> list[tuple[Any, ...]]:
    return st.query(
        f"SELECT {COLUMNS} FROM {FROM} WHERE v.unit_pk = ? AND v.issued_on BETWEEN ? AND ?"
        " AND (v.issued_on, v.id) > (?, ?) ORDER BY v.issued_on, v.id LIMIT ?",
        (unit_pk, start.isoformat(), end.isoformat(), after[0], after[1], limit),
    )


def _free(st: Store, pk: int, seq: int) -> None:
    st.db.execute_sql(
        "UPDATE arrear SET voucher_id = NULL, seq = ? WHERE voucher_id = ? AND state = 'unpaid'",
        (seq, pay.voucher_id(pk)),
    )


def void(st: Store, unit_pk: int, row: tuple[Any, ...]) -> None:
    """Void an open voucher (caller holds the write): its arrears are free again."""
    if row[2] == "paid":
        raise ApiError(409, "voucher_paid", "该凭证已在银行缴款，不能作废")
    if row[2] != "open":
        raise ApiError(409, "voucher_not_open", "该凭证已作废或已过期")
    seq = st.log_change("vouchers", "void", unit_pk=unit_pk, entity_id=pay.voucher_id(row[0]))
    st.db.execute_sql(
        "UPDATE voucher SET state = 'voided', voided_at = ?, seq = ? WHERE id = ?",
        (st.now().isoformat(), seq, row[0]),
    )
    _free(st, row[0], seq)


def pay_at_bank(st: Store, unit_pk: int, row: tuple[Any, ...]) -> None:
    """The payer paid the voucher at a bank counter: one payment record per arrear, all
    under the voucher's 电子税票号码 (caller holds the write)."""
    if row[2] == "paid":
        raise ApiError(409, "voucher_paid", "该凭证已在银行缴款，请勿重复缴款")
    if row[2] != "open":
        raise ApiError(409, "voucher_not_open", "该凭证已作废或已过期")
    pk, now = row[0], st.now().isoformat()
    seq = st.log_change("payments", "voucher_paid", unit_pk=unit_pk, entity_id=pay.voucher_id(pk))
    rows = [
        (unit_pk, row[1], pay.METHOD_VOUCHER, None, pk, None, arrear, amount, days, fee, total, now)
        for arrear, amount, days, fee, total in st.query(
            "SELECT arrear_pk, amount, late_days, late_fee, total FROM voucher_item"
            " WHERE voucher_pk = ? ORDER BY n",
            (pk,),
        )
    ]
    pay.insert_payments(st, rows, seq)
    st.db.execute_sql(
        "UPDATE voucher SET state = 'paid', paid_at = ?, seq = ? WHERE id = ?", (now, seq, pk)
    )



def expire_due(st: Store, unit_pk: int | None = None) -> int:
    """Open vouchers whose deadline has passed (business date) expire; arrears are free."""
    where, params = "state = 'open' AND deadline < ?", [st.today().isoformat()]
    if unit_pk is not None:
        where += " AND unit_pk = ?"
        params.append(unit_pk)
    if not st.db.execute_sql(f"SELECT 1 FROM voucher WHERE {where} LIMIT 1", tuple(params)).fetchone():
        return 0
    with st.write():
        due = st.query(f"SELECT id, unit_pk FROM voucher WHERE {where} ORDER BY id", tuple(params))
        for pk, unit in due:
            seq = st.log_change("vouchers", "expire", unit_pk=unit, entity_id=pay.voucher_id(pk))
            st.db.execute_sql("UPDATE voucher SET state = 'expired', seq = ? WHERE id = ?", (seq, pk))
            _free(st, pk, seq)
    return len(due)
