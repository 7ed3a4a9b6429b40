"""Contribution records (职工缴费证明, 年金) on the reference tax side, derived from what it holds.

No Flask here. A person's record of a month and item is what a declared summary of the unit
charged for that person: the summary's batch holds one row per person and month (base,
employer amount, employee amount per item, taxside/fees.py), and the summary's arrear says
whether that part was paid (taxside/payments.py sets ``paid_at``). Summaries count only while
declared: a voided declaration puts them back to pending, so they drop out here too.

The employer and the employee part of one item are separate summaries (and arrears); a record
joins them: ``state`` is ``paid`` when every declared part is paid, ``unpaid`` when none is,
``partial`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rules.periods import Period, months_between, parse_period
from taxside import fee_decisions as fd
from taxside.db import Store
from taxside.jsonutil import loads

MAX_MONTHS = 120  # 10 years in one answer
ITEM_ORDER = ("pension", "medical", "unemployment", "injury", "maternity")
KIND_LABELS = {"daily": "正常"}
ZERO = Decimal("0.00")


class ContributionError(ValueError):
    """A request that cannot be answered; ``status``/``code`` become the API error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def period_range(text_from: str | None, text_to: str | None) -> tuple[Period, Period]:
    """``YYYYMM`` bounds, from <= to, at most MAX_MONTHS months."""
    try:
        start, end = parse_period(text_from or ""), parse_period(text_to or "")
    except ValueError as exc:
        raise ContributionError(400, "bad_period", f"费款所属期应为 YYYYMM 格式：{exc}") from None
    if start > end:
        raise ContributionError(400, "bad_period", "费款所属期起不能晚于止")
    if months_between(start, end) + 1 > MAX_MONTHS:
        raise ContributionError(400, "range_too_long", f"一次最多查询 {MAX_MONTHS} 个月（10 年）的缴费记录")
    return start, end


@dataclass
class _Record:
    period: str
    item: str
    item_name: str
    kind: str
    special_type: str | None
    unit_number: str
    agency: str
    declaration_id: str
    base: str
    employer: str | None = None
    employee: str | None = None
    parts: list[tuple[str, str | None]] = field(default_factory=list)  # (arrear state, paid_at)

    def to_json(self) -> dict[str, Any]:
        states = [s for s, _ in self.parts]
        paid = bool(states) and all(s == "paid" for s in states)
        state = "paid" if paid else ("partial" if "paid" in states else "unpaid")
        paid_at = max((p for s, p in self.parts if s == "paid" and p), default=None) if paid else None
        er, ee = Decimal(self.employer or 0), Decimal(self.employee or 0)
        return {
            "period": self.period, "item": self.item, "item_name": self.item_name, "kind": self.kind,
            "kind_label": KIND_LABELS.get(self.kind, self.special_type or "补缴"),
            "special_type": self.special_type, "unit_number": self.unit_number, "agency": self.agency,
            "declaration_id": self.declaration_id, "base": self.base,
            "employer_amount": self.employer, "employee_amount": self.employee,
            "total": str((er + ee).quantize(ZERO)), "state": state, "paid": paid, "paid_at": paid_at,
        }


def _order(record: dict[str, Any]) -> tuple[Any, ...]:
    item = record["item"]
    rank = ITEM_ORDER.index(item) if item in ITEM_ORDER else len(ITEM_ORDER)
    return record["period"], rank, item, record["kind"] != "daily", record["declaration_id"]


def _declared(st: Store, unit_pk: int, start: str, end: str, item: str | None = None) -> list[tuple[Any, ...]]:
    """Declared summaries whose range meets [start, end], with their arrear's state."""
    sql = (
        "SELECT s.id, s.kind, s.special_type, s.unit_number, s.agency, s.item, s.item_name, s.part,"
        " s.batch_pk, s.declaration_pk, a.state, a.paid_at FROM fee_summary s"
        " JOIN fee_declaration d ON d.id = s.declaration_pk AND d.status = 'accepted'"
        # by declaration_pk: arrear's (declaration_pk, id) index, not a scan of every unit's arrears
        " LEFT JOIN arrear a ON a.declaration_pk = s.declaration_pk AND a.summary_pk = s.id AND a.deleted = 0"
        " WHERE s.unit_pk = ? AND s.state = 'declared' AND s.batch_pk IS NOT NULL"
        " AND s.period_from <= ? AND s.period_to >= ?"
    )
    params: list[Any] = [unit_pk, end, start]
    if item:
        sql += " AND s.item = ?"
        params.append(item)
    return st.query(sql + " ORDER BY s.id", tuple(params))


