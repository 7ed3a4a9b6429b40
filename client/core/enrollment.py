"""Employee enrollment as the operator reads it: list, counts, detail, change log, export.

The sync that fills these tables is client/sync/enrollment.py. Queries are plain SQL over
the indexes of migration v3 so a page of 50 out of 100,000 employees stays fast.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from client.core import formats, xlsx
from client.core.paging import Page, PageRequest
from client.core.store import Store
from client.errors import NotFoundError, ValidationError
from rules.codes import normalize_id_number, normalize_name

ID_TYPES = {
    "201": "居民身份证",
    "208": "外国护照",
    "210": "港澳居民来往内地通行证",
    "213": "台湾居民来往大陆通行证",
    "233": "外国人永久居留身份证",
}
ITEM_NAMES = {
    "pension": "养老",
    "medical": "医疗",
    "unemployment": "失业",
    "injury": "工伤",
    "maternity": "生育",
}
STATUSES = ("正常缴费", "停止缴费")
SORTABLE = {"name": "name", "id_number": "id_number", "status": "status", "unit_number": "unit_number"}
# Upper bound for prefix ranges: sorts after every character a name or ID can hold.
PREFIX_END = "\U0010ffff"

LIST_COLUMNS = "employee_id, name, id_type, id_number, gender, unit_number, status, bases"


@dataclass(frozen=True)
class EnrollmentFilter:
    name: str = ""
    id_type: str = ""
    id_number: str = ""
    status: str = ""
    unit_number: str = ""

    @classmethod
    def parse(cls, args: dict[str, str]) -> EnrollmentFilter:
        status = args.get("status", "").strip()
        if status and status not in STATUSES:
            raise ValidationError("缴费状态只能是正常缴费或停止缴费", field="status")
        id_type = args.get("id_type", "").strip()
        if id_type and id_type not in ID_TYPES:
            raise ValidationError("证件类型不正确", field="id_type")
        return cls(
            name=normalize_name(args.get("name", "")),
            id_type=id_type,
            id_number=normalize_id_number(args.get("id_number", "")),
            status=status,
            unit_number=args.get("unit_number", "").strip(),
        )

    def status_only(self) -> bool:
        """No condition but 缴费状态: the page's total is one of the unit's counts."""
        return not (self.name or self.id_type or self.id_number or self.unit_number)

    def where(self, unit_id: int) -> tuple[str, list[object]]:
        """SQL conditions; name and ID number match exactly or by prefix (index ranges)."""
        clauses, params = ["unit_id = ?", "removed = 0"], [unit_id]
        for column, value in (("name", self.name), ("id_number", self.id_number)):
            if value:
                clauses.append(f"{column} >= ? AND {column} < ?")
                params += [value, value + PREFIX_END]
        for column, value in (
            ("id_type", self.id_type),
            ("status", self.status),
            ("unit_number", self.unit_number),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class EnrollmentCounts:
    total: int
    normal: int
    stopped: int


@dataclass(frozen=True)
class EmployeeDetail:
    employee_id: str
    name: str
    id_type: str
    id_type_name: str
    id_number: str
    gender: str
    birth_date: str
    unit_number: str
    items: list[str]
    status: str
    bases: dict[str, str]
    taxside_updated_at: str
    synced_at: str
    removed: int
    history: list[dict[str, object]]


def _list_row(row: Sequence[object]) -> dict[str, object]:
    employee_id, name, id_type, id_number, gender, unit_number, status, bases = row
    base_values = json.loads(str(bases))
    return {
        "employee_id": employee_id,
        "name": name,
        "id_type": ID_TYPES.get(str(id_type), str(id_type)),
        "id_number": id_number,
        "gender": gender,
        "unit_number": unit_number,
        "status": status,
        # The pension base is the one the clerk looks for first; all are in the detail.
        "base": base_values.get("pension") or next(iter(base_values.values()), ""),
    }


def search(store: Store, unit_id: int, request: PageRequest, filters: EnrollmentFilter) -> Page:
    where, params = filters.where(unit_id)
    if request.sort is not None and request.sort not in SORTABLE:
        raise ValidationError(f"不能按「{request.sort}」排序", field="sort")
    column = SORTABLE.get(request.sort or "name", "name")
    direction = "DESC" if request.descending else "ASC"
    db = store.db
    if filters.status_only():
        by_status = counts(store, unit_id)
        total = {"": by_status.total, "正常缴费": by_status.normal, "停止缴费": by_status.stopped}[filters.status]
    else:
        (total,) = db.execute_sql(f"SELECT count(*) FROM enrollment_employee WHERE {where}", params).fetchone()
    rows = db.execute_sql(
        f"SELECT {LIST_COLUMNS} FROM enrollment_employee WHERE {where} "
        f"ORDER BY {column} {direction}, id {direction} LIMIT ? OFFSET ?",
        [*params, request.size, (request.page - 1) * request.size],
    ).fetchall()
    return Page([_list_row(r) for r in rows], int(total), request.page, request.size)


# Counting 100,000 employees reads the whole index (tens of ms on PostgreSQL) and the page
# asks on every request: the counts are kept per store and unit with the enrollment cursor
# row they were read under. Only the enrollment update writes these rows, and it writes that
# cursor row in the same transaction, so a changed row (on any desk) means a new key.
_counted: weakref.WeakKeyDictionary[Store, dict[int, tuple[tuple[object, ...], EnrollmentCounts]]] = (
    weakref.WeakKeyDictionary()
)
_counted_lock = threading.Lock()


def counts(store: Store, unit_id: int) -> EnrollmentCounts:
    # The key is read first: a sync committing meanwhile can only make the key older.
    key = store.db.execute_sql(
        "SELECT cursor, generation, updated_at, mode, complete FROM feed_cursor "
        "WHERE unit_id = ? AND feed = 'enrollment'",
        (unit_id,),
    ).fetchone()
    with _counted_lock:
        kept = _counted.get(store, {}).get(unit_id)
    if key is not None and kept is not None and kept[0] == tuple(key):
        return kept[1]
    rows = store.db.execute_sql(
        "SELECT status, count(*) FROM enrollment_employee WHERE unit_id = ? AND removed = 0 "
        "GROUP BY status",
        (unit_id,),
    ).fetchall()
    by_status = {status: int(n) for status, n in rows}
    found = EnrollmentCounts(
        sum(by_status.values()), by_status.get("正常缴费", 0), by_status.get("停止缴费", 0)
    )
    if key is not None:
        with _counted_lock:
            _counted.setdefault(store, {})[unit_id] = (tuple(key), found)
    return found


def detail(store: Store, unit_id: int, employee_id: str) -> EmployeeDetail:
    row = store.db.execute_sql(
        "SELECT employee_id, name, id_type, id_number, gender, birth_date, unit_number, items, "
        "status, bases, taxside_updated_at, synced_at, removed FROM enrollment_employee "
        "WHERE unit_id = ? AND employee_id = ?",
        (unit_id, employee_id),
    ).fetchone()
    if row is None:
        raise NotFoundError("找不到该职工的参保信息，请先更新", code="employee_not_found")
    history = [
        {"changed_at": formats.when(at), "kind": kind, "fields": (f := json.loads(fields)), "text": describe(f)}
        for at, kind, fields in store.db.execute_sql(
            "SELECT changed_at, kind, fields FROM enrollment_change "
            "WHERE unit_id = ? AND employee_id = ? ORDER BY id",
            (unit_id, employee_id),
        )
    ]
    return EmployeeDetail(
        employee_id=row[0],
        name=row[1],
        id_type=row[2],
        id_type_name=ID_TYPES.get(row[2], row[2]),
        id_number=row[3],
        gender=row[4],
        birth_date=row[5],
        unit_number=row[6],
        items=[ITEM_NAMES.get(i, i) for i in json.loads(row[7])],
        status=row[8],
        bases={ITEM_NAMES.get(k, k): v for k, v in json.loads(row[9]).items()},
        taxside_updated_at=row[10],
        synced_at=row[11],
        removed=row[12],
        history=history,
    )


def detail_dict(store: Store, unit_id: int, employee_id: str) -> dict[str, object]:
    return asdict(detail(store, unit_id, employee_id))


_ITEM_ORDER = tuple(ITEM_NAMES)
EXPORT_COLUMNS = (
    xlsx.text("姓名"),
    xlsx.text("证件类型"),
    xlsx.code("证件号码", 22),
    xlsx.text("性别", 8),
    xlsx.text("出生日期", 12),
    xlsx.code("单位编号", 18),
    xlsx.text("参保险种", 26),
    xlsx.text("缴费状态", 10),
    *(xlsx.amount(f"{ITEM_NAMES[k]}基数") for k in _ITEM_ORDER),
)
EXPORT_HEADERS = tuple(c.title for c in EXPORT_COLUMNS)
# The bases come out of their JSON as numbers in SQLite (C), not json.loads per row; the
# sync stores them as exact decimal strings (client/sync/enrollment.py), and a REAL holds
# any of them to the cent. A missing item stays NULL: an empty cell.
EXPORT_SQL = (
    "SELECT name, id_type, id_number, gender, birth_date, unit_number, items, status, "
    + ", ".join(f"CAST(json_extract(bases, '$.{k}') AS REAL)" for k in _ITEM_ORDER)
    + " FROM enrollment_employee WHERE unit_id = ? AND removed = 0"
)
_item_labels: dict[str, str] = {}  # items JSON -> 养老、医疗...; a unit has a handful


def _items_label(items: str) -> str:
    label = _item_labels.get(items)
    if label is None:
        label = "、".join(ITEM_NAMES.get(i, i) for i in json.loads(items))
        if len(_item_labels) < 1024:
            _item_labels[items] = label
    return label


def export_cells(row: Sequence[str]) -> list[object]:
    """One stored employee as the export's cells: text, and the bases as numbers."""
    name, id_type, id_number, gender, birth, unit_number, items, status, *bases = row
    return [
        name,
        ID_TYPES.get(id_type, id_type),
        id_number,
        gender,
        birth,
        unit_number,
        _items_label(items),
        status,
        *bases,
    ]


