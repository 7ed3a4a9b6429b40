"""Import of 缴费工资申报 drafts from Excel/CSV: read, check every row, report, template.

Pure of the database: the caller (client/core/wage_base.py) passes the unit's enrolled
employees and the rules; ``validate`` returns the good rows and every problem with the
spreadsheet row number, the column as written in the file and a Chinese reason. A file
that cannot be read at all raises one ``ValidationError(field="file")`` and nothing else.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Protocol, TypeVar

from client.core import sheets, uploads
from client.core.enrollment import ID_TYPES
from client.errors import ValidationError
from rules.codes import ID_CHECK_CHARS, ID_WEIGHTS, birth_date, check_id_number, normalize_name

MAX_ROWS = 200_000
HEADER_SCAN_ROWS = 30
# Above any real monthly wage; also keeps Decimal.quantize inside its precision.
MAX_BASE = Decimal("100000000")
CENT = Decimal("0.01")
MAX_ID_TEXT = 64  # an ID number, passport or permit number is far shorter
SHOWN_TEXT = 200  # characters of a cell in a problem
REPORT_TEXT = 1000  # characters of a cell in the error report

FIELD_NAMES = {
    "name": "姓名",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "base": "新缴费工资",
    "effective_month": "生效年月",
}
HEADER_SYNONYMS = {
    "name": ("姓名",),
    "id_type": ("证件类型",),
    "id_number": ("证件号码", "身份证号", "身份证号码", "证件号", "公民身份号码"),
    "base": ("新缴费工资", "缴费工资", "申报工资", "新缴费基数", "缴费基数"),
    "effective_month": ("生效年月", "生效月份", "生效日期"),
}
_HEADER_FIELD = {name: field for field, names in HEADER_SYNONYMS.items() for name in names}
ID_TYPE_CODES = {
    **{code: code for code in ID_TYPES},
    **{name: code for code, name in ID_TYPES.items()},
    "身份证": "201",
    "护照": "208",
}
RESIDENT_ID = "201"

NOT_A_TABLE, ENCRYPTED, CORRUPT = sheets.NOT_A_TABLE, sheets.ENCRYPTED, sheets.CORRUPT

_SCI_TEXT = re.compile(r"^[0-9]+(?:\.[0-9]*)?E\+?[0-9]+$", re.IGNORECASE)
_AMOUNT = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_MONTH = re.compile(
    r"^([0-9]{4})(?:([0-9]{2})([0-9]{2})?|[-/.年]([0-9]{1,2})(?:月|[-/.月]([0-9]{1,2})日?)?)$"
)
_TIME_SUFFIX = re.compile(r"\s+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?$")


# ---------------------------------------------------------------- data shapes


class Enrolled(NamedTuple):
    """One synced employee of this unit (a tuple: the store builds 50,000 of them per import,
    and a frozen dataclass's __init__ costs twice as much)."""

    employee_id: str
    name: str
    id_type: str
    id_number: str
    unit_number: str
    status: str
    current_base: str


class RowRules(Protocol):
    kind: str  # 'daily' (生效年月 required) | 'annual' (no 生效年月)

    def check_month(self, month: str) -> str | None: ...

    def check_base(self, month: str | None, base: Decimal) -> str | None: ...


@dataclass(frozen=True)
class RawTable:
    header_row: int  # 1-based spreadsheet row of the header
    headers: list[str]
    rows: list[tuple[int, list[object]]]  # (spreadsheet row, original cell values)
    columns: dict[str, int]  # field -> column index
    source_name: str


@dataclass(frozen=True)
class ImportProblem:
    row: int
    column: str  # header text as written in the file, or the field's Chinese name
    value: str
    message: str
    severity: str  # 'error' | 'warning'

    @property
    def text(self) -> str:
        return f"第 {self.row} 行「{self.column}」：{self.message}"


class ImportedRow(NamedTuple):
    """A good row (a tuple: validate makes one per row, 50,000 at a time)."""

    row: int
    employee_id: str
    name: str
    id_type: str
    id_number: str
    unit_number: str
    current_base: str
    new_base: str  # '8000.00'
    effective_month: str  # 'YYYYMM', '' for annual
    warning: str


@dataclass(frozen=True)
class ImportResult:
    rows: list[ImportedRow]
    problems: list[ImportProblem]
    total_rows: int
    table: RawTable

    @property
    def error_rows(self) -> set[int]:
        return {p.row for p in self.problems if p.severity == "error"}

    @property
    def warnings(self) -> list[ImportProblem]:
        return [p for p in self.problems if p.severity == "warning"]


# ---------------------------------------------------------------- reading


def _fail(message: str) -> ValidationError:
    return ValidationError(message, code="import_file", field="file")


def _is_blank(cell: object) -> bool:
    if cell is None:
        return True
    if isinstance(cell, str):
        return not cell or cell.isspace()
    return isinstance(cell, float) and math.isnan(cell)


def _header_key(cell: object) -> str:
    """Header text as compared: half-width, no spaces, no (元) or * markers."""
    if not isinstance(cell, str):
        return ""
    text = "".join(unicodedata.normalize("NFKC", cell).split()).strip("*")
    if text.endswith("(元)"):
        text = text[:-3].strip("*")
    return text


def _find_header(cells: list[list[object]], kind: str) -> tuple[int, dict[str, int]]:
    best_index, best_columns = -1, {}
    for index, row in enumerate(cells[:HEADER_SCAN_ROWS]):
        columns: dict[str, int] = {}
        for col, cell in enumerate(row):
            field = _HEADER_FIELD.get(_header_key(cell))
            if field is not None and field not in columns:
                columns[field] = col
        if len(columns) > len(best_columns):
            best_index, best_columns = index, columns
    required = ["id_number", "base"] + (["effective_month"] if kind == "daily" else [])
    missing = [f for f in required if f not in best_columns]
    if missing:
        parts = []
        for field in missing:
            others = "、".join(HEADER_SYNONYMS[field][1:])
            parts.append(f"未找到「{FIELD_NAMES[field]}」列（也可写作：{others}）")
        expected = "、".join(
            FIELD_NAMES[f] for f in FIELD_NAMES if f in required or f in ("name", "id_type")
        )
        where = f"前 {HEADER_SCAN_ROWS} 行" if best_index < 0 else f"第 {best_index + 1} 行表头"
        raise _fail(f"{'；'.join(parts)}。{where}中应有这些列名：{expected}")
    if kind != "daily":
        best_columns.pop("effective_month", None)
    return best_index, best_columns


def read_table(data: bytes, filename: str, *, kind: str) -> RawTable:
    """The first sheet's header and non-blank data rows; raises ValidationError(field='file').

    The reader keeps only non-blank rows and bounds what it reads (client/core/sheets.py);
    rows past the most an import takes are counted, not kept.
    """
    sheet = uploads.read(data, keep_rows=MAX_ROWS + HEADER_SCAN_ROWS + 1)
    # A first cell of plain text, the usual row, is tested inline (50,000 calls of _is_blank).
    found = [
        (n, row)
        for n, row in sheet.rows
        if row
        and (
            ((first := row[0]).__class__ is str and first and not first.isspace())
            or any(not _is_blank(c) for c in row)
        )
    ]
    if not found:
        raise _fail("文件是空的，没有任何数据，请填写后重新导入")
    top: list[list[object]] = [[] for _ in range(HEADER_SCAN_ROWS)]
    for n, row in found:
        if n > HEADER_SCAN_ROWS:
            break
        top[n - 1] = row
    header_index, columns = _find_header(top, kind)
    header_row = header_index + 1
    header_cells = top[header_index]
    rows = [(n, row) for n, row in found if n > header_row]
    # As wide as the widest row, as the sheet is: cells without a header still show in the report.
    width = max(len(row) for _, row in found)
    headers = [
        c.strip() if isinstance(c, str) else "" if _is_blank(c) else str(c) for c in header_cells
    ]
    headers += [""] * (width - len(headers))
    if not rows and not sheet.more:
        raise _fail(f"文件中没有数据：第 {header_row} 行表头下面没有职工行，请填写后重新导入")
    total = len(rows) + sheet.more
    if total > MAX_ROWS:
        raise _fail(
            f"文件行数过多：一次最多 {MAX_ROWS:,} 行，本文件有 {total:,} 行，请拆分后分批导入"
        )
    return RawTable(header_row, headers, rows, columns, filename)


# ---------------------------------------------------------------- cell values


def display(cell: object) -> str:
    """A cell as the operator sees it in Excel (numbers to 15 significant digits)."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, int) and abs(cell) >= 10**21:
        return format(Decimal(cell), ".15g")  # str() refuses ints past 4300 digits
    if isinstance(cell, float):
        if not math.isfinite(cell):
            return str(cell)
        short = f"{cell:.15g}"
        return format(Decimal(short), "f") if abs(cell) < 1e21 else short
    if isinstance(cell, _dt.datetime):
        return cell.strftime("%Y-%m-%d %H:%M:%S") if cell.time() else cell.strftime("%Y-%m-%d")
    if isinstance(cell, _dt.date):
        return cell.isoformat()
    return str(cell)


def clip(text: str, limit: int = SHOWN_TEXT) -> str:
    """A cell's text as shown back (problems, report): a 30 KB cell on every row stays one."""
    return text if len(text) <= limit else text[:limit] + "…"


def _text(cell: object) -> str:
    """Half-width text without spaces anywhere (IDs, amounts, codes)."""
    text = display(cell)
    if text.isascii():
        return "".join(text.split())
    return "".join(unicodedata.normalize("NFKC", text).split())


def _parse_base(cell: object) -> tuple[Decimal | None, str | None]:
    """(amount, None) or (None, Chinese reason)."""
    if _is_blank(cell):
        return None, "新缴费工资未填写"
    if isinstance(cell, (bool, _dt.date, _dt.time, _dt.timedelta)):
        return None, "新缴费工资不是数字"
    if isinstance(cell, float):
        if cell.is_integer() and 0 <= cell < 1e8:  # the common case, fast
            return Decimal(int(cell)), None
        if not math.isfinite(cell):
            return None, "新缴费工资不是数字"
        amount = Decimal(repr(cell))
        if abs(amount) < MAX_BASE and amount != amount.quantize(CENT):
            # A formula result like 2400.0000000000005 shows as 2400 in Excel (15 digits).
            excel = Decimal(f"{cell:.15g}")
            if excel == excel.quantize(CENT):
                amount = excel
    elif isinstance(cell, int):
        amount = Decimal(cell)
    elif isinstance(cell, Decimal):
        if not cell.is_finite():
            return None, "新缴费工资不是数字"
        amount = cell
    else:
        text = _text(cell).replace(",", "").removeprefix("¥").removesuffix("元")
        if not _AMOUNT.match(text):
            return None, "新缴费工资不是数字"
        amount = Decimal(text)
    if amount < 0:
        return None, "新缴费工资不能为负数"
    if amount >= MAX_BASE:
        return None, f"新缴费工资过大（应小于 {MAX_BASE:,} 元）"
    if amount != amount.quantize(CENT):
        return None, "新缴费工资最多保留两位小数"
    return amount.quantize(CENT) + 0, None  # + 0 turns -0.00 into 0.00


def _parse_base_text(cell: object) -> tuple[Decimal | None, str | None, str]:
    """_parse_base plus the amount as stored ('8000.00')."""
    base, reason = _parse_base(cell)
    return base, reason, "" if base is None else f"{base:.2f}"


def _parse_month(cell: object) -> tuple[str | None, str | None]:
    """('YYYYMM', None) or (None, Chinese reason)."""
    if _is_blank(cell):
        return None, "生效年月未填写"
    year = month = 0
    if isinstance(cell, str) and len(cell) == 6 and cell.isascii() and cell.isdigit():
        year, month = int(cell[:4]), int(cell[4:])  # 202503, the common case
    elif isinstance(cell, _dt.date):  # datetime too
        year, month = cell.year, cell.month
    elif isinstance(cell, (bool, _dt.time, _dt.timedelta)):
        pass
    elif isinstance(cell, (int, float)):
        if isinstance(cell, int) or (math.isfinite(cell) and cell.is_integer()):
            number = int(cell)
            if 100000 <= number <= 999999:
                year, month = divmod(number, 100)
    else:
        text = display(cell)
        text = _TIME_SUFFIX.sub(
            "", (text if text.isascii() else unicodedata.normalize("NFKC", text)).strip()
        )
        match = _MONTH.match("".join(text.split()))
        if match:
            year = int(match.group(1))
            month = int(match.group(2) or match.group(4))
            day = match.group(3) or match.group(5)
            if day is not None and not 1 <= int(day) <= 31:
                month = 0
    if not (1900 <= year <= 2999 and 1 <= month <= 12):
        return (
            None,
            f"生效年月格式不正确（「{display(cell)}」），应写成 202503、2025-03 或 2025年3月",
        )
    return f"{year:04d}{month:02d}", None


_ASCII_ZERO_SUM = ord("0") * sum(ID_WEIGHTS)  # digits as bytes are ord("0") + d


@functools.lru_cache(maxsize=65536)
def _birth_ok(digits: str) -> bool:
    return birth_date(f"000000{digits}0000") is not None


def _resident_id_ok(number: str) -> bool:
    """The valid case fast (the same test as check_id_number, which words the reasons)."""
    return (
        len(number) == 18
        and number.isascii()
        and number[:17].isdigit()
        and _birth_ok(number[6:14])
        and ID_CHECK_CHARS[
            (sum(map(operator.mul, number[:17].encode(), ID_WEIGHTS)) - _ASCII_ZERO_SUM) % 11
        ]
        == number[17]
    )


def _check_resident_id(number: str) -> str | None:
    if _resident_id_ok(number):
        return None
    if len(number) == 15 and number.isdigit():
        return "证件号码只有 15 位，可能被截断或是旧号码，请填写 18 位居民身份证号码"
    reason = check_id_number(number)
    if reason is not None and len(number) == 18 and number.isdigit() and number.endswith("000"):
        return (
            "证件号码后几位变成了 000，可能被 Excel 当作数字保存、后几位已丢失。"
            "请把该列设为文本后重新填写"
        )
    return reason


# ---------------------------------------------------------------- validation

_MEMO_TYPES = (str, float, int)  # hashable, equal only when they parse the same
T = TypeVar("T")


def _memo(cache: dict[tuple[type, object], T], parse: Callable[[object], T], cell: object) -> T:
    if cell.__class__ not in _MEMO_TYPES:
        return parse(cell)
    key = (cell.__class__, cell)
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = parse(cell)
    return hit


def validate(table: RawTable, enrolled: Mapping[str, Enrolled], rules: RowRules) -> ImportResult:
    """Check every row; a row with any error is not imported, warnings are kept on the row."""
    columns = table.columns
    daily = rules.kind == "daily"
    names = {
        field: (table.headers[columns[field]] or FIELD_NAMES[field])
        if field in columns and columns[field] < len(table.headers)
        else FIELD_NAMES[field]
        for field in FIELD_NAMES
    }
    col_name, col_type = columns.get("name"), columns.get("id_type")
    col_id, col_base = columns.get("id_number"), columns.get("base")
    col_month = columns.get("effective_month") if daily else None
    problems: list[ImportProblem] = []
    imported: list[ImportedRow] = []
    first_seen: dict[str, int] = {}
    errors: list[ImportProblem] = []  # of the current row
    row = 0
    # Bases and months repeat down a sheet: parse each distinct cell value once, and ask
    # the rules (range checks) once per distinct value.
    parsed_bases: dict[tuple[type, object], tuple[Decimal | None, str | None, str]] = {}
    parsed_months: dict[tuple[type, object], tuple[str | None, str | None]] = {}
    month_checks: dict[str, str | None] = {}
    base_checks: dict[tuple[str | None, str], tuple[tuple[str, ...], str]] = {}
    width = max(
        [c for c in (col_name, col_type, col_id, col_base, col_month) if c is not None] + [0]
    )
    width += 1
    padding: list[object] = [None] * width

    def error(field: str, value: object, message: str) -> None:
        errors.append(ImportProblem(row, names[field], clip(display(value)), message, "error"))

    for row, values in table.rows:
        errors.clear()
        if len(values) < width:
            values = [*values, *padding[len(values) :]]

        # 证件号码
        raw_id = values[col_id] if col_id is not None else None
        number = ""
        person: Enrolled | None = None
        if isinstance(raw_id, str) and len(raw_id) > MAX_ID_TEXT:
            # Checked first: each test below walks the whole text, on every such row.
            error("id_number", raw_id, f"证件号码过长（超过 {MAX_ID_TEXT} 个字符），请检查该单元格")
        elif isinstance(raw_id, str) and raw_id.isascii() and raw_id.isalnum():
            number = raw_id.upper()  # the common clean case, fast
        elif _is_blank(raw_id):
            error("id_number", raw_id, "证件号码未填写")
        elif isinstance(raw_id, (int, float, Decimal)) and not isinstance(raw_id, bool):
            error(
                "id_number",
                raw_id,
                f"证件号码被保存为数字，后几位已丢失（{display(raw_id)}）。请把该列设为文本后重新填写",
            )
        else:
            number = _text(raw_id).upper()
            if not number:  # only characters that normalise away
                error("id_number", raw_id, "证件号码未填写")
        if number:
            if "E" in number and _SCI_TEXT.match(number):
                error(
                    "id_number",
                    raw_id,
                    f"证件号码被保存为数字，后几位已丢失（{display(raw_id)}）。请把该列设为文本后重新填写",
                )
                number = ""
            else:
                person = enrolled.get(number)

        # 证件类型: the file's, else the enrolled one's, else 居民身份证
        id_type = person.id_type if person is not None else RESIDENT_ID
        raw_type = values[col_type] if col_type is not None else None
        code = ID_TYPE_CODES.get(raw_type) if isinstance(raw_type, str) else None
        if code is None and not _is_blank(raw_type):
            code = ID_TYPE_CODES.get(_text(raw_type))
            if code is None:
                error("id_type", raw_type, f"证件类型不正确，应为：{'、'.join(ID_TYPES.values())}")
        if code is not None:
            id_type = code
            if person is not None and person.id_type != code:
                actual = ID_TYPES.get(person.id_type, person.id_type)
                error(
                    "id_type", raw_type, f"证件类型与本单位参保信息不符（参保信息中为「{actual}」）"
                )

        if number:
            # An ID the tax side enrolled in this unit is that person's number as registered:
            # the check digit matters only for numbers that match nobody.
            reason = _check_resident_id(number) if id_type == RESIDENT_ID and person is None else None
            if reason is not None:
                error("id_number", raw_id, reason)
                person = None
            elif number in first_seen:
                error("id_number", raw_id, f"与第 {first_seen[number]} 行重复")
                person = None
            else:
                first_seen[number] = row
                if person is None:
                    error("id_number", raw_id, "该职工不在本单位参保（请先更新职工参保信息）")

        # 姓名
        raw_name = values[col_name] if col_name is not None else None
        if (
            person is not None
            and raw_name != person.name
            and not _is_blank(raw_name)
            and normalize_name(display(raw_name)) != normalize_name(person.name)
        ):
            error("name", raw_name, f"姓名与证件号码不符（本单位参保信息中为「{person.name}」）")

        # 新缴费工资
        raw_base = values[col_base] if col_base is not None else None
        # The cache lookup inline (not _memo): it runs on every row.
        hit = parsed_bases.get((raw_base.__class__, raw_base)) if raw_base.__class__ in _MEMO_TYPES else None
        if hit is None:
            hit = _memo(parsed_bases, _parse_base_text, raw_base)
        base, reason, base_text = hit
        if reason is not None:
            error("base", raw_base, reason)

        # 生效年月
        month: str | None = None
        if daily:
            raw_month = values[col_month] if col_month is not None else None
            got = parsed_months.get((raw_month.__class__, raw_month)) if raw_month.__class__ in _MEMO_TYPES else None
            month, reason = got if got is not None else _memo(parsed_months, _parse_month, raw_month)
            if reason is None and month is not None:
                if month not in month_checks:
                    month_checks[month] = rules.check_month(month)
                reason = month_checks[month]
                if reason is not None:
                    month = None
            if reason is not None:
                error("effective_month", raw_month, reason)

        if errors:
            problems.extend(errors)
            continue
        assert person is not None and base is not None
        # The warnings of one (month, amount) once: the text '8000.00' stands for the amount
        # (a str key hashes once; a Decimal's hash is computed on every lookup).
        key = (month, base_text)
        checked = base_checks.get(key)
        if checked is None:
            messages = ["新缴费工资为 0，提交时需确认"] if base == 0 else []
            warning = rules.check_base(month, base)
            if warning:
                messages.append(warning)
            checked = base_checks[key] = (tuple(messages), "；".join(messages))
        messages_of_row, warning_text = checked
        if messages_of_row:
            shown = clip(display(raw_base))
            for message in messages_of_row:
                problems.append(ImportProblem(row, names["base"], shown, message, "warning"))
        # tuple.__new__ directly: the NamedTuple's own __new__ is one more Python call per row.
        imported.append(_new(ImportedRow, (
            row, person.employee_id, person.name, id_type, person.id_number, person.unit_number,
            person.current_base, base_text, month or "", warning_text,
        )))
    return ImportResult(imported, problems, len(table.rows), table)


_new = tuple.__new__


def import_file(
    data: bytes, filename: str, enrolled: Mapping[str, Enrolled], rules: RowRules
) -> ImportResult:
    with uploads.gc_paused():
        return validate(read_table(data, filename, kind=rules.kind), enrolled, rules)
