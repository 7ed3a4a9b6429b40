"""Fee declarations (社保费申报) and their voids (作废) on the reference tax side.

Like payroll-base declarations, a declaration or a void is stored as received and decided
once ``decision_delay_seconds`` have passed, by whichever request comes first (no
background thread). An accepted declaration freezes its summaries and turns each into an
arrear (欠费) with a deadline; an accepted void undoes that.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from typing import Any

from rules.model import PackError
from taxside import fees
from taxside.db import Store
from taxside.jsonutil import dumps, loads, raw

CHANNEL_CLIENT = "本客户端"
CHANNEL_ETAX = "电子税务局"
MAX_SUMMARIES = 1000
RECORD_STATUS = {"accepted": "申报成功", "voided": "已作废"}


def declaration_id(pk: int) -> str:
    return f"FD{pk:08d}"


def void_id(pk: int) -> str:
    return f"FV{pk:08d}"


def arrear_id(pk: int) -> str:
    return f"AR{pk:08d}"


def parse_id(text: str, prefix: str) -> int | None:
    if text[:2] == prefix and text[2:].isdigit() and len(text) <= 14:
        return int(text[2:])
    return None


# -- receipt ---------------------------------------------------------------------------------------
def receive(
    st: Store, unit_pk: int, refs: list[tuple[str, int]], channel: str = CHANNEL_CLIENT
) -> int:
    """Store a declaration of (summary_id, version) pairs (caller holds the write)."""
    cur = st.db.execute_sql(
        "INSERT INTO fee_declaration(unit_pk, channel, status, received_at, summary_count)"
        " VALUES (?,?,'processing',?,?)",
        (unit_pk, channel, st.now().isoformat(), len(refs)),
    )
    pk = int(cur.lastrowid)
    st.db.cursor().executemany(
        "INSERT INTO fee_declaration_item(declaration_pk, summary_ref, version) VALUES (?,?,?)",
        ((pk, ref, version) for ref, version in refs),
    )
    return pk


def receive_void(st: Store, unit_pk: int, declaration_pk: int, reason: str) -> int:
    cur = st.db.execute_sql(
        "INSERT INTO fee_void(unit_pk, declaration_pk, reason, status, received_at)"
        " VALUES (?,?,?,'processing',?)",
        (unit_pk, declaration_pk, reason, st.now().isoformat()),
    )
    return int(cur.lastrowid)


# -- decisions -------------------------------------------------------------------------------------
def decide_due(st: Store, pack_for: fees.PackFor, unit_pk: int | None = None) -> int:
    """Decide every fee declaration and void whose delay has passed, in order of receipt."""
    cutoff = (st.now() - dt.timedelta(seconds=st.decision_delay())).isoformat()
    where, params = "status = 'processing' AND received_at <= ?", [cutoff]
    if unit_pk is not None:
        where += " AND unit_pk = ?"
        params.append(unit_pk)
    decls = st.query(f"SELECT id FROM fee_declaration WHERE {where} ORDER BY id", tuple(params))
    for (pk,) in decls:
        decide(st, pk, pack_for)
    voids = st.query(f"SELECT id FROM fee_void WHERE {where} ORDER BY id", tuple(params))
    for (pk,) in voids:
        decide_void(st, pk)
    return len(decls) + len(voids)


def decide(st: Store, pk: int, pack_for: fees.PackFor) -> None:
    """Accept every summary or reject the declaration, in one write transaction."""
    row = st.db.execute_sql(
        "SELECT unit_pk FROM fee_declaration WHERE id = ? AND status = 'processing'", (pk,)
    ).fetchone()
    if row is None:
        return
    unit_pk = row[0]
    # A declaration is checked against up-to-date summaries (no rules for the period: the
    # summaries stay as they are).
    with contextlib.suppress(PackError):
        fees.refresh(st, unit_pk, pack_for)
    with st.write():
        if st.db.execute_sql(
            "SELECT 1 FROM fee_declaration WHERE id = ? AND status = 'processing'", (pk,)
        ).fetchone() is None:
            return  # decided meanwhile by a concurrent request
        items = st.query(
            "SELECT id, summary_ref, version FROM fee_declaration_item WHERE declaration_pk = ?"
            " ORDER BY id",
            (pk,),
        )
        rejections: list[dict[str, Any]] = []
        found: list[tuple[int, tuple[Any, ...]]] = []
        for item_pk, ref, version in items:
            spk = fees.parse_summary_id(ref)
            summary = fees.load_summary(st, unit_pk, spk) if spk is not None else None

            def reject(code: str, message: str, ref: str = ref, version: int = version) -> None:
                rejections.append(
                    {"summary_id": ref, "version": version, "code": code, "message": message}
                )

            if summary is None:
                reject("summary_not_found", "未找到该预处理汇总")
            elif summary[16] == "declared":
                reject("summary_declared",
                       f"该预处理汇总已申报（申报编号 {declaration_id(summary[17])}），请勿重复申报")
            elif summary[13] != version:
                reject("summary_stale", "汇总已重新计算，请刷新后重新申报")
            else:
                found.append((item_pk, summary))
        now = st.now().isoformat()
        if rejections:
            st.db.execute_sql(
                "UPDATE fee_declaration SET status = 'rejected', decided_at = ?, rejections = ?"
                " WHERE id = ?",
                (now, dumps(rejections).decode(), pk),
            )
            return
        _accept(st, pk, unit_pk, found, now)


def _accept(
    st: Store, pk: int, unit_pk: int, found: list[tuple[int, tuple[Any, ...]]], now: str
) -> None:
    today = st.today()
    deadline = fees.month_end(today).isoformat()
    total = Decimal("0.00")
    for item_pk, s in found:
        snapshot = {k: v for k, v in fees.summary_json(s, declaration_id).items()
                    if k not in ("state", "declaration_id", "has_details", "computed_at",
                                 "pack_version")}
        st.db.execute_sql(
            "UPDATE fee_declaration_item SET snapshot = ? WHERE id = ?",
            (dumps(snapshot).decode(), item_pk),
        )
        st.db.execute_sql(
            "UPDATE fee_summary SET state = 'declared', declaration_pk = ? WHERE id = ?", (pk, s[0])
        )
        seq = st.log_change("arrears", "upsert", unit_pk=unit_pk, entity_id=fees.summary_id(s[0]))
        st.db.execute_sql(
            "INSERT INTO arrear(unit_pk, declaration_pk, summary_pk, unit_number, agency, item,"
            " part, period_from, period_to, amount, deadline, state, created_at, seq, deleted)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,'unpaid',?,?,0)",
            (unit_pk, pk, s[0], s[3], s[4], s[5], s[7], s[8], s[9], s[12], deadline, now, seq),
        )
        total += Decimal(s[12])
    st.db.execute_sql(
        "UPDATE fee_declaration SET status = 'accepted', decided_at = ?, declared_on = ?,"
        " total_amount = ?, rejections = '[]' WHERE id = ?",
        (now, today.isoformat(), fees.money(total), pk),
    )


def void_refusal(st: Store, declaration_pk: int) -> tuple[str, str] | None:
    """Why the declaration cannot be voided now, or None."""
    status, declared_on = st.query(
        "SELECT status, declared_on FROM fee_declaration WHERE id = ?", (declaration_pk,)
    )[0]
    if status == "voided":
        return "already_voided", "该申报已作废，请勿重复作废"
    if status != "accepted":
        return "declaration_not_accepted", "该申报尚未申报成功，不能作废"
    states = st.query(
        "SELECT state, voucher_id, debit_pk FROM arrear WHERE declaration_pk = ?", (declaration_pk,)
    )
    # an arrear inside a debit whose bank result is unknown may be paid already
    if any(state == "paid" or debit for state, _, debit in states):
        return "paid", "该申报已缴款，不能作废"
    if any(voucher for _, voucher, _ in states):
        return "voucher_open", "该申报已开具银行端缴款凭证且凭证未作废，请先作废缴款凭证"
    declared, today = dt.date.fromisoformat(declared_on), st.today()
    if (declared.year, declared.month) != (today.year, today.month):
        return "other_month", (
            f"只能作废申报当月的申报：该申报于{declared:%Y年%m月}申报，当前为{today:%Y年%m月}"
        )
    return None


def decide_void(st: Store, pk: int) -> None:
    with st.write():
        row = st.db.execute_sql(
            "SELECT declaration_pk, unit_pk FROM fee_void WHERE id = ? AND status = 'processing'",
            (pk,),
        ).fetchone()
        if row is None:
            return
        declaration_pk, unit_pk = row
        now = st.now().isoformat()
        refusal = void_refusal(st, declaration_pk)
        if refusal is not None:
            st.db.execute_sql(
                "UPDATE fee_void SET status = 'rejected', decided_at = ?, rejection = ? WHERE id = ?",
                (now, dumps({"code": refusal[0], "message": refusal[1]}).decode(), pk),
            )
            return
        for (arrear_pk,) in st.query(
            "SELECT id FROM arrear WHERE declaration_pk = ? ORDER BY id", (declaration_pk,)
        ):
            seq = st.log_change("arrears", "void", unit_pk=unit_pk, entity_id=arrear_id(arrear_pk))
            st.db.execute_sql(
                "UPDATE arrear SET state = 'voided', seq = ?, deleted = 1 WHERE id = ?", (seq, arrear_pk)
            )
        # The summaries are pending again (re-computed at the next read if enrollment moved).
        st.db.execute_sql(
            "UPDATE fee_summary SET state = 'pending', declaration_pk = NULL WHERE declaration_pk = ?",
            (declaration_pk,),
        )
        st.db.execute_sql(
            "UPDATE fee_run SET source_seq = -1 WHERE unit_pk = ?", (unit_pk,)
        )  # frozen periods were skipped: look again
        st.db.execute_sql(
            "UPDATE fee_declaration SET status = 'voided', voided_at = ?, void_pk = ? WHERE id = ?",
            (now, pk, declaration_pk),
        )
        st.db.execute_sql(
            "UPDATE fee_void SET status = 'accepted', decided_at = ? WHERE id = ?", (now, pk)
        )


# -- answers ---------------------------------------------------------------------------------------
DECLARATION_COLUMNS = (
    "id, channel, status, received_at, decided_at, declared_on, summary_count, total_amount,"
    " rejections, voided_at, void_pk"
)


def declaration_json(st: Store, row: tuple[Any, ...]) -> dict[str, Any]:
    pk, channel, status, received_at, decided_at, declared_on, count, total, rej, voided_at, void = row
    summaries = [
        raw(snapshot) if snapshot else {"summary_id": ref, "version": version}
        for ref, version, snapshot in st.query(
            "SELECT summary_ref, version, snapshot FROM fee_declaration_item WHERE declaration_pk = ?"
            " ORDER BY id",
            (pk,),
        )
    ]
    arrears = [
        {"arrear_id": arrear_id(a), "summary_id": fees.summary_id(s), "amount": amount,
         "deadline": deadline, "state": state, "voucher_id": voucher}
        for a, s, amount, deadline, state, voucher in st.query(
            "SELECT id, summary_pk, amount, deadline, state, voucher_id FROM arrear"
            " WHERE declaration_pk = ? ORDER BY id",
            (pk,),
        )
    ]
    return {
        "declaration_id": declaration_id(pk), "channel": channel, "status": status,
        "received_at": received_at, "decided_at": decided_at, "declared_on": declared_on,
        "summary_count": count, "total_amount": total, "summaries": summaries,
        "rejections": raw(rej) if rej else [], "arrears": arrears, "voided_at": voided_at,
        "void_id": void_id(void) if void is not None else None,
    }


def load_declaration(st: Store, unit_pk: int, pk: int) -> tuple[Any, ...] | None:
    return st.db.execute_sql(
        f"SELECT {DECLARATION_COLUMNS} FROM fee_declaration WHERE id = ? AND unit_pk = ?",
        (pk, unit_pk),
    ).fetchone()


def records(
    st: Store, unit_pk: int, start: dt.date, end: dt.date, after: tuple[str, int], limit: int
) -> list[dict[str, Any]]:
    """Accepted and voided declarations decided from ``start`` to ``end``, after the
    (declared_on, id) position ``after``."""
    rows = st.query(
        f"SELECT {DECLARATION_COLUMNS} FROM fee_declaration WHERE unit_pk = ?"
        " AND status IN ('accepted', 'voided') AND declared_on BETWEEN ? AND ?"
        " AND (declared_on, id) > (?, ?) ORDER BY declared_on, id LIMIT ?",
        (unit_pk, start.isoformat(), end.isoformat(), after[0], after[1], limit),
    )
    out = []
    for row in rows:
        body = declaration_json(st, row)
        body["record_status"] = RECORD_STATUS[row[2]]
        out.append(body)
    return out


def void_json(row: tuple[Any, ...]) -> dict[str, Any]:
    pk, declaration_pk, reason, status, received_at, decided_at, rejection = row
    return {
        "void_id": void_id(pk), "declaration_id": declaration_id(declaration_pk),
        "status": status, "reason": reason, "received_at": received_at,
        "decided_at": decided_at, "rejection": loads(rejection) if rejection else None,
    }


def load_void(st: Store, unit_pk: int, pk: int) -> tuple[Any, ...] | None:
    return st.db.execute_sql(
        "SELECT id, declaration_pk, reason, status, received_at, decided_at, rejection"
        " FROM fee_void WHERE id = ? AND unit_pk = ?",
        (pk, unit_pk),
    ).fetchone()
