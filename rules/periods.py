"""Fee periods (费款所属期): a year and a month, written "YYYYMM" or "YYYY-MM".

Base years (缴费年度) run from a start month (July in Beijing and Shanghai) to the month
before it a year later; the start month is a parameter, never a hard-coded calendar year.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

MIN_YEAR = 1900
MAX_YEAR = 2999

_PATTERN = re.compile(r"^(\d{4})-?(\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    """One fee period. Ordered by (year, month); ``str()`` gives "YYYYMM"."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (MIN_YEAR <= self.year <= MAX_YEAR):
            raise ValueError(f"费款所属期年份 {self.year} 超出范围（{MIN_YEAR}-{MAX_YEAR}）")
        if not (1 <= self.month <= 12):
            raise ValueError(f"费款所属期月份 {self.month} 无效，应为1-12")

    def __str__(self) -> str:
        return f"{self.year:04d}{self.month:02d}"

    @property
    def index(self) -> int:
        """Months since year 0: makes arithmetic a plain integer sum."""
        return self.year * 12 + self.month - 1

    @classmethod
    def from_index(cls, index: int) -> Period:
        return cls(index // 12, index % 12 + 1)

    def add_months(self, months: int) -> Period:
        return Period.from_index(self.index + months)


PeriodLike = Period | str | int


def parse_period(value: PeriodLike) -> Period:
    """Parse "YYYYMM", "YYYY-MM" (or a Period, or an int like 202407).

    Raises ValueError with a Chinese message on anything else ("2024-13", "20241", "abc").
    """
    if isinstance(value, Period):
        return value
    if isinstance(value, bool):
        raise ValueError(f"费款所属期格式错误：{value!r}，应为YYYYMM或YYYY-MM")
    text = str(value).strip()
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"费款所属期格式错误：“{text}”，应为YYYYMM或YYYY-MM，例如202407")
    year, month = int(match.group(1)), int(match.group(2))
    if not (1 <= month <= 12):
        raise ValueError(f"费款所属期月份无效：“{text}”，月份应为01-12")
    try:
        return Period(year, month)
    except ValueError as exc:
        raise ValueError(f"费款所属期无效：“{text}”：{exc}") from None


def format_period(value: PeriodLike, *, dash: bool = False) -> str:
    """ "YYYYMM", or "YYYY-MM" with ``dash=True``."""
    period = parse_period(value)
    return f"{period.year:04d}-{period.month:02d}" if dash else str(period)


def add_months(value: PeriodLike, months: int) -> Period:
    return parse_period(value).add_months(months)


def months_between(start: PeriodLike, end: PeriodLike) -> int:
    """``end - start`` in months (negative when end is earlier); 202407 -> 202506 is 11."""
    return parse_period(end).index - parse_period(start).index


def period_range(start: PeriodLike, end: PeriodLike) -> Iterator[Period]:
    """Every period from start to end, both included; empty when end < start."""
    first, last = parse_period(start), parse_period(end)
    for index in range(first.index, last.index + 1):
        yield Period.from_index(index)


def base_year(value: PeriodLike, start_month: int = 7) -> int:
    """The calendar year in which the period's base year starts.

    With start_month=7, 202407..202506 belong to base year 2024 and 202406 to 2023.
    """
    _check_start_month(start_month)
    period = parse_period(value)
    return period.year if period.month >= start_month else period.year - 1


def base_year_bounds(year: int, start_month: int = 7) -> tuple[Period, Period]:
    """First and last period of the base year starting in ``year``."""
    _check_start_month(start_month)
    first = Period(year, start_month)
    return first, first.add_months(11)


def _check_start_month(start_month: int) -> None:
    if not (1 <= start_month <= 12):
        raise ValueError(f"缴费年度起始月份 {start_month} 无效，应为1-12")