def export_xlsx(
    store: Store, unit_id: int, target: Path, employee_ids: Sequence[str] | None = None
) -> int:
    """Write the unit's employees (or the chosen ones) to ``target``; returns the row count.

    IDs, unit numbers and dates are text cells in text columns, so Excel never turns
    11010519491231002X into a number and a clerk's later edits stay text; the bases are
    numbers (#,##0.00) so the sheet can sum them. Nothing is ever written as a formula.
    """
    sql, params = EXPORT_SQL, [unit_id]
    if employee_ids is not None:
        if not employee_ids:
            raise ValidationError("请先选择要导出的职工", field="ids")
        store.db.execute_sql("CREATE TEMP TABLE IF NOT EXISTS export_ids (employee_id TEXT)")
        store.db.execute_sql("DELETE FROM export_ids")
        store.db.executemany("INSERT INTO export_ids VALUES (?)", [(i,) for i in employee_ids])
        sql += " AND employee_id IN (SELECT employee_id FROM export_ids)"
    sql += " ORDER BY name, id"
    rows = map(export_cells, store.db.execute_sql(sql, params))
    n = xlsx.write_xlsx(target, "参保职工", EXPORT_COLUMNS, rows)
    return n


CHANGE_HEADERS = ("更新时间", "姓名", "证件类型", "证件号码", "更新类型", "更新内容")


