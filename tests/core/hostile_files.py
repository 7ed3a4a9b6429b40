"""Builders of hostile spreadsheets, and a child process that imports one under a memory cap.

The files are built here rather than checked in: a zip bomb is a few hundred KB compressed
but its shape (what repeats, how far) is what the tests are about, and it reads better as
code. ``run_import`` never runs the reader in the pytest process: the child gets an address
space limit (RLIMIT_AS) so a regression fails fast with MemoryError instead of taking the
machine, and it reports its own peak resident size.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
REL_NS = b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
HEADER = ["姓名", "证件类型", "证件号码", "新缴费工资", "生效年月"]
# The tree whose import is run; another tree (today's main, say) to show a test failing there.
ROOT = Path(os.environ.get("SF_IMPORT_TREE") or Path(__file__).resolve().parents[2])
LIMIT_BYTES = 1536 * 2**20  # the child's address space: a regression dies here, not the box

CONTENT_TYPES = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>
</Types>"""
ROOT_RELS = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook ' + NS + b" " + REL_NS + (
    b'><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>
</Relationships>"""


def column(index: int) -> str:
    """0 -> A, 16383 -> XFD."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def esc(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def cell(ref: str, value: object) -> bytes:
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>'.encode() + esc(value) + b"</t></is></c>"
    return f'<c r="{ref}"><v>{value}</v></c>'.encode()


def row_xml(number: int, values: Iterable[object], first_col: int = 0) -> bytes:
    cells = b"".join(
        cell(f"{column(first_col + i)}{number}", v) for i, v in enumerate(values) if v is not None
    )
    return f'<row r="{number}">'.encode() + cells + b"</row>"


def sheet_xml(body: Iterable[bytes], dimension: str = "A1", prolog: bytes = b"") -> Iterator[bytes]:
    yield b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + prolog
    yield b"<worksheet " + NS + b" " + REL_NS + b'><dimension ref="' + dimension.encode() + b'"/>'
    yield b"<sheetData>"
    yield from body
    yield b"</sheetData></worksheet>"


