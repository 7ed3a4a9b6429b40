"""社保费申报明细查询 (manual 3.1.8.3): the downloaded person details of successful
declarations, filtered, paged, totalled and exported.

Filters are exact (精准查询): 费款所属期 range, the summary-level fields (单位编号, 社保经办机构,
征收项目, 征收品目, 征收子目) and the person elements (证件类型, 证件号码, 姓名). Summary-level
filters become a set of summary refs first (a unit has hundreds of declared summaries, not
millions), so every page is one index range in the page's own order:
- by person: the (unit, id_number) or (unit, name) index, then a small sort;
- otherwise: the (unit, period, summary_ref) index, whose order is the page order.
Counts and sums without person elements come from ``query_detail_total`` (per summary and
month, kept by the sync), so a filter over a million rows is never counted row by row; the
same counts place such a page: groups before it are skipped by count, not by scanning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from client.core import xlsx
from client.core.enrollment import ID_TYPES
from client.core.paging import PageRequest
from client.core.store import Store
from client.errors import ValidationError

COUNT_CAP = 10_000  # a filter scanning rows (证件类型 alone) counts up to here
_PERIOD = re.compile(r"[0-9]{4}(?:0[1-9]|1[0-2])\Z")
_SUMMARY_FIELDS = ("unit_number", "agency", "item", "part", "subitem")
_SUMMARY_COLUMNS = ("id, summary_id, declaration_id, declared_on, unit_number, agency, item, item_name, part,"
                    " part_name, subitem")
FEN = Decimal("0.01")


@dataclass(frozen=True)
class DetailFilter:
    period_from: str = ""
    period_to: str = ""
    unit_number: str = ""
    agency: str = ""
    item: str = ""
    part: str = ""
    subitem: str = ""
    id_type: str = ""
    id_number: str = ""
    name: str = ""

    @classmethod
    def parse(cls, args: dict[str, Any]) -> DetailFilter:
        values = {}
        for f in fields(cls):
            raw = args.get(f.name, "")
            if not isinstance(raw, str) or len(raw) > 100:
                raise ValidationError("查询条件格式不正确", field=f.name)
            values[f.name] = raw.strip()
        values["id_number"] = values["id_number"].upper()
        for name, label in (("period_from", "费款所属期起"), ("period_to", "费款所属期止")):
            if values[name] and not _PERIOD.match(values[name]):
                raise ValidationError(f"{label}应为 YYYYMM 格式的月份，如 202503", field=name)
        if values["period_from"] and values["period_to"] and values["period_to"] < values["period_from"]:
            raise ValidationError("费款所属期起不能晚于费款所属期止", field="period_to")
        if values["id_type"] and values["id_type"] not in ID_TYPES:
            raise ValidationError("证件类型不正确", field="id_type")
        return cls(**values)

    @property
    def by_person(self) -> bool:
        return bool(self.id_number or self.name)

    def to_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Totals:
    rows: int
    capped: bool  # more than COUNT_CAP rows and counted no further: no sums then
    employer: str | None  # 单位缴纳金额合计
    employee: str | None  # 个人缴纳金额合计

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "capped": self.capped, "employer": self.employer, "employee": self.employee}


@dataclass(frozen=True)
class DetailPage:
    rows: list[dict[str, Any]]
    totals: Totals
    page: int
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "total": self.totals.rows, "page": self.page, "size": self.size,
                "totals": self.totals.to_dict()}


def yuan(fen: int) -> str:
    return str((Decimal(fen) * FEN).quantize(FEN))


class _Query:
    """The SQL of one filter: refs of matching summaries, then the detail conditions."""

    def __init__(self, store: Store, unit_pk: int, flt: DetailFilter) -> None:
        self.store, self.unit_pk, self.flt = store, unit_pk, flt
        self.refs: list[int] | None = None
        conds = [f"{name} = ?" for name in _SUMMARY_FIELDS if getattr(flt, name)]
        if conds:
            self.refs = [r[0] for r in self._all(
                f"SELECT id FROM query_detail_summary WHERE unit_id = ? AND {' AND '.join(conds)}",
                (unit_pk, *[getattr(flt, n) for n in _SUMMARY_FIELDS if getattr(flt, n)]))]
        where, params = ["d.unit_id = ?"], [unit_pk]
        for column, op, value in (("period", ">=", flt.period_from), ("period", "<=", flt.period_to),
                                  ("id_number", "=", flt.id_number), ("name", "=", flt.name),
                                  ("id_type", "=", flt.id_type)):
            if value:
                where.append(f"d.{column} {op} ?")
                params.append(value)
        if self.refs is not None:
            where.append(f"d.summary_ref IN ({','.join('?' * len(self.refs))})")
            params.extend(self.refs)
        self.where, self.params = " AND ".join(where), tuple(params)
        index = ("query_detail_person" if flt.id_number else "query_detail_name" if flt.name
                 else "query_detail_period")
        self.source = f"query_detail d INDEXED BY {index}"

    @property
    def empty(self) -> bool:
        return self.refs == []

    def _all(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self.store.db.execute_sql(sql, params).fetchall()

    def rows_sql(self) -> str:
        return (f"SELECT d.summary_ref, d.period, d.employee_id, d.id_type, d.id_number, d.name, d.base_fen,"
                f" d.rate, d.amount_fen FROM {self.source} WHERE {self.where}"
                " ORDER BY d.period, d.summary_ref, d.id")

    def _total_where(self) -> tuple[str, list[Any]]:
        where, params = ["s.unit_id = ?"], [self.unit_pk]
        if self.flt.period_from:
            where.append("t.period >= ?")
            params.append(self.flt.period_from)
        if self.flt.period_to:
            where.append("t.period <= ?")
            params.append(self.flt.period_to)
        if self.refs is not None:
            where.append(f"s.id IN ({','.join('?' * len(self.refs))})")
            params.extend(self.refs)
        return " AND ".join(where), params

    def totals(self) -> Totals:
        if self.empty:
            return Totals(0, False, "0.00", "0.00")
        if self.flt.by_person or self.flt.id_type:
            if not self.flt.by_person:  # 证件类型 alone scans rows: count up to the cap
                (n,) = self._all(f"SELECT COUNT(*) FROM (SELECT 1 FROM {self.source} WHERE {self.where}"
                                 f" LIMIT {COUNT_CAP + 1}) AS capped", self.params)[0]
                if n > COUNT_CAP:
                    return Totals(COUNT_CAP, True, None, None)
            sums = self._all(
                f"SELECT s.part, COUNT(*), SUM(d.amount_fen) FROM {self.source}"
                f" JOIN query_detail_summary s ON s.id = d.summary_ref WHERE {self.where} GROUP BY s.part",
                self.params)
        else:
            where_text, params = self._total_where()
            sums = self._all(
                "SELECT s.part, SUM(t.rows), SUM(t.amount_fen) FROM query_detail_total t"
                f" JOIN query_detail_summary s ON s.id = t.summary_ref WHERE {where_text}"
                " GROUP BY s.part", tuple(params))
        by_part = {part: (int(n), int(amount or 0)) for part, n, amount in sums}
        rows = sum(n for n, _ in by_part.values())
        return Totals(rows, False, yuan(by_part.get("employer", (0, 0))[1]),
                      yuan(by_part.get("employee", (0, 0))[1]))


class _Summaries:
    """Summary rows by ref, read once per request."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.known: dict[int, tuple[Any, ...]] = {}

    def load(self, refs: set[int]) -> None:
        """Read the summaries of a page in one statement (not one per row)."""
        wanted = sorted(refs - self.known.keys())
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for row in self.store.db.execute_sql(
                f"SELECT {_SUMMARY_COLUMNS} FROM query_detail_summary WHERE id IN ({','.join('?' * len(chunk))})",
                tuple(chunk)).fetchall():
                self.known[row[0]] = row

    def get(self, ref: int) -> tuple[Any, ...]:
        row = self.known.get(ref)
        if row is None:
            row = self.known[ref] = self.store.db.execute_sql(
                f"SELECT {_SUMMARY_COLUMNS} FROM query_detail_summary WHERE id = ?", (ref,)).fetchone()
        return row


