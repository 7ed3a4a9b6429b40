"""费款缴纳 results kept on this PC: debits with their per-arrear results, voucher print
records (缴款凭证打印记录) and payment records (缴款记录).

A debit's answer (or a later GET of it) is stored whole in the transaction that records it in
the journal: every result, the arrears of the last list brought up to date (paid with its
电子税票号码 / held while unknown / free again when failed) and a payment record per paid
arrear. Vouchers and payment records are upserted by the tax side's ids when issued,
voided or refreshed. Plain mappings in the protocol's shape in, frozen dataclasses out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import peewee

from client.core import journal, xlsx
from client.core.payment import ZERO, mark_arrears
from client.core.store import Store
from client.errors import NotFoundError, ValidationError

# What the payer does about each failure (docs/protocol.md, the debit failure table).
FAILURE_ADVICE = {
    "insufficient_balance": "请向扣款账户存入足额资金后重新缴款",
    "account_name_mismatch": "请到开户银行更正三方协议的账号户名",
    "agreement_invalid": "请到银行或税务机关签订或续签三方协议",
    "not_allowed": "请选择扣款范围包含社保费的协议，或开具银行端缴款凭证缴款",
    "budget_subject": "请联系主管税务机关处理",
    "bank_timeout": "本次未扣款，请稍后重新缴款",
}
RESULT_LABELS = {"paid": "扣款成功", "failed": "扣款失败", "unknown": "扣款结果待银行确认"}
UNKNOWN_ADVICE = "银行返回原交易状态不明，请勿重复缴款：客户端将自动查询扣款结果"
VOUCHER_STATE_LABELS = {"open": "未缴款", "paid": "已缴款", "voided": "已作废", "expired": "已过期"}
METHOD_DEBIT, METHOD_VOUCHER = "三方协议", "银行端缴款凭证"


def advice(code: str | None) -> str:
    return FAILURE_ADVICE.get(code or "", "请核实后重新缴款，或联系主管税务机关")


# -- debits -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DebitResultRow:
    arrear_id: str
    status: str
    amount: Decimal
    late_fee: Decimal
    total: Decimal
    tax_ticket: str | None
    payment_id: str | None
    code: str | None
    message: str | None
    label: str  # the arrear as the operator chose it

    @property
    def advice(self) -> str:
        if self.status == "failed":
            return advice(self.code)
        return UNKNOWN_ADVICE if self.status == "unknown" else ""

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))  # flat: no deep copy (a debit has up to 1000 results)
        for name in ("amount", "late_fee", "total"):
            data[name] = str(data[name])
        data.update(status_label=RESULT_LABELS.get(self.status, self.status), advice=self.advice)
        return data


@dataclass(frozen=True)
class DebitRecord:
    debit_id: str
    entry_id: int | None
    agreement_id: str
    agreement_no: str
    received_at: str
    debited_on: str
    status: str  # done / processing
    paid_count: int
    failed_count: int
    unknown_count: int
    paid_total: Decimal
    results: tuple[DebitResultRow, ...]

    @property
    def message(self) -> str:
        parts = [f"扣款成功 {self.paid_count} 条，合计 {self.paid_total:,.2f} 元"]
        if self.failed_count:
            parts.append(f"扣款失败 {self.failed_count} 条")
        if self.unknown_count:
            parts.append(f"{self.unknown_count} 条扣款结果待银行确认，请勿重复缴款")
        return "，".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in vars(self).items() if k != "results"}, "paid_total": str(self.paid_total),
                "message": self.message, "results": [r.to_dict() for r in self.results]}


def save_debit(db: peewee.SqliteDatabase, unit_pk: int, debit: Mapping[str, Any], entry_id: int | None) -> None:
    """Store a debit as the tax side answered it now (inside the caller's write)."""
    now = journal.now_text()
    db.execute_sql(
        "INSERT INTO payment_debit (unit_id, debit_id, entry_id, agreement_id, agreement_no, received_at, "
        "debited_on, status, paid_count, failed_count, unknown_count, paid_total, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (unit_id, debit_id) DO UPDATE SET "
        "entry_id = coalesce(excluded.entry_id, payment_debit.entry_id), status = excluded.status, "
        "paid_count = excluded.paid_count, failed_count = excluded.failed_count, "
        "unknown_count = excluded.unknown_count, paid_total = excluded.paid_total, updated_at = excluded.updated_at",
        (unit_pk, debit["debit_id"], entry_id, debit["agreement_id"], debit["agreement_no"], debit["received_at"],
         debit["debited_on"], debit["status"], int(debit["paid_count"]), int(debit["failed_count"]),
         int(debit["unknown_count"]), str(debit["paid_total"]), now),
    )
    results = list(debit["results"])
    db.executemany(
        "INSERT INTO payment_debit_result (unit_id, debit_id, position, arrear_id, status, amount, late_fee, "
        "total, tax_ticket, payment_id, code, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (unit_id, debit_id, arrear_id) DO UPDATE SET status = excluded.status, "
        "tax_ticket = excluded.tax_ticket, payment_id = excluded.payment_id, code = excluded.code, "
        "message = excluded.message, amount = excluded.amount, late_fee = excluded.late_fee, total = excluded.total",
        [(unit_pk, debit["debit_id"], n, r["arrear_id"], r["status"], str(r["amount"]), str(r["late_fee"]),
          str(r["total"]), r.get("tax_ticket"), r.get("payment_id"), r.get("code"), r.get("message"))
         for n, r in enumerate(results)],
    )
    by_status: dict[str, list[Mapping[str, Any]]] = {"paid": [], "failed": [], "unknown": []}
    for r in results:
        by_status.setdefault(str(r["status"]), []).append(r)
    db.executemany(
        "UPDATE payment_arrear SET state = 'paid', hold = NULL, debit_id = ?, tax_ticket = ?, paid_at = ? "
        "WHERE unit_id = ? AND arrear_id = ?",
        [(debit["debit_id"], r.get("tax_ticket"), debit["received_at"], unit_pk, r["arrear_id"])
         for r in by_status["paid"]],
    )
    mark_arrears(db, unit_pk, [r["arrear_id"] for r in by_status["unknown"]], hold="debit",
                 debit_id=debit["debit_id"])
    mark_arrears(db, unit_pk, [r["arrear_id"] for r in by_status["failed"]], hold=None, debit_id=None)
    if by_status["paid"]:
        _payments_from_debit(db, unit_pk, debit, by_status["paid"], now)


def _payments_from_debit(
    db: peewee.SqliteDatabase, unit_pk: int, debit: Mapping[str, Any], paid: list[Mapping[str, Any]], now: str
) -> None:
    """A 缴款记录 per paid arrear, described from the last list (GET /payments refreshes it)."""
    bank = db.execute_sql(
        "SELECT bank FROM payment_agreement WHERE unit_id = ? AND agreement_id = ?", (unit_pk, debit["agreement_id"])
    ).fetchone()
    ids = [str(r["arrear_id"]) for r in paid]
    described: dict[str, tuple[Any, ...]] = {}
    for n in range(0, len(ids), 500):
        chunk = ids[n:n + 500]
        for row in db.execute_sql(
            "SELECT arrear_id, unit_number, agency, item, item_name, part, part_name, period_from, period_to "
            f"FROM payment_arrear WHERE unit_id = ? AND arrear_id IN ({', '.join('?' for _ in chunk)})",
            [unit_pk, *chunk],
        ).fetchall():
            described[row[0]] = tuple(row[1:])
    db.executemany(
        "INSERT INTO payment_record (unit_id, payment_id, tax_ticket, method, debit_id, voucher_id, "
        "agreement_no, bank, arrear_id, unit_number, agency, item, item_name, part, part_name, period_from, "
        "period_to, amount, late_fee, total, paid_at, arrival, stored_at, synced_at) "
        "VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '已缴款未入库', NULL, ?) "
        "ON CONFLICT (unit_id, payment_id) DO NOTHING",
        [(unit_pk, r["payment_id"], r.get("tax_ticket") or "", METHOD_DEBIT, debit["debit_id"],
          debit["agreement_no"], bank[0] if bank else None, r["arrear_id"],
          *described.get(str(r["arrear_id"]), ("",) * 8), str(r["amount"]), str(r["late_fee"]), str(r["total"]),
          debit["received_at"], now)
         for r in paid if r.get("payment_id")],
    )


def _labels(store: Store, entry_id: int | None) -> dict[str, str]:
    if entry_id is None:
        return {}
    try:
        return dict(journal.payload(store, entry_id).get("labels") or {})
    except (TypeError, ValueError):
        return {}


def debit(store: Store, unit_pk: int, debit_id: str) -> DebitRecord:
    row = store.db.execute_sql(
        "SELECT debit_id, entry_id, agreement_id, agreement_no, received_at, debited_on, status, paid_count, "
        "failed_count, unknown_count, paid_total FROM payment_debit WHERE unit_id = ? AND debit_id = ?",
        (unit_pk, debit_id),
    ).fetchone()
    if row is None:
        raise NotFoundError("未找到该扣款记录", code="debit_not_found")
    labels = _labels(store, row[1])
    results = tuple(
        DebitResultRow(r[0], r[1], Decimal(r[2]), Decimal(r[3]), Decimal(r[4]), r[5], r[6], r[7], r[8],
                       labels.get(r[0], f"欠费 {r[0]}"))
        for r in store.db.execute_sql(
            "SELECT arrear_id, status, amount, late_fee, total, tax_ticket, payment_id, code, message "
            "FROM payment_debit_result WHERE unit_id = ? AND debit_id = ? ORDER BY position", (unit_pk, debit_id),
        ).fetchall()
    )
    return DebitRecord(*row[:10], Decimal(row[10]), results)


def debit_for_entry(store: Store, unit_pk: int, entry_id: int) -> DebitRecord | None:
    row = store.db.execute_sql(
        "SELECT debit_id FROM payment_debit WHERE unit_id = ? AND entry_id = ?", (unit_pk, entry_id)
    ).fetchone()
    return debit(store, unit_pk, row[0]) if row else None


# -- vouchers ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VoucherRecord:
    voucher_id: str
    voucher_no: str
    state: str
    issued_at: str
    issued_on: str
    deadline: str
    count: int
    total: Decimal
    arrear_ids: tuple[str, ...]
    body: Mapping[str, Any]  # the voucher as the tax side issued it (money as text)
    pdf_path: str | None
    printed_count: int
    paid_at: str | None
    voided_at: str | None
    refreshed_at: str

    @property
    def can_print(self) -> bool:
        return self.state == "open"

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))  # the body is JSON already: no deep copy
        data.update(total=str(self.total), arrear_ids=list(self.arrear_ids), can_print=self.can_print,
                    can_void=self.state == "open", state_label=VOUCHER_STATE_LABELS.get(self.state, self.state))
        return data


