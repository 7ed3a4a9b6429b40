"""Queries (查询统计) of money: 社保费应缴信息 (payable per fee period and item) and
社保费到账信息 (each payment's arrival), the latter reconciled with this PC's payment
records (缴款记录, client/core/payment_records.py).

Reconciliation is done when the page reads, not when the sync stores: a payment recorded
here after the last update (its record's id is past the one the update saw) is "not yet
checked", never "missing on the tax side".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import peewee

from client.core import xlsx
from client.core.queries import ARRIVAL, ITEM_NAMES, state
from client.core.store import Store
from client.errors import ValidationError

ZERO = Decimal("0.00")
MAX_PAYABLE_MONTHS = 120
# What a row of 到账信息 says about this PC's payment record of it.
SAME, MISSING, DIFFERENT, NO_LOCAL, UNCHECKED = "一致", "税务端未查到", "金额不一致", "本机无记录", "待核对"


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def check_month(value: Any, field: str) -> str:
    text = str(value or "").strip().replace("-", "")
    # ASCII digits only: str.isdigit() passes "²⁰²⁵" (int() then fails) and "２０２５".
    if text and (len(text) != 6 or not text.isascii() or not text.isdigit() or not 1 <= int(text[4:]) <= 12):
        raise ValidationError("费款所属期格式应为 YYYY-MM（如 2025-03）", field=field)
    return text


def check_months(start: Any, end: Any) -> tuple[str, str]:
    start, end = check_month(start, "from"), check_month(end, "to")
    if start and end:
        months = (int(end[:4]) - int(start[:4])) * 12 + int(end[4:]) - int(start[4:])
        if months < 0:
            raise ValidationError("费款所属期起不能晚于止", field="from")
        if months >= MAX_PAYABLE_MONTHS:
            raise ValidationError(f"费款所属期范围不能超过 {MAX_PAYABLE_MONTHS} 个月", field="to")
    return start, end


def check_date(value: Any, field: str) -> str:
    text = str(value or "").strip()
    if text:
        try:
            if len(text) != 10 or not text.isascii():
                raise ValueError
            dt.date.fromisoformat(text)
        except ValueError:
            raise ValidationError("缴款日期格式应为 YYYY-MM-DD（如 2025-03-15）", field=field) from None
    return text


@dataclass(frozen=True)
class ArrivalRange:
    """What 到账信息 asks for: a 费款所属期 range (YYYYMM) and / or a 缴款日期 range
    (YYYY-MM-DD); each bound may be empty."""

    start: str = ""
    end: str = ""
    paid_from: str = ""
    paid_to: str = ""

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> ArrivalRange:
        start, end = check_months(args.get("from"), args.get("to"))
        paid_from, paid_to = check_date(args.get("paid_from"), "paid_from"), check_date(args.get("paid_to"), "paid_to")
        if paid_from and paid_to and paid_from > paid_to:
            raise ValidationError("缴款日期起不能晚于止", field="paid_from")
        return cls(start, end, paid_from, paid_to)

    @property
    def by_date(self) -> bool:
        return bool(self.paid_from or self.paid_to)

    def where(self, date_column: str = "paid_on", prefix: str = "") -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, op, value in ((f"{prefix}period_to", ">=", self.start), (f"{prefix}period_from", "<=", self.end),
                                  (date_column, ">=", self.paid_from), (date_column, "<=", self.paid_to)):
            if value:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        return clauses, params


# -- 应缴信息 ------------------------------------------------------------------------------------------
PAYABLE_FIELDS = ("period_from", "period_to", "unit_number", "agency", "item", "item_name", "payable", "paid",
                  "unpaid", "arrear_count", "unpaid_count", "deadline", "state")
_PAYABLE_KEY = ("period_from", "period_to", "unit_number", "item")
_PAYABLE_UPDATE = ", ".join(f"{n} = excluded.{n}" for n in (*PAYABLE_FIELDS, "synced_at") if n not in _PAYABLE_KEY)


@dataclass(frozen=True)
class Payable:
    period_from: str
    period_to: str
    unit_number: str
    agency: str
    item: str
    item_name: str
    payable: Decimal
    paid: Decimal
    unpaid: Decimal
    arrear_count: int
    unpaid_count: int
    deadline: str | None
    state: str  # 已缴清 / 部分缴纳 / 未缴

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("payable", "paid", "unpaid"):
            data[name] = str(data[name])
        return data


def save_payables(db: peewee.SqliteDatabase, unit_pk: int, start: str, end: str,
                  rows: Iterable[Mapping[str, Any]], synced_at: str) -> int:
    """The answer for ``start``-``end`` replaces the local rows of that range."""
    db.execute_sql("DELETE FROM query_payable WHERE unit_id = ? AND period_to >= ? AND period_from <= ?",
                   (unit_pk, start, end))
    values = [(unit_pk, *(str(r[n]) if isinstance(r[n], Decimal) else r[n] for n in PAYABLE_FIELDS), synced_at)
              for r in rows]
    db.executemany(
        f"INSERT INTO query_payable (unit_id, {', '.join(PAYABLE_FIELDS)}, synced_at) "
        f"VALUES ({', '.join('?' for _ in range(len(PAYABLE_FIELDS) + 2))}) "
        f"ON CONFLICT (unit_id, period_from, period_to, unit_number, item) DO UPDATE SET {_PAYABLE_UPDATE}", values,
    )
    return len(values)


def payables(store: Store, unit_pk: int, start: str = "", end: str = "", item: str = "",
             names: Mapping[str, str] | None = None) -> list[Payable]:
    if item and item not in ITEM_NAMES:
        raise ValidationError("征收项目不正确", field="item")
    where, params = ["unit_id = ?"], [unit_pk]
    if start:
        where.append("period_to >= ?")
        params.append(start)
    if end:
        where.append("period_from <= ?")
        params.append(end)
    if item:
        where.append("item = ?")
        params.append(item)
    rows = store.db.execute_sql(
        f"SELECT {', '.join(PAYABLE_FIELDS)} FROM query_payable WHERE {' AND '.join(where)} "
        "ORDER BY period_from DESC, period_to DESC, unit_number, item", params,
    ).fetchall()
    # One name per item code (the unit's pack), whatever name a period's summaries carried.
    return [Payable(*r[:5], (names or {}).get(r[4], r[5]), Decimal(r[6]), Decimal(r[7]), Decimal(r[8]), *r[9:])
            for r in rows]


def payable_totals(rows: list[Payable]) -> dict[str, str]:
    return {name: str(sum((getattr(r, name) for r in rows), ZERO)) for name in ("payable", "paid", "unpaid")}


PAYABLE_COLUMNS = (
    xlsx.code("费款所属期起", 12), xlsx.code("费款所属期止", 12), xlsx.code("单位编号", 18), xlsx.text("社保经办机构", 30),
    xlsx.text("征收项目", 22), xlsx.amount("应缴金额"), xlsx.amount("已缴金额"), xlsx.amount("未缴金额"),
    xlsx.text("缴费状态", 10), xlsx.code("限缴日期", 12),
)


def export_payables(store: Store, unit_pk: int, start: str, end: str, item: str, target: Path,
                    names: Mapping[str, str] | None = None) -> int:
    rows = ((r.period_from, r.period_to, r.unit_number, r.agency, r.item_name, xlsx.amount_cell(str(r.payable)),
             xlsx.amount_cell(str(r.paid)), xlsx.amount_cell(str(r.unpaid)), r.state, r.deadline or "")
            for r in payables(store, unit_pk, start, end, item, names))
    return xlsx.write_xlsx(target, "社保费应缴信息", PAYABLE_COLUMNS, rows)


# -- 到账信息 ------------------------------------------------------------------------------------------
ARRIVAL_FIELDS = ("payment_id", "tax_ticket", "method", "arrear_id", "unit_number", "agency", "item",
                  "item_name", "part", "part_name", "period_from", "period_to", "amount", "late_fee", "total",
                  "paid_at", "arrival", "stored_at", "paid_on")
_ARRIVAL_UPDATE = ", ".join(f"{n} = excluded.{n}" for n in (*ARRIVAL_FIELDS, "synced_at") if n != "payment_id")


def save_arrivals(db: peewee.SqliteDatabase, unit_pk: int, asked: ArrivalRange,
                  rows: Iterable[Mapping[str, Any]], synced_at: str) -> int:
    """The answer for what was asked (the 费款所属期 range the tax side answered for, the
    缴款日期 range) replaces the local rows it covers (a payment it no longer shows goes)."""
    clauses, params = asked.where()
    db.execute_sql(f"DELETE FROM query_arrival WHERE {' AND '.join(['unit_id = ?', *clauses])}", (unit_pk, *params))
    values = [(unit_pk, *(str(r[n]) if isinstance(r[n], Decimal) else r[n] for n in ARRIVAL_FIELDS), synced_at)
              for r in rows]
    db.executemany(
        f"INSERT INTO query_arrival (unit_id, {', '.join(ARRIVAL_FIELDS)}, synced_at) "
        f"VALUES ({', '.join('?' for _ in range(len(ARRIVAL_FIELDS) + 2))}) "
        f"ON CONFLICT (unit_id, payment_id) DO UPDATE SET {_ARRIVAL_UPDATE}", values,
    )
    return len(values)


@dataclass(frozen=True)
class ArrivalRow:
    payment_id: str
    tax_ticket: str
    method: str
    item_name: str
    part_name: str
    period_from: str
    period_to: str
    paid_at: str
    paid_on: str  # 缴款日期: the tax side's business date of the payment
    total: Decimal | None  # the tax side's; None when it does not show the payment
    local_total: Decimal | None  # this PC's payment record; None when there is none
    arrival: str  # 已缴款未入库 / 已入库 / "" (not shown by the tax side)
    stored_at: str | None
    check: str  # 一致 / 税务端未查到 / 金额不一致 / 本机无记录 / 待核对
    check_text: str

    @property
    def flagged(self) -> bool:
        return self.check in (MISSING, DIFFERENT)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("total", "local_total"):
            data[name] = None if data[name] is None else str(data[name])
        data["flagged"] = self.flagged
        return data


@dataclass(frozen=True)
class ArrivalView:
    rows: tuple[ArrivalRow, ...]
    synced_at: str | None
    synced_from: str | None
    synced_to: str | None
    synced_paid_from: str | None = None
    synced_paid_to: str | None = None

    def counts(self) -> dict[str, int]:
        out = {name: sum(1 for r in self.rows if r.check == name) for name in (SAME, MISSING, DIFFERENT, NO_LOCAL,
                                                                                UNCHECKED)}
        out["stored"] = sum(1 for r in self.rows if r.arrival == "已入库")
        out["not_stored"] = sum(1 for r in self.rows if r.arrival == "已缴款未入库")
        return out

    @property
    def summary(self) -> str:
        c = self.counts()
        shown = c["stored"] + c["not_stored"]
        text = f"税务端共 {shown} 笔缴款：已入库 {c['stored']} 笔，已缴款未入库 {c['not_stored']} 笔。"
        bad = c[MISSING] + c[DIFFERENT]
        text += f"与本机缴款记录核对：一致 {c[SAME]} 笔，不一致 {bad} 笔"
        if bad:
            text += f"（税务端未查到 {c[MISSING]} 笔，金额不一致 {c[DIFFERENT]} 笔，请联系主管税务机关核实）"
        text += "。"
        if c[NO_LOCAL]:
            text += f"另有 {c[NO_LOCAL]} 笔本机无缴款记录（在其他渠道缴款或本机尚未同步）。"
        if c[UNCHECKED]:
            text += f"{c[UNCHECKED]} 笔本机缴款记录晚于上次更新，请点击更新后核对。"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"items": [r.to_dict() for r in self.rows], "count": len(self.rows), "counts": self.counts(),
                "flagged": sum(1 for r in self.rows if r.flagged), "summary": self.summary,
                "synced_at": self.synced_at, "synced_from": self.synced_from, "synced_to": self.synced_to,
                "synced_paid_from": self.synced_paid_from, "synced_paid_to": self.synced_paid_to}


_LOCAL = "payment_id, tax_ticket, method, item_name, part_name, period_from, period_to, paid_at, total, id, item"


def _covered(detail: Mapping[str, Any], record: Any) -> bool:
    """Whether a local record (period_from, period_to, paid_at) lies in what the last update
    asked for: its 费款所属期 range and its 缴款日期 range (the record's date: this PC has
    the clock of the payment, which is the business date in production)."""
    day = str(record[7])[:10]
    for value, op, bound in ((str(record[6]), ">=", detail.get("from")), (str(record[5]), "<=", detail.get("to")),
                             (day, ">=", detail.get("paid_from")), (day, "<=", detail.get("paid_to"))):
        if bound and not (value >= bound if op == ">=" else value <= bound):
            return False
    return bool(detail.get("from") or detail.get("paid_from") or detail.get("paid_to"))


def arrivals(store: Store, unit_pk: int, asked: ArrivalRange = ArrivalRange(),
             names: Mapping[str, str] | None = None) -> ArrivalView:
    """The tax side's payments of what is asked (费款所属期 and / or 缴款日期 range) beside
    this PC's records of them."""
    clauses, params = asked.where()
    db = store.db
    taxside = db.execute_sql(
        f"SELECT {', '.join(ARRIVAL_FIELDS)} FROM query_arrival WHERE {' AND '.join(['unit_id = ?', *clauses])} "
        "ORDER BY paid_at, payment_id", [unit_pk, *params],
    ).fetchall()
    # This PC's records: those of the payments listed (whatever their dates here), and those
    # in the range by their own dates (a payment the tax side does not show).
    own, own_params = asked.where("substr(paid_at, 1, 10)")
    listed = [r[0] for r in taxside]
    local: dict[str, Any] = {}
    for start in range(0, len(listed), 500):
        chunk = listed[start:start + 500]
        local.update((r[0], r) for r in db.execute_sql(
            f"SELECT {_LOCAL} FROM payment_record WHERE unit_id = ? AND payment_id IN ({', '.join('?' * len(chunk))})",
            [unit_pk, *chunk]))
    in_range = {r[0]: r for r in db.execute_sql(
        f"SELECT {_LOCAL} FROM payment_record WHERE {' AND '.join(['unit_id = ?', *own])}", [unit_pk, *own_params])}
    found = state(store, unit_pk, ARRIVAL)
    detail = found.detail if found else {}

    def name(code: str, stored: str) -> str:  # one name per item code (the unit's pack)
        return (names or {}).get(code, stored)

    out: list[ArrivalRow] = []
    for r in taxside:
        f = dict(zip(ARRIVAL_FIELDS, r, strict=True))
        total = Decimal(f["total"])
        mine = local.get(f["payment_id"])
        in_range.pop(f["payment_id"], None)
        if mine is None:
            check, text, local_total = NO_LOCAL, "本机无该笔缴款记录（可能在其他渠道缴款）", None
        else:
            local_total = Decimal(mine[8])
            if local_total == total:
                check, text = SAME, "与本机缴款记录一致"
            else:
                check, text = DIFFERENT, (f"金额不一致：本机记录实缴 {money(local_total)} 元，"
                                          f"税务端为 {money(total)} 元")
        out.append(ArrivalRow(f["payment_id"], f["tax_ticket"], f["method"], name(f["item"], f["item_name"]),
                              f["part_name"],
                              f["period_from"], f["period_to"], f["paid_at"], f["paid_on"] or f["paid_at"][:10],
                              total, local_total, f["arrival"], f["stored_at"], check, text))
    for mine in in_range.values():  # recorded here, not shown by the tax side
        checked = (found is not None and _covered(detail, mine)
                   and int(mine[9]) <= int(detail.get("local_upto", 0)))
        check, text = (MISSING, "税务端未查到该笔缴款：本机有缴款记录，请联系主管税务机关核实") if checked else (
            UNCHECKED, "本机缴款记录晚于上次更新，请点击更新后核对")
        out.append(ArrivalRow(mine[0], mine[1], mine[2], name(mine[10], mine[3]), mine[4], mine[5], mine[6], mine[7],
                              str(mine[7])[:10], None, Decimal(mine[8]), "", None, check, text))
    out.sort(key=lambda r: (r.paid_at, r.payment_id))
    return ArrivalView(tuple(out), found.synced_at if found else None, detail.get("from"), detail.get("to"),
                       detail.get("paid_from"), detail.get("paid_to"))