def _row_dict(s: tuple[Any, ...], r: tuple[Any, ...]) -> dict[str, Any]:
    _ref, period, employee_id, id_type, id_number, name, base, rate, amount = r
    employer = s[8] == "employer"
    return {
        "key": f"{s[1]}:{s[2]}:{employee_id}:{period}", "period": period, "unit_number": s[4],
        "agency": s[5], "item": s[6], "item_name": s[7], "part": s[8], "part_name": s[9], "subitem": s[10],
        "id_type": id_type, "id_type_name": ID_TYPES.get(id_type, id_type), "id_number": id_number,
        "name": name, "employee_id": employee_id, "base": yuan(base), "rate": rate,
        "employer_amount": yuan(amount) if employer else None,
        "employee_amount": None if employer else yuan(amount),
        "summary_id": s[1], "declaration_id": s[2], "declared_on": s[3],
    }


def search(store: Store, unit_pk: int, request: PageRequest, flt: DetailFilter) -> DetailPage:
    if request.sort is not None:
        raise ValidationError("申报明细按费款所属期排列，不能另行排序", field="sort")
    offset = (request.page - 1) * request.size
    summaries = _Summaries(store)
    if not flt.by_person and not flt.id_type:
        totals, found = _group_page(store, unit_pk, flt, offset, request.size, summaries)
        return DetailPage([_row_dict(summaries.get(r[0]), r) for r in found], totals, request.page, request.size)
    query = _Query(store, unit_pk, flt)
    if query.empty:
        return DetailPage([], query.totals(), request.page, request.size)
    if flt.by_person:
        # A person's rows are few: read them once, for the totals and the page alike.
        every = store.db.execute_sql(f"{query.rows_sql()} LIMIT {COUNT_CAP + 1}", query.params).fetchall()
        if len(every) <= COUNT_CAP:
            summaries.load({r[0] for r in every})
            totals = _sum(every, summaries)
            found = every[offset:offset + request.size]
        else:
            totals = Totals(COUNT_CAP, True, None, None)
            found = every[offset:offset + request.size] if offset + request.size <= COUNT_CAP else (
                store.db.execute_sql(f"{query.rows_sql()} LIMIT ? OFFSET ?",
                                     (*query.params, request.size, offset)).fetchall())
    else:  # 证件类型 alone
        totals = query.totals()
        found = store.db.execute_sql(
            f"{query.rows_sql()} LIMIT ? OFFSET ?", (*query.params, request.size, offset)).fetchall()
    summaries.load({r[0] for r in found})
    return DetailPage([_row_dict(summaries.get(r[0]), r) for r in found], totals, request.page, request.size)


