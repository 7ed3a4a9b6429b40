"""费款缴纳 (manual 3.1.7): the arrears of a unit, its agreements, and the operator's choices.

The page lists the arrears last fetched (``payment_arrear``, replaced on each refresh; when
and the tax side's totals in ``payment_arrear_fetch``) and the tripartite agreements. Paying
writes a journal entry first (client/core/journal.py; the one sender sends it): a debit
(``debit``: agreement + arrear ids + the total the operator confirmed), a bank voucher
(``voucher``) or its void (``voucher_void``).

Never twice, locally: a new debit or voucher is refused while an open entry of the unit
(待提交 / 发送中 / 待确认 / 待反馈) still covers one of its arrears, or while the last
list or a stored result says the arrear is paid or held. The check runs inside the single
writer's transaction that creates the entry, so a double click or two windows cannot both
pass. The tax side refuses (409) what slips through (e.g. after a backup is restored).

Debit results, vouchers and payment records are client/core/payment_records.py; nothing
here talks to the tax side.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

import peewee

from client.core import journal
from client.core.store import Store
from client.errors import ConflictError, NotFoundError, ValidationError

DEBIT, VOUCHER, VOUCHER_VOID = "debit", "voucher", "voucher_void"
KINDS = (DEBIT, VOUCHER, VOUCHER_VOID)
PAYING_KINDS = (DEBIT, VOUCHER)  # the entries that hold arrears while open
MAX_ARREARS = 1000  # per debit or voucher (protocol)
ZERO = Decimal("0.00")
STATE_LABELS = {"unpaid": "未缴款", "paid": "已缴款", "voided": "已作废"}
HOLD_LABELS = {"voucher": "已开具缴款凭证", "debit": "扣款结果待银行确认"}

_ARREAR_FIELDS = (
    "arrear_id", "declaration_id", "summary_id", "unit_number", "agency", "item", "item_name", "part",
    "part_name", "period_from", "period_to", "amount", "deadline", "late_days", "late_fee", "total",
    "state", "hold", "voucher_id", "debit_id", "paid_at", "tax_ticket",
)
_AGREEMENT_FIELDS = (
    "agreement_id", "agreement_no", "bank", "account_masked", "account_name", "scope", "state",
    "can_debit_fees", "reason",
)


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def money(value: Any, field: str = "amount") -> Decimal:
    """An amount the operator or a stored row gives, exactly (never a float)."""
    if isinstance(value, float | bool):
        raise ValidationError("金额格式不正确", field=field)
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise ValidationError("金额格式不正确", field=field) from None
    if not number.is_finite():
        raise ValidationError("金额格式不正确", field=field)
    return number


# -- arrears ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Arrear:
    arrear_id: str
    declaration_id: str
    summary_id: str
    unit_number: str
    agency: str
    item: str
    item_name: str
    part: str
    part_name: str
    period_from: str
    period_to: str
    amount: Decimal
    deadline: str
    late_days: int
    late_fee: Decimal
    total: Decimal
    state: str
    hold: str | None
    voucher_id: str | None
    debit_id: str | None
    paid_at: str | None
    tax_ticket: str | None

    @property
    def period_label(self) -> str:
        return self.period_from if self.period_from == self.period_to else f"{self.period_from}-{self.period_to}"

    @property
    def label(self) -> str:
        """How messages name it: 欠费 AR00000001（基本养老保险 单位缴纳部分 202503）."""
        return f"欠费 {self.arrear_id}（{self.item_name} {self.part_name} {self.period_label}）"

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))  # flat fields: no deep copy (a list shows hundreds)
        for name in ("amount", "late_fee", "total"):
            data[name] = str(data[name])
        data.update(period_label=self.period_label, label=self.label,
                    state_label=STATE_LABELS.get(self.state, self.state),
                    hold_label=HOLD_LABELS.get(self.hold or "", ""))
        return data


def _arrear(row: Sequence[Any]) -> Arrear:
    values = dict(zip(_ARREAR_FIELDS, row, strict=True))
    for name in ("amount", "late_fee", "total"):
        values[name] = Decimal(values[name])
    return Arrear(**values)


@dataclass(frozen=True)
class ArrearsFetch:
    fetched_at: str
    today: str  # the tax side's business date of the list
    count: int
    amount_total: Decimal
    late_fee_total: Decimal


def save_arrears(
    store: Store, unit_pk: int, items: Iterable[Mapping[str, Any]], *, today: str, count: int,
    amount_total: Decimal, late_fee_total: Decimal,
) -> int:
    """Replace the unit's last arrears list by what the tax side just listed (unpaid)."""
    pick = itemgetter(*_ARREAR_FIELDS)
    money_at = [_ARREAR_FIELDS.index(n) + 1 for n in ("amount", "late_fee", "total")]
    rows = []
    for a in items:  # one tuple per row, money to text: 500 rows per refresh, kept cheap
        row = [unit_pk, *pick(a)]
        for n in money_at:
            row[n] = str(row[n])
        rows.append(row)
    marks = ", ".join("?" for _ in range(len(_ARREAR_FIELDS) + 1))
    with store.write() as db:
        db.execute_sql("DELETE FROM payment_arrear WHERE unit_id = ?", (unit_pk,))
        db.executemany(
            f"INSERT INTO payment_arrear (unit_id, {', '.join(_ARREAR_FIELDS)}) VALUES ({marks})", rows
        )
        db.execute_sql(
            "INSERT INTO payment_arrear_fetch (unit_id, fetched_at, today, count, amount_total, "
            "late_fee_total) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (unit_id) DO UPDATE SET "
            "fetched_at = excluded.fetched_at, today = excluded.today, count = excluded.count, "
            "amount_total = excluded.amount_total, late_fee_total = excluded.late_fee_total",
            (unit_pk, journal.now_text(), today, count, str(amount_total), str(late_fee_total)),
        )
    return len(rows)