ARRIVAL_COLUMNS = (
    xlsx.code("电子税票号码", 22), xlsx.text("缴款方式", 14), xlsx.text("征收项目", 22), xlsx.text("征收品目", 14),
    xlsx.code("费款所属期起", 12), xlsx.code("费款所属期止", 12), xlsx.code("缴款日期", 12), xlsx.text("缴款时间", 20),
    xlsx.amount("税务端实缴金额"), xlsx.amount("本机记录实缴金额"), xlsx.text("到账状态", 14), xlsx.text("入库时间", 20),
    xlsx.text("核对结果", 14), xlsx.text("核对说明", 50),
)


def export_arrivals(store: Store, unit_pk: int, asked: ArrivalRange, target: Path,
                    names: Mapping[str, str] | None = None) -> int:
    rows = ((r.tax_ticket, r.method, r.item_name, r.part_name, r.period_from, r.period_to, r.paid_on, r.paid_at,
             xlsx.amount_cell(None if r.total is None else str(r.total)),
             xlsx.amount_cell(None if r.local_total is None else str(r.local_total)), r.arrival,
             r.stored_at or "", r.check, r.check_text)
            for r in arrivals(store, unit_pk, asked, names).rows)
    return xlsx.write_xlsx(target, "社保费到账信息", ARRIVAL_COLUMNS, rows)
