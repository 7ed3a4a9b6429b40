"""Which draft the operator works on, and what the rules say about it today.

A :class:`DraftContext` is built once per request by :func:`open_draft` from the entered
unit: the rule pack in force, the collection mode (a 税务代征 unit has no payroll-base
module), whether the unit may declare per insurance item, and the tax side's business date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from client.core import rulecache, units
from client.errors import ConflictError, NotFoundError, ValidationError
from rules import wage_base as wage_rules
from rules.model import RulePack
from rules.periods import Period, parse_period

DAILY, ANNUAL = "daily", "annual"
KIND_LABELS = {DAILY: "日常缴费工资申报", ANNUAL: "年度缴费工资申报"}
JOURNAL_KIND = {DAILY: "wage_base_daily", ANNUAL: "wage_base_annual"}
AGENCY_MODE = "税务代征"


@dataclass(frozen=True)
class DraftContext:
    """What the rules say for one unit's draft today (the tax side's business date)."""

    unit_pk: int
    kind: str
    pack: RulePack
    today: dt.date
    per_item_allowed: bool  # 按险种申报缴费工资: government unit and the pack allows it

    def __post_init__(self) -> None:
        if self.kind not in KIND_LABELS:
            raise ValidationError("申报类型只能是日常或年度", field="kind")

    @property
    def annual_month(self) -> Period | None:
        return wage_rules.annual_effective_month(self.pack, self.today)

    @property
    def effective_range(self) -> tuple[Period, Period]:
        return wage_rules.daily_effective_range(self.pack, self.today)

    def require_open(self) -> None:
        if self.kind == ANNUAL and self.annual_month is None:
            raise ConflictError(
                f"年度缴费工资申报开放时间为{self.pack.annual_window.describe()}，当前不在开放时间内",
                code="annual_window_closed",
            )

    # RowRules for the import parser and for every change to a row
    def check_month(self, month: str) -> str | None:
        first, last = self.effective_range
        try:
            period = parse_period(month)
        except ValueError as exc:
            return str(exc)
        if not first <= period <= last:
            return f"生效年月 {period} 超出允许范围（{first}-{last}）"
        return None

    def check_base(self, month: str | None, base: Decimal) -> str | None:
        if base == 0:
            return "新缴费工资为 0，提交时需确认"
        period = parse_period(month) if month else self.annual_month
        if period is None:
            period = Period(self.today.year, self.today.month)
        found = wage_rules.check_base(self.pack, period, base)
        return found.message if found else None


def pack_allows_per_item(pack: RulePack, is_government: bool) -> bool:
    return bool(pack.per_item_bases_for_government and is_government)



def open_draft(
    unit_pk: int, unit_id: str, region: str, region_label: str, kind: str, today: dt.date
) -> DraftContext:
    """The context of one unit's draft; NotFoundError where the module does not exist."""
    found = rulecache.in_force(region)
    if found is None:
        raise NotFoundError(f"没有 {region_label} 的业务规则，请先更新业务规则", code="no_rule_pack")
    registration = units.registration(unit_id)
    collection_mode = registration.collection_mode if registration else found.pack.collection_mode
    if collection_mode == AGENCY_MODE or not found.pack.has_wage_base_module:
        raise NotFoundError(
            "本单位为税务代征模式，缴费工资由人社部门确认，本客户端不提供缴费工资申报", code="module_hidden"
        )
    per_item = pack_allows_per_item(found.pack, bool(registration and registration.is_government))
    return DraftContext(unit_pk, kind, found.pack, today, per_item)
