"""Queries (查询统计, manual 3.1.8) as the operator reads them: 单位参保信息 and 职工缴费基数.

The sync (client/sync/queries.py) stores what the tax side answered in the tables of
client/core/queries_schema.py; pages read only those, so they open offline too and say
when the data was last updated. 应缴信息 and 到账信息 are in client/core/queries_pay.py.
Plain mappings in the protocol's shape in, frozen dataclasses out.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import peewee

from client.core import journal, rulecache, xlsx
from client.core.enrollment import ID_TYPES, PREFIX_END
from client.core.paging import Page, PageRequest
from client.core.store import Store
from client.errors import ValidationError
from rules.codes import normalize_id_number, normalize_name
from rules.item_names import DEFAULT_NAMES, ORDER, item_names

UNIT, BASES, PAYABLE, ARRIVAL = "unit", "bases", "payable", "arrival"
ITEM_NAMES = DEFAULT_NAMES  # the codes; what a unit's pages show comes from unit_item_names
ITEM_ORDER = ORDER
Names = Mapping[str, str]


def unit_item_names(region: str | None, today: dt.date | None = None) -> dict[str, str]:
    """The item names of the unit's rule pack in force (downloaded, else bundled), as its fee
    declarations, payments and certificates show them: one name per code on every query
    page and export, whatever name a row was stored with."""
    found = rulecache.in_force(region) if region else None
    day = today or dt.date.today()
    return item_names(found.pack if found else None, f"{day.year}{day.month:02d}")


def item_no(item: str) -> int:
    return ITEM_ORDER.index(item) if item in ITEM_ORDER else len(ITEM_ORDER)


# -- when each query was last updated ----------------------------------------------------------------
@dataclass(frozen=True)
class QueryState:
    synced_at: str
    detail: dict[str, Any]


def state(store: Store, unit_pk: int, query: str) -> QueryState | None:
    row = store.db.execute_sql(
        "SELECT synced_at, detail FROM query_state WHERE unit_id = ? AND query = ?", (unit_pk, query)
    ).fetchone()
    return QueryState(row[0], json.loads(row[1])) if row else None


def state_dict(store: Store, unit_pk: int, query: str) -> dict[str, Any]:
    found = state(store, unit_pk, query)
    detail = {k: v for k, v in (found.detail if found else {}).items() if k not in ("cursor", "enrollment_mark")}
    return {"synced_at": found.synced_at if found else None, **detail}


def set_state(db: peewee.SqliteDatabase, unit_pk: int, query: str, detail: Mapping[str, Any]) -> str:
    """Inside the caller's write, with the rows it stores."""
    now = journal.now_text()
    db.execute_sql(
        "INSERT INTO query_state (unit_id, query, synced_at, detail) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (unit_id, query) DO UPDATE SET synced_at = excluded.synced_at, detail = excluded.detail",
        (unit_pk, query, now, json.dumps(dict(detail), ensure_ascii=False)),
    )
    return now


# -- 单位参保信息 -----------------------------------------------------------------------------------
REG_FIELDS = ("unit_number", "kind", "item", "item_name", "status", "registered_on", "agency",
              "tax_authority", "collection_mode", "industry_risk_class")


@dataclass(frozen=True)
class Registration:
    unit_number: str
    kind: str
    item: str
    item_name: str
    status: str
    registered_on: str
    agency: str
    tax_authority: str
    collection_mode: str
    industry_risk_class: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RegistrationFilter:
    tax_authority: str = ""
    unit_number: str = ""
    agency: str = ""

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> RegistrationFilter:
        return cls(*(str(args.get(name) or "").strip() for name in ("tax_authority", "unit_number", "agency")))


def save_registrations(db: peewee.SqliteDatabase, unit_pk: int, rows: Iterable[Mapping[str, Any]]) -> int:
    """The tax side's answer replaces the unit's rows (inside the caller's write)."""
    values = [(unit_pk, *(r[n] for n in REG_FIELDS)) for r in rows]
    db.execute_sql("DELETE FROM query_registration WHERE unit_id = ?", (unit_pk,))
    db.executemany(
        f"INSERT INTO query_registration (unit_id, {', '.join(REG_FIELDS)}) "
        f"VALUES ({', '.join('?' for _ in range(len(REG_FIELDS) + 1))})", values,
    )
    return len(values)