_VOUCHER_COLUMNS = (
    "voucher_id, voucher_no, state, issued_at, issued_on, deadline, count, total, arrear_ids, body, pdf_path, "
    "printed_count, paid_at, voided_at, refreshed_at"
)


def _voucher(row: Sequence[Any]) -> VoucherRecord:
    values = list(row)
    values[7] = Decimal(values[7])
    values[8] = tuple(json.loads(values[8]))
    values[9] = json.loads(values[9])
    return VoucherRecord(*values)


def save_voucher(db: peewee.SqliteDatabase, unit_pk: int, voucher: Mapping[str, Any]) -> None:
    """Upsert a voucher (issued, voided, or as refreshed) and bring its arrears up to date."""
    ids = [str(a["arrear_id"]) for a in voucher["arrears"]]
    db.execute_sql(
        f"INSERT INTO payment_voucher (unit_id, {_VOUCHER_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, ?, ?) ON CONFLICT (unit_id, voucher_id) DO UPDATE "
        "SET state = excluded.state, paid_at = excluded.paid_at, voided_at = excluded.voided_at, "
        "refreshed_at = excluded.refreshed_at",
        (unit_pk, voucher["voucher_id"], voucher["voucher_no"], voucher["state"], voucher["issued_at"],
         voucher["issued_on"], voucher["deadline"], int(voucher["count"]), str(voucher["total"]),
         json.dumps(ids), json.dumps(voucher, ensure_ascii=False, default=str), voucher.get("paid_at"),
         voucher.get("voided_at"), journal.now_text()),
    )
    state = voucher["state"]
    if state == "open":
        mark_arrears(db, unit_pk, ids, hold="voucher", voucher_id=voucher["voucher_id"])
    elif state == "paid":
        mark_arrears(db, unit_pk, ids, state="paid", hold=None, paid_at=voucher.get("paid_at"))
    else:  # voided / expired: the arrears are free again
        db.executemany(
            "UPDATE payment_arrear SET hold = NULL, voucher_id = NULL WHERE unit_id = ? AND arrear_id = ? "
            "AND voucher_id = ?", [(unit_pk, a, voucher["voucher_id"]) for a in ids],
        )


