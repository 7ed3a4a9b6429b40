"""Tripartite-agreement debits (三方协议缴款) on the reference tax side.

A debit is decided at once, arrear by arrear in the order asked, inside the caller's write
transaction (the one that stores the idempotency record): the debit, its results, the
payments and the arrears' new states commit together or not at all, with one change-log
number, and 200 arrears cost a handful of statements. The simulated bank may answer
原交易状态不明 (``unknown``, forced through /sim): the arrear is then held by the debit until
``unknown_resolve_seconds`` have passed, when a later request settles it (``resolve_due``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from taxside import agreements, fees
from taxside import fee_decisions as fd
from taxside import payments as pay
from taxside.db import Store
from taxside.web import ApiError

FAILURES = {
    "insufficient_balance": "余额不足",
    "account_name_mismatch": "账号户名不符",
    "agreement_invalid": "协议未生效或已失效",
    "not_allowed": "不允许扣款",
    "budget_subject": "预算科目错误",
    "bank_timeout": "银行或国库超时",
}
UNKNOWN_MESSAGE = "原交易状态不明，待银行确认扣款结果"


def _whole_failure(agreement: tuple[Any, ...]) -> str | None:
    """A failure every arrear of the debit gets, from the agreement alone."""
    why = agreements.refusal(agreement)
    if why is not None:
        return why[0]
    if not agreement[8]:
        return "account_name_mismatch"
    if not agreement[9]:
        return "budget_subject"
    return None


def _bank_answers(st: Store, unit_pk: int) -> list[list[Any]]:
    return [list(r) for r in st.query(
        "SELECT id, answer, resolve_to, remaining FROM bank_answer WHERE unit_pk = ? AND remaining > 0"
        " ORDER BY id", (unit_pk,),
    )]


@dataclass
class _Result:
    arrear_pk: int
    amount: str
    late_days: int
    late_fee: Decimal
    total: Decimal
    status: str = "paid"  # paid / failed / unknown
    code: str | None = None
    resolve_to: str | None = None  # unknown: what the bank will be found to have done
    resolve_code: str | None = None  # ... and the failure code if it did not take the money
    payment_pk: int | None = None


def _decide(
    results: list[_Result], whole: str | None, balance: Decimal, answers: list[list[Any]]
) -> Decimal:
    """The bank's answer per arrear, in order; returns the balance left. ``answers`` (forced
    by /sim: [id, answer, resolve_to, remaining]) are used up in place."""
    queue = [a for a in answers if a[3] > 0]
    for r in results:
        if whole is not None:  # the agreement fails every arrear; the bank is not asked
            r.status, r.code = "failed", whole
            continue
        answer = queue[0] if queue else None
        if answer is not None:
            answer[3] -= 1
            if answer[3] == 0:
                queue.pop(0)
        if answer is not None and answer[1] == "bank_timeout":
            r.status, r.code = "failed", "bank_timeout"
        elif answer is not None:  # 原交易状态不明: the bank may have taken the money
            r.status, r.resolve_to = "unknown", answer[2]
            if r.resolve_to == "paid" and r.total <= balance:
                balance -= r.total  # taken now, known later
            elif r.resolve_to == "paid":
                r.resolve_to, r.resolve_code = "failed", "insufficient_balance"
            else:
                r.resolve_code = "bank_timeout"
        elif r.total > balance:
            r.status, r.code = "failed", "insufficient_balance"
        else:
            balance -= r.total
    return balance


def create(
    st: Store, unit_pk: int, agreement: tuple[Any, ...], arrears: list[tuple[Any, ...]],
    pack_for: pay.PackFor, confirmed_total: Decimal | None = None,
) -> int:
    """Debit ``arrears`` (checked payable) under ``agreement`` now; returns the debit's pk.
    With ``confirmed_total``, a total that is not today's (the late fee grew since the payer
    looked) refuses the debit as a whole: the bank is never asked for more than was confirmed."""
    today, now = st.today(), st.now().isoformat()
    late = pay.LateFees(st, unit_pk, pack_for, today)
    results = []
    for row in arrears:  # before any write: a missing pack refuses the debit as a whole
        days, fee = late.of(row[10], row[11])
        results.append(_Result(row[0], row[10], days, fee, Decimal(row[10]) + fee))
    due = sum((r.total for r in results), Decimal("0"))
    if confirmed_total is not None and confirmed_total != due:
        raise ApiError(409, "amount_changed",
                       f"应缴金额已变化：确认的金额为 {confirmed_total:,.2f} 元，当前应缴 {due:,.2f} 元"
                       "（含滞纳金），请刷新后重新确认", confirmed_total=fees.money(confirmed_total),
                       total=fees.money(due))
    whole = _whole_failure(agreement)
    answers = _bank_answers(st, unit_pk)
    balance = _decide(results, whole, Decimal(agreement[7]), answers)
    seq = st.log_change("payments", "debit", unit_pk=unit_pk)
    cur = st.db.execute_sql(
        "INSERT INTO debit(unit_pk, agreement_pk, received_at, debited_on, status, seq)"
        " VALUES (?,?,?,?,?,?)",
        (unit_pk, agreement[0], now, today.isoformat(),
         "processing" if any(r.status == "unknown" for r in results) else "done", seq),
    )
    pk = int(cur.lastrowid)
    paid = [r for r in results if r.status == "paid"]
    tickets = pay.tickets(st, pay.unit_region(st, unit_pk), today, len(paid))
    payment_pks = pay.insert_payments(st, [
        (unit_pk, ticket, pay.METHOD_DEBIT, pk, None, agreement[0], r.arrear_pk, r.amount,
         r.late_days, fees.money(r.late_fee), fees.money(r.total), now)
        for r, ticket in zip(paid, tickets, strict=True)
    ], seq)
    for r, payment in zip(paid, payment_pks, strict=True):
        r.payment_pk = payment
    cursor = st.db.cursor()
    cursor.executemany(
        "INSERT INTO debit_result(debit_pk, n, arrear_pk, status, amount, late_days, late_fee,"
        " total, payment_pk, code, message, resolve_to, resolve_code)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(pk, n, r.arrear_pk, r.status, r.amount, r.late_days, fees.money(r.late_fee),
          fees.money(r.total), r.payment_pk, r.code, FAILURES.get(r.code or ""), r.resolve_to,
          r.resolve_code) for n, r in enumerate(results, 1)],
    )
    cursor.executemany(  # held by this debit while unknown; the paying debit once paid
        "UPDATE arrear SET debit_pk = ?, seq = ? WHERE id = ?",
        [(pk, seq, r.arrear_pk) for r in results if r.status in ("paid", "unknown")],
    )
    st.db.execute_sql("UPDATE agreement SET balance = ? WHERE id = ?",
                      (fees.money(balance), agreement[0]))
    cursor.executemany(
        "UPDATE bank_answer SET remaining = ? WHERE id = ?", [(a[3], a[0]) for a in answers]
    )
    return pk


def load(st: Store, unit_pk: int, pk: int) -> tuple[Any, ...] | None:
    return st.db.execute_sql(
        "SELECT d.id, d.agreement_pk, g.agreement_no, d.received_at, d.debited_on, d.status"
        " FROM debit d JOIN agreement g ON g.id = d.agreement_pk WHERE d.id = ? AND d.unit_pk = ?",
        (pk, unit_pk),
    ).fetchone()


def as_json(st: Store, row: tuple[Any, ...]) -> dict[str, Any]:
    pk, agreement_pk, agreement_no, received_at, debited_on, status = row
    results = []
    counts = {"paid": 0, "failed": 0, "unknown": 0}
    paid_total = Decimal("0.00")
    for arrear, state, amount, fee, total, payment, ticket, code, message in st.query(
        "SELECT r.arrear_pk, r.status, r.amount, r.late_fee, r.total, r.payment_pk, p.tax_ticket,"
        " r.code, r.message FROM debit_result r LEFT JOIN payment p ON p.id = r.payment_pk"
        " WHERE r.debit_pk = ? ORDER BY r.n",
        (pk,),
    ):
        counts[state] += 1
        if state == "paid":
            paid_total += Decimal(total)
        results.append({
            "arrear_id": fd.arrear_id(arrear), "status": state, "amount": amount,
            "late_fee": fee, "total": total, "tax_ticket": ticket,
            "payment_id": pay.payment_id(payment) if payment else None,
            "code": code, "message": UNKNOWN_MESSAGE if state == "unknown" else message,
        })
    return {
        "debit_id": pay.debit_id(pk), "agreement_id": agreements.agreement_id(agreement_pk),
        "agreement_no": agreement_no, "received_at": received_at, "debited_on": debited_on,
        "status": status, "paid_count": counts["paid"], "failed_count": counts["failed"],
        "unknown_count": counts["unknown"], "paid_total": fees.money(paid_total),
        "results": results,
    }


def resolve_due(st: Store, unit_pk: int | None = None) -> int:
    """Settle the unknown results of debits older than ``unknown_resolve_seconds``."""
    cutoff = (st.now() - dt.timedelta(seconds=pay.unknown_resolve_seconds(st))).isoformat()
    where, params = "status = 'processing' AND received_at <= ?", [cutoff]
    if unit_pk is not None:
        where += " AND unit_pk = ?"
        params.append(unit_pk)
    if not st.db.execute_sql(f"SELECT 1 FROM debit WHERE {where} LIMIT 1", tuple(params)).fetchone():
        return 0
    with st.write():
        due = st.query(
            f"SELECT id, unit_pk, agreement_pk, received_at, debited_on FROM debit WHERE {where}"
            " ORDER BY id", tuple(params),
        )
        for pk, unit, agreement_pk, received_at, debited_on in due:
            _resolve(st, pk, unit, agreement_pk, received_at, dt.date.fromisoformat(debited_on))
    return len(due)


def _resolve(
    st: Store, pk: int, unit_pk: int, agreement_pk: int, received_at: str, day: dt.date
) -> None:
    rows = st.query(
        "SELECT n, arrear_pk, amount, late_fee, total, resolve_to, resolve_code, late_days"
        " FROM debit_result WHERE debit_pk = ? AND status = 'unknown' ORDER BY n",
        (pk,),
    )
    seq = st.log_change("payments", "debit_resolved", unit_pk=unit_pk, entity_id=pay.debit_id(pk))
    taken = [r for r in rows if r[5] == "paid"]
    tickets = pay.tickets(st, pay.unit_region(st, unit_pk), day, len(taken))
    payment_pks = pay.insert_payments(st, [
        (unit_pk, ticket, pay.METHOD_DEBIT, pk, None, agreement_pk, r[1], r[2], r[7], r[3],
         r[4], received_at)  # the money was taken when the debit was made
        for r, ticket in zip(taken, tickets, strict=True)
    ], seq)
    cursor = st.db.cursor()
    cursor.executemany(
        "UPDATE debit_result SET status = 'paid', payment_pk = ? WHERE debit_pk = ? AND n = ?",
        [(p, pk, r[0]) for r, p in zip(taken, payment_pks, strict=True)],
    )
    failed = [r for r in rows if r[5] != "paid"]
    cursor.executemany(
        "UPDATE debit_result SET status = 'failed', code = ?, message = ? WHERE debit_pk = ? AND n = ?",
        [(r[6], FAILURES[r[6]], pk, r[0]) for r in failed],
    )
    cursor.executemany(
        "UPDATE arrear SET debit_pk = NULL, seq = ? WHERE id = ?", [(seq, r[1]) for r in failed]
    )
    st.db.execute_sql("UPDATE debit SET status = 'done', seq = ? WHERE id = ?", (seq, pk))