def write_xlsx(
    target: Path,
    sheet: Iterable[bytes],
    shared: Iterable[bytes] | None = None,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """A minimal workbook calamine and Excel open; parts are streamed into the zip."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        for name, part in (("xl/worksheets/sheet1.xml", sheet), ("xl/sharedStrings.xml", shared)):
            if part is None:
                continue
            with z.open(name, "w", force_zip64=True) as out:
                for chunk in part:
                    out.write(chunk)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return target


def repeat(block: bytes, total: int) -> Iterator[bytes]:
    """``block`` again and again until about ``total`` bytes (a deflate bomb's body)."""
    chunk = block * max(1, (1 << 20) // len(block))
    for _ in range(max(1, total // len(chunk))):
        yield chunk


# ---------------------------------------------------------------- xls (BIFF8 in OLE2)


def _record(kind: int, payload: bytes) -> bytes:
    return struct.pack("<HH", kind, len(payload)) + payload


def xls_workbook(cells: Iterable[tuple[int, int, object]]) -> bytes:
    """A BIFF8 workbook stream of one sheet: (row, col, str | float) cells, 0-based."""
    bof = lambda kind: _record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))  # noqa: E731
    sheet = bytearray(bof(0x0010))
    sheet += _record(0x0200, struct.pack("<IIHHH", 0, 0, 0, 0, 0))  # DIMENSIONS (not trusted)
    for r, c, value in cells:
        if isinstance(value, str):
            raw = value.encode("utf-16-le")
            sheet += _record(0x0204, struct.pack("<HHHHB", r, c, 15, len(value), 1) + raw)  # LABEL
        else:
            sheet += _record(0x0203, struct.pack("<HHHd", r, c, 15, float(value)))  # NUMBER
    sheet += _record(0x000A, b"")
    glob = bytearray(bof(0x0005))
    glob += _record(0x0042, struct.pack("<H", 1200))  # CODEPAGE
    for _ in range(16):  # XF records: style xfs then one cell xf (index 15)
        glob += _record(0x00E0, struct.pack("<HHHHHHIIH", 0, 0, 0xFFF5, 0x20, 0, 0, 0, 0, 0x20C0))
    name = "Sheet1".encode("utf-16-le")
    boundsheet_at = len(glob)
    glob += _record(0x0085, struct.pack("<IBBBB", 0, 0, 0, 6, 1) + name)
    glob += _record(0x000A, b"")
    glob[boundsheet_at + 4 : boundsheet_at + 8] = struct.pack("<I", len(glob))
    return bytes(glob + sheet)


def ole2_file(stream_name: str, stream: bytes) -> bytes:
    """An OLE2 compound file holding one stream (>= 4096 bytes, so no mini stream)."""
    sector = 512
    stream = stream.ljust(max(4096, -(-len(stream) // sector) * sector), b"\x00")
    n_stream = len(stream) // sector
    # Sectors: stream..., directory, FAT...
    n_fat = 1
    while (n_stream + 1 + n_fat) > n_fat * 128:
        n_fat += 1
    fat = []
    fat += [i + 1 for i in range(n_stream - 1)] + [0xFFFFFFFE]  # stream chain
    fat += [0xFFFFFFFE]  # directory
    fat += [0xFFFFFFFD] * n_fat  # FAT sectors
    fat += [0xFFFFFFFF] * (n_fat * 128 - len(fat))
    dir_sector = n_stream
    fat_sectors = list(range(n_stream + 1, n_stream + 1 + n_fat))

    def entry(name: str, kind: int, start: int, size: int, child: int = 0xFFFFFFFF) -> bytes:
        raw = name.encode("utf-16-le") + b"\x00\x00"
        body = raw.ljust(64, b"\x00") + struct.pack("<HBB", len(raw), kind, 1)
        body += struct.pack("<III", 0xFFFFFFFF, 0xFFFFFFFF, child) + bytes(16) + bytes(4) + bytes(16)
        body += struct.pack("<IIHH", start, size, 0, 0)
        return body.ljust(128, b"\x00")

    directory = entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1) + entry(stream_name, 2, 0, len(stream))
    directory = directory.ljust(sector, b"\x00")
    difat = fat_sectors[:109] + [0xFFFFFFFF] * (109 - len(fat_sectors[:109]))
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
    header += bytes(6) + struct.pack("<IIIIIIII", 0, n_fat, dir_sector, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE)
    header += struct.pack("<I", 0) + struct.pack("<109I", *difat)
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    return header + stream + directory + fat_bytes


def write_xls(target: Path, cells: Iterable[tuple[int, int, object]]) -> Path:
    target.write_bytes(ole2_file("Workbook", xls_workbook(cells)))
    return target


# ---------------------------------------------------------------- the child

CHILD = r"""
import json, resource, sys, traceback
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from client.core.wage_import import import_file
from client.errors import ValidationError
from tests.core.test_wage_import import ENROLLED, Rules
path, kind = sys.argv[1], sys.argv[3]
out = {"ok": False, "message": None, "rows": None, "errors": None}
import time
started = time.perf_counter()
try:
    with open(path, "rb") as f:
        data = f.read()
    result = import_file(data, path.rsplit("/", 1)[-1], ENROLLED, Rules(kind))
    out.update(ok=True, rows=len(result.rows), errors=len(result.error_rows), total=result.total_rows)
    if result.problems:  # as the UI server does next
        from pathlib import Path
        from client.core.wage_report import write_error_report
        report = Path(path + ".report.xlsx")
        write_error_report(result, report)
        out["report_bytes"] = report.stat().st_size
except ValidationError as exc:
    out.update(message=exc.message, field=exc.field)
except MemoryError:
    out.update(message="MemoryError")
except BaseException:
    out.update(message="crash: " + traceback.format_exc()[-2000:])
out["seconds"] = round(time.perf_counter() - started, 2)  # shown, never asserted
# VmHWM starts afresh at exec; ru_maxrss would carry pytest's own peak over from the fork.
with open("/proc/self/status") as f:
    hwm = [line.split()[1] for line in f if line.startswith("VmHWM:")]
out["peak_mb"] = int(hwm[0]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["child_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print("RESULT " + json.dumps(out, ensure_ascii=False), flush=True)
"""


def run_import(path: Path, kind: str = "daily", limit: int = LIMIT_BYTES) -> dict[str, object]:
    """Import ``path`` in a child with an address space cap; its outcome and peak RSS (MB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(limit), kind],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    # Killed (abort on a failed allocation, a signal): that is a failure too.
    return {"ok": False, "message": f"child died rc={proc.returncode}: {proc.stderr[-1500:]}",
            "peak_mb": None}
