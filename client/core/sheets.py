"""Bounded reading of spreadsheet uploads: the first sheet's non-blank rows, nothing more.

Every upload is hostile until read. A 2 KB xlsx can declare a cell at XFD1048576, a 4 MB
one can inflate to gigabytes of XML, a csv can be one 60 MB line. So nothing a file
declares is trusted (``<dimension>``, zip members' sizes, ``uniqueCount``): the xlsx parts
are streamed out of the zip with a budget of decompressed bytes, the sheet XML is parsed
as it streams, and only non-blank rows are kept, each as a list up to its last value,
under budgets of cells, elements and characters. Whatever is over a budget is refused
with a Chinese message naming it, before memory grows.

This module: the limits and messages, what the bytes are (sniff), csv, and xls/ods, which
go to python-calamine in a child process with capped memory and time (calamine makes a
dense grid of the cells' bounding box, and an OLE2 file's cells can sit anywhere).
xlsx: client/core/sheets_xlsx.py (the zip, and calamine when byte scans show it fits)
and client/core/sheets_xml.py (the streaming parser for every other sheet).
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import itertools
import pickle
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from client.errors import ValidationError

MAX_UNZIPPED = 256 * 2**20  # decompressed bytes taken from one xlsx, all parts together
MAX_CELLS = 3_000_000  # cell slots kept: a row holds slots up to its last value
MAX_ELEMENTS = 10_000_000  # <c> elements, blank styled ones too
MAX_TEXT = 32 * 2**20  # characters of text kept (shared strings and inline text)
MAX_STRINGS = 2_000_000  # shared strings
MAX_CELL_BYTES = 2**20  # XML of one cell (Excel holds at most 32,767 characters)
MAX_MEMBERS = 10_000  # zip members (a real workbook has tens)
MAX_LINE = 2**20  # characters of one csv line
MAX_COLUMNS = 16_384  # Excel's last column, XFD
MAX_SHEET_ROWS = 1_048_576  # Excel's last row
CHILD_MEMORY = 512 * 2**20  # address space of the calamine child
CHILD_SECONDS = 25
CHUNK = 2**20

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_NAMES = tuple(n.encode("utf-16-le") for n in ("EncryptedPackage", "EncryptionInfo"))
_XLS_STREAMS = tuple(n.encode("utf-16-le") for n in ("Workbook", "Book"))
_NOT_TABLE_MAGIC = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x7fELF", b"MZ", b"<")

EMPTY = "文件是空的，没有任何数据，请填写后重新导入"
NOT_A_TABLE = "文件不是 Excel 或 CSV 表格，请另存为 .xlsx 后重新导入"
ENCRYPTED = "文件已加密（设置了打开密码），请取消密码后重新导入"
CORRUPT = "文件已损坏，无法读取，请用 Excel 打开检查后另存为 .xlsx 再导入"
UNSAFE = "文件含有不安全的 XML 内容（DOCTYPE 或实体声明），不是 Excel 保存的表格，已拒绝导入"
TOO_MANY_MEMBERS = (
    f"文件结构异常：压缩包内的文件超过 {MAX_MEMBERS:,} 个，不是正常的 Excel 表格，请另存为 .xlsx 后重新导入"
)
UNZIPPED = (
    f"文件解压后过大（超过 {MAX_UNZIPPED // 2**20} MB），可能含有大量空白格式或已损坏，"
    "请在 Excel 中删除多余的行和列后另存为 .xlsx 再导入"
)
ELEMENTS = (
    f"表格中带格式的空白单元格过多（超过 {MAX_ELEMENTS:,} 个），"
    "请在 Excel 中删除多余的行和列后另存为 .xlsx 再导入"
)
ROWS_PAST_EXCEL = (
    f"表格超过 {MAX_SHEET_ROWS:,} 行（Excel 的最大行数），文件已损坏或不是 Excel 保存的，"
    "请用 Excel 打开检查后另存为 .xlsx 再导入"
)
CHILD_FAILED = (
    "读取该文件所需的内存或时间超过限制，文件可能已损坏或含有大量空白单元格，"
    "请用 Excel 另存为 .xlsx 后重新导入"
)


def _fail(message: str) -> ValidationError:
    return ValidationError(message, code="import_file", field="file")


def _too_many_cells(row: int) -> ValidationError:
    return _fail(
        f"表格内容过多：到第 {row:,} 行已超过 {MAX_CELLS:,} 个单元格，"
        "请删除不需要的行和列，或拆分后分批导入"
    )


def _too_much_text(what: str) -> ValidationError:
    return _fail(f"表格中的文字过多（{what}），请删除不需要的内容或拆分后分批导入")


def _cell_too_long(row: int) -> ValidationError:
    if row <= 0:  # a shared string: no row to name
        return _too_much_text(f"有一段文字超过 {MAX_CELL_BYTES // 2**20} MB")
    return _fail(f"第 {row:,} 行有单元格内容过长（超过 {MAX_CELL_BYTES // 2**20} MB），请检查该行后重新导入")


@dataclass(frozen=True)
class Sheet:
    rows: list[tuple[int, list[object]]]  # (1-based row, values up to the last non-blank), ascending
    more: int  # non-blank rows past ``keep_rows``, counted but not kept


# ---------------------------------------------------------------- what the bytes are


def sniff(data: bytes) -> str:
    """'xlsx' | 'ods' | 'xls' | 'csv' from the content, whatever the extension says."""
    if not data:
        raise _fail(EMPTY)
    if data.startswith(_OLE2):
        if any(name in data for name in _ENCRYPTED_NAMES):
            raise _fail(ENCRYPTED)
        if any(name in data for name in _XLS_STREAMS):
            return "xls"
        raise _fail(NOT_A_TABLE)  # a Word .doc or other OLE2 document
    if data.startswith(b"PK"):
        names = set(_open_zip(data).namelist())
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
        if "content.xml" in names and "mimetype" in names:
            return "ods"
        raise _fail(NOT_A_TABLE)  # .docx, .zip and the like
    head = data[:65536]
    if b"\x00" in head or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(_NOT_TABLE_MAGIC):
        raise _fail(NOT_A_TABLE)
    return "csv"


def _open_zip(data: bytes) -> zipfile.ZipFile:
    # zipfile builds an object per central directory entry, each starting with this
    # signature: counting them first bounds that, whatever the end record claims.
    if data.count(b"PK\x01\x02") > MAX_MEMBERS:
        raise _fail(TOO_MANY_MEMBERS)
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise _fail(CORRUPT) from None


# ---------------------------------------------------------------- collecting rows


class _Rows:
    """Non-blank rows by number, under the cell budget; a new list only for a non-blank value."""

    def __init__(self, keep_rows: int) -> None:
        self.rows: dict[int, list[object]] = {}
        self.keep_rows = keep_rows
        self.more = 0
        self.slots = 0
        self.last = 0

    def place(self, row: int, col: int, value: object) -> None:
        values = self.rows.get(row)
        if values is None:
            if len(self.rows) >= self.keep_rows:
                if row != self.last:
                    self.more += 1
                    self.last = row
                return
            values = self.rows[row] = []
        n = len(values)
        if col >= n:
            if col > n:
                values.extend([None] * (col - n))
            values.append(value)
            self.slots += col + 1 - n
            if self.slots > MAX_CELLS:
                raise _too_many_cells(row)
        else:
            values[col] = value

    def sheet(self) -> Sheet:
        return Sheet(sorted(self.rows.items()), self.more)


# ---------------------------------------------------------------- csv


def _csv_encoding(data: bytes) -> str:
    """utf-8 (with or without BOM), else gb18030 as Chinese Excel saves csv; checked in chunks."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for at in range(0, len(data), CHUNK):
                decoder.decode(data[at : at + CHUNK])
            decoder.decode(b"", True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise _fail(NOT_A_TABLE)


def _csv_lines(text: io.TextIOBase, count: list[int]) -> Iterator[str]:
    """Physical lines ending in \n (\r\n and \r made \n), none longer than MAX_LINE."""
    carry = ""
    while True:
        chunk = text.read(CHUNK)
        if not chunk:
            break
        chunk = carry + chunk
        if "\r" in chunk:
            keep_cr = chunk.endswith("\r")  # perhaps the first half of \r\n
            chunk = chunk.replace("\r\n", "\n").replace("\r", "\n")
            if keep_cr:
                chunk = chunk[:-1] + "\r"
        last = chunk.rfind("\n") + 1
        lines = _LINE.findall(chunk, 0, last)
        carry = chunk[last:]
        if len(carry) > MAX_LINE:
            raise _line_too_long(count[0] + len(lines) + 1)
        count[0] += len(lines)
        yield from lines
    if carry:
        count[0] += 1
        yield carry.replace("\r", "\n")


_LINE = re.compile(r"[^\n]*\n")


def _line_too_long(line: int) -> ValidationError:
    return _fail(f"第 {line:,} 行过长（超过 {MAX_LINE:,} 个字符），文件可能已损坏，请检查后重新导入")


def read_csv(data: bytes, keep_rows: int) -> Sheet:
    """Lines split in bulk; a line with a quote goes through the csv module (fields may span lines)."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding=_csv_encoding(data), newline="")
    physical = [0]
    lines = _csv_lines(text, physical)

    def record_lines() -> Iterator[str]:
        # A quoted field may hold newlines: one record still reads at most MAX_LINE more.
        taken = 0
        for line in lines:
            taken += len(line)
            if taken > MAX_LINE:
                raise _line_too_long(physical[0])
            yield line

    out = _Rows(keep_rows)
    rows = out.rows
    record = 0
    for line in lines:
        record += 1
        if line == "\n":
            continue
        if '"' in line:
            try:
                values = next(csv.reader(itertools.chain((line,), record_lines())))
            except StopIteration:
                continue
            except csv.Error as exc:
                if "field larger" in str(exc):
                    raise _cell_too_long(record) from None
                raise _fail(CORRUPT) from None
        else:
            values = line.rstrip("\n").split(",")
        while values and not values[-1]:
            values.pop()
        if not values:
            continue
        if len(rows) >= keep_rows:
            out.more += 1
            continue
        out.slots += len(values)
        if out.slots > MAX_CELLS:
            raise _too_many_cells(record)
        rows[record] = values  # type: ignore[assignment]
    return Sheet(list(rows.items()), out.more)


# ---------------------------------------------------------------- xls, ods: calamine in a child


class _Unpickler(pickle.Unpickler):
    """The child's answer holds plain values and datetime types, nothing that runs code."""

    def find_class(self, module: str, name: str) -> type:
        if module == "datetime" and name in ("datetime", "date", "time", "timedelta"):
            return getattr(_dt, name)  # type: ignore[no-any-return]
        raise pickle.UnpicklingError(f"{module}.{name}")


def read_isolated(data: bytes, keep_rows: int) -> Sheet:
    """calamine fills a dense grid of the cells' bounding box: it runs where memory is capped."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "client.core.sheets", str(keep_rows)],
            input=data, capture_output=True, timeout=CHILD_SECONDS, check=False,
        )
    except subprocess.TimeoutExpired:
        raise _fail(CHILD_FAILED) from None
    if proc.returncode != 0 or not proc.stdout:
        raise _fail(CHILD_FAILED)
    try:
        answer = _Unpickler(io.BytesIO(proc.stdout)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError):
        raise _fail(CORRUPT) from None
    if isinstance(answer, str):
        raise _fail(answer)
    rows, more = answer
    return Sheet(rows, more)


def _calamine_rows(data: bytes, keep_rows: int) -> tuple[list[tuple[int, list[object]]], int]:
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    if not book.sheet_names:
        raise _fail(CORRUPT)
    sheet = book.get_sheet_by_index(0)
    start = sheet.start or (0, 0)
    out = _Rows(keep_rows)
    for index, cells in enumerate(sheet.to_python(skip_empty_area=True)):
        row = start[0] + index + 1
        for col, value in enumerate(cells):
            if value != "" and value is not None:
                out.place(row, start[1] + col, value)
    sheet_out = out.sheet()
    return sheet_out.rows, sheet_out.more


def _child(keep_rows: int) -> None:
    """``python -m client.core.sheets N``: workbook on stdin, pickled rows or a message on stdout."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
        resource.setrlimit(resource.RLIMIT_CPU, (CHILD_SECONDS, CHILD_SECONDS))
    except (ImportError, ValueError, OSError):  # Windows: the time-out still holds
        pass
    data = sys.stdin.buffer.read()
    try:
        answer: object = _calamine_rows(data, keep_rows)
    except ValidationError as exc:
        answer = exc.message
    except MemoryError:
        answer = CHILD_FAILED
    except Exception as exc:  # calamine raises many kinds for broken files
        text = f"{type(exc).__name__} {exc}".lower()
        answer = ENCRYPTED if "password" in text or "encrypt" in text else CORRUPT
    sys.stdout.buffer.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    _child(int(sys.argv[1]))
