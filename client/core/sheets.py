"""Bounded reading of spreadsheet uploads: the first sheet's non-blank rows, nothing more.

Every upload is hostile until read. A 2 KB xlsx can declare a cell at XFD1048576, a 4 MB
one can inflate to gigabytes of XML, a csv can be one 60 MB line. So nothing a file
declares is trusted (``<dimension>``, zip members' sizes, ``uniqueCount``): the xlsx parts
are streamed out of the zip with a budget of decompressed bytes, the sheet XML is parsed
as it streams, and only non-blank rows are kept, each as a list up to its last value,
under budgets of cells, elements and characters. Whatever is over a budget is refused
with a Chinese message naming it, before memory grows.

xlsx is parsed here: a strict regular-expression tokenizer reads what Excel, WPS and the
usual libraries write (fast), and any XML it does not take is read again by expat.
xls and ods go to python-calamine in a child process with capped memory and time, since
calamine makes a dense grid of the cells' bounding box.
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
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from xml.parsers import expat

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


def read(data: bytes, keep_rows: int) -> Sheet:
    """The first sheet of an upload; raises ValidationError(field='file')."""
    kind = sniff(data)
    if kind == "csv":
        return read_csv(data, keep_rows)
    if kind == "xlsx":
        return read_xlsx(data, keep_rows)
    return read_isolated(data, keep_rows)


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


# ---------------------------------------------------------------- xlsx: the parts


class _Fallback(Exception):
    """The fast tokenizer met XML it does not take: expat reads the part instead."""


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_UNZIPPED

    def chunks(self, book: zipfile.ZipFile, name: str) -> Iterator[bytes]:
        """A member's bytes as they inflate; its declared size is not trusted."""
        try:
            with book.open(name) as member:
                while True:
                    chunk = member.read(CHUNK)
                    if not chunk:
                        return
                    self.left -= len(chunk)
                    if self.left < 0:
                        raise _fail(UNZIPPED)
                    yield chunk
        except ValidationError:
            raise
        except RuntimeError as exc:  # a member with a zip password
            raise _fail(ENCRYPTED if "encrypt" in str(exc).lower() else CORRUPT) from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError):
            raise _fail(CORRUPT) from None


def _refuse_doctype(*_args: object) -> None:
    raise _fail(UNSAFE)