def last_fetch(store: Store, unit_pk: int) -> ArrearsFetch | None:
    row = store.db.execute_sql(
        "SELECT fetched_at, today, count, amount_total, late_fee_total FROM payment_arrear_fetch "
        "WHERE unit_id = ?", (unit_pk,),
    ).fetchone()
    if row is None:
        return None
    return ArrearsFetch(str(row[0]), str(row[1]), int(row[2]), Decimal(row[3]), Decimal(row[4]))


def arrears(store: Store, unit_pk: int, period: str = "") -> list[Arrear]:
    """The last list, ordered as the tax side lists it (deadline, id)."""
    sql = f"SELECT {', '.join(_ARREAR_FIELDS)} FROM payment_arrear WHERE unit_id = ?"
    params: list[Any] = [unit_pk]
    if period:
        sql += " AND period_from <= ? AND period_to >= ?"
        params += [period, period]
    rows = store.db.execute_sql(sql + " ORDER BY deadline, arrear_id", params).fetchall()
    return [_arrear(r) for r in rows]


def arrears_by_id(store: Store, unit_pk: int, arrear_ids: Sequence[str]) -> list[Arrear]:
    """The chosen arrears in the order chosen; an id not in the last list is an error."""
    found: dict[str, Arrear] = {}
    wanted = list(dict.fromkeys(arrear_ids))
    for n in range(0, len(wanted), 500):  # only the chosen rows, in bounded IN lists
        chunk = wanted[n:n + 500]
        rows = store.db.execute_sql(
            f"SELECT {', '.join(_ARREAR_FIELDS)} FROM payment_arrear WHERE unit_id = ? "
            f"AND arrear_id IN ({', '.join('?' for _ in chunk)})", [unit_pk, *chunk],
        ).fetchall()
        found.update((a.arrear_id, a) for a in map(_arrear, rows))
    out = []
    for n, arrear_id in enumerate(arrear_ids, start=1):
        if arrear_id not in found:
            raise NotFoundError(f"第{n}条：欠费 {arrear_id} 不在欠费信息中，请刷新后重新选择",
                                code="arrear_not_found")
        out.append(found[arrear_id])
    return out


def mark_arrears(db: peewee.SqliteDatabase, unit_pk: int, arrear_ids: Iterable[str], **fields: Any) -> None:
    """Bring rows of the last list up to date with a result just stored (inside a write)."""
    assignments = ", ".join(f"{name} = ?" for name in fields)
    db.executemany(
        f"UPDATE payment_arrear SET {assignments} WHERE unit_id = ? AND arrear_id = ?",
        [(*(_cell(v) for v in fields.values()), unit_pk, a) for a in arrear_ids],
    )


