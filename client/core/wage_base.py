"""缴费工资申报 drafts (manual 3.1.5): what the operator prepares before submitting.

A draft is a list of rows per unit and kind (日常 / 年度), one per employee, kept in the
database so it survives leaving the page, a restart and a power cut. Rows come from the
synced enrollment (add one, all 正常缴费, by unit number), from an imported file
(client/core/wage_import.py) or back from a rejected declaration. Submitting writes one
journal entry and empties the draft in the same transaction (client/core/journal.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from client.core import journal, uploads, xlsx
from client.core.enrollment import ID_TYPES, ITEM_NAMES, PREFIX_END
from client.core.paging import Page, PageRequest
from client.core.store import Store
from client.core.wage_context import DAILY, KIND_LABELS, DraftContext
from client.core.wage_import import Enrolled, ImportResult
from client.errors import ConflictError, NotFoundError, ValidationError
from rules import wage_base as wage_rules
from rules.codes import normalize_id_number, normalize_name
from rules.periods import parse_period

SORTABLE = {"name": "name", "id_number": "id_number", "new_base": "CAST(new_base AS REAL)"}
CENT = Decimal("0.01")
EXPORT_HEADER = ("姓名", "证件类型", "证件号码", "新缴费工资", "生效年月", "单位编号", "当前缴费工资", "提示")
COLUMNS = (
    "id, employee_id, name, id_type, id_number, unit_number, current_base, new_base, "
    "item_bases, effective_month, warning, row_version"
)
STALE_ROW = "该记录已被其他操作员修改，请刷新后再试"


@dataclass(frozen=True)
class DraftSummary:
    kind: str
    label: str
    count: int
    missing: int  # rows without base or effective month: submitting is blocked
    zero: int
    warnings: int  # floor/cap and earlier rejections; zero-base rows are counted in ``zero`` only
    out_of_range: int  # 生效年月 no longer inside the allowed range (the business date moved on)
    per_item_rows: int  # rows declared per insurance item (按险种)
    annual_open: bool
    annual_window: str
    annual_month: str
    month_range: tuple[str, str]
    per_item_allowed: bool
    items: list[tuple[str, str]]  # (code, name) in the order the clerk knows: 养老, 医疗 ...

    @property
    def flagged(self) -> int:
        return self.zero + self.warnings + self.out_of_range


@dataclass(frozen=True)
class DraftFilter:
    """查询 by name or ID number (exact or prefix), ID type, and 只看有提示."""

    name: str = ""
    id_type: str = ""
    id_number: str = ""
    flagged: bool = False

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> DraftFilter:
        id_type = str(args.get("id_type", "")).strip()
        if id_type and id_type not in ID_TYPES:
            raise ValidationError("证件类型不正确", field="id_type")
        return cls(
            normalize_name(str(args.get("name", ""))), id_type, normalize_id_number(str(args.get("id_number", ""))),
            str(args.get("flagged", "")) in ("1", "true", "True"),
        )

    def where(self, ctx: DraftContext) -> tuple[str, list[Any]]:
        clauses, params = ["unit_id = ?", "kind = ?"], [ctx.unit_pk, ctx.kind]
        for column, value in (("name", self.name), ("id_number", self.id_number)):
            if value:  # prefix ranges use the (unit, kind, name / id_number) indexes
                clauses.append(f"{column} >= ? AND {column} < ?")
                params += [value, value + PREFIX_END]
        if self.id_type:
            clauses.append("id_type = ?")
            params.append(self.id_type)
        if self.flagged:
            out_sql, out_params = out_of_range_sql(ctx)
            clauses.append(f"(warning != '' OR {out_sql})")
            params += out_params
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class Selection:
    """The rows an action applies to: the ticked ones, or 选中全部 N 条 (every row the filter matches)."""

    ids: tuple[int, ...] = ()
    filters: DraftFilter | None = None

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Selection:
        if body.get("all"):
            raw = body.get("filter")
            return cls(filters=DraftFilter.parse(raw if isinstance(raw, dict) else {}))
        ids = body.get("ids")
        if not isinstance(ids, list):
            raise ValidationError("请先选择要操作的行", field="ids")
        return cls(ids=tuple(normalise_ids(ids)))

    def where(self, ctx: DraftContext) -> tuple[str, list[Any]]:
        if self.filters is not None:
            return self.filters.where(ctx)
        clean = sorted(set(self.ids))
        if not clean:
            raise ValidationError("请先选择要操作的行", field="ids")
        marks = ", ".join("?" for _ in clean)
        return f"unit_id = ? AND kind = ? AND id IN ({marks})", [ctx.unit_pk, ctx.kind, *clean]


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def missing_sql(ctx: DraftContext) -> str:
    if ctx.kind == DAILY:
        return "((new_base = '' AND item_bases = '') OR effective_month = '')"
    return "(new_base = '' AND item_bases = '')"


# CASE: PostgreSQL does not promise to test new_base != '' before casting it.
ZERO_SQL = "(CASE WHEN new_base != '' THEN CAST(new_base AS REAL) = 0 ELSE FALSE END)"


def out_of_range_sql(ctx: DraftContext) -> tuple[str, list[Any]]:
    """Rows whose 生效年月 is set but outside today's range (YYYYMM text compares as a month)."""
    if ctx.kind != DAILY:
        return "FALSE", []
    first, last = ctx.effective_range
    return "(effective_month != '' AND (effective_month < ? OR effective_month > ?))", [str(first), str(last)]