def describe(fields: list[dict[str, Any]]) -> str:
    """更新内容 as the clerk reads it: per item, money formatted, codes named."""
    return "；".join(formats.describe_change(f["field"], f["old"], f["new"], ID_TYPES) for f in fields)


def _describe(fields_json: str) -> str:
    return describe(json.loads(fields_json))


def _change_where(
    unit_id: int, filters: EnrollmentFilter, since: str, until: str
) -> tuple[str, list[object]]:
    clauses, params = ["unit_id = ?"], [unit_id]
    for column, value in (("name", filters.name), ("id_number", filters.id_number)):
        if value:  # 模糊查询: any part of the name or number
            clauses.append(f"{column} LIKE ?")
            params.append(f"%{value}%")
    if filters.id_type:
        clauses.append("id_type = ?")
        params.append(filters.id_type)
    if since:
        clauses.append("changed_at >= ?")
        params.append(since)
    if until:
        clauses.append("changed_at < ?")
        params.append(until + "\U0010ffff")  # the whole "until" day
    return " AND ".join(clauses), params


def changes(
    store: Store,
    unit_id: int,
    request: PageRequest,
    filters: EnrollmentFilter,
    *,
    since: str = "",
    until: str = "",
) -> Page:
    """更新数据: what the syncs changed, newest first."""
    where, params = _change_where(unit_id, filters, since, until)
    (total,) = store.db.execute_sql(
        f"SELECT count(*) FROM enrollment_change WHERE {where}", params
    ).fetchone()
    rows = store.db.execute_sql(
        "SELECT id, changed_at, name, id_type, id_number, kind, fields FROM enrollment_change "
        f"WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, request.size, (request.page - 1) * request.size],
    ).fetchall()
    return Page(
        [
            {
                "id": r[0],
                "changed_at": formats.when(r[1]),
                "name": r[2],
                "id_type": ID_TYPES.get(r[3], r[3]),
                "id_number": r[4],
                "kind": r[5],
                "detail": _describe(r[6]),
            }
            for r in rows
        ],
        int(total),
        request.page,
        request.size,
    )


CHANGE_COLUMNS = (
    xlsx.code("更新时间", 20),
    xlsx.text("姓名"),
    xlsx.text("证件类型"),
    xlsx.code("证件号码", 22),
    xlsx.text("更新类型", 10),
    xlsx.text("更新内容", 60),
)


def export_changes_xlsx(
    store: Store, unit_id: int, target: Path, filters: EnrollmentFilter, *, since: str = "", until: str = ""
) -> int:
    where, params = _change_where(unit_id, filters, since, until)
    rows = (
        (r[0], r[1], ID_TYPES.get(r[2], r[2]), r[3], r[4], _describe(r[5]))
        for r in store.db.execute_sql(
            "SELECT changed_at, name, id_type, id_number, kind, fields FROM enrollment_change "
            f"WHERE {where} ORDER BY id DESC",
            params,
        )
    )
    return xlsx.write_xlsx(target, "更新数据", CHANGE_COLUMNS, rows)