def registrations(store: Store, unit_pk: int, filters: RegistrationFilter = RegistrationFilter(),
                  names: Names | None = None) -> list[Registration]:
    """精准查询: each filter given matches exactly; items named by ``names`` when given."""
    where, params = ["unit_id = ?"], [unit_pk]
    for name in ("tax_authority", "unit_number", "agency"):
        if getattr(filters, name):
            where.append(f"{name} = ?")
            params.append(getattr(filters, name))
    rows = store.db.execute_sql(
        f"SELECT {', '.join(REG_FIELDS)} FROM query_registration WHERE {' AND '.join(where)} ORDER BY id", params
    ).fetchall()
    found = [Registration(*r) for r in rows]
    return [replace(r, item_name=names.get(r.item, r.item_name)) for r in found] if names else found


def registration_options(store: Store, unit_pk: int) -> dict[str, list[str]]:
    """The values the three query fields can take (the unit has a handful)."""
    return {
        name: [r[0] for r in store.db.execute_sql(
            f"SELECT DISTINCT {name} FROM query_registration WHERE unit_id = ? ORDER BY {name}", (unit_pk,)
        )]
        for name in ("tax_authority", "unit_number", "agency")
    }


REG_COLUMNS = (
    xlsx.code("单位编号", 18), xlsx.text("征收项目", 22), xlsx.text("参保状态", 10), xlsx.code("参保日期", 12),
    xlsx.text("社保经办机构", 30), xlsx.text("主管税务机关", 30), xlsx.text("征收方式", 14),
    xlsx.code("工伤行业风险类别", 10),
)


def export_registrations(store: Store, unit_pk: int, filters: RegistrationFilter, target: Path,
                         names: Names | None = None) -> int:
    rows = (
        (r.unit_number, r.item_name, r.status, r.registered_on, r.agency, r.tax_authority, r.collection_mode,
         "" if r.industry_risk_class is None else str(r.industry_risk_class))
        for r in registrations(store, unit_pk, filters, names)
    )
    return xlsx.write_xlsx(target, "单位参保信息", REG_COLUMNS, rows)


# -- 职工缴费基数 -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BaseFilter:
    """人员三要素: name and ID number match exactly or by their first characters."""

    name: str = ""
    id_type: str = ""
    id_number: str = ""
    item: str = ""

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> BaseFilter:
        id_type = str(args.get("id_type") or "").strip()
        if id_type and id_type not in ID_TYPES:
            raise ValidationError("证件类型不正确", field="id_type")
        item = str(args.get("item") or "").strip()
        if item and item not in ITEM_NAMES:
            raise ValidationError("征收项目不正确", field="item")
        return cls(normalize_name(str(args.get("name") or "")), id_type,
                   normalize_id_number(str(args.get("id_number") or "")), item)

    @property
    def person(self) -> bool:
        return bool(self.name or self.id_type or self.id_number)

    def where(self, unit_pk: int) -> tuple[str, list[Any]]:
        clauses, params = ["b.unit_id = ?"], [unit_pk]
        for column, value in (("e.name", self.name), ("e.id_number", self.id_number)):
            if value:
                clauses.append(f"{column} >= ? AND {column} < ?")
                params += [value, value + PREFIX_END]
        if self.person:  # the join of source(), written here: PostgreSQL takes no ON after CROSS JOIN
            clauses.append("b.unit_id = e.unit_id AND b.employee_id = e.employee_id")
        if self.id_type:
            clauses.append("e.id_type = ?")
            params.append(self.id_type)
        if self.item:
            clauses.append("b.item_no = ?")
            params.append(item_no(self.item))
        return " AND ".join(clauses), params

    def source(self) -> str:
        """Filtered by person elements: from the matching employees (their indexes) to their
        bases; else the bases with the person elements where this PC has them."""
        if self.person:
            # CROSS JOIN: SQLite keeps this order (the name / ID index first), no statistics needed.
            return "enrollment_employee e CROSS JOIN query_base b"  # joined in where()
        return ("query_base b LEFT JOIN enrollment_employee e "
                "ON e.unit_id = b.unit_id AND e.employee_id = b.employee_id")