# -- agreements ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AgreementRow:
    agreement_id: str
    agreement_no: str
    bank: str
    account_masked: str
    account_name: str
    scope: str
    state: str
    can_debit_fees: bool
    reason: str | None
    fetched_at: str

    @property
    def warning(self) -> str:
        """Why this agreement cannot pay social-insurance fees ('' when it can)."""
        if self.can_debit_fees:
            return ""
        return self.reason or "该协议不能缴纳社保费，请选择其他协议或开具银行端缴款凭证"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "warning": self.warning}


def save_agreements(store: Store, unit_pk: int, items: Iterable[Mapping[str, Any]]) -> int:
    now = journal.now_text()
    rows = [(unit_pk, *(_cell(a[name]) for name in _AGREEMENT_FIELDS), now) for a in items]
    with store.write() as db:
        db.execute_sql("DELETE FROM payment_agreement WHERE unit_id = ?", (unit_pk,))
        db.executemany(
            f"INSERT INTO payment_agreement (unit_id, {', '.join(_AGREEMENT_FIELDS)}, fetched_at) "
            f"VALUES ({', '.join('?' for _ in range(len(_AGREEMENT_FIELDS) + 2))})", rows,
        )
    return len(rows)


def agreements(store: Store, unit_pk: int) -> list[AgreementRow]:
    rows = store.db.execute_sql(
        f"SELECT {', '.join(_AGREEMENT_FIELDS)}, fetched_at FROM payment_agreement WHERE unit_id = ? "
        "ORDER BY agreement_id", (unit_pk,),
    ).fetchall()
    return [AgreementRow(*r[:7], bool(r[7]), *r[8:]) for r in rows]


# -- never twice ------------------------------------------------------------------------------------------
def covered(store: Store, unit_pk: int) -> dict[str, journal.Entry]:
    """Arrear id -> the open debit/voucher entry that still holds it. A debit whose answer
    came still holds only the arrears whose bank result is unknown."""
    db = store.db  # inside store.write() this thread's connection is the transaction's
    out: dict[str, journal.Entry] = {}
    marks = ", ".join("?" for _ in journal.OPEN_STATES)
    rows = db.execute_sql(
        f"SELECT id, payload FROM submission WHERE unit_id = ? AND kind IN (?, ?) AND state IN ({marks}) "
        "ORDER BY id", (unit_pk, *PAYING_KINDS, *journal.OPEN_STATES),
    ).fetchall()
    for entry_id, payload in rows:
        held = set(json.loads(payload)["arrear_ids"])
        decided = db.execute_sql(
            "SELECT r.arrear_id FROM payment_debit d JOIN payment_debit_result r ON r.unit_id = d.unit_id "
            "AND r.debit_id = d.debit_id WHERE d.unit_id = ? AND d.entry_id = ? AND r.status != 'unknown'",
            (unit_pk, entry_id),
        ).fetchall()
        held -= {a for (a,) in decided}
        entry = None
        for arrear_id in held:
            entry = entry or journal.get(store, entry_id)
            out[arrear_id] = entry
    return out


def _check_choice(store: Store, unit_pk: int, chosen: Sequence[Arrear], what: str) -> None:
    """Refuse arrears that are paid, held, or covered by an open entry (inside the write)."""
    db = store.db
    open_vouchers = {
        a: v for v, ids in db.execute_sql(
            "SELECT voucher_id, arrear_ids FROM payment_voucher WHERE unit_id = ? AND state = 'open'", (unit_pk,)
        ).fetchall() for a in json.loads(ids)
    }
    open_entries = covered(store, unit_pk)
    problems = []
    for a in chosen:
        if a.state == "paid":  # a stored debit result or voucher payment marks the row
            problems.append(f"{a.label} 已缴款，请勿重复缴款")
        elif a.arrear_id in open_entries:
            entry = open_entries[a.arrear_id]
            problems.append(f"{a.label} 已在{entry.kind_label}中（{entry.state_label}），请勿重复{what}")
        elif a.arrear_id in open_vouchers or a.hold == "voucher":
            voucher = open_vouchers.get(a.arrear_id) or a.voucher_id or ""
            problems.append(f"{a.label} 已开具银行端缴款凭证 {voucher}，请到银行缴款或先作废凭证")
        elif a.hold == "debit":
            problems.append(f"{a.label} 的扣款结果待银行确认（扣款 {a.debit_id}），请勿重复扣款")
    if problems:
        shown = "；".join(problems[:5]) + (f"；等 {len(problems)} 条" if len(problems) > 5 else "")
        raise ConflictError(shown, code="arrear_held")


