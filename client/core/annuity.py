"""年金缴款通知单 (manual 3.1.7, 山西差异化需求): the 职业年金 a 机关事业单位 owes for fee periods.

Offered only where the unit's rule pack switches ``annuity_notice`` on and carries ``[annuity]``
rates (rules/model.py ``AnnuityRule``), and only to a government unit (机关事业单位: the tax side's
registration says ``is_government``); elsewhere ``availability`` says why not and nothing is faked.

The bases are the tax side's: each person's declared base of the pack's ``base_item`` (养老) for
the period (client/sync/certificate.py ``period_records``). Amounts per person are base x rate,
rounded as the pack's period rounds that item for that payer; totals are the sums of those.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from client.core.certificate import PERIOD, check_range
from client.core.enrollment import ID_TYPES
from client.errors import ValidationError
from rules.model import ItemRule, PackError, RulePack
from rules.periods import period_range

TITLE = "职业年金缴款通知单"
MARK = "本通知单由 socialfee 根据税务端已申报的缴费基数和规则包费率计算打印"
MAX_MONTHS = 12
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str  # why not, in Chinese; "" when available


def availability(pack: RulePack | None, is_government: bool | None) -> Availability:
    if pack is None:
        return Availability(False, "尚未取得本地区的业务规则，请先在「单位信息」中更新规则文件")
    if not pack.feature("annuity_notice") or pack.annuity is None:
        return Availability(False, f"{pack.name}业务规则没有年金缴款通知单功能")
    if not is_government:
        return Availability(False, "职业年金只适用于机关事业单位；本单位的参保登记不是机关事业单位")
    return Availability(True, "")


@dataclass(frozen=True)
class AnnuityRow:
    name: str
    id_type: str
    id_number: str
    base: Decimal
    employer: Decimal
    employee: Decimal
    total: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "id_type": self.id_type, "id_type_name": ID_TYPES.get(self.id_type, self.id_type),
                "id_number": self.id_number, "base": str(self.base), "employer": str(self.employer),
                "employee": str(self.employee), "total": str(self.total)}


@dataclass(frozen=True)
class AnnuityPeriod:
    period: str
    rows: tuple[AnnuityRow, ...]
    employer_total: Decimal
    employee_total: Decimal
    total: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "rows": [r.to_dict() for r in self.rows], "headcount": len(self.rows),
                "employer_total": str(self.employer_total), "employee_total": str(self.employee_total),
                "total": str(self.total)}


@dataclass(frozen=True)
class AnnuityNotice:
    unit_name: str
    taxpayer_id: str
    unit_numbers: tuple[str, ...]
    printed_at: dt.datetime
    operator: str
    employer_rate: Decimal
    employee_rate: Decimal
    source: str
    pack_label: str
    periods: tuple[AnnuityPeriod, ...]
    employer_total: Decimal
    employee_total: Decimal
    total: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {"unit_name": self.unit_name, "employer_rate": str(self.employer_rate),
                "employee_rate": str(self.employee_rate), "source": self.source, "pack_label": self.pack_label,
                "periods": [p.to_dict() for p in self.periods], "employer_total": str(self.employer_total),
                "employee_total": str(self.employee_total), "total": str(self.total),
                "period_from": self.periods[0].period if self.periods else "",
                "period_to": self.periods[-1].period if self.periods else ""}


def check_periods(period_from: str, period_to: str) -> list[str]:
    start, end = check_range(period_from, period_to or period_from)
    months = [str(p) for p in period_range(start, end)]
    if len(months) > MAX_MONTHS:
        raise ValidationError(f"一张年金缴款通知单最多 {MAX_MONTHS} 个费款所属期，已选 {len(months)} 个"
                              f"（{start} 至 {end}）", field="period_to")
    return months


def _base(value: Any, who: str) -> Decimal:
    if not isinstance(value, str):  # money is text in the protocol
        raise ValidationError(f"{who}的缴费基数不是金额文本")
    try:
        base = Decimal(value)
    except InvalidOperation:
        raise ValidationError(f"{who}的缴费基数无效：{value}") from None
    if not base.is_finite() or base < 0 or base != base.quantize(CENT):
        raise ValidationError(f"{who}的缴费基数无效：{value}")
    return base


def base_rule(pack: RulePack, period: str) -> ItemRule:
    """The pack's rule for the annuity's base item in ``period``; refused by name when missing."""
    rule = pack.annuity
    assert rule is not None
    try:
        return pack.period_for(period).item(rule.base_item)
    except (PackError, KeyError):
        raise ValidationError(f"{pack.name}业务规则没有费款所属期 {period} 的{rule.base_item}规则，无法计算职业年金",
                              field="period_from") from None


def build_period(pack: RulePack, period: str, records: Iterable[Mapping[str, Any]]) -> AnnuityPeriod:
    """One period's persons from the tax side's records of the base item (hostile until checked)."""
    rule = pack.annuity
    assert rule is not None
    item = base_rule(pack, period)
    er_round = item.employer.rounding if item.employer else None
    ee_round = item.employee.rounding if item.employee else None
    rows: list[AnnuityRow] = []
    seen: set[tuple[str, str]] = set()
    for n, r in enumerate(records, start=1):
        who = f"第 {n} 名职工"
        if r.get("period") != period or r.get("item") != rule.base_item:
            raise ValidationError(f"{who}的记录不属于费款所属期 {period}")
        key = (str(r.get("id_type", "")), str(r.get("id_number", "")))
        if not all(key) or not str(r.get("name", "")).strip():
            raise ValidationError(f"{who}缺少姓名或证件号码")
        base = _base(r.get("base"), f"{r.get('name')}（{key[1]}）")
        if key in seen:  # a 补缴 of the same month adds a second record of the person: one base
            continue
        seen.add(key)
        er = er_round.apply(base * rule.employer_rate) if er_round else (base * rule.employer_rate).quantize(CENT)
        ee = ee_round.apply(base * rule.employee_rate) if ee_round else (base * rule.employee_rate).quantize(CENT)
        rows.append(AnnuityRow(str(r["name"]), key[0], key[1], base, er, ee, er + ee))
    er_total = sum((r.employer for r in rows), ZERO)
    ee_total = sum((r.employee for r in rows), ZERO)
    return AnnuityPeriod(period, tuple(rows), er_total, ee_total, er_total + ee_total)


def empty_reason(periods: Iterable[AnnuityPeriod]) -> str:
    """Why there is nothing to notify ("" when someone owes): a notice of 0 people and 0.00 would
    be printed, hashed and recorded as if the unit owed nothing, when nobody was charged at all."""
    periods = list(periods)
    if not periods:
        return "没有选择费款所属期"
    months = [p.period for p in periods]
    span = months[0] if len(months) == 1 else f"{months[0]} 至 {months[-1]}"
    when = "该期" if len(months) == 1 else f"这 {len(months)} 个费款所属期"
    people = sum(len(p.rows) for p in periods)
    if not people:
        return (f"费款所属期 {span} 没有需要通知缴纳的职业年金：税务端没有本单位机关事业单位职工在{when}"
                "已申报的养老保险缴费基数（职业年金按它计算），因此不生成、不打印通知单")
    if not any(p.total for p in periods):  # bases of 0.00: people, but nothing owed
        return (f"费款所属期 {span} 的职业年金合计为 0.00 元：{people} 人次的养老保险缴费基数均为 0，"
                "没有需要通知缴纳的金额，因此不生成、不打印通知单")
    return ""


def notice(pack: RulePack, unit: Mapping[str, Any], periods: list[AnnuityPeriod], operator: str,
           printed_at: dt.datetime) -> AnnuityNotice:
    """The notice of ``periods``; refused when nobody in them owes (see ``empty_reason``)."""
    rule = pack.annuity
    assert rule is not None
    reason = empty_reason(periods)
    if reason:
        raise ValidationError(reason, code="annuity_empty", field="period_from")
    er = sum((p.employer_total for p in periods), ZERO)
    ee = sum((p.employee_total for p in periods), ZERO)
    source = rule.provenance.source or ("未核实" if not rule.provenance.verified else "")
    return AnnuityNotice(str(unit["name"]), str(unit["taxpayer_id"]), tuple(unit.get("unit_numbers", ())),
                         printed_at.replace(microsecond=0), operator, rule.employer_rate, rule.employee_rate,
                         source, f"{pack.name}业务规则 {pack.version}", tuple(periods), er, ee, er + ee)


def canonical(n: AnnuityNotice) -> bytes:
    content = {
        "v": 1, "title": TITLE, "mark": MARK,
        "unit": {"name": n.unit_name, "taxpayer_id": n.taxpayer_id, "unit_numbers": list(n.unit_numbers)},
        "printed_at": n.printed_at.isoformat(), "rates": [str(n.employer_rate), str(n.employee_rate)],
        "periods": [{"period": p.period, "rows": [[r.name, r.id_type, r.id_number, str(r.base), str(r.employer),
                                                   str(r.employee), str(r.total)] for r in p.rows],
                     "totals": [str(p.employer_total), str(p.employee_total), str(p.total)]} for p in n.periods],
        "totals": [str(n.employer_total), str(n.employee_total), str(n.total)],
    }
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def content_hash(n: AnnuityNotice) -> str:
    return hashlib.sha256(canonical(n)).hexdigest()


def is_period(text: str) -> bool:
    return bool(PERIOD.fullmatch(text))