def _expat(
    chunks: Iterable[bytes],
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> None:
    """Parse a part with expat; a DOCTYPE (entities, billion laughs) is refused outright."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError:
        raise _fail(CORRUPT) from None


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _attr(attrs: dict[str, str], local: str) -> str | None:
    for key, value in attrs.items():
        if _local(key) == local:
            return value
    return None


def _member(book: zipfile.ZipFile, name: str) -> str | None:
    """Part names are case-insensitive in OOXML."""
    name = name.lstrip("/")
    try:
        book.getinfo(name)
        return name
    except KeyError:
        lower = name.lower()
        return next((n for n in book.namelist() if n.lower() == lower), None)


def _first_sheet(book: zipfile.ZipFile, budget: _Budget) -> tuple[str, bool]:
    """The first sheet's part name, and whether dates count from 1904."""
    found: dict[str, str] = {}

    def on_workbook(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "sheet" and "rid" not in found:
            found["rid"] = _attr(attrs, "id") or ""
        elif local == "workbookPr":
            found["1904"] = attrs.get("date1904", "")

    workbook = _member(book, "xl/workbook.xml")
    if workbook is None:
        raise _fail(CORRUPT)
    _expat(budget.chunks(book, workbook), on_workbook)
    targets: dict[str, str] = {}

    def on_rels(name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "Relationship" and len(targets) < MAX_MEMBERS:
            targets[attrs.get("Id", "")] = attrs.get("Target", "")

    rels = _member(book, "xl/_rels/workbook.xml.rels")
    if rels is not None:
        _expat(budget.chunks(book, rels), on_rels)
    target = targets.get(found.get("rid", ""), "")
    if target:
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        parts: list[str] = []
        for piece in part.split("/"):
            if piece == "..":
                if parts:
                    parts.pop()
            elif piece not in ("", "."):
                parts.append(piece)
        sheet = _member(book, "/".join(parts))
    else:
        sheet = _member(book, "xl/worksheets/sheet1.xml")
    if sheet is None:
        raise _fail(CORRUPT)
    return sheet, found.get("1904", "").lower() in ("1", "true")


_BUILTIN_DATES = {**dict.fromkeys((*range(14, 23), 45, 47), 1), 46: 2}
_FORMAT_QUOTED = re.compile(r'"[^"]*"|\\.|_.|\*.')


def _format_kind(code: str) -> int:
    """0 a number, 1 a date or time, 2 a duration ([h]:mm), from a number format code."""
    code = _FORMAT_QUOTED.sub("", code.split(";", 1)[0])
    if re.search(r"\[(?:h+|m+|s+)\]", code, re.IGNORECASE):
        return 2
    code = re.sub(r"\[[^\]]*\]", "", code)
    return 1 if re.search(r"[dmhysDMHYS]|[aA][mM]?/[pP]", code) else 0


def _date_styles(book: zipfile.ZipFile, budget: _Budget) -> dict[int, int]:
    """Cell style index -> 1 (date) or 2 (duration), for the styles whose format is one."""
    name = _member(book, "xl/styles.xml")
    if name is None:
        return {}
    formats: dict[int, int] = dict(_BUILTIN_DATES)
    xfs: list[int] = []
    where: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        local = _local(tag)
        where.append(local)
        try:
            if local == "numFmt":
                formats[int(attrs.get("numFmtId", "-1"))] = _format_kind(attrs.get("formatCode", ""))
            elif local == "xf" and len(where) > 1 and where[-2] == "cellXfs" and len(xfs) < 65536:
                xfs.append(int(attrs.get("numFmtId", "0")))
        except ValueError:
            raise _fail(CORRUPT) from None

    _expat(budget.chunks(book, name), start, lambda _tag: where.pop())
    return {i: formats[f] for i, f in enumerate(xfs) if formats.get(f)}


_EPOCH_1900 = _dt.datetime(1899, 12, 30)
_EPOCH_1904 = _dt.datetime(1904, 1, 1)


def _date(value: float, kind: int, is_1904: bool) -> object:
    """An Excel serial as calamine gives it: timedelta, time (< 1 day), date or datetime."""
    try:
        if kind == 2:
            return _dt.timedelta(days=value)
        if not is_1904 and value < 60:
            value += 1  # Excel's 1900-02-29, a day that never was
        millis = round(value * 86_400_000)
        if 0 <= millis < 86_400_000:
            return (_dt.datetime.min + _dt.timedelta(milliseconds=millis)).time()
        moment = (_EPOCH_1904 if is_1904 else _EPOCH_1900) + _dt.timedelta(milliseconds=millis)
    except (OverflowError, ValueError):
        return value
    return moment.date() if moment.time() == _dt.time() else moment


# ---------------------------------------------------------------- xlsx: text

_ENTITY = re.compile(rb"&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));")
_NAMED = {b"amp": b"&", b"lt": b"<", b"gt": b">", b"quot": b'"', b"apos": b"'"}
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _entity(match: re.Match[bytes]) -> bytes:
    name, dec, hexa = match.groups()
    if name is not None:
        return _NAMED[name]
    code = int(dec) if dec is not None else int(hexa, 16)
    try:
        return chr(code).encode("utf-8", "surrogatepass")
    except (ValueError, OverflowError):
        raise _fail(CORRUPT) from None


def _text(raw: bytes) -> str:
    """XML character data as expat would give it, then Excel's _xHHHH_ escapes."""
    if b"&" in raw:
        count = raw.count(b"&")
        raw, known = _ENTITY.subn(_entity, raw)
        if known != count:  # a name only a DOCTYPE could define: expat decides
            raise _Fallback
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(CORRUPT) from None
    if "_x" in text:
        text = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _pieces(chunks: Iterator[bytes], open_tag: bytes, close_tag: bytes, cuts: tuple[bytes, ...],
            row_hint: Callable[[], int]) -> Iterator[bytes]:
    """The body between ``open_tag`` and ``close_tag``, in pieces cut after whole elements."""
    buf = b""
    first = True
    for chunk in chunks:
        buf += chunk
        if first and (b"<!DOCTYPE" in buf[:65536] or b"<!ENTITY" in buf[:65536]):
            raise _fail(UNSAFE)
        if first and not buf.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            raise _Fallback  # UTF-16 or another encoding
        first = False
        at = buf.find(open_tag)
        if at < 0:
            if b"<!" in buf:
                raise _Fallback  # a comment or CDATA in the prolog
            buf = buf[-len(open_tag) :]
            continue
        declared = re.search(rb'encoding\s*=\s*["\']([^"\']*)', buf[:at])
        if (declared and declared.group(1).lower() not in (b"utf-8", b"utf8")) or b"<!" in buf[:at]:
            raise _Fallback
        close = buf.find(b">", at)
        if close < 0:
            buf = buf[at:]
            continue
        if buf[close - 1 : close] == b"/":
            return  # an empty element: no rows
        if not re.match(rb"[\s/>]", buf[at + len(open_tag) : at + len(open_tag) + 1]):
            raise _Fallback  # <sheetDataX> or the like
        buf = buf[close + 1 :]
        break
    else:
        raise _Fallback  # no such element: perhaps written with a namespace prefix
    while True:
        end = buf.find(close_tag)
        if end >= 0:
            yield buf[:end]
            return
        cut = -1
        for mark in cuts:
            found = buf.rfind(mark)
            if found >= 0:
                cut = found + len(mark)
                break
        if cut > 0:
            yield buf[:cut]
            buf = buf[cut:]
        elif not buf.strip():
            yield buf  # whitespace between elements: the budget of bytes bounds it
            buf = b""
        if len(buf) > MAX_CELL_BYTES:
            raise _cell_too_long(row_hint())
        chunk = next(chunks, None)
        if chunk is None:
            raise _fail(CORRUPT)  # the part ends inside the element
        buf += chunk


_A = rb"""(?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*"""
# One token per match, so findall covers every byte: a cell, a row start, </row>, blanks,
# or one byte of anything else (the last group), which sends the part to expat.
# Attributes past r, s and t (in that order, as Excel writes them) land in a group that
# _ATTR reads; a '>' or '/' inside an attribute value makes a stray byte too.
_SHEET_TOKEN = re.compile(
    rb'<(c)(?: r="([A-Z]{1,3})([0-9]{1,7})")?(?: s="([0-9]{1,9})")?(?: t="([a-zA-Z]{1,9})")?([^<>/]*)'
    rb"(?:/>|>(?:<f[^<>]*?(?:/>|>[^<]*</f>))?(?:<v>([^<]*)</v>|<v\s*/>)?"
    rb'(?:<is><t(?: xml:space="preserve")?>([^<]*)</t></is>)?</c>)'
    rb'|<(row)(?: r="([0-9]{1,7})")?([^<>/]*)/?>|</row>|\s+|(.)',
    re.DOTALL,
)
_ATTR = re.compile(rb"""([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REF = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")
_COLUMNS: dict[bytes | str, int] = {}


def _column(letters: bytes | str) -> int:
    index = _COLUMNS.get(letters)
    if index is None:
        index = 0
        for ch in letters if isinstance(letters, str) else letters.decode():
            index = index * 26 + ord(ch) - 64
        index -= 1
        if len(_COLUMNS) < 20_000:
            _COLUMNS[letters] = index
    return index


class _SheetReader:
    """The sheet's cells into ``_Rows``; the same bookkeeping for both parsers."""

    def __init__(self, shared: list[str], styles: dict[int, int], is_1904: bool, keep_rows: int) -> None:
        self.shared, self.styles, self.is_1904 = shared, styles, is_1904
        self.out = _Rows(keep_rows)
        self.row = 0
        self.col = -1
        self.elements = 0
        self.text = MAX_TEXT

    def value(self, kind: bytes | str | None, raw: bytes | None, style: int, text: str | None) -> object:
        if kind is None or kind in (b"n", "n"):
            if not raw:
                return None
            try:
                number = float(raw)
            except ValueError:
                raise _fail(CORRUPT) from None
            date = self.styles.get(style) if self.styles else None
            return _date(number, date, self.is_1904) if date else number
        if kind in (b"s", "s"):
            try:
                return self.shared[int(raw or b"")]
            except (ValueError, IndexError):
                raise _fail(CORRUPT) from None
        if kind in (b"inlineStr", "inlineStr"):
            return text
        if kind in (b"b", "b"):
            return None if raw is None else raw.strip() in (b"1", b"true")
        if raw is None:
            return None
        value = _text(raw)
        if kind in (b"d", "d"):
            try:
                return _dt.datetime.fromisoformat(value)
            except ValueError:
                return value
        return value  # 'str' (a formula's text), 'e' (#N/A and the like)

    def start_row(self, number: int | None) -> None:
        self.row = self.row + 1 if number is None else number
        if not 1 <= self.row <= MAX_SHEET_ROWS:
            raise _fail(ROWS_PAST_EXCEL if self.row > 0 else CORRUPT)
        self.col = -1

    def fast(self, chunks: Iterator[bytes]) -> None:
        """The usual shapes at regex speed; raises _Fallback at anything else."""
        out, rows, shared, styles, columns = self.out, self.out.rows, self.shared, self.styles, _COLUMNS
        elements, slots, text_left = 0, 0, self.text
        row, row_digits, col, values = self.row, b"", -1, None
        for piece in _pieces(chunks, b"<sheetData", b"</sheetData>", (b"</row>", b"</c>", b"/>"),
                             lambda: self.row + 1):
            elements += piece.count(b"<c")
            for is_cell, letters, digits, style, kind, rest, raw, inline, is_row, number, row_rest, bad in (
                _SHEET_TOKEN.findall(piece)
            ):
                if is_cell:
                    if rest:
                        letters, digits, style, kind = self._attrs(rest, letters, digits, style, kind)
                    if letters:
                        col = columns.get(letters)  # type: ignore[assignment]
                        if col is None:
                            col = _column(letters)
                        if digits != row_digits:
                            self.start_row(int(digits))
                            row, row_digits, values = self.row, digits, rows.get(self.row)
                    else:
                        col += 1
                        if col >= MAX_COLUMNS:
                            raise _fail(CORRUPT)
                    if inline:
                        if b"&" in inline or b"\r" in inline:
                            cell: object = _text(inline)
                        else:
                            try:
                                cell = inline.decode()
                            except UnicodeDecodeError:
                                raise _fail(CORRUPT) from None
                            if "_x" in cell:  # type: ignore[operator]
                                cell = _text(inline)
                        text_left -= len(cell)  # type: ignore[arg-type]
                    elif not raw:
                        continue
                    elif not kind or kind == b"n":
                        try:
                            cell = float(raw)
                        except ValueError:
                            raise _fail(CORRUPT) from None
                        if style and styles:
                            date = styles.get(int(style))
                            if date:
                                cell = _date(cell, date, self.is_1904)  # type: ignore[arg-type]
                    elif kind == b"s":
                        try:
                            cell = shared[int(raw)]
                        except (ValueError, IndexError):
                            raise _fail(CORRUPT) from None
                    else:
                        cell = self.value(kind, raw, int(style) if style else 0, None)
                        if cell is None:
                            continue
                        if isinstance(cell, str):
                            text_left -= len(cell)
                    if values is None:
                        self.row = row
                        out.place(row, col, cell)
                        values = rows.get(row)
                        continue
                    n = len(values)
                    if col == n:
                        values.append(cell)
                        slots += 1
                    elif col > n:
                        values.extend([None] * (col - n))
                        values.append(cell)
                        slots += col + 1 - n
                    else:
                        values[col] = cell
                elif is_row:
                    if row_rest:
                        found = {k: a or b for k, a, b in _ATTR.findall(row_rest)}
                        number = found.get(b"r", number)
                    try:
                        self.start_row(int(number) if number else None)
                    except ValueError:
                        raise _fail(CORRUPT) from None
                    row, row_digits, col, values = self.row, b"", -1, rows.get(self.row)
                elif bad:
                    raise _Fallback
            self.row = row
            out.slots += slots
            slots = 0
            if out.slots > MAX_CELLS:
                raise _too_many_cells(row)
            if elements > MAX_ELEMENTS:
                raise _fail(ELEMENTS)
            if text_left < 0:
                raise _too_much_text(f"超过 {MAX_TEXT:,} 个字符")

    @staticmethod
    def _attrs(rest: bytes, letters: bytes | None, digits: bytes | None, style: bytes | None,
               kind: bytes | None) -> tuple[bytes | None, bytes | None, bytes | None, bytes | None]:
        for key, a, b in _ATTR.findall(rest):
            got = a or b
            if key == b"r":
                ref = re.match(rb"^([A-Z]{1,3})([0-9]{1,7})$", got)
                if ref is None:
                    raise _fail(CORRUPT)
                letters, digits = ref.groups()
            elif key == b"s":
                style = got if got.isdigit() else None
            elif key == b"t":
                kind = got
        return letters, digits, style, kind

    def slow(self, chunks: Iterator[bytes]) -> None:
        """Any well-formed sheet XML (prefixes, rich text, comments, other encodings)."""
        state: dict[str, object] = {"in_data": False, "cell": None, "depth_rph": 0}
        parts: list[str] = []
        collecting = [False]
        elements = [0]

        def start(name: str, attrs: dict[str, str]) -> None:
            local = _local(name)
            if local == "sheetData":
                state["in_data"] = True
            elif not state["in_data"]:
                return
            elif local == "row":
                number = attrs.get("r")
                try:
                    self.start_row(None if number is None else int(number))
                except ValueError:
                    raise _fail(CORRUPT) from None
            elif local == "c":
                elements[0] += 1
                if elements[0] > MAX_ELEMENTS:
                    raise _fail(ELEMENTS)
                ref = attrs.get("r")
                if ref is not None:
                    found = _REF.match(ref)
                    if found is None:
                        raise _fail(CORRUPT)
                    col, row = _column(found.group(1)), int(found.group(2))
                    if row != self.row:
                        self.start_row(row)
                else:
                    col, row = self.col + 1, self.row
                if col >= MAX_COLUMNS or row == 0:
                    raise _fail(CORRUPT)
                self.col = col
                style = attrs.get("s", "0")
                state["cell"] = (row, col, attrs.get("t"), int(style) if style.isdigit() else 0)
                state["v"] = None
                parts.clear()
            elif local == "rPh":
                state["depth_rph"] = int(state["depth_rph"]) + 1  # type: ignore[call-overload]
            elif state["cell"] is not None and local in ("v", "t") and not state["depth_rph"]:
                collecting[0] = True
                if local == "v":
                    parts.clear()

        def end(name: str) -> None:
            local = _local(name)
            if local == "sheetData":
                state["in_data"] = False
            elif local == "rPh":
                state["depth_rph"] = int(state["depth_rph"]) - 1  # type: ignore[call-overload]
            elif local == "v" and collecting[0]:
                state["v"] = "".join(parts)
                collecting[0] = False
            elif local == "t":
                collecting[0] = False
            elif local == "c" and state["cell"] is not None:
                row, col, kind, style = state["cell"]  # type: ignore[misc]
                raw = state["v"]
                text = "".join(parts) if kind == "inlineStr" else None
                state["cell"] = None
                if raw is None and (text is None or not parts):
                    return
                self.text -= len(text or raw or "")  # type: ignore[arg-type]
                if self.text < 0:
                    raise _too_much_text(f"超过 {MAX_TEXT:,} 个字符")
                encoded = None if raw is None else raw.encode()
                cell = self._slow_value(kind, encoded, style, text)
                if cell is not None:
                    self.out.place(row, col, cell)

        def chars(data: str) -> None:
            if collecting[0]:
                parts.append(data)

        _expat(chunks, start, end, chars)

    def _slow_value(self, kind: str | None, raw: bytes | None, style: int, text: str | None) -> object:
        if kind in ("str", "e", "d") and raw is not None:
            value = raw.decode()
            if "_x" in value:
                value = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
            if kind == "d":
                try:
                    return _dt.datetime.fromisoformat(value)
                except ValueError:
                    return value
            return value
        if text is not None and "_x" in text:
            text = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
        return self.value(kind, raw, style, text)


def _shared_strings(book: zipfile.ZipFile, budget: _Budget) -> list[str]:
    name = _member(book, "xl/sharedStrings.xml")
    if name is None:
        return []
    left = budget.left
    try:
        return _shared_fast(budget.chunks(book, name))
    except _Fallback:
        budget.left = left
        return _shared_slow(budget.chunks(book, name))


_SI = re.compile(rb"<si><t" + _A + rb"(?:/>|>([^<]*)</t>)(?:<phoneticPr" + _A + rb"/>)?</si>|\s+")


def _shared_fast(chunks: Iterator[bytes]) -> list[str]:
    strings: list[str] = []
    text_left = MAX_TEXT
    for piece in _pieces(chunks, b"<sst", b"</sst>", (b"</si>",), lambda: 0):
        pos = 0
        for m in _SI.finditer(piece):
            if m.start() != pos:
                raise _Fallback
            pos = m.end()
            if m.group(0)[:1] == b"<":
                text = _text(m.group(1) or b"")
                strings.append(text)
                text_left -= len(text)
        if pos != len(piece):
            raise _Fallback
        if len(strings) > MAX_STRINGS or text_left < 0:
            raise _too_much_text(f"共享字符串超过 {MAX_STRINGS:,} 个或 {MAX_TEXT:,} 个字符")
    return strings


def _shared_slow(chunks: Iterator[bytes]) -> list[str]:
    strings: list[str] = []
    parts: list[str] = []
    state = {"si": False, "t": False, "rph": 0, "left": MAX_TEXT}

    def start(name: str, _attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "si":
            state["si"] = True
            parts.clear()
        elif local == "rPh":
            state["rph"] += 1
        elif local == "t" and state["si"] and not state["rph"]:
            state["t"] = True

    def end(name: str) -> None:
        local = _local(name)
        if local == "si":
            text = "".join(parts)
            if "_x" in text:
                text = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
            strings.append(text)
            state["si"] = False
            if len(strings) > MAX_STRINGS:
                raise _too_much_text(f"共享字符串超过 {MAX_STRINGS:,} 个")
        elif local == "rPh":
            state["rph"] -= 1
        elif local == "t":
            state["t"] = False

    def chars(data: str) -> None:
        if state["t"]:
            state["left"] -= len(data)
            if state["left"] < 0:
                raise _too_much_text(f"超过 {MAX_TEXT:,} 个字符")
            parts.append(data)

    _expat(chunks, start, end, chars)
    return strings


def read_xlsx(data: bytes, keep_rows: int) -> Sheet:
    book = _open_zip(data)
    budget = _Budget()
    name, is_1904 = _first_sheet(book, budget)
    styles = _date_styles(book, budget)
    shared = _shared_strings(book, budget)
    left = budget.left
    reader = _SheetReader(shared, styles, is_1904, keep_rows)
    try:
        reader.fast(budget.chunks(book, name))
    except _Fallback:
        budget.left = left
        reader = _SheetReader(shared, styles, is_1904, keep_rows)
        reader.slow(budget.chunks(book, name))
    return reader.out.sheet()


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