# -- the order of the 职工缴费基数 list ----------------------------------------------------------
# The order of the 职工缴费基数 list, so a deep page does not read the rows before it.
#
# SQLite cannot seek to the 499,900th row of an index: ``OFFSET`` steps over every row
# before it (page 5000 of 500,000 rows joined to the person elements took 0.3 s), and
# ``count(*)`` reads them all too. Instead, once per version of a unit's bases, one pass over
# the narrow keys keeps the key of every ``STEP``-th row and the total; a page then starts
# at the nearest kept key (an index seek) and steps over fewer than ``STEP`` rows.
#
# Every write of ``query_base`` bumps the unit's version in the same transaction
# (``bump``), so a kept order is never used for other rows; the cache lives in this process
# only and is keyed by the database too (its file, or the team database: another desk's
# write bumps the version there, so this desk's kept order is not used for it).
STEP = 100  # a page steps over fewer than this many rows (each joined to its person)
VERSION = "bases_version"  # a query_state row: {"v": n}, bumped by every write of query_base
ALL_ITEMS = -1


@dataclass(frozen=True)
class Order:
    version: tuple[Any, ...]
    total: int
    keys: tuple[tuple[str, int], ...]  # (employee_id, item_no) of rows 0, STEP, 2 * STEP, ...

    def start(self, offset: int) -> tuple[tuple[str, int], int] | None:
        """The kept key at or before ``offset`` and how many rows lie between; None past the end."""
        if offset >= self.total:
            return None
        return self.keys[offset // STEP], offset % STEP


_lock = threading.Lock()
_orders: dict[tuple[str, int, int], Order] = {}


def bump(db: peewee.SqliteDatabase, unit_pk: int) -> None:
    """Inside the caller's write of the unit's bases."""
    db.execute_sql(
        "INSERT INTO query_state (unit_id, query, synced_at, detail) VALUES (?, ?, ?, '{\"v\": 1}') "
        "ON CONFLICT (unit_id, query) DO UPDATE SET synced_at = excluded.synced_at, "
        # Rebuilt as text (json_set is SQLite's); the row holds nothing but the counter.
        "detail = '{\"v\": ' || (CAST(coalesce(json_extract(query_state.detail, '$.v'), '0') AS INTEGER) + 1)"
        " || '}'",
        (unit_pk, VERSION, journal.now_text()),
    )


def _version(store: Store, unit_pk: int) -> tuple[Any, ...]:
    row = store.db.execute_sql(
        "SELECT synced_at, detail FROM query_state WHERE unit_id = ? AND query = ?", (unit_pk, VERSION)
    ).fetchone()
    return (store.location, *(row or ("", "")))


def order(store: Store, unit_pk: int, item_no: int = ALL_ITEMS) -> Order:
    """The kept order of the unit's rows (of one item when ``item_no`` is given)."""
    key = (store.location, unit_pk, item_no)
    version = _version(store, unit_pk)  # read first: the pass below sees these rows or newer
    with _lock:
        found = _orders.get(key)
    if found is not None and found.version == version:
        return found
    where, params = "unit_id = ?", [unit_pk]
    if item_no != ALL_ITEMS:
        where += " AND item_no = ?"
        params.append(item_no)
    keys = tuple(
        (str(e), int(n)) for e, n in store.db.execute_sql(
            f"SELECT employee_id, item_no FROM (SELECT employee_id, item_no, "
            f"row_number() OVER (ORDER BY employee_id, item_no) - 1 AS k FROM query_base WHERE {where}) AS numbered "
            f"WHERE k % {STEP} = 0 ORDER BY employee_id, item_no", params,
        )
    )
    (total,) = store.db.execute_sql(f"SELECT count(*) FROM query_base WHERE {where}", params).fetchone()
    made = Order(version, int(total), keys)
    with _lock:
        _orders[key] = made
    return made



def save_bases(db: peewee.SqliteDatabase, unit_pk: int, items: Iterable[Mapping[str, Any]], generation: int) -> int:
    """One page of the tax side's payroll bases: a row per employee and item (upserted)."""
    rows = [
        (unit_pk, str(e["employee_id"]), item_no(item), item, str(e["unit_number"]), str(e["status"]), str(base),
         str(e["updated_at"]), generation)
        for e in items for item, base in e["bases"].items()
    ]
    db.executemany(
        "INSERT INTO query_base (unit_id, employee_id, item_no, item, unit_number, status, base, "
        "taxside_updated_at, generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (unit_id, employee_id, item_no) DO UPDATE SET item = excluded.item, "
        "unit_number = excluded.unit_number, status = excluded.status, base = excluded.base, "
        "taxside_updated_at = excluded.taxside_updated_at, generation = excluded.generation", rows,
    )
    bump(db, unit_pk)
    return len(rows)


def _held(db: peewee.SqliteDatabase, unit_pk: int, ids: Sequence[str]) -> tuple[int, int, int]:
    """(employees, rows, employees without person elements here) among ``ids``."""
    out = [0, 0, 0]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found = db.execute_sql(
            "SELECT count(DISTINCT b.employee_id), count(*), count(DISTINCT CASE WHEN e.id IS NULL "
            "THEN b.employee_id END) FROM query_base b LEFT JOIN enrollment_employee e "
            "ON e.unit_id = b.unit_id AND e.employee_id = b.employee_id "
            f"WHERE b.unit_id = ? AND b.employee_id IN ({', '.join('?' * len(chunk))})", (unit_pk, *chunk),
        ).fetchone()
        out = [a + int(b) for a, b in zip(out, found, strict=True)]
    return out[0], out[1], out[2]


def apply_base_changes(db: peewee.SqliteDatabase, unit_pk: int,
                       items: Sequence[Mapping[str, Any]]) -> tuple[int, int, int]:
    """One page of the incremental feed: each changed employee's rows are replaced by what
    the tax side holds now (none when removed: ``deleted``). Returns how the unit's
    employees, rows and employees without person elements changed (read for these
    employees only, not the whole table)."""
    ids = [str(e["employee_id"]) for e in items]
    before = _held(db, unit_pk, ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        db.execute_sql(f"DELETE FROM query_base WHERE unit_id = ? AND employee_id IN ({', '.join('?' * len(chunk))})",
                       (unit_pk, *chunk))
    (generation,) = db.execute_sql("SELECT coalesce(max(generation), 1) FROM query_base WHERE unit_id = ?",
                                   (unit_pk,)).fetchone()
    save_bases(db, unit_pk, [e for e in items if not e.get("deleted")], int(generation))
    after = _held(db, unit_pk, ids)
    return after[0] - before[0], after[1] - before[1], after[2] - before[2]


def finish_bases(db: peewee.SqliteDatabase, unit_pk: int, generation: int) -> int:
    """After the last page: what the tax side no longer holds goes."""
    bump(db, unit_pk)
    return db.execute_sql(
        "DELETE FROM query_base WHERE unit_id = ? AND generation < ?", (unit_pk, generation)
    ).rowcount


def next_generation(store: Store, unit_pk: int) -> int:
    (found,) = store.db.execute_sql(
        "SELECT max(generation) FROM query_base WHERE unit_id = ?", (unit_pk,)
    ).fetchone()
    return int(found or 0) + 1


BASE_COLUMNS_SQL = ("b.employee_id, e.name, e.id_type, e.id_number, b.unit_number, b.item, b.status, b.base, "
                   "b.taxside_updated_at")


def _base_row(row: Sequence[Any], names: Names) -> dict[str, Any]:
    employee_id, name, id_type, id_number, number, item, status, base, updated = row
    # Not downloaded in 职工参保信息: the person elements stay empty (manual 3.1.8.2).
    return {"key": f"{employee_id}:{item}", "employee_id": employee_id, "name": name or "",
            "id_type": id_type or "", "id_type_name": ID_TYPES.get(id_type or "", id_type or ""),
            "id_number": id_number or "", "unit_number": number, "item": item,
            "item_name": names.get(item, item), "status": status, "base": base, "updated_at": updated}


def bases(store: Store, unit_pk: int, request: PageRequest, filters: BaseFilter, names: Names = ITEM_NAMES) -> Page:
    where, params = filters.where(unit_pk)
    offset = (request.page - 1) * request.size
    if filters.person:  # from the matching employees: a few rows, OFFSET and count are cheap
        (total,) = store.db.execute_sql(f"SELECT count(*) FROM {filters.source()} WHERE {where}", params).fetchone()
        rows = store.db.execute_sql(
            f"SELECT {BASE_COLUMNS_SQL} FROM {filters.source()} WHERE {where} "
            "ORDER BY b.employee_id, b.item_no LIMIT ? OFFSET ?", [*params, request.size, offset],
        ).fetchall()
        return Page([_base_row(r, names) for r in rows], int(total), request.page, request.size)
    # Every row, or one item's: the kept order gives the total and a key near the page.
    kept = order(store, unit_pk, item_no(filters.item) if filters.item else ALL_ITEMS)
    start = kept.start(offset)
    if start is None:
        return Page([], kept.total, request.page, request.size)
    (employee_id, number), skip = start
    rows = store.db.execute_sql(
        f"SELECT {BASE_COLUMNS_SQL} FROM {filters.source()} WHERE {where} AND (b.employee_id, b.item_no) >= (?, ?) "
        "ORDER BY b.employee_id, b.item_no LIMIT ? OFFSET ?", [*params, employee_id, number, request.size, skip],
    ).fetchall()
    return Page([_base_row(r, names) for r in rows], kept.total, request.page, request.size)


def without_person(store: Store, unit_pk: int) -> int:
    """Employees with bases whose person elements are not on this PC (not downloaded)."""
    (found,) = store.db.execute_sql(
        "SELECT count(DISTINCT b.employee_id) FROM query_base b LEFT JOIN enrollment_employee e "
        "ON e.unit_id = b.unit_id AND e.employee_id = b.employee_id WHERE b.unit_id = ? AND e.id IS NULL",
        (unit_pk,),
    ).fetchone()
    return int(found)


def _enrollment_mark(store: Store, unit_pk: int) -> list[int]:
    """Changes when employees are added to or removed from this PC's enrollment (an index count)."""
    count, top = store.db.execute_sql(
        "SELECT count(*), coalesce(max(id), 0) FROM enrollment_employee WHERE unit_id = ?", (unit_pk,)
    ).fetchone()
    return [int(count), int(top)]


def remember_without_person(store: Store, unit_pk: int) -> int:
    """After an update: the count kept with the state, for the enrollment it was made from
    (an update that kept a count for the enrollment as it is now is not counted again)."""
    mark = _enrollment_mark(store, unit_pk)
    found = state(store, unit_pk, BASES)
    if found is not None and "without_person" in found.detail and found.detail.get("enrollment_mark") == mark:
        return int(found.detail["without_person"])
    missing = without_person(store, unit_pk)
    with store.write() as db:
        found = state(store, unit_pk, BASES)
        if found is not None:
            db.execute_sql(
                "UPDATE query_state SET detail = ? WHERE unit_id = ? AND query = ?",
                (json.dumps({**found.detail, "without_person": missing, "enrollment_mark": mark},
                            ensure_ascii=False), unit_pk, BASES),
            )
    return missing


def kept_counts(store: Store, unit_pk: int) -> dict[str, Any]:
    """The kept without_person count and its mark, if made from the enrollment as it is now."""
    found = state(store, unit_pk, BASES)
    if found is None or "without_person" not in found.detail:
        return {}
    mark = _enrollment_mark(store, unit_pk)
    if found.detail.get("enrollment_mark") != mark:
        return {}
    return {"without_person": int(found.detail["without_person"]), "enrollment_mark": mark}


def without_person_now(store: Store, unit_pk: int) -> int:
    """What each page says: the kept count while the enrollment is as it was (the join reads
    every base: half a second for 100,000 employees), else counted again."""
    found = state(store, unit_pk, BASES)
    if (found is not None and "without_person" in found.detail
            and found.detail.get("enrollment_mark") == _enrollment_mark(store, unit_pk)):
        return int(found.detail["without_person"])
    return without_person(store, unit_pk)


BASE_COLUMNS = (
    xlsx.text("姓名", 12), xlsx.text("证件类型", 16), xlsx.code("证件号码", 22), xlsx.code("单位编号", 18),
    xlsx.text("征收项目", 22), xlsx.amount("缴费基数"), xlsx.text("缴费状态", 10), xlsx.code("职工编号", 14),
)


def export_bases(store: Store, unit_pk: int, filters: BaseFilter, target: Path, names: Names = ITEM_NAMES) -> int:
    where, params = filters.where(unit_pk)

    def rows() -> Iterable[Sequence[Any]]:
        cursor = store.db.execute_sql(
            "SELECT e.name, e.id_type, e.id_number, b.unit_number, b.item, CAST(b.base AS REAL), b.status, "
            f"b.employee_id FROM {filters.source()} WHERE {where} ORDER BY b.employee_id, b.item_no", params)
        for name, id_type, id_number, number, item, base, status, employee_id in cursor:
            # The bases are exact decimal text with two places: a REAL holds each to the cent.
            yield (name or "", ID_TYPES.get(id_type or "", id_type or ""), id_number or "", number,
                   names.get(item, item), base, status, employee_id)

    return xlsx.write_xlsx(target, "职工缴费基数", BASE_COLUMNS, rows())