def voucher(store: Store, unit_pk: int, voucher_id: str) -> VoucherRecord:
    row = store.db.execute_sql(
        f"SELECT {_VOUCHER_COLUMNS} FROM payment_voucher WHERE unit_id = ? AND voucher_id = ?", (unit_pk, voucher_id)
    ).fetchone()
    if row is None:
        raise NotFoundError("未找到该缴款凭证", code="voucher_not_found")
    return _voucher(row)


def vouchers(store: Store, unit_pk: int, date_from: str = "", date_to: str = "") -> list[VoucherRecord]:
    """缴款凭证打印记录 by 开具日期 (both included), newest first."""
    sql = f"SELECT {_VOUCHER_COLUMNS} FROM payment_voucher WHERE unit_id = ?"
    params: list[Any] = [unit_pk]
    if date_from:
        sql += " AND issued_on >= ?"
        params.append(date_from)
    if date_to:
        sql += " AND issued_on <= ?"
        params.append(date_to)
    return [_voucher(r) for r in store.db.execute_sql(sql + " ORDER BY issued_on DESC, voucher_id DESC",
                                                      params).fetchall()]


def set_printed(store: Store, unit_pk: int, voucher_id: str, pdf_path: Path) -> None:
    with store.write() as db:
        db.execute_sql(
            "UPDATE payment_voucher SET pdf_path = ?, printed_count = printed_count + 1 "
            "WHERE unit_id = ? AND voucher_id = ?", (str(pdf_path), unit_pk, voucher_id),
        )


