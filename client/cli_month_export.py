"""`socialfee month export`: a unit's records as xlsx files in a folder (local data only).

Four files per unit, named ``<单位编号>-<what>.xlsx``: 参保职工 (the enrollment page's
export), 缴费工资申报记录 and 社保费申报记录 (each: one sheet of the journal's records,
one of the rows or summaries they declared), 缴款记录 (the payment page's export). Every
file goes through client/core/xlsx.py: IDs, codes and months are text cells, amounts are
numbers, nothing is a formula.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from client.core import enrollment, journal, wage_context, xlsx
from client.core import fee_declaration as fees
from client.core import payment_records as records
from client.core.paging import MAX_PAGE_SIZE, PageRequest
from client.core.store import Store
from client.errors import ValidationError

WAGE_KINDS = tuple(wage_context.JOURNAL_KIND.values())
WHAT = {
    "enrollment": "参保职工",
    "wage-base": "缴费工资申报记录",
    "fees": "社保费申报记录",
    "payments": "缴款记录",
}

WAGE_ENTRY_COLUMNS = (
    xlsx.code("记录号", 10), xlsx.text("申报时间", 20), xlsx.text("申报类型", 20), xlsx.text("内容", 40),
    xlsx.integer("人数"), xlsx.text("状态", 12), xlsx.code("税务端受理号", 20), xlsx.text("反馈时间", 20),
    xlsx.text("操作员", 12), xlsx.text("原因", 60),
)
WAGE_ROW_COLUMNS = (
    xlsx.code("记录号", 10), xlsx.code("职工编号", 14), xlsx.text("姓名", 12), xlsx.text("证件类型", 14),
    xlsx.code("证件号码", 22), xlsx.code("单位编号", 16), xlsx.amount("原缴费工资"), xlsx.amount("新缴费工资"),
    xlsx.code("生效年月", 10), xlsx.text("状态", 12),
)
FEE_RECORD_COLUMNS = (
    xlsx.code("申报序号", 20), xlsx.text("申报渠道", 12), xlsx.text("状态", 12), xlsx.code("申报日期", 12),
    xlsx.integer("汇总条数"), xlsx.amount("应缴金额"), xlsx.text("操作员", 12), xlsx.text("内容", 40),
    xlsx.text("作废时间", 20),
)
FEE_SUMMARY_COLUMNS = (
    xlsx.code("申报序号", 20), xlsx.code("汇总编号", 16), xlsx.code("单位编号", 16), xlsx.text("险种", 20),
    xlsx.text("缴纳部分", 14), xlsx.code("费款所属期起", 12), xlsx.code("费款所属期止", 12), xlsx.integer("人数"),
    xlsx.amount("缴费基数合计"), xlsx.amount("应缴金额"),
)


def file_part(unit_id: str) -> str:
    """A unit id as part of a file name: it comes from the tax side, so only safe characters."""
    cleaned = re.sub(r"[^0-9A-Za-z_-]", "_", unit_id)[:64]
    return cleaned or "unit"


def _reasons_text(reasons: Sequence[dict[str, Any]]) -> str:
    shown = "；".join(str(r.get("message") or "") for r in reasons[:20])
    return shown + (f"……共 {len(reasons)} 条" if len(reasons) > 20 else "")


def _book(target: Path) -> xlsxwriter.Workbook:
    return xlsxwriter.Workbook(str(target), {"constant_memory": True})


def _atomic(target: Path) -> Path:
    return target.with_name(target.name + ".tmp")


def write_wage_records(store: Store, unit_pk: int, target: Path) -> int:
    entries = journal.entries(store, unit_pk, journal.ALL_STATES, WAGE_KINDS)
    tmp = _atomic(target)
    book = _book(tmp)
    try:
        head = xlsx.XlsxSheet(book, "申报记录", WAGE_ENTRY_COLUMNS)
        head.write_rows(
            (str(e.id), e.created_at, e.kind_label, e.summary, e.row_count, e.state_label, e.taxside_id or "",
             e.feedback_at or "", e.operator, _reasons_text(e.reasons))
            for e in entries
        )
        rows = xlsx.XlsxSheet(book, "申报明细", WAGE_ROW_COLUMNS)

        def lines() -> Iterator[Sequence[Any]]:
            for e in entries:
                for r in journal.payload(store, e.id).get("rows") or ():
                    yield (str(e.id), r.get("employee_id") or "", r.get("name") or "",
                           enrollment.ID_TYPES.get(r.get("id_type") or "", r.get("id_type") or ""),
                           r.get("id_number") or "", r.get("unit_number") or "",
                           xlsx.amount_cell(r.get("current_base")), xlsx.amount_cell(r.get("base")),
                           r.get("effective_month") or "", e.state_label)

        rows.write_rows(lines())
    finally:
        book.close()
    os.replace(tmp, target)
    return len(entries)


def _fee_records(store: Store, unit_pk: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        chunk = fees.records(store, unit_pk, PageRequest(page, MAX_PAGE_SIZE), fees.RecordFilter())
        found += chunk.rows
        if len(found) >= chunk.total or not chunk.rows:
            return found
        page += 1


def write_fee_records(store: Store, unit_pk: int, target: Path) -> int:
    found = _fee_records(store, unit_pk)
    tmp = _atomic(target)
    book = _book(tmp)
    try:
        xlsx.XlsxSheet(book, "申报记录", FEE_RECORD_COLUMNS).write_rows(
            (r["declaration_id"] or "", r["channel"], r["status_label"], r["date"], r["summary_count"],
             xlsx.amount_cell(r["total_amount"]), r["operator"], r["summary"], r["voided_at"] or "")
            for r in found
        )
        xlsx.XlsxSheet(book, "汇总明细", FEE_SUMMARY_COLUMNS).write_rows(
            (r["declaration_id"] or "", s.get("summary_id") or "", s.get("unit_number") or "", s.get("item_name") or "",
             s.get("part_name") or "", s.get("period_from") or "", s.get("period_to") or "",
             s.get("headcount"),
             xlsx.amount_cell(s.get("base_total")), xlsx.amount_cell(s.get("amount")))
            for r in found for s in r["summaries"]
        )
    finally:
        book.close()
    os.replace(tmp, target)
    return len(found)


def _enrollment(store: Store, unit_pk: int, target: Path) -> int:
    return enrollment.export_xlsx(store, unit_pk, target)


def _payments(store: Store, unit_pk: int, target: Path) -> int:
    return records.export_payments(store, unit_pk, "", target)


WRITERS = {
    "enrollment": _enrollment,
    "wage-base": write_wage_records,
    "fees": write_fee_records,
    "payments": _payments,
}


def export_unit(store: Store, unit_pk: int, unit_id: str, folder: Path, what: Sequence[str]) -> list[dict[str, Any]]:
    """Write the chosen files for one unit; what was written, with row counts."""
    unknown = [w for w in what if w not in WRITERS]
    if unknown:
        raise ValidationError(f"不能导出 {'、'.join(unknown)}：可选 {'、'.join(WRITERS)}", field="what")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in what:
        target = folder / f"{file_part(unit_id)}-{WHAT[name]}.xlsx"
        count = WRITERS[name](store, unit_pk, target)
        written.append({"what": name, "label": WHAT[name], "file": str(target), "rows": count})
    return written