def _group_page(
    store: Store, unit_pk: int, flt: DetailFilter, offset: int, limit: int, summaries: _Summaries
) -> tuple[Totals, list[tuple[Any, ...]]]:
    """A page without person elements, placed by the cached counts. One statement reads
    the (month, summary) groups of the filter with their counts, sums and summary fields:
    the totals are theirs; rows are ordered by (period, summary, id), so the groups before
    the page are skipped by count and each group on the page is one exact index range."""
    where, params = ["s.unit_id = ?"], [unit_pk]
    for name in _SUMMARY_FIELDS:
        if getattr(flt, name):
            where.append(f"s.{name} = ?")
            params.append(getattr(flt, name))
    if flt.period_from:
        where.append("t.period >= ?")
        params.append(flt.period_from)
    if flt.period_to:
        where.append("t.period <= ?")
        params.append(flt.period_to)
    columns = ", ".join(f"s.{c.strip()}" for c in _SUMMARY_COLUMNS.split(","))
    groups = store.db.execute_sql(
        f"SELECT t.period, t.rows, t.amount_fen, {columns} FROM query_detail_total t"
        f" JOIN query_detail_summary s ON s.id = t.summary_ref WHERE {' AND '.join(where)}"
        " ORDER BY t.period, t.summary_ref", tuple(params)).fetchall()
    count = employer = employee = 0
    found: list[tuple[Any, ...]] = []
    for period, rows, amount, *summary in groups:
        count += rows
        if summary[8] == "employer":
            employer += amount
        else:
            employee += amount
        summaries.known[summary[0]] = tuple(summary)
        if len(found) >= limit:
            continue
        if offset >= rows:
            offset -= rows
            continue
        found += store.db.execute_sql(
            "SELECT d.summary_ref, d.period, d.employee_id, d.id_type, d.id_number, d.name, d.base_fen,"
            " d.rate, d.amount_fen FROM query_detail d INDEXED BY query_detail_period"
            " WHERE d.unit_id = ? AND d.period = ? AND d.summary_ref = ? ORDER BY d.id LIMIT ? OFFSET ?",
            (unit_pk, period, summary[0], limit - len(found), offset)).fetchall()
        offset = 0
    return Totals(count, False, yuan(employer), yuan(employee)), found