# -- payment records ----------------------------------------------------------------------------------
_PAYMENT_FIELDS = (
    "payment_id", "tax_ticket", "method", "debit_id", "voucher_id", "agreement_no", "bank", "arrear_id",
    "unit_number", "agency", "item", "item_name", "part", "part_name", "period_from", "period_to", "amount",
    "late_fee", "total", "paid_at", "arrival", "stored_at",
)


@dataclass(frozen=True)
class PaymentRow:
    payment_id: str
    tax_ticket: str
    method: str
    debit_id: str | None
    voucher_id: str | None
    agreement_no: str | None
    bank: str | None
    arrear_id: str
    unit_number: str
    agency: str
    item: str
    item_name: str
    part: str
    part_name: str
    period_from: str
    period_to: str
    amount: Decimal
    late_fee: Decimal
    total: Decimal
    paid_at: str
    arrival: str
    stored_at: str | None

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        for name in ("amount", "late_fee", "total"):
            data[name] = str(data[name])
        return data


def save_payments(db: peewee.SqliteDatabase, unit_pk: int, records: Iterable[Mapping[str, Any]]) -> int:
    now = journal.now_text()
    rows = [(unit_pk, *(r[n] if not isinstance(r[n], Decimal) else str(r[n]) for n in _PAYMENT_FIELDS), now)
            for r in records]
    updates = ", ".join(f"{n} = excluded.{n}" for n in _PAYMENT_FIELDS[1:])
    db.executemany(
        f"INSERT INTO payment_record (unit_id, {', '.join(_PAYMENT_FIELDS)}, synced_at) "
        f"VALUES ({', '.join('?' for _ in range(len(_PAYMENT_FIELDS) + 2))}) "
        f"ON CONFLICT (unit_id, payment_id) DO UPDATE SET {updates}, synced_at = excluded.synced_at", rows,
    )
    return len(rows)


def check_period(period: str) -> str:
    period = (period or "").strip()
    if period and (len(period) != 6 or not period.isdigit() or not 1 <= int(period[4:]) <= 12):
        raise ValidationError("费款所属期格式应为 YYYYMM（如 202503）", field="period")
    return period


def payments(store: Store, unit_pk: int, period: str = "") -> list[PaymentRow]:
    """缴款记录 whose fee period range contains ``period`` (every record when empty)."""
    period = check_period(period)
    sql = f"SELECT {', '.join(_PAYMENT_FIELDS)} FROM payment_record WHERE unit_id = ?"
    params: list[Any] = [unit_pk]
    if period:
        sql += " AND period_from <= ? AND period_to >= ?"
        params += [period, period]
    out = []
    for row in store.db.execute_sql(sql + " ORDER BY payment_id", params).fetchall():
        values = list(row)
        for n in (16, 17, 18):
            values[n] = Decimal(values[n])
        out.append(PaymentRow(*values))
    return out