EMPTY = "''"


def _count(condition: str) -> str:
    """Rows matching a condition, on both engines (PostgreSQL has no sum of booleans)."""
    return f"coalesce(sum(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)"


def summary(store: Store, ctx: DraftContext) -> DraftSummary:
    out_sql, out_params = out_of_range_sql(ctx)
    row = store.db.execute_sql(
        f"SELECT count(*), {_count(missing_sql(ctx))}, {_count(ZERO_SQL)}, "
        f"{_count(f'warning != {EMPTY} AND NOT {ZERO_SQL}')}, {_count(out_sql)}, "
        f"{_count(f'item_bases != {EMPTY}')} "
        "FROM wage_base_draft WHERE unit_id = ? AND kind = ?",
        (*out_params, ctx.unit_pk, ctx.kind),
    ).fetchone()
    first, last = ctx.effective_range
    annual = ctx.annual_month
    return DraftSummary(
        ctx.kind, KIND_LABELS[ctx.kind], *(int(v) for v in row),
        annual is not None, ctx.pack.annual_window.describe(), str(annual or ""),
        (str(first), str(last)), ctx.per_item_allowed, list(ITEM_NAMES.items()),
    )


def names_of(store: Store, where: str, params: Sequence[Any], limit: int = 3) -> str:
    """The first names a condition matches, for messages: 张三、李四、王五等 12 名职工."""
    rows = store.db.execute_sql(
        f"SELECT name FROM wage_base_draft WHERE {where} ORDER BY id LIMIT ?", (*params, limit + 1)
    ).fetchall()
    (total,) = store.db.execute_sql(f"SELECT count(*) FROM wage_base_draft WHERE {where}", params).fetchone()
    names = "、".join(r[0] for r in rows[:limit])
    return f"{names}等 {total} 名职工" if total > limit else names


def row_dict(row: Sequence[Any]) -> dict[str, Any]:
    (pk, employee_id, name, id_type, id_number, unit_number, current, new, item_bases, month, warning, version) = row
    return {
        "id": pk,
        "employee_id": employee_id,
        "name": name,
        "id_type": id_type,
        "id_type_name": ID_TYPES.get(id_type, id_type),
        "id_number": id_number,
        "unit_number": unit_number,
        "current_base": current,
        "new_base": new,
        "item_bases": json.loads(item_bases) if item_bases else {},
        "effective_month": month,
        "warning": warning,
        "row_version": int(version),
    }


