"""The rule-pack data model: frozen dataclasses built by rules.packs from TOML.

Every figure carries a Provenance (the official notice it comes from, or verified=False),
so the UI can show where a rate or a floor comes from and flag unverified ones.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from rules.periods import Period, PeriodLike, format_period, parse_period
from rules.rounding import Rounding

COLLECTION_MODES = ("税务自主征收", "税务代征")
PAYERS = ("employer", "employee")
PAYER_LABELS = {"employer": "单位", "employee": "个人"}

# Home-page common functions (首页常用功能): key -> default Chinese label.
HOME_FUNCTIONS: dict[str, str] = {
    "enrollment": "职工参保信息更新",
    "wage_base_daily": "日常缴费工资申报",
    "wage_base_annual": "年度缴费工资申报",
    "wage_base_records": "缴费工资申报记录",
    "fee_daily": "社保费日常申报",
    "fee_special": "特殊缴费申报",
    "fee_records": "社保费申报记录",
    "payment": "费款缴纳",
    "certificate": "职工缴费证明打印",
    "queries": "查询统计",
    "notices": "通知公告",
    "annuity_notice": "年金缴款通知单打印",
}
# Functions of the payroll-base module, which 税务代征 regions do not have.
WAGE_BASE_FUNCTIONS = frozenset({"wage_base_daily", "wage_base_annual", "wage_base_records"})

# Regional feature switches known to the client; unknown ones are kept but unused.
FEATURES: dict[str, str] = {
    "annuity_notice": "年金缴款通知单打印",
}


class PackError(ValueError):
    """A rule pack is malformed, or has no rules for what was asked. Message in Chinese."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"规则包错误（{path}）：{message}" if path else message)


@dataclass(frozen=True)
class Provenance:
    """Where a figure comes from: an official notice (URL or document number)."""

    source: str | None
    verified: bool
    note: str | None = None


@dataclass(frozen=True)
class BaseLimits:
    """Contribution base floor and cap (元/月)."""

    floor: Decimal
    cap: Decimal
    provenance: Provenance

    def clamp(self, base: Decimal) -> Decimal:
        return min(max(base, self.floor), self.cap)


@dataclass(frozen=True)
class InjuryRates:
    """Work-injury rates by industry risk class 1-8, each with its allowed float range."""

    class_rates: tuple[Decimal, ...]
    float_limits: tuple[tuple[Decimal, Decimal], ...]

    def rate_for(self, risk_class: int, float_ratio: Decimal) -> Decimal:
        if not isinstance(risk_class, int) or not (1 <= risk_class <= len(self.class_rates)):
            raise ValueError(f"工伤行业风险类别应为1-{len(self.class_rates)}，实际为{risk_class}")
        low, high = self.float_limits[risk_class - 1]
        if not (low <= float_ratio <= high):
            raise ValueError(
                f"工伤浮动比例 {float_ratio} 超出{risk_class}类行业允许范围（{low}-{high}）"
            )
        return self.class_rates[risk_class - 1] * float_ratio


@dataclass(frozen=True)
class PayerRule:
    """One payer's share of one item."""

    payer: str
    rate: Decimal
    fixed: Decimal
    rounding: Rounding
    provenance: Provenance
    rounding_provenance: Provenance
    injury: InjuryRates | None = None


@dataclass(frozen=True)
class ItemRule:
    """An insurance item (养老, 医疗, 失业, 工伤...) in one period."""

    code: str
    name: str
    kind: str  # "rate" or "injury"
    base: BaseLimits
    employer: PayerRule | None
    employee: PayerRule | None
    includes: tuple[str, ...] = ()

    def payer(self, payer: str) -> PayerRule | None:
        return self.employer if payer == "employer" else self.employee


@dataclass(frozen=True)
class PeriodRules:
    """The rules in force from ``start`` to ``end`` (fee periods, both included)."""

    start: Period
    end: Period
    base: BaseLimits
    items: tuple[ItemRule, ...]

    def covers(self, period: PeriodLike) -> bool:
        return self.start <= parse_period(period) <= self.end

    def item(self, code: str) -> ItemRule:
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(code)

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)


@dataclass(frozen=True)
class AnnualWindow:
    """Month/day ranges in which 年度缴费工资申报 is open; a range may wrap past 12-31."""

    ranges: tuple[tuple[tuple[int, int], tuple[int, int]], ...]
    provenance: Provenance

    def is_open(self, day: _dt.date) -> bool:
        key = (day.month, day.day)
        for start, end in self.ranges:
            if start <= end:
                if start <= key <= end:
                    return True
            elif key >= start or key <= end:
                return True
        return False

    def describe(self) -> str:
        parts = [f"{a[0]}月{a[1]}日至{b[0]}月{b[1]}日" for a, b in self.ranges]
        return "、".join(parts) if parts else "不开放"


@dataclass(frozen=True)
class LateFeeRule:
    """滞纳金: daily rate and day-count convention."""

    daily_rate: Decimal
    first_day_counts: bool
    cap_at_amount: bool
    rounding: Rounding
    provenance: Provenance
    convention: Provenance


@dataclass(frozen=True)
class AnnuityRule:
    """职业年金 (机关事业单位 occupational annuity): shares of the employee's base (the item
    ``base_item``'s declared base), rounded as the pack's period rounds that item."""

    employer_rate: Decimal
    employee_rate: Decimal
    base_item: str
    provenance: Provenance


@dataclass(frozen=True)
class HomeFunction:
    key: str
    label: str


@dataclass(frozen=True)
class RulePack:
    """One region's rules, versioned; built and validated by rules.packs."""

    region: str
    name: str
    version: str
    collection_mode: str
    base_year_start_month: int
    per_item_bases_for_government: bool
    home_functions: tuple[HomeFunction, ...]
    annual_window: AnnualWindow
    late_fee: LateFeeRule
    periods: tuple[PeriodRules, ...]
    features: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))
    annuity: AnnuityRule | None = None  # [annuity]: where the annuity_notice feature uses it

    def period_for(self, period: PeriodLike) -> PeriodRules:
        wanted = parse_period(period)
        for rules in self.periods:
            if rules.covers(wanted):
                return rules
        covered = "、".join(
            f"{format_period(r.start)}-{format_period(r.end)}" for r in self.periods
        )
        raise PackError(
            f"{self.name}规则包（版本{self.version}）没有费款所属期 {wanted} 的规则；"
            f"已有：{covered or '无'}"
        )

    def feature(self, key: str) -> bool:
        return bool(self.features.get(key, False))

    @property
    def has_wage_base_module(self) -> bool:
        """税务代征 regions take bases from the HR side: no payroll-base module."""
        return self.collection_mode == "税务自主征收"

    @property
    def first_period(self) -> Period:
        return self.periods[0].start

    @property
    def last_period(self) -> Period:
        return self.periods[-1].end