def _sum(rows: list[tuple[Any, ...]], summaries: _Summaries) -> Totals:
    employer = employee = 0
    for r in rows:
        if summaries.get(r[0])[8] == "employer":
            employer += r[8]
        else:
            employee += r[8]
    return Totals(len(rows), False, yuan(employer), yuan(employee))


def options(store: Store, unit_pk: int) -> dict[str, list[dict[str, str]]]:
    """The values the filters offer: what the downloaded summaries hold."""
    def distinct(columns: str) -> list[tuple[Any, ...]]:
        return store.db.execute_sql(
            f"SELECT DISTINCT {columns} FROM query_detail_summary WHERE unit_id = ? ORDER BY 1", (unit_pk,)
        ).fetchall()

    return {
        "unit_number": [{"value": v, "label": v} for (v,) in distinct("unit_number")],
        "agency": [{"value": v, "label": v} for (v,) in distinct("agency")],
        "item": [{"value": v, "label": label} for v, label in distinct("item, item_name")],
        "part": [{"value": v, "label": label} for v, label in distinct("part, part_name")],
        "subitem": [{"value": v, "label": v} for (v,) in distinct("subitem")],
        "id_type": [{"value": k, "label": v} for k, v in ID_TYPES.items()],
    }


def local_ranges(store: Store, unit_pk: int) -> list[dict[str, Any]]:
    """The 费款所属期 ranges downloaded so far (the page shows them on entry)."""
    return [
        {"period_from": lo, "period_to": hi, "complete": bool(done), "rows": rows, "updated_at": at}
        for lo, hi, done, rows, at in store.db.execute_sql(
            "SELECT period_from, period_to, complete, rows, updated_at FROM query_detail_sync"
            " WHERE unit_id = ? ORDER BY updated_at DESC", (unit_pk,)).fetchall()
    ]


# -- export --------------------------------------------------------------------------------------
EXPORT_COLUMNS = (
    xlsx.code("费款所属期", 10), xlsx.code("单位编号", 18), xlsx.text("社保经办机构", 28),
    xlsx.text("征收项目", 16), xlsx.text("征收品目", 14), xlsx.text("征收子目", 10),
    xlsx.text("证件类型", 14), xlsx.code("证件号码", 22), xlsx.text("姓名", 10),
    xlsx.amount("缴费基数"), xlsx.code("费率", 8), xlsx.amount("单位缴纳金额"), xlsx.amount("个人缴纳金额"),
    xlsx.code("申报编号", 12), xlsx.code("申报日期", 12),
)


def export_rows(store: Store, unit_pk: int, flt: DetailFilter) -> Iterator[list[Any]]:
    query = _Query(store, unit_pk, flt)
    if query.empty:
        return
    summaries = _Summaries(store)
    cursor = store.db.execute_sql(query.rows_sql(), query.params)
    for ref, period, _emp, id_type, id_number, name, base, rate, amount in cursor:
        s = summaries.get(ref)
        employer = s[8] == "employer"
        value = amount / 100  # fen -> the number Excel stores
        yield [period, s[4], s[5], s[7], s[9], s[10], ID_TYPES.get(id_type, id_type), id_number, name,
               base / 100, rate, value if employer else None, None if employer else value, s[2], s[3]]


def export_xlsx(store: Store, unit_pk: int, flt: DetailFilter, target: Path,
                progress: Callable[[int], None] | None = None) -> int:
    """The filtered rows to one sheet: IDs and codes as text, amounts as numbers."""
    rows = export_rows(store, unit_pk, flt)
    if progress is not None:
        rows = _counting(rows, progress)
    return xlsx.write_xlsx(target, "申报明细", EXPORT_COLUMNS, rows)


def _counting(rows: Iterator[list[Any]], progress: Callable[[int], None]) -> Iterator[list[Any]]:
    for n, row in enumerate(rows, start=1):
        if n % 20_000 == 0:
            progress(n)
        yield row