def _choose(store: Store, unit_pk: int, arrear_ids: Any) -> list[Arrear]:
    if not isinstance(arrear_ids, list) or not arrear_ids or not all(isinstance(i, str) for i in arrear_ids):
        raise ValidationError("请选择要缴款的欠费", field="arrear_ids")
    if len(arrear_ids) > MAX_ARREARS:
        raise ValidationError(f"一次最多缴纳 {MAX_ARREARS} 条欠费", field="arrear_ids")
    seen: set[str] = set()
    for n, arrear_id in enumerate(arrear_ids, start=1):
        if arrear_id in seen:
            raise ValidationError(f"第{n}条：欠费 {arrear_id} 重复选择", field="arrear_ids", row=n)
        seen.add(arrear_id)
    return arrears_by_id(store, unit_pk, arrear_ids)


def _total(chosen: Iterable[Arrear]) -> Decimal:
    return sum((a.total for a in chosen), ZERO)


def request_debit(
    store: Store, unit_pk: int, agreement_id: str, arrear_ids: Any, confirmed_total: Any, operator: str
) -> int:
    """缴款 by 三方协议: one queued entry holding the operator's choice and the total confirmed.
    Everything is read inside the writer's transaction: what it checks is what it writes."""
    with store.write() as db:
        chosen = _choose(store, unit_pk, arrear_ids)
        found = {a.agreement_id: a for a in agreements(store, unit_pk)}
        agreement = found.get(str(agreement_id or ""))
        if agreement is None:
            raise ValidationError("请选择三方协议", field="agreement_id")
        if agreement.warning:
            raise ValidationError(f"协议 {agreement.agreement_no}：{agreement.warning}", field="agreement_id")
        total = _total(chosen)
        if money(confirmed_total, "confirmed_total") != total:
            raise ValidationError(
                f"缴款金额已变化（应缴合计 {total:,.2f} 元），请核对后重新确认", field="confirmed_total"
            )
        _check_choice(store, unit_pk, chosen, "扣款")
        payload = {
            "agreement_id": agreement.agreement_id, "agreement_no": agreement.agreement_no,
            "arrear_ids": [a.arrear_id for a in chosen], "confirmed_total": str(total),
            "labels": {a.arrear_id: a.label for a in chosen},
        }
        return journal.create(
            db, unit_pk, DEBIT, payload, operator=operator, row_count=len(chosen),
            summary=f"三方协议缴款 {len(chosen)} 条欠费，协议 {agreement.agreement_no}，确认金额 {total:,.2f} 元",
        )


def request_voucher(store: Store, unit_pk: int, arrear_ids: Any, operator: str) -> int:
    """开具银行端缴款凭证: one queued entry naming the chosen arrears (checked as for a debit)."""
    with store.write() as db:
        chosen = _choose(store, unit_pk, arrear_ids)
        _check_choice(store, unit_pk, chosen, "开具缴款凭证")
        total = _total(chosen)
        payload = {"arrear_ids": [a.arrear_id for a in chosen], "confirmed_total": str(total),
                   "labels": {a.arrear_id: a.label for a in chosen}}
        return journal.create(
            db, unit_pk, VOUCHER, payload, operator=operator, row_count=len(chosen),
            summary=f"开具银行端缴款凭证 {len(chosen)} 条欠费，合计 {total:,.2f} 元",
        )


def request_void(store: Store, unit_pk: int, voucher_id: str, voucher_no: str, operator: str) -> int:
    with store.write() as db:
        for entry in journal.entries(store, unit_pk, journal.OPEN_STATES, (VOUCHER_VOID,)):
            if journal.payload(store, entry.id).get("voucher_id") == voucher_id:
                raise ConflictError(f"缴款凭证 {voucher_no} 已申请作废（{entry.state_label}）", code="void_pending")
        return journal.create(
            db, unit_pk, VOUCHER_VOID, {"voucher_id": voucher_id, "voucher_no": voucher_no}, operator=operator,
            row_count=1, summary=f"作废银行端缴款凭证 {voucher_no}",
        )
