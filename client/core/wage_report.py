"""The xlsx files the 缴费工资申报 import writes: the error report and the template.

Text is always written with write_string (xlsxwriter would otherwise make a formula of a
cell such as ``=HYPERLINK(...)`` from the imported file), ID numbers as text, amounts as
numbers.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable
from pathlib import Path

import xlsxwriter

from client.core.enrollment import ID_TYPES
from client.core.wage_import import (
    FIELD_NAMES,
    REPORT_TEXT,
    Enrolled,
    ImportProblem,
    ImportResult,
    clip,
    display,
)

# Text is written with write_string only; these keep any other write() from turning a
# string into a formula, a link or a number as well.
_BOOK_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
ERROR_FILL = "#FFC7CE"
WARNING_FILL = "#FFEB9C"


def write_error_report(result: ImportResult, path: Path) -> None:
    """Every row with a problem as in the file, bad cells filled, reasons in 错误原因."""
    table = result.table
    by_row: dict[int, list[ImportProblem]] = {}
    for problem in result.problems:
        by_row.setdefault(problem.row, []).append(problem)
    column_of = {table.headers[i]: i for i in reversed(range(len(table.headers)))}
    for field, index in table.columns.items():
        column_of.setdefault(FIELD_NAMES[field], index)
    text_columns = {
        table.columns[f] for f in ("id_number", "effective_month") if f in table.columns
    }
    width = len(table.headers)

    book = xlsxwriter.Workbook(str(path), _BOOK_OPTIONS)
    try:
        sheet = book.add_worksheet("错误报告")
        formats: dict[tuple[str, str], object] = {}

        def fmt(kind: str, severity: str) -> object:
            key = (kind, severity)
            if key not in formats:
                props: dict[str, object] = {}
                if kind != "general":
                    props["num_format"] = kind
                if severity:
                    props["bg_color"] = ERROR_FILL if severity == "error" else WARNING_FILL
                formats[key] = book.add_format(props)
            return formats[key]

        errors_n = len(result.error_rows)
        warned = len(by_row) - errors_n
        sheet.write_string(
            0,
            0,
            f"导入问题报告：{table.source_name}，{errors_n} 行有错误（未导入），{warned} 行有提醒",
        )
        bold = book.add_format({"bold": True})
        for col, header in enumerate([*table.headers, "错误原因"]):
            sheet.write_string(1, col, header, bold)  # a header "=..." stays text
        sheet.set_column(0, max(width - 1, 0), 14)
        for col in text_columns:
            sheet.set_column(col, col, 22, fmt("@", ""))
        sheet.set_column(width, width, 60)
        out = 2
        for row, values in table.rows:
            problems = by_row.get(row)
            if not problems:
                continue
            marks: dict[int, str] = {}
            for problem in problems:
                col = column_of.get(problem.column)
                if col is not None and marks.get(col) != "error":
                    marks[col] = problem.severity
            # Cells past the widest row are not shown; a row holds values up to its last one.
            shown = min(width, max(len(values), max(marks, default=-1) + 1))
            for col in range(shown):
                value = values[col] if col < len(values) else None
                severity = marks.get(col, "")
                if col in text_columns or isinstance(value, str) or value is None:
                    text = clip(display(value), REPORT_TEXT)
                    if text or severity:
                        sheet.write_string(out, col, text, fmt("@", severity))
                elif isinstance(value, bool):
                    sheet.write_boolean(out, col, value, fmt("general", severity))
                elif (
                    isinstance(value, (int, float)) and abs(value) < 1e300 and math.isfinite(value)
                ):
                    sheet.write_number(out, col, value, fmt("general", severity))
                elif isinstance(value, _dt.datetime):
                    sheet.write_datetime(out, col, value, fmt("yyyy-mm-dd hh:mm:ss", severity))
                elif isinstance(value, _dt.date):
                    sheet.write_datetime(out, col, value, fmt("yyyy-mm-dd", severity))
                else:
                    sheet.write_string(out, col, clip(display(value), REPORT_TEXT), fmt("@", severity))
            reasons = "；".join(f"{p.column}：{p.message}" for p in problems)
            sheet.write_string(out, width, reasons)
            out += 1
    finally:
        book.close()


TEMPLATE_NOTES = (
    "填写说明",
    "1. 第一行是表头，请不要修改或删除表头，也不要在表头上方插入标题行。",
    "2. 证件号码：必填。该列已设为文本格式，请直接填写或粘贴 18 位身份证号码；"
    "不要设为数字格式，否则后几位会变成 000。",
    "3. 证件类型：可不填，默认居民身份证；可填写：" + "、".join(ID_TYPES.values()) + "。",
    "4. 姓名：可不填；填写时须与本单位参保信息中的姓名一致。",
    "5. 新缴费工资：必填，单位为元，最多两位小数，例如 8000 或 8000.50。",
    "6. 生效年月（仅日常申报）：必填，写成 202503、2025-03 或 2025年3月。",
    "7. 单位编号、当前缴费工资为参考信息，导入时不读取。",
    "8. 同一职工只填一行；不在本单位参保的职工请先更新职工参保信息。",
)


def write_template(path: Path, kind: str, employees: Iterable[Enrolled] = ()) -> None:
    """The import template; with ``employees`` it is pre-filled (下载参保职工)."""
    headers = ["姓名", "证件类型", "证件号码", "新缴费工资"]
    if kind == "daily":
        headers.append("生效年月")
    headers += ["单位编号", "当前缴费工资"]
    book = xlsxwriter.Workbook(str(path), _BOOK_OPTIONS)
    try:
        sheet = book.add_worksheet("缴费工资申报")
        text = book.add_format({"num_format": "@"})
        money = book.add_format({"num_format": "0.00"})
        bold = book.add_format({"bold": True, "num_format": "@"})
        for col, header in enumerate(headers):
            sheet.write_string(0, col, header, bold)
        sheet.set_column(0, len(headers) - 1, 14)
        sheet.set_column(1, 1, 18, text)
        sheet.set_column(2, 2, 22, text)  # whole column text: Excel keeps all 18 digits
        sheet.set_column(3, 3, 14, money)
        if kind == "daily":
            sheet.set_column(4, 4, 12, text)
        sheet.set_column(len(headers) - 2, len(headers) - 1, 16, text)
        sheet.freeze_panes(1, 0)
        offset = len(headers) - 2
        for n, person in enumerate(employees, start=1):
            sheet.write_string(n, 0, person.name, text)
            sheet.write_string(n, 1, ID_TYPES.get(person.id_type, person.id_type), text)
            sheet.write_string(n, 2, person.id_number, text)
            sheet.write_string(n, offset, person.unit_number, text)
            sheet.write_string(n, offset + 1, person.current_base, text)
        notes = book.add_worksheet("填写说明")
        notes.set_column(0, 0, 100)
        for n, line in enumerate(TEMPLATE_NOTES):
            notes.write_string(n, 0, line)
    finally:
        book.close()
