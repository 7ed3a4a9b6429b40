from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.core.wage_import import (
    FIELD_NAMES,
    RawTable,
    _resident_id_ok,
    display,
    read_table,
    validate,
)
from client.errors import ValidationError
from rules.codes import check_id_number
from tests.core.test_wage_import import ENROLLED, PASSPORT, PEOPLE, Rules

IDS = [p.id_number for p in PEOPLE] + [PASSPORT.id_number]

cells = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=30),
    st.sampled_from(IDS),
    st.sampled_from([p.name for p in PEOPLE]),
    st.sampled_from(["201", "居民身份证", "外国护照", "208", "军官证", " 201 "]),
    st.sampled_from(["8000", "8000.5", "8,000.00", "-1", "0", "1e5", "8000.001", "１２３"]),
    st.sampled_from(["202503", "2025-03", "2025/3", "2025年3月", "2025.03", "202313", "190001"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.integers(min_value=10**17, max_value=10**400),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.timedeltas(),
)
LAYOUTS = [
    {"name": 0, "id_type": 1, "id_number": 2, "base": 3, "effective_month": 4},
    {"id_number": 0, "base": 1, "effective_month": 2},
    {"id_number": 5, "base": 0},
]
MONTH = re.compile(r"^[0-9]{4}(0[1-9]|1[0-2])$")


@st.composite
def tables(draw: st.DrawFn) -> tuple[RawTable, Rules]:
    columns = draw(st.sampled_from(LAYOUTS))
    kind = draw(st.sampled_from(["daily", "annual"]))
    width = max(columns.values()) + 1
    headers = [""] * width
    for field, index in columns.items():
        headers[index] = FIELD_NAMES[field]
    body = draw(st.lists(st.lists(cells, max_size=width + 1), max_size=12))
    rows = [(n + 2, values) for n, values in enumerate(body)]
    return RawTable(1, headers, rows, dict(columns), "t.xlsx"), Rules(kind)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_every_row_imported_or_rejected(case: tuple[RawTable, Rules]) -> None:
    table, rules = case
    result = validate(table, ENROLLED, rules)
    numbers = [n for n, _ in table.rows]
    imported = [r.row for r in result.rows]
    errors = result.error_rows
    assert result.total_rows == len(numbers)
    # No silent drops, nothing both imported and rejected, nothing imported twice.
    assert set(imported) | errors == set(numbers)
    assert not set(imported) & errors
    assert len(imported) == len(set(imported))
    assert {p.row for p in result.warnings} <= set(imported)
    for problem in result.problems:
        assert problem.severity in ("error", "warning")
        assert problem.message and problem.column and isinstance(problem.value, str)
    ids = set()
    for row in result.rows:
        assert row.id_number in ENROLLED and row.id_number not in ids
        ids.add(row.id_number)
        base = Decimal(row.new_base)
        assert base >= 0 and re.fullmatch(r"[0-9]+\.[0-9]{2}", row.new_base)
        if rules.kind == "daily":
            assert MONTH.match(row.effective_month) and row.effective_month >= "202401"
        else:
            assert row.effective_month == ""


@given(st.text(alphabet="0123456789X", min_size=16, max_size=19))
def test_fast_id_check_agrees_with_rules(number: str) -> None:
    assert _resident_id_ok(number) == (check_id_number(number) is None)


@given(st.sampled_from(IDS[:-1]), st.integers(0, 16), st.integers(0, 9))
def test_fast_id_check_catches_every_single_digit_change(
    number: str, position: int, digit: int
) -> None:
    changed = number[:position] + str(digit) + number[position + 1 :]
    assert _resident_id_ok(changed) == (check_id_number(changed) is None)


@given(cells)
def test_display_never_fails(cell: object) -> None:
    assert isinstance(display(cell), str)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["a.xlsx", "a.xls", "a.csv", "a"]))
