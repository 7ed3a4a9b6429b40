"""xlsx: the first sheet out of the zip, every part under a budget of inflated bytes.

Two ways in, both bounded. A sheet whose bytes show the plain shape Excel, WPS and the
usual libraries write (every cell with an r="A1" reference, at most 99,999 rows and 26
columns, no DOCTYPE, no prefixed elements, few cells) goes to python-calamine, the fastest
reader: checked by byte scans only, so calamine's grid of the cells' bounding box and its
copies of shared strings stay small. Any other sheet is parsed here as it inflates: a strict
regular-expression tokenizer for the usual XML and expat for the rest, keeping non-blank
rows only, under budgets of cells, elements and characters (client/core/sheets.py).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator

from client.core.sheets import (
    CHUNK,
    CORRUPT,
    ENCRYPTED,
    MAX_MEMBERS,
    MAX_STRINGS,
    MAX_TEXT,
    MAX_UNZIPPED,
    UNZIPPED,
    Sheet,
    _fail,
    _open_zip,
)
from client.core.sheets_xml import (
    _attr,
    _expat,
    _Fallback,
    _local,
    _shared_fast,
    _shared_slow,
    _SheetReader,
)
from client.errors import ValidationError


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


def _member(book: zipfile.ZipFile, name: str) -> str | None:
    """Part names are case-insensitive in OOXML."""
    name = name.lstrip("/")
    try:
        book.getinfo(name)
        return name
    except KeyError:
        lower = name.lower()
        return next((n for n in book.namelist() if n.lower() == lower), None)


def _first_sheet(book: zipfile.ZipFile, budget: _Budget) -> tuple[str, bool, str]:
    """The first sheet's part name, whether dates count from 1904, and the sheet's name."""
    found: dict[str, str] = {}

    def on_workbook(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "sheet" and "rid" not in found:
            found["rid"] = _attr(attrs, "id") or ""
            found["name"] = attrs.get("name", "")
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
    return sheet, found.get("1904", "").lower() in ("1", "true"), found.get("name", "")


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


# ---------------------------------------------------------------- calamine, when it fits

MAX_FAST_CELLS = 600_000  # 50,000 rows of 12 cells
MAX_FAST_SHEET = 48 * 2**20  # inflated sheet XML read into memory for the scans
MAX_FAST_PART = 16 * 2**20  # workbook, relationships, styles, shared strings
# A cell start that is not <c r="A1"...: no reference (calamine would count it on from
# the last), or one past column Z or row 99,999 (then its grid of the cells' bounding box
# could be large), or anything else (<color> of rich text, an entity in the reference).
_ODD_CELL = re.compile(rb'<c(?! r="[A-Z][0-9]{1,5}")')
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
_RELATIONSHIP = re.compile(rb"<Relationship\b[^>]*>")


def _part(book: zipfile.ZipFile, budget: _Budget, name: str | None, cap: int) -> bytes | None:
    """A whole part if it inflates within ``cap`` and declares nothing (no <!DOCTYPE, comments)."""
    if name is None:
        return b""
    pieces, size = [], 0
    for chunk in budget.chunks(book, name):
        size += len(chunk)
        if size > cap:
            return None
        pieces.append(chunk)
    data = b"".join(pieces)
    # memchr for "!" first: a two-byte search of a 14 MB sheet costs more than the rest.
    return None if b"!" in data and b"<!" in data else data


def _calamine_fits(book: zipfile.ZipFile, budget: _Budget, sheet: str) -> bool:
    """Byte scans that bound what calamine allocates for this workbook; no parsing."""
    rels = _part(book, budget, _member(book, "_rels/.rels"), MAX_FAST_PART)
    if rels is None:
        return False
    for element in _RELATIONSHIP.findall(rels):  # calamine finds the workbook from here
        if b'/officeDocument"' in element and not re.search(rb'Target="/?xl/workbook\.xml"', element):
            return False
    for name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"):
        if _part(book, budget, _member(book, name), MAX_FAST_PART) is None:
            return False
    shared = _part(book, budget, _member(book, "xl/sharedStrings.xml"), MAX_FAST_PART)
    if shared is None or shared.count(b"<si") > MAX_STRINGS:
        return False
    # calamine copies a shared string into every cell that uses it.
    longest = max(map(len, shared.split(b"<si"))) if shared else 0
    xml = _part(book, budget, sheet, MAX_FAST_SHEET)
    if xml is None:
        return False
    start, end = xml.find(b"<sheetData"), xml.find(b"</sheetData>")
    if start < 0 or end < 0:
        return xml.find(b"<sheetData") >= 0 and xml.find(b"<sheetData/>") >= 0
    cells = xml.count(b'<c r="', start, end)
    return (
        cells <= MAX_FAST_CELLS
        and _ODD_CELL.search(xml, start, end) is None
        and (xml.find(b":", start, end) < 0 or _PREFIXED_CELL.search(xml, start, end) is None)
        and (
            cells * longest <= 2 * MAX_TEXT
            or xml.count(b't="s"', start, end) * longest <= 2 * MAX_TEXT
        )
    )


def _via_calamine(data: bytes, first: str) -> Sheet | None:
    """The sheet as calamine reads it (numbers, dates, text as before), or None to parse here."""
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not book.sheet_names or book.sheet_names[0] != first:
            return None
        sheet = book.get_sheet_by_index(0)
        cells = sheet.to_python(skip_empty_area=True)
        top, left = sheet.start or (0, 0)
    except python_calamine.PasswordError:
        raise _fail(ENCRYPTED) from None
    except Exception:  # calamine raises many kinds for broken files: the parser here decides
        return None
    if left:
        pad: list[object] = [None] * left
        return Sheet([(top + n, pad + row) for n, row in enumerate(cells, 1)], 0)
    return Sheet(list(zip(range(top + 1, top + 1 + len(cells)), cells, strict=True)), 0)


def read_xlsx(data: bytes, keep_rows: int) -> Sheet:
    book = _open_zip(data)
    budget = _Budget()
    name, is_1904, title = _first_sheet(book, budget)
    left = budget.left
    if _calamine_fits(book, budget, name):
        sheet = _via_calamine(data, title)
        if sheet is not None:
            return sheet
    budget.left = left  # the scans read parts the parser reads again
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