def search(store: Store, ctx: DraftContext, request: PageRequest, filters: DraftFilter) -> Page:
    where, params = filters.where(ctx)
    if request.sort is not None and request.sort not in SORTABLE:
        raise ValidationError(f"不能按「{request.sort}」排序", field="sort")
    order = SORTABLE.get(request.sort or "", "id")
    direction = "DESC" if request.descending else "ASC"
    (total,) = store.db.execute_sql(f"SELECT count(*) FROM wage_base_draft WHERE {where}", params).fetchone()
    rows = store.db.execute_sql(
        f"SELECT {COLUMNS} FROM wage_base_draft WHERE {where} ORDER BY {order} {direction}, id {direction} "
        "LIMIT ? OFFSET ?",
        [*params, request.size, (request.page - 1) * request.size],
    ).fetchall()
    return Page([with_month_check(ctx, row_dict(r)) for r in rows], int(total), request.page, request.size)


def with_month_check(ctx: DraftContext, row: dict[str, Any]) -> dict[str, Any]:
    """Re-check the row's 生效年月 against today's range: the business date moves on."""
    month = row["effective_month"]
    row["month_problem"] = (ctx.check_month(month) or "") if ctx.kind == DAILY and month else ""
    return row


# -- employees to add ------------------------------------------------------------------------
# The pension base is the one the clerk knows as 缴费工资; any other item's when there is none.
_PENSION_BASE_SQL = (
    # ORDER BY key: PostgreSQL's jsonb lists keys shortest first, SQLite as written (sorted).
    "coalesce(json_extract(bases, '$.pension'), (SELECT value FROM json_each(bases) ORDER BY key LIMIT 1), '')"
)


def enrolled(store: Store, unit_pk: int, *, normal_only: bool = True) -> dict[str, Enrolled]:
    """The unit's synced employees keyed by ID number (the import matches on it)."""
    # The current base is read by SQLite (json_extract): 50,000 json.loads cost half a second.
    # Unary + keeps SQLite off the indexes (NOT INDEXED, portably): the status index visits
    # the rows in name order, one random page each (twice the time of reading the table in
    # order at 50,000 employees).
    sql = (
        "SELECT employee_id, name, id_type, id_number, unit_number, status, "
        f"{_PENSION_BASE_SQL} FROM enrollment_employee WHERE +unit_id = ? AND +removed = 0"
    )
    if normal_only:
        sql += " AND status = '正常缴费'"
    with uploads.gc_paused():  # 50,000 tuples: see gc_paused
        return {r[3]: Enrolled(*r) for r in store.db.execute_sql(sql, (unit_pk,)).fetchall()}


def insured_employees(store: Store, unit_pk: int) -> Iterable[Enrolled]:
    """下载参保职工: the unit's 正常缴费 employees, in name order."""
    return sorted(enrolled(store, unit_pk).values(), key=lambda e: (e.name, e.id_number))


@dataclass(frozen=True)
class AddResult:
    added: int
    already: int

    @property
    def message(self) -> str:
        text = f"已添加 {self.added} 名职工"
        return text + (f"，{self.already} 名已在列表中" if self.already else "")


def _insert_from_enrollment(store: Store, ctx: DraftContext, where: str, params: Sequence[Any]) -> AddResult:
    ctx.require_open()
    with store.write() as db:
        (matched,) = db.execute_sql(
            f"SELECT count(*) FROM enrollment_employee WHERE unit_id = ? AND removed = 0 AND {where}",
            (ctx.unit_pk, *params),
        ).fetchone()
        cur = db.execute_sql(
            "INSERT INTO wage_base_draft (unit_id, kind, employee_id, name, id_type, id_number, "
            f"unit_number, current_base, added_at) SELECT unit_id, ?, employee_id, name, id_type, id_number, "
            f"unit_number, {_PENSION_BASE_SQL}, ? FROM enrollment_employee "
            f"WHERE unit_id = ? AND removed = 0 AND {where} "
            "ON CONFLICT (unit_id, kind, employee_id) DO NOTHING",
            (ctx.kind, journal.now_text(), ctx.unit_pk, *params),
        )
    return AddResult(cur.rowcount, matched - cur.rowcount)


def add_all_normal(store: Store, ctx: DraftContext) -> AddResult:
    return _insert_from_enrollment(store, ctx, "status = '正常缴费'", ())


def add_by_unit_number(store: Store, ctx: DraftContext, unit_number: str) -> AddResult:
    unit_number = unit_number.strip()
    if not unit_number:
        raise ValidationError("请选择单位编号", field="unit_number")
    return _insert_from_enrollment(store, ctx, "status = '正常缴费' AND unit_number = ?", (unit_number,))


