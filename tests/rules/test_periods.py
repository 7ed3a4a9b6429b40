from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.periods import (
    Period,
    add_months,
    base_year,
    base_year_bounds,
    format_period,
    months_between,
    parse_period,
    period_range,
)

periods = st.builds(Period, st.integers(1950, 2100), st.integers(1, 12))


@pytest.mark.parametrize("text", ["202407", "2024-07", " 202407 ", 202407])
def test_parse_both_forms(text: object) -> None:
    assert parse_period(text) == Period(2024, 7)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["2024-13", "202400", "20241", "abc", "", "2024/07", "2024-7", "0999-01"])
def test_parse_rejects_with_chinese_message(text: str) -> None:
    with pytest.raises(ValueError, match="费款所属期"):
        parse_period(text)


def test_parse_rejects_bool() -> None:
    with pytest.raises(ValueError):
        parse_period(True)  # type: ignore[arg-type]


def test_format() -> None:
    assert format_period("2024-07") == "202407"
    assert format_period("202407", dash=True) == "2024-07"
    assert str(Period(2025, 1)) == "202501"


def test_add_months_across_years() -> None:
    assert add_months("202411", 3) == Period(2025, 2)
    assert add_months("202501", -1) == Period(2024, 12)
    assert add_months("202407", 0) == Period(2024, 7)


def test_months_between() -> None:
    assert months_between("202407", "202506") == 11
    assert months_between("202506", "202407") == -11


def test_range_inclusive() -> None:
    got = [str(p) for p in period_range("202411", "202502")]
    assert got == ["202411", "202412", "202501", "202502"]
    assert list(period_range("202502", "202501")) == []


def test_base_year_july_to_june() -> None:
    assert base_year("202407") == 2024
    assert base_year("202506") == 2024
    assert base_year("202406") == 2023
    assert base_year("202501", start_month=1) == 2025
    assert base_year_bounds(2025) == (Period(2025, 7), Period(2026, 6))
    with pytest.raises(ValueError, match="起始月份"):
        base_year("202407", start_month=13)


def test_ordering() -> None:
    assert Period(2024, 12) < Period(2025, 1)


@given(periods, st.integers(-600, 600))
def test_add_then_between_roundtrip(period: Period, months: int) -> None:
    later = add_months(period, months)
    assert months_between(period, later) == months
    assert parse_period(format_period(later)) == later
    assert parse_period(format_period(later, dash=True)) == later


@given(periods, st.integers(1, 12))
def test_base_year_contains_period(period: Period, start: int) -> None:
    first, last = base_year_bounds(base_year(period, start), start)
    assert first <= period <= last
    assert months_between(first, last) == 11
