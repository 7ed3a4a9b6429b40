"""Submitting a payroll-base draft: the checks before it goes, the journal entry it becomes,
and the way back for a declaration the tax side rejected."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from client.core import journal
from client.core.paging import Page, PageRequest
from client.core.store import Store
from client.core.wage_base import (
    COLUMNS,
    ZERO_SQL,
    AddResult,
    missing_sql,
    names_of,
    out_of_range_sql,
    row_dict,
    summary,
)
from client.core.wage_context import ANNUAL, JOURNAL_KIND, KIND_LABELS, DraftContext
from client.errors import ConflictError, ValidationError

FAILED_BEFORE = "上次申报失败"


@dataclass(frozen=True)
class SubmitCheck:
    """What the operator must confirm before the draft goes out, naming the first employees."""

    count: int
    zero: str = ""  # 张三、李四等 5 名职工 whose new base is 0
    limits: str = ""  # ... outside the floor or cap
    failed_before: str = ""  # ... copied back from a rejected declaration and not changed since

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.zero or self.limits or self.failed_before)

    @property
    def message(self) -> str:
        parts = []
        if self.zero:
            parts.append(f"{self.zero}的新缴费工资为 0")
        if self.limits:
            parts.append(f"{self.limits}的新缴费工资超出缴费基数上下限（税务端可能不予通过）")
        if self.failed_before:
            parts.append(f"{self.failed_before}上次申报失败后未修改")
        return "；".join(parts) + "。可勾选「只看有提示」查看这些行。确定要提交吗？" if parts else ""


def _first_missing(store: Store, ctx: DraftContext) -> tuple[int, str] | None:
    row = store.db.execute_sql(
        f"SELECT name, new_base, item_bases, effective_month, "
        f"(SELECT count(*) FROM wage_base_draft WHERE unit_id = ? AND kind = ? AND {missing_sql(ctx)}) "
        f"FROM wage_base_draft WHERE unit_id = ? AND kind = ? AND {missing_sql(ctx)} ORDER BY id LIMIT 1",
        (ctx.unit_pk, ctx.kind, ctx.unit_pk, ctx.kind),
    ).fetchone()
    if row is None:
        return None
    name, base, items, month, total = row
    what = "新缴费工资" if not (base or items) else "生效年月"
    return int(total), f"{name}未填写{what}"


def check_submit(store: Store, ctx: DraftContext) -> SubmitCheck:
    """Blocks while a row lacks base or effective month, or its 生效年月 fell out of range."""
    ctx.require_open()
    info = summary(store, ctx)
    if info.count == 0:
        raise ValidationError("申报列表为空，请先添加职工", field="draft")
    missing = _first_missing(store, ctx)
    if missing is not None:
        total, first = missing
        raise ValidationError(
            f"有 {total} 名职工未填写新缴费工资或生效年月（如：{first}），请补充后再提交", field="draft"
        )
    draft = "unit_id = ? AND kind = ?"
    key = [ctx.unit_pk, ctx.kind]
    if info.out_of_range:
        out_sql, out_params = out_of_range_sql(ctx)
        first, last = info.month_range
        raise ValidationError(
            f"{names_of(store, f'{draft} AND {out_sql}', [*key, *out_params])}的生效年月不在允许范围"
            f"（{first}-{last}）内，税务端将退回整笔申报。请点击「调整生效年月」移入范围，或逐行修改后再提交",
            code="months_out_of_range", field="effective_month",
        )

    def named(condition: str, params: list[Any] | None = None) -> str:
        where = f"{draft} AND {condition}"
        (n,) = store.db.execute_sql(f"SELECT count(*) FROM wage_base_draft WHERE {where}", [*key, *(params or [])]).fetchone()
        return names_of(store, where, [*key, *(params or [])]) if n else ""

    return SubmitCheck(
        info.count,
        zero=named(ZERO_SQL),
        limits=named(f"warning != '' AND NOT {ZERO_SQL} AND warning NOT LIKE ?", [f"{FAILED_BEFORE}%"]),
        failed_before=named(f"warning LIKE ? AND NOT {ZERO_SQL}", [f"{FAILED_BEFORE}%"]),
    )


def submit(store: Store, ctx: DraftContext, operator: str, *, confirmed: bool = False) -> int:
    """Move the draft into the journal as one queued entry; returns the entry id.

    Both happen in one transaction: the draft is never lost and never sent twice.
    """
    check = check_submit(store, ctx)
    if check.needs_confirmation and not confirmed:
        raise ConflictError(check.message, code="confirm_submit")
    annual = ctx.annual_month
    with store.write() as db:
        rows = db.execute_sql(
            f"SELECT {COLUMNS} FROM wage_base_draft WHERE unit_id = ? AND kind = ? ORDER BY id",
            (ctx.unit_pk, ctx.kind),
        ).fetchall()
        payload_rows = []
        for row in rows:
            d = row_dict(row)
            payload_rows.append({
                "employee_id": d["employee_id"], "id_type": d["id_type"], "id_number": d["id_number"],
                "name": d["name"], "base": d["new_base"] or None, "bases": d["item_bases"] or None,
                "effective_month": d["effective_month"] or None,
                "current_base": d["current_base"], "unit_number": d["unit_number"],
            })
        # The months in the summary: 申报记录 tells declarations apart by them.
        months = sorted({p["effective_month"] for p in payload_rows if p["effective_month"]})
        if ctx.kind == ANNUAL:
            months = [str(annual)] if annual else []
        month_text = ""
        if months:
            month_text = f"，生效年月 {months[0]}" + (f"-{months[-1]}" if len(months) > 1 else "")
        entry_id = journal.create(
            db, ctx.unit_pk, JOURNAL_KIND[ctx.kind], {"kind": ctx.kind, "rows": payload_rows},
            summary=f"{KIND_LABELS[ctx.kind]} {len(payload_rows)} 人{month_text}", row_count=len(payload_rows),
            operator=operator,
        )
        db.execute_sql("DELETE FROM wage_base_draft WHERE unit_id = ? AND kind = ?", (ctx.unit_pk, ctx.kind))
    return entry_id


def copy_back(store: Store, ctx: DraftContext, entry_id: int) -> AddResult:
    """Put the rows of a failed declaration back into the draft, with the tax side's reasons."""
    entry = journal.get(store, entry_id, ctx.unit_pk)
    if entry.state != journal.REJECTED:
        raise ConflictError("只有申报失败的记录可以复制回申报列表", code="not_rejected")
    if entry.kind != JOURNAL_KIND[ctx.kind]:
        raise ConflictError("申报类型不一致", code="wrong_kind")
    ctx.require_open()
    reasons: dict[int, list[str]] = {}
    for reason in entry.reasons:
        reasons.setdefault(int(reason.get("row") or 0), []).append(str(reason.get("message", "")))
    general = "；".join(reasons.get(0, []))
    now = journal.now_text()
    values = []
    for n, r in enumerate(journal.payload(store, entry_id)["rows"], start=1):
        why = "；".join(reasons.get(n, [])) or general
        values.append((
            ctx.unit_pk, ctx.kind, r["employee_id"], r["name"], r["id_type"], r["id_number"],
            r.get("unit_number", ""), r.get("current_base", ""), r.get("base") or "",
            json.dumps(r["bases"], ensure_ascii=False) if r.get("bases") else "",
            r.get("effective_month") or "", f"{FAILED_BEFORE}：{why}" if why else "", now,
        ))
    with store.write() as db:
        (before,) = db.execute_sql(
            "SELECT count(*) FROM wage_base_draft WHERE unit_id = ? AND kind = ?", (ctx.unit_pk, ctx.kind)
        ).fetchone()
        db.executemany(
            "INSERT INTO wage_base_draft (unit_id, kind, employee_id, name, id_type, id_number, unit_number, "
            "current_base, new_base, item_bases, effective_month, warning, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (unit_id, kind, employee_id) DO UPDATE SET new_base = excluded.new_base, "
            "item_bases = excluded.item_bases, effective_month = excluded.effective_month, warning = excluded.warning",
            values,
        )
        (after,) = db.execute_sql(
            "SELECT count(*) FROM wage_base_draft WHERE unit_id = ? AND kind = ?", (ctx.unit_pk, ctx.kind)
        ).fetchone()
    return AddResult(after - before, len(values) - (after - before))


def reasons_page(store: Store, unit_pk: int, entry_id: int, request: PageRequest) -> Page:
    """申报失败的原因, row by row (a rejection can list thousands of rows)."""
    entry = journal.get(store, entry_id, unit_pk)
    start = (request.page - 1) * request.size
    return Page(entry.reasons[start:start + request.size], len(entry.reasons), request.page, request.size)