def test_any_bytes_read_or_refused_cleanly(data: bytes, name: str) -> None:
    try:
        table = read_table(data, name, kind="daily")
    except ValidationError as exc:
        assert exc.field == "file" and exc.message
    else:
        assert table.rows


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(max_size=12), max_size=6), max_size=8))
def test_any_csv_text_read_or_refused_cleanly(lines: list[list[str]]) -> None:
    text = "证件号码,缴费工资,生效年月\n" + "\n".join(",".join(line) for line in lines)
    try:
        table = read_table(text.encode("gb18030"), "a.csv", kind="daily")
    except ValidationError as exc:
        assert exc.field == "file" and exc.message
        return
    result = validate(table, ENROLLED, Rules("daily"))
    assert {r.row for r in result.rows} | result.error_rows == {n for n, _ in table.rows}


def test_dates_as_months() -> None:
    table = RawTable(
        1,
        ["证件号码", "缴费工资", "生效年月"],
        [
            (2, [IDS[0], 8000.0, dt.datetime(2025, 3, 31, 23, 59)]),
            (3, [IDS[1], 8000, dt.date(2025, 4, 1)]),
            (4, [IDS[2], 8000, dt.time(12, 0)]),
        ],
        {"id_number": 0, "base": 1, "effective_month": 2},
        "t.xlsx",
    )
    result = validate(table, ENROLLED, Rules("daily"))
    assert [(r.row, r.effective_month) for r in result.rows] == [(2, "202503"), (3, "202504")]
    assert result.error_rows == {4}


# ---------------------------------------------------------------- the two xlsx readers agree

_VALUES = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=12),
    st.sampled_from(["=1+1", "@SUM(1)", "a&b<c>\"'", "_x0041_", " 8000 ", "身份证"]),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(-(10**12), 10**12),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2999, 12, 31)),
)


def _normal(sheet_rows: list[tuple[int, list[object]]]) -> dict[int, list[object]]:
    out = {}
    for n, row in sheet_rows:
        values = [None if v == "" else v for v in row]
        while values and values[-1] is None:
            values.pop()
        if values:
            out[n] = values
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.tuples(st.integers(0, 40), st.integers(0, 25)), _VALUES, max_size=40),
       st.booleans())
def test_calamine_and_the_parser_here_read_the_same(cells: dict[tuple[int, int], object], shared: bool) -> None:
    import io

    import xlsxwriter

    from client.core import sheets_xlsx, uploads

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "constant_memory": not shared,
                                     "strings_to_formulas": False, "strings_to_numbers": False,
                                     "strings_to_urls": False})
    sheet = book.add_worksheet()
    date = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for (r, c), value in sorted(cells.items()):
        if isinstance(value, dt.datetime):
            sheet.write_datetime(r, c, value, date)
        elif isinstance(value, bool):
            sheet.write_boolean(r, c, value)
        elif isinstance(value, (int, float)):
            sheet.write_number(r, c, value)
        else:
            sheet.write_string(r, c, value)
    book.close()
    data = out.getvalue()
    original = sheets_xlsx._calamine_fits
    seen: list[bool] = []
    sheets_xlsx._calamine_fits = lambda *a: seen.append(original(*a)) or seen[-1]  # type: ignore[assignment]
    try:
        fast = uploads.read(data, 1000)
    finally:
        sheets_xlsx._calamine_fits = original
    assert seen == [True]  # that one went to calamine
    sheets_xlsx._calamine_fits = lambda *_a: False  # type: ignore[assignment]
    try:
        here = uploads.read(data, 1000)
    finally:
        sheets_xlsx._calamine_fits = original
    a, b = _normal(fast.rows), _normal(here.rows)
    assert a.keys() == b.keys()
    for n in a:
        for x, y in zip(a[n], b[n], strict=True):
            if isinstance(x, dt.datetime | dt.date | dt.time) or isinstance(y, dt.datetime | dt.date | dt.time):
                assert str(x)[:19] == str(y)[:19], (n, x, y)
            else:
                assert x == y and type(x) is type(y), (n, x, y)
