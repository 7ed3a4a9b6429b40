from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.model import AnnualWindow, Provenance
from rules.packs import load_pack
from rules.periods import Period
from rules.wage_base import (
    BaseCheck,
    annual_effective_month,
    base_year_start,
    check_base,
    daily_effective_range,
    parse_base,
)

D = Decimal
BJ = load_pack("110000")
SX = load_pack("140000")


@pytest.mark.parametrize(
    ("day", "start"),
    [
        (dt.date(2025, 3, 15), Period(2024, 7)),
        (dt.date(2025, 6, 30), Period(2024, 7)),
        (dt.date(2025, 7, 1), Period(2025, 7)),
        (dt.date(2025, 12, 31), Period(2025, 7)),
    ],
)
def test_base_year_start(day: dt.date, start: Period) -> None:
    assert base_year_start(BJ, day) == start


def test_base_year_start_other_start_month() -> None:
    january = replace(BJ, base_year_start_month=1)
    assert base_year_start(january, dt.date(2025, 3, 15)) == Period(2025, 1)
    assert base_year_start(january, dt.date(2025, 1, 1)) == Period(2025, 1)


def test_daily_range() -> None:
    assert daily_effective_range(BJ, dt.date(2025, 3, 15)) == (Period(2024, 7), Period(2025, 4))
    assert daily_effective_range(BJ, dt.date(2025, 7, 2)) == (Period(2025, 7), Period(2025, 8))
    assert daily_effective_range(BJ, dt.date(2025, 12, 1)) == (Period(2025, 7), Period(2026, 1))


def test_annual_effective_month() -> None:
    assert annual_effective_month(BJ, dt.date(2025, 3, 15)) is None  # window closed
    for day in (dt.date(2025, 7, 1), dt.date(2025, 8, 20), dt.date(2025, 9, 30)):
        assert annual_effective_month(BJ, day) == Period(2025, 7)
    assert annual_effective_month(BJ, dt.date(2025, 10, 1)) is None


def test_annual_effective_month_window_before_start_and_wrapping() -> None:
    window = AnnualWindow((((12, 1), (1, 31)),), Provenance(None, False))
    pack = replace(BJ, base_year_start_month=1, annual_window=window)
    assert annual_effective_month(pack, dt.date(2025, 12, 10)) == Period(2026, 1)
    assert annual_effective_month(pack, dt.date(2026, 1, 20)) == Period(2026, 1)
    assert annual_effective_month(pack, dt.date(2026, 2, 1)) is None
    always = AnnualWindow((((1, 1), (12, 31)),), Provenance(None, False))
    tie = replace(BJ, annual_window=always)
    # January is six months from both Julys: the coming base year wins
    assert annual_effective_month(tie, dt.date(2026, 1, 10)) == Period(2026, 7)
    assert annual_effective_month(tie, dt.date(2025, 12, 10)) == Period(2025, 7)


def test_check_base_messages() -> None:
    assert check_base(BJ, Period(2024, 7), D("8000")) is None
    assert check_base(BJ, Period(2024, 7), D("6821")) is None  # the floor itself is fine
    low = check_base(BJ, Period(2025, 3), D("5000"))
    assert low == BaseCheck(
        "below_floor", "新缴费工资 5,000.00 低于 2024年07月-2025年06月 缴费基数下限 6,821.00"
    )
    high = check_base(BJ, "202507", D("40000.5"))
    assert high is not None and high.code == "above_cap"
    assert high.message == "新缴费工资 40,000.50 高于 2025年07月-2026年06月 缴费基数上限 35,811.00"
    none = check_base(BJ, Period(2030, 1), D("8000"))
    assert none is not None and none.code == "no_rules" and "203001" in none.message


def test_check_base_per_item_names_the_item() -> None:
    low = check_base(SX, Period(2025, 3), D("100"), item="pension")
    assert low is not None and low.message.startswith("基本养老保险：新缴费工资 100.00 低于")
    merged = check_base(SX, Period(2025, 3), D("100"), item="maternity")  # inside 医疗
    assert merged is not None and merged.message.startswith("基本医疗保险（含生育保险）：")
    unknown = check_base(SX, Period(2025, 3), D("100"), item="nonsense")  # period limits
    assert unknown is not None and unknown.message.startswith("新缴费工资")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8000", "8000.00"),
        ("8000.5", "8000.50"),
        ("8,000.50", "8000.50"),
        ("1,234,567.89", "1234567.89"),
        (" 8 000 ", "8000.00"),
        ("８０００．５０", "8000.50"),  # full-width digits and point
        ("８，０００", "8000.00"),
        ("\u30008000\u3000", "8000.00"),  # ideographic spaces
        ("0", "0.00"),
        ("8000.500", "8000.50"),  # trailing zeros are still exact to the fen
        ("007162", "7162.00"),
    ],
)
def test_parse_base_accepts(text: str, value: str) -> None:
    result = parse_base(text)
    assert result == D(value) and str(result) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "请填写"),
        ("   ", "请填写"),
        ("abc", "不是有效的金额"),
        ("8000元", "不是有效的金额"),
        ("1e5", "不是有效的金额"),
        ("NaN", "不是有效的金额"),
        ("8,00", "不是有效的金额"),
        ("8.000.1", "不是有效的金额"),
        ("-100", "负数"),
        ("-8,000.00", "负数"),
        ("8000.123", "两位小数"),
        ("12345678901", "过大"),
    ],
)
def test_parse_base_rejects_with_chinese_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_base(text)


def test_parse_base_rejects_non_text() -> None:
    with pytest.raises(ValueError, match="文本"):
        parse_base(8000)  # type: ignore[arg-type]


@given(st.text(max_size=40))
def test_parse_base_only_value_errors(text: str) -> None:
    try:
        value = parse_base(text)
    except ValueError:
        return
    assert value >= 0
    assert value.as_tuple().exponent == -2


@given(st.decimals(min_value=0, max_value=D("9999999999.99"), places=2))
def test_parse_base_round_trips_money(value: Decimal) -> None:
    assert parse_base(str(value)) == value
    assert parse_base(f"{value:,}") == value


@given(st.text(alphabet="0123456789,.-+ ８０，．e\u3000", max_size=20))
def test_parse_base_money_like_text_only_value_errors(text: str) -> None:
    try:
        value = parse_base(text)
    except ValueError:
        return
    assert value >= 0 and value.as_tuple().exponent == -2