def unit_numbers(store: Store, unit_pk: int) -> list[str]:
    rows = store.db.execute_sql(
        "SELECT DISTINCT unit_number FROM enrollment_employee WHERE unit_id = ? AND removed = 0 ORDER BY 1",
        (unit_pk,),
    ).fetchall()
    return [r[0] for r in rows]


def _checked_month(ctx: DraftContext, text: str) -> str:
    """An effective month the operator typed, as YYYYMM inside what the rules allow."""
    try:
        month = str(parse_period(text.strip()))
    except ValueError as exc:
        raise ValidationError(str(exc), field="effective_month") from None
    problem = ctx.check_month(month)
    if problem:
        raise ValidationError(problem, field="effective_month")
    return month


def _checked_values(
    ctx: DraftContext, new_base: str, effective_month: str, item_bases: dict[str, str] | None
) -> tuple[str, str, str, str]:
    """Parse what the operator typed; returns (base, item_bases JSON, month, warning)."""
    base_text, items_text, warning = "", "", ""
    month = ""
    if ctx.kind == DAILY and effective_month.strip():
        month = _checked_month(ctx, effective_month)
    if item_bases:
        if not ctx.per_item_allowed:
            raise ValidationError("本单位不能按险种申报缴费工资", field="item_bases")
        parsed: dict[str, str] = {}
        for item, text in item_bases.items():
            if item not in ITEM_NAMES:
                raise ValidationError(f"未知险种：{item}", field="item_bases")
            if str(text).strip():
                try:
                    value = wage_rules.parse_base(str(text))
                except ValueError as exc:
                    raise ValidationError(f"{ITEM_NAMES[item]}缴费工资：{exc}", field=f"item_bases.{item}") from None
                parsed[item] = _money(value)
                warning = warning or (ctx.check_base(month or None, value) or "")
        items_text = json.dumps(parsed, ensure_ascii=False) if parsed else ""
    elif new_base.strip():
        try:
            value = wage_rules.parse_base(new_base)
        except ValueError as exc:
            raise ValidationError(str(exc), field="new_base") from None
        base_text = _money(value)
        warning = ctx.check_base(month or None, value) or ""
    return base_text, items_text, month, warning


def add_one(
    store: Store, ctx: DraftContext, employee_id: str, new_base: str, effective_month: str = "",
    item_bases: dict[str, str] | None = None,
) -> dict[str, Any]:
    """单个录入: one synced employee with the new base (and effective month)."""
    ctx.require_open()
    found = store.db.execute_sql(
        f"SELECT employee_id, name, id_type, id_number, unit_number, status, {_PENSION_BASE_SQL} "
        "FROM enrollment_employee WHERE unit_id = ? AND employee_id = ? AND removed = 0",
        (ctx.unit_pk, employee_id),
    ).fetchone()
    if found is None:
        raise NotFoundError("该职工不在本单位参保信息中，请先更新职工参保信息", code="employee_not_found")
    if found[5] != "正常缴费":
        raise ValidationError("该职工已停止缴费，不能申报缴费工资", field="employee_id")
    base, items, month, warning = _checked_values(ctx, new_base, effective_month, item_bases)
    with store.write() as db:
        exists = db.execute_sql(
            "SELECT 1 FROM wage_base_draft WHERE unit_id = ? AND kind = ? AND employee_id = ?",
            (ctx.unit_pk, ctx.kind, employee_id),
        ).fetchone()
        if exists:
            raise ConflictError(f"{found[1]}已在申报列表中，请直接修改该行", code="already_in_draft")
        cur = db.execute_sql(
            "INSERT INTO wage_base_draft (unit_id, kind, employee_id, name, id_type, id_number, unit_number, "
            "current_base, new_base, item_bases, effective_month, warning, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (ctx.unit_pk, ctx.kind, found[0], found[1], found[2], found[3], found[4], found[6],
             base, items, month, warning, journal.now_text()),
        )
        row_id = int(cur.fetchone()[0])
    return get_row(store, ctx, row_id)