def _collect(st: Store, summaries: list[tuple[Any, ...]],
             rows_of: Any) -> list[dict[str, Any]]:
    """Join each summary with its batch rows (``rows_of(batch_pk)`` -> (period, mask, vals, key))."""
    by_batch: dict[int, list[tuple[Any, ...]]] = {}
    for s in summaries:
        by_batch.setdefault(s[8], []).append(s)
    records: dict[tuple[Any, ...], _Record] = {}
    for batch_pk, group in by_batch.items():
        codes = loads(st.query("SELECT items FROM fee_batch WHERE id = ?", (batch_pk,))[0][0])
        for period, mask, vals_json, key in rows_of(batch_pk):
            vals = loads(vals_json)
            for s in group:
                code = s[5]
                if code not in codes:
                    continue
                bit = codes.index(code)
                if not mask & (1 << bit) or vals[bit] is None:
                    continue
                base, er, ee = vals[bit]
                rec_key = (key, period, code, s[1], s[2], s[9])
                rec = records.get(rec_key)
                if rec is None:
                    rec = records[rec_key] = _Record(
                        period, code, s[6], s[1], s[2], s[3], s[4], fd.declaration_id(s[9]), base)
                if s[7] == "employer":
                    rec.employer = er
                else:
                    rec.employee = ee
                rec.parts.append((s[10] or "unpaid", s[11]))
    return [dict(r.to_json(), _key=k[0]) for k, r in records.items()]


def _totals(records: Iterable[dict[str, Any]]) -> dict[str, str]:
    er = sum((Decimal(r["employer_amount"] or 0) for r in records), ZERO)
    ee = sum((Decimal(r["employee_amount"] or 0) for r in records), ZERO)
    return {"employer": str(er.quantize(ZERO)), "employee": str(ee.quantize(ZERO)),
            "total": str((er + ee).quantize(ZERO))}


def person(st: Store, unit_pk: int, id_type: str, id_number: str, start: Period, end: Period) -> dict[str, Any]:
    """Every declared month and item of one person (证件类型 + 证件号码) of the unit in [start, end]."""
    emps = st.query(
        # +unit_pk: seek by the ID number's index, not through every employee of the unit
        "SELECT id, name, id_type, id_number, unit_number, deleted FROM employee WHERE id_number = ?"
        " AND id_type = ? AND +unit_pk = ? ORDER BY deleted, id",
        (id_number, id_type, unit_pk),
    )
    if not emps:
        raise ContributionError(404, "person_not_found", "本单位没有该证件类型和证件号码的职工")
    pks = [e[0] for e in emps]
    marks = ",".join("?" * len(pks))
    lo, hi = str(start), str(end)

    summaries = _declared(st, unit_pk, lo, hi)
    batches = sorted({s[8] for s in summaries})
    by_batch: dict[int, list[tuple[Any, ...]]] = {}
    if batches:
        # batch_pk IN (...) rather than one query per batch: with it SQLite seeks the person's
        # rows in the (employee_pk, batch_pk) index instead of reading each whole batch.
        for batch_pk, *row in st.query(
            f"SELECT batch_pk, period, mask, vals FROM fee_detail WHERE employee_pk IN ({marks})"
            f" AND batch_pk IN ({','.join('?' * len(batches))}) AND period BETWEEN ? AND ?",
            (*pks, *batches, lo, hi),
        ):
            by_batch.setdefault(batch_pk, []).append((*row, None))
    records = _collect(st, summaries, lambda batch_pk: by_batch.get(batch_pk, []))
    for r in records:
        r.pop("_key")
    records.sort(key=_order)
    first = emps[0]
    return {
        "person": {"employee_id": f"E{first[0]:09d}", "name": first[1], "id_type": first[2],
                   "id_number": first[3], "unit_number": first[4]},
        "period_from": lo, "period_to": hi, "items": records, "count": len(records),
        "totals": _totals(records), "today": st.today().isoformat(),
    }


def period_persons(st: Store, unit_pk: int, period: Period, item: str, *, after: tuple[int, int],
                   limit: int) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    """One month and item for every person of the unit (the 年金 notice's bases), paged by
    (batch, row); returns the page and the position after it (None: no more)."""
    label = str(period)
    summaries = [s for s in _declared(st, unit_pk, label, label, item) if s[8] >= after[0]]
    out: list[dict[str, Any]] = []
    more = False
    for batch_pk in sorted({s[8] for s in summaries}):
        codes = loads(st.query("SELECT items FROM fee_batch WHERE id = ?", (batch_pk,))[0][0])
        if item not in codes:
            continue
        start_n = after[1] if batch_pk == after[0] else 0
        want = limit - len(out)
        found = st.query(
            "SELECT period, mask, vals, n, name, id_type, id_number FROM fee_detail"
            " WHERE batch_pk = ? AND n > ? AND period = ? AND (mask & ?) != 0 ORDER BY n LIMIT ?",
            (batch_pk, start_n, label, 1 << codes.index(item), want + 1),
        )
        more = len(found) > want
        found = found[:want]
        people = {r[3]: r[4:] for r in found}
        records = _collect(st, [s for s in summaries if s[8] == batch_pk],
                           lambda _b, found=found: [(r[0], r[1], r[2], r[3]) for r in found])
        records.sort(key=lambda r: r["_key"])
        for r in records:
            n = r.pop("_key")
            name, id_type, id_number = people[n]
            out.append({"name": name, "id_type": id_type, "id_number": id_number, **r, "_pos": (batch_pk, n)})
        if len(out) >= limit:
            more = more or batch_pk != max(s[8] for s in summaries)
            break
    position = out[-1]["_pos"] if out else None
    for r in out:
        r.pop("_pos")
    return out, position if more else None