def payments_total(rows: Iterable[PaymentRow]) -> Decimal:
    return sum((r.total for r in rows), ZERO)


EXPORT_COLUMNS = (
    xlsx.code("电子税票号码", 22), xlsx.text("缴款方式", 14), xlsx.code("单位编号", 18), xlsx.text("社保经办机构", 30),
    xlsx.text("险种", 16), xlsx.text("缴费类型", 14), xlsx.code("费款所属期起", 12), xlsx.code("费款所属期止", 12),
    xlsx.amount("应缴金额"), xlsx.amount("滞纳金"), xlsx.amount("实缴金额"), xlsx.code("协议号", 22),
    xlsx.text("开户银行", 24), xlsx.text("缴款时间", 20), xlsx.text("入库状态", 14), xlsx.text("入库时间", 20),
)


def export_payments(store: Store, unit_pk: int, period: str, target: Path) -> int:
    rows = (
        (r.tax_ticket, r.method, r.unit_number, r.agency, r.item_name, r.part_name, r.period_from, r.period_to,
         xlsx.amount_cell(str(r.amount)), xlsx.amount_cell(str(r.late_fee)), xlsx.amount_cell(str(r.total)),
         r.agreement_no or "", r.bank or "", r.paid_at, r.arrival, r.stored_at or "")
        for r in payments(store, unit_pk, period)
    )
    return xlsx.write_xlsx(target, "缴款记录", EXPORT_COLUMNS, rows)


# -- the voucher PDF --------------------------------------------------------------------------------
def voucher_doc(record: VoucherRecord, printed_at: Any) -> Any:
    """The voucher as client/core/voucher_pdf.py draws it, from the body the tax side issued."""
    import datetime as dt

    from client.core import voucher_pdf

    body = record.body
    rows = tuple(
        voucher_pdf.VoucherRow(
            unit_number=str(a["unit_number"]), agency=str(a["agency"]), item_name=str(a["item_name"]),
            part_name=str(a["part_name"]), period_from=str(a["period_from"]), period_to=str(a["period_to"]),
            amount=Decimal(str(a["amount"])), late_fee=Decimal(str(a["late_fee"])), total=Decimal(str(a["total"])),
        )
        for a in body["arrears"]
    )
    return voucher_pdf.VoucherDoc(
        voucher_id=record.voucher_id, voucher_no=record.voucher_no, unit_name=str(body["unit_name"]),
        taxpayer_id=str(body["taxpayer_id"]), tax_office=str(body["tax_office"]),
        issued_on=dt.date.fromisoformat(record.issued_on), deadline=dt.date.fromisoformat(record.deadline),
        printed_at=printed_at, arrears=rows, amount_total=Decimal(str(body["amount_total"])),
        late_fee_total=Decimal(str(body["late_fee_total"])), total=Decimal(str(body["total"])),
    )


def pdf_path(home: Path, record: VoucherRecord) -> Path:
    if not record.voucher_no.isdigit():  # it names a file: digits only (checked by the PDF too)
        raise ValidationError("缴款凭证号码格式有误", field="voucher_no")
    return home / "vouchers" / f"{record.voucher_no}.pdf"


def write_pdf(store: Store, unit_pk: int, home: Path, record: VoucherRecord, right_mm: Any, down_mm: Any) -> Path:
    """Render the voucher and save it atomically under <home>/vouchers; counts one print."""
    import datetime as dt

    from client.core import pdf_common, voucher_pdf

    if not record.can_print:
        label = VOUCHER_STATE_LABELS.get(record.state, record.state)
        raise ValidationError(f"缴款凭证 {record.voucher_no} {label}，不能打印", field="voucher_id")
    data = voucher_pdf.render(voucher_doc(record, dt.datetime.now().replace(microsecond=0)),
                              offset_right_mm=right_mm, offset_down_mm=down_mm)
    target = pdf_path(home, record)
    pdf_common.save(target, data)
    set_printed(store, unit_pk, record.voucher_id, target)
    return target