def get_row(store: Store, ctx: DraftContext, row_id: int) -> dict[str, Any]:
    row = store.db.execute_sql(
        f"SELECT {COLUMNS} FROM wage_base_draft WHERE id = ? AND unit_id = ? AND kind = ?",
        (row_id, ctx.unit_pk, ctx.kind),
    ).fetchone()
    if row is None:
        raise NotFoundError("申报列表中没有这一行（可能已被删除）", code="draft_row_not_found")
    return row_dict(row)


def update_row(
    store: Store, ctx: DraftContext, row_id: int, new_base: str, effective_month: str = "",
    item_bases: dict[str, str] | None = None, *, row_version: int | None = None, employee_id: str | None = None,
) -> dict[str, Any]:
    """Save one row. ``row_version`` (and ``employee_id``) are what the page loaded: a row
    another clerk saved meanwhile is refused with ConflictError and keeps that clerk's values.
    The employee is checked too because SQLite may give a deleted last row's id to a new row."""
    get_row(store, ctx, row_id)
    base, items, month, warning = _checked_values(ctx, new_base, effective_month, item_bases)
    where, params = "id = ? AND unit_id = ? AND kind = ?", [row_id, ctx.unit_pk, ctx.kind]
    for column, value in (("row_version", row_version), ("employee_id", employee_id)):
        if value is not None:
            where += f" AND {column} = ?"
            params.append(value)
    with store.write() as db:
        cur = db.execute_sql(
            "UPDATE wage_base_draft SET new_base = ?, item_bases = ?, effective_month = ?, warning = ?, "
            f"row_version = row_version + 1 WHERE {where}",
            (base, items, month, warning, *params),
        )
        if cur.rowcount != 1:
            get_row(store, ctx, row_id)  # deleted meanwhile: NotFoundError
            raise ConflictError(STALE_ROW, code="row_version_conflict", field="row_version")
    return get_row(store, ctx, row_id)


# -- batch changes ---------------------------------------------------------------------------------
def _selected(ctx: DraftContext, selection: Selection | Sequence[int]) -> tuple[str, list[Any]]:
    if not isinstance(selection, Selection):
        selection = Selection(ids=tuple(int(i) for i in selection))
    return selection.where(ctx)


def batch_modify(
    store: Store,
    ctx: DraftContext,
    selection: Selection | Sequence[int],
    *,
    effective_month: str = "",
    ratio_percent: str = "",
    amount: str = "",
    basis: str = "current",
) -> int:
    """批量修改: effective month, and/or the new base by ratio (e.g. +5%) or fixed amount.

    A ratio applies to the current base (basis="current") or to the new base already typed
    (basis="new"); the result is rounded half up to the fen.
    """
    where, params = _selected(ctx, selection)
    if ratio_percent.strip() and amount.strip():
        raise ValidationError("按比率和按固定金额只能选一种", field="ratio_percent")
    if not (effective_month.strip() or ratio_percent.strip() or amount.strip()):
        raise ValidationError("请填写生效年月、调整比率或固定金额", field="effective_month")
    month = ""
    if effective_month.strip():
        if ctx.kind != DAILY:
            raise ValidationError("年度缴费工资申报的生效年月由系统自动处理", field="effective_month")
        month = _checked_month(ctx, effective_month)
    ratio = fixed = None
    if ratio_percent.strip():
        try:
            ratio = Decimal(ratio_percent.strip().rstrip("%"))
        except InvalidOperation:
            raise ValidationError("调整比率必须是数字，如 5 表示上调5%", field="ratio_percent") from None
        if not ratio.is_finite() or ratio <= -100 or ratio > 1000:
            raise ValidationError("调整比率应大于 -100% 且不超过 1000%", field="ratio_percent")
    if amount.strip():
        try:
            fixed = wage_rules.parse_base(amount)
        except ValueError as exc:
            raise ValidationError(f"固定金额：{exc}", field="amount") from None
    if basis not in ("current", "new"):
        raise ValidationError("调整基数只能是当前缴费工资或新缴费工资", field="basis")
    with store.write() as db:
        rows = db.execute_sql(
            f"SELECT id, name, current_base, new_base, effective_month FROM wage_base_draft WHERE {where}",
            params,
        ).fetchall()
        updates = []
        for pk, name, current, new, old_month in rows:
            row_month = month or old_month
            base_text = new
            if fixed is not None:
                base_text = _money(fixed)
            elif ratio is not None:
                start = current if basis == "current" else new
                if not start:
                    which = "当前缴费工资" if basis == "current" else "新缴费工资"
                    raise ValidationError(f"{name}没有{which}，不能按比率调整", field="ratio_percent")
                base_text = _money(Decimal(start) * (1 + ratio / 100))
            warning = ""
            if base_text:
                warning = ctx.check_base(row_month or None, Decimal(base_text)) or ""
            updates.append((base_text, row_month, warning, pk))
        db.executemany(
            "UPDATE wage_base_draft SET new_base = ?, item_bases = CASE WHEN ? = 1 THEN '' ELSE item_bases END, "
            "effective_month = ?, warning = ?, row_version = row_version + 1 WHERE id = ?",
            [(b, fixed is not None or ratio is not None, m, w, pk) for b, m, w, pk in updates],
        )
    return len(updates)


