"""XML of xlsx parts, parsed as it inflates: a strict tokenizer for the usual shapes, expat for the rest.

The sheet's cells go into ``_Rows`` (client/core/sheets.py), non-blank rows only, under the
budgets of cells, elements and characters; a DOCTYPE (entities, billion laughs) is refused.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Iterator
from xml.parsers import expat

from client.core.sheets import (
    CORRUPT,
    ELEMENTS,
    MAX_CELL_BYTES,
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ELEMENTS,
    MAX_SHEET_ROWS,
    MAX_STRINGS,
    MAX_TEXT,
    ROWS_PAST_EXCEL,
    UNSAFE,
    _cell_too_long,
    _fail,
    _Rows,
    _too_many_cells,
    _too_much_text,
)


class _Fallback(Exception):
    """The fast tokenizer met XML it does not take: expat reads the part instead."""


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
