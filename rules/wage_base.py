"""Payroll-base declarations (缴费工资申报): windows, effective months, checks. Pure, no I/O.

Shared by the client (checks before sending) and the reference tax side (the decision),
so both sides apply the same rules to the same pack. The conventions below that are not
taken from an official text are listed as unverified in docs/rules.md.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rules.model import BaseLimits, ItemRule, PackError, PeriodRules, RulePack
from rules.periods import Period, PeriodLike, parse_period

CENT = Decimal("0.01")
MAX_INTEGER_DIGITS = 10  # far above any cap; keeps Decimal.quantize inside its precision

# Plain digits, or digits grouped by thousands with commas; optional decimal part.
_MONEY = re.compile(r"^(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.([0-9]+))?$")


def _month_of(day: _dt.date) -> Period:
    return Period(day.year, day.month)


def base_year_start(pack: RulePack, day: _dt.date) -> Period:
    """First month of the base year (缴费年度) that contains ``day``'s month."""
    start = pack.base_year_start_month
    year = day.year if day.month >= start else day.year - 1
    return Period(year, start)


def daily_effective_range(pack: RulePack, day: _dt.date) -> tuple[Period, Period]:
    """Months a 日常 declaration may take effect from: the current base year's first month
    up to the month after ``day``'s month (our convention, unverified: docs/rules.md)."""
    return base_year_start(pack, day), _month_of(day).add_months(1)


def annual_effective_month(pack: RulePack, day: _dt.date) -> Period | None:
    """The month a 年度 declaration made on ``day`` takes effect: the base-year start month
    nearest to ``day`` (202507 for a day in July-September with start month 7). None when
    the annual window is closed. On a tie the later start wins: a declaration made
    half-way between two base years is for the coming one."""
    if not pack.annual_window.is_open(day):
        return None
    here = _month_of(day)
    start = pack.base_year_start_month
    candidates = [Period(day.year + delta, start) for delta in (-1, 0, 1)]
    return min(candidates, key=lambda p: (abs(p.index - here.index), -p.index))


@dataclass(frozen=True)
class BaseCheck:
    """Why a declared base is not acceptable for a period."""

    code: str  # below_floor / above_cap / no_rules
    message: str  # Chinese, for the operator


def _span(rules: PeriodRules) -> str:
    return (
        f"{rules.start.year}年{rules.start.month:02d}月-"
        f"{rules.end.year}年{rules.end.month:02d}月"
    )


def _item_rule(rules: PeriodRules, code: str) -> ItemRule | None:
    """The pack item that carries ``code`` itself or merges it (生育 inside 医疗)."""
    for item in rules.items:
        if item.code == code or code in item.includes:
            return item
    return None


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT):,.2f}"  # as the operator reads money: 6,821.00


def check_base(
    pack: RulePack, period: PeriodLike, base: Decimal, item: str | None = None
) -> BaseCheck | None:
    """None when ``base`` lies within the floor and cap in force for ``period``.

    With ``item`` (按险种申报) the item's own limits apply when the pack gives it any."""
    try:
        rules = pack.period_for(parse_period(period))
    except PackError as exc:
        return BaseCheck("no_rules", f"无法校验缴费工资：{exc}")
    limits: BaseLimits = rules.base
    label = ""
    if item is not None:
        found = _item_rule(rules, item)
        if found is not None:
            limits, label = found.base, f"{found.name}："
    if base < limits.floor:
        return BaseCheck(
            "below_floor",
            f"{label}新缴费工资 {_money(base)} 低于 {_span(rules)} 缴费基数下限 {_money(limits.floor)}",
        )
    if base > limits.cap:
        return BaseCheck(
            "above_cap",
            f"{label}新缴费工资 {_money(base)} 高于 {_span(rules)} 缴费基数上限 {_money(limits.cap)}",
        )
    return None


def _shown(text: str) -> str:
    return text if len(text) <= 30 else text[:30] + "…"


def parse_base(text: str) -> Decimal:
    """A payroll base typed or imported by an operator, as money with two decimals.

    Accepts "8000", "8000.5", "8,000.50", full-width digits and punctuation, spaces
    anywhere. Raises ValueError with a Chinese reason otherwise."""
    if not isinstance(text, str):
        raise ValueError("缴费工资应为文本，例如 8000.00")
    cleaned = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())
    if not cleaned:
        raise ValueError("请填写缴费工资")
    if cleaned.startswith("-") and _MONEY.match(cleaned[1:]):
        raise ValueError(f"缴费工资不能为负数：“{_shown(cleaned)}”")
    match = _MONEY.match(cleaned)
    if match is None:
        raise ValueError(f"缴费工资“{_shown(cleaned)}”不是有效的金额，应为数字，例如 8000 或 8000.50")
    fraction = (match.group(1) or "").rstrip("0")  # "8000.500" is still exact to the fen
    if len(fraction) > 2:
        raise ValueError(f"缴费工资“{_shown(cleaned)}”最多保留两位小数")
    digits = cleaned.split(".", 1)[0].replace(",", "").lstrip("0")
    if len(digits) > MAX_INTEGER_DIGITS:
        raise ValueError(f"缴费工资“{_shown(cleaned)}”过大")
    try:
        return Decimal(cleaned.replace(",", "")).quantize(CENT)
    except InvalidOperation:  # pragma: no cover - the pattern above rules this out
        raise ValueError(f"缴费工资“{_shown(cleaned)}”不是有效的金额") from None