def delete_rows(store: Store, ctx: DraftContext, selection: Selection | Sequence[int]) -> int:
    where, params = _selected(ctx, selection)
    with store.write() as db:
        cur = db.execute_sql(f"DELETE FROM wage_base_draft WHERE {where}", params)
    return int(cur.rowcount)


def collapse_item_bases(store: Store, ctx: DraftContext) -> int:
    """Back from 按险种 to one base per employee: each row keeps its pension base (the one the
    clerk knows as 缴费工资), or its first item's where it has none."""
    with store.write() as db:
        rows = db.execute_sql(
            "SELECT id, item_bases, effective_month FROM wage_base_draft "
            "WHERE unit_id = ? AND kind = ? AND item_bases != ''",
            (ctx.unit_pk, ctx.kind),
        ).fetchall()
        updates = []
        for pk, items, month in rows:
            bases = json.loads(items)
            base = bases.get("pension") or next(iter(bases.values()), "")
            warning = (ctx.check_base(month or None, Decimal(base)) or "") if base else ""
            updates.append((base, warning, pk))
        db.executemany(
            "UPDATE wage_base_draft SET new_base = ?, item_bases = '', warning = ?, row_version = row_version + 1 "
            "WHERE id = ?", updates
        )
    return len(updates)


def fix_months(store: Store, ctx: DraftContext) -> int:
    """调整生效年月: move every out-of-range 生效年月 to the nearest allowed month, and re-check
    the base against the floor and cap of its new month."""
    out_sql, out_params = out_of_range_sql(ctx)
    first, last = ctx.effective_range
    with store.write() as db:
        rows = db.execute_sql(
            f"SELECT id, new_base, effective_month, warning FROM wage_base_draft "
            f"WHERE unit_id = ? AND kind = ? AND {out_sql}",
            [ctx.unit_pk, ctx.kind, *out_params],
        ).fetchall()
        updates = []
        for pk, base, month, warning in rows:
            moved = str(first) if month < str(first) else str(last)
            if base:
                warning = ctx.check_base(moved, Decimal(base)) or ""
            updates.append((moved, warning, pk))
        db.executemany(
            "UPDATE wage_base_draft SET effective_month = ?, warning = ?, row_version = row_version + 1 WHERE id = ?",
            updates,
        )
    return len(updates)


# -- import ------------------------------------------------------------------------------------------
def count(store: Store, ctx: DraftContext) -> int:
    (n,) = store.db.execute_sql(
        "SELECT count(*) FROM wage_base_draft WHERE unit_id = ? AND kind = ?", (ctx.unit_pk, ctx.kind)
    ).fetchone()
    return int(n)


def confirm_replace(store: Store, ctx: DraftContext, replace: bool, merge: bool = False) -> int:
    """The rows already in the draft; ConflictError until the operator chose 合并 or 覆盖."""
    ctx.require_open()
    existing = count(store, ctx)
    if existing and not (replace or merge):
        raise ConflictError(
            f"申报列表中已有 {existing} 条数据。合并：按职工更新或添加文件中的行，列表中其他行保留；"
            "覆盖：清空列表后只保留文件中的行。",
            code="draft_not_empty",
        )
    return existing


def save_import(
    store: Store, ctx: DraftContext, result: ImportResult, *, replace: bool = False, merge: bool = False
) -> int:
    """Put the good rows of an import into the draft.

    Over a non-empty draft the operator chooses: ``merge`` updates the rows of the employees in
    the file and adds the others, keeping every other row (re-importing a corrected error
    report loses nothing); ``replace`` empties the draft first. Neither: ConflictError, and
    the draft is untouched.
    """
    confirm_replace(store, ctx, replace, merge)
    now = journal.now_text()
    with uploads.gc_paused():  # 50,000 tuples: see gc_paused
        rows = [
            (ctx.unit_pk, ctx.kind, r.employee_id, r.name, r.id_type, r.id_number, r.unit_number, r.current_base,
             r.new_base, r.effective_month if ctx.kind == DAILY else "", r.warning, now)
            for r in result.rows
        ]
    with store.write() as db:
        # Rows put in get a version above every one a page may hold: SQLite reuses the ids of
        # replaced rows, and a stale page must not save over the imported values.
        (version,) = db.execute_sql(
            "SELECT coalesce(max(row_version), 0) + 1 FROM wage_base_draft WHERE unit_id = ? AND kind = ?",
            (ctx.unit_pk, ctx.kind),
        ).fetchone()
        if not merge:
            db.execute_sql("DELETE FROM wage_base_draft WHERE unit_id = ? AND kind = ?", (ctx.unit_pk, ctx.kind))
        db.executemany(
            "INSERT INTO wage_base_draft (unit_id, kind, employee_id, name, id_type, id_number, unit_number, "
            "current_base, new_base, effective_month, warning, added_at, row_version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (unit_id, kind, employee_id) DO UPDATE SET name = excluded.name, "
            "unit_number = excluded.unit_number, current_base = excluded.current_base, "
            "new_base = excluded.new_base, item_bases = '', effective_month = excluded.effective_month, "
            "warning = excluded.warning, row_version = wage_base_draft.row_version + 1",
            [(*r, int(version)) for r in rows],
        )
    return len(rows)


# -- export ------------------------------------------------------------------------------------------
EXPORT_COLUMNS = (  # the titles are EXPORT_HEADER
    xlsx.text("姓名"), xlsx.text("证件类型", 16), xlsx.code("证件号码", 22), xlsx.amount("新缴费工资"),
    xlsx.code("生效年月", 10), xlsx.code("单位编号"), xlsx.amount("当前缴费工资"), xlsx.text("提示", 30),
)  # fmt: skip


def export_columns(kind: str) -> tuple[xlsx.Column, ...]:
    return EXPORT_COLUMNS if kind == DAILY else tuple(c for c in EXPORT_COLUMNS if c.title != "生效年月")


def export_xlsx(
    store: Store, ctx: DraftContext, selection: Selection | Sequence[int] | None, target: Path
) -> int:
    """导出 selected or all rows in the import format, so the file can be imported again.

    IDs, months and unit numbers are text; the two wages are numbers (#,##0.00), which the
    import reads back to the cent; no cell is ever a formula.
    """
    where, params = _selected(ctx, selection) if selection is not None else DraftFilter().where(ctx)
    sql = f"SELECT {COLUMNS} FROM wage_base_draft WHERE {where} ORDER BY id"
    daily = ctx.kind == DAILY

    def cells(row: Sequence[Any]) -> tuple[Any, ...]:
        d = row_dict(row)
        month = (d["effective_month"],) if daily else ()
        return (d["name"], d["id_type_name"], d["id_number"], d["new_base"], *month, d["unit_number"],
                d["current_base"], d["warning"])  # fmt: skip

    rows = map(cells, store.db.execute_sql(sql, params))
    return xlsx.write_xlsx(target, KIND_LABELS[ctx.kind], export_columns(ctx.kind), rows)


def normalise_ids(values: Iterable[Any]) -> list[int]:
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise ValidationError("所选行不正确", field="ids") from None
