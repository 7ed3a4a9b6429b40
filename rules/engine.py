"""The fee engine: one employee's contributions for one fee period, from a rule pack.

Pure: no I/O, no state. For each item and payer, amount = round(clamped base x rate) +
fixed amount, rounded by the pack's mode for that item and payer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from rules.model import PAYER_LABELS, PAYERS, ItemRule, PayerRule, Provenance, RulePack
from rules.periods import Period, PeriodLike, parse_period
from rules.rounding import FEN, Rounding, round_amount

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PayerFee:
    """One payer's share of one item."""

    payer: str  # "employer" or "employee"
    rate: Decimal
    rate_amount: Decimal  # the rounded base x rate part
    fixed: Decimal  # fixed monthly amount, e.g. 3 元 大额医疗互助
    amount: Decimal  # rate_amount + fixed
    rounding: Rounding
    rate_verified: bool  # the rate (and fixed amount) comes from an official notice
    verified: bool  # rate and rounding mode both verified
    source: str | None

    @property
    def payer_label(self) -> str:
        return PAYER_LABELS[self.payer]


@dataclass(frozen=True)
class ItemFee:
    """One item: the declared and clamped base and each payer's share."""

    code: str
    name: str
    declared_base: Decimal
    base: Decimal
    floor: Decimal
    cap: Decimal
    clamped: str | None  # "floor", "cap" or None
    employer: PayerFee | None
    employee: PayerFee | None

    @property
    def employer_amount(self) -> Decimal:
        return self.employer.amount if self.employer else ZERO

    @property
    def employee_amount(self) -> Decimal:
        return self.employee.amount if self.employee else ZERO

    @property
    def total(self) -> Decimal:
        return self.employer_amount + self.employee_amount

    @property
    def verified(self) -> bool:
        return all(p.verified for p in (self.employer, self.employee) if p is not None)


@dataclass(frozen=True)
class FeeResult:
    region: str
    pack_version: str
    period: Period
    items: tuple[ItemFee, ...]
    employer_total: Decimal
    employee_total: Decimal
    total: Decimal
    skipped: tuple[str, ...] = ()  # Chinese notes on items left out (e.g. no risk class)

    def item(self, code: str) -> ItemFee:
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(code)

    @property
    def verified(self) -> bool:
        return all(item.verified for item in self.items)

    def as_dict(self) -> dict:
        """JSON-ready: Decimals as strings ("1280.00")."""

        def payer(fee: PayerFee | None) -> dict | None:
            if fee is None:
                return None
            return {
                "rate": str(fee.rate), "rate_amount": str(fee.rate_amount),
                "fixed": str(fee.fixed), "amount": str(fee.amount),
                "rounding": fee.rounding.key, "rate_verified": fee.rate_verified,
                "verified": fee.verified, "source": fee.source,
            }

        return {
            "region": self.region, "pack_version": self.pack_version,
            "period": str(self.period),
            "items": [
                {
                    "code": i.code, "name": i.name, "declared_base": _money(i.declared_base),
                    "base": _money(i.base), "floor": _money(i.floor), "cap": _money(i.cap),
                    "clamped": i.clamped, "employer": payer(i.employer),
                    "employee": payer(i.employee), "total": str(i.total),
                }
                for i in self.items
            ],
            "employer_total": str(self.employer_total),
            "employee_total": str(self.employee_total),
            "total": str(self.total), "skipped": list(self.skipped),
            "verified": self.verified,
        }


def _money(value: Decimal) -> str:
    """Bases as money text with two decimals; a base with more decimals keeps them."""
    return str(value.quantize(FEN)) if value == value.quantize(FEN) else str(value)


def _check_money(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{what}必须是 Decimal（不要用浮点数）")
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise ValueError(f"{what}不能为负数或无效值：{value}")
    return number


def _payer_fee(rule: PayerRule, base: Decimal, rate: Decimal) -> PayerFee:
    rate_amount = round_amount(base * rate, rule.rounding)
    fixed = rule.fixed.quantize(FEN)
    prov: Provenance = rule.provenance
    return PayerFee(
        payer=rule.payer, rate=rate, rate_amount=rate_amount, fixed=fixed,
        amount=rate_amount + fixed, rounding=rule.rounding,
        rate_verified=prov.verified,
        verified=prov.verified and rule.rounding_provenance.verified, source=prov.source,
    )


def _item_fee(
    item: ItemRule, declared: Decimal, risk_class: int | None, injury_float: Decimal
) -> ItemFee:
    base = item.base.clamp(declared)
    clamped = "floor" if declared < item.base.floor else "cap" if declared > item.base.cap else None
    fees: dict[str, PayerFee | None] = {}
    for payer in PAYERS:
        rule = item.payer(payer)
        if rule is None:
            fees[payer] = None
            continue
        if rule.injury is not None:
            assert risk_class is not None
            rate = rule.injury.rate_for(risk_class, injury_float)
        else:
            rate = rule.rate
        fees[payer] = _payer_fee(rule, base, rate)
    return ItemFee(
        code=item.code, name=item.name, declared_base=declared, base=base,
        floor=item.base.floor, cap=item.base.cap, clamped=clamped,
        employer=fees["employer"], employee=fees["employee"],
    )


def calculate(
    pack: RulePack,
    period: PeriodLike,
    base: Decimal,
    *,
    risk_class: int | None = None,
    injury_float: Decimal = Decimal("1"),
    bases_per_item: Mapping[str, Decimal] | None = None,
    government_unit: bool = False,
) -> FeeResult:
    """Contributions of one employee for one fee period.

    ``base`` is the declared payroll base; each item clamps it to its floor and cap.
    Work injury needs ``risk_class`` (1-8) and the unit's float (1 = 100%); without a
    risk class the item is left out and named in ``skipped``. ``bases_per_item`` (item
    code -> base) is allowed only for government units where the pack permits
    按险种申报; items not in it use ``base``.
    """
    wanted = parse_period(period)
    rules = pack.period_for(wanted)
    declared = _check_money(base, "缴费基数")
    injury_float = _check_money(injury_float, "工伤浮动比例")
    if risk_class is not None and (isinstance(risk_class, bool) or not isinstance(risk_class, int)):
        raise ValueError(f"工伤行业风险类别应为1-8的整数，实际为{risk_class!r}")
    per_item: dict[str, Decimal] = {}
    if bases_per_item:
        if not government_unit:
            raise ValueError("只有机关事业单位可以按险种申报缴费工资")
        if not pack.per_item_bases_for_government:
            raise ValueError(f"{pack.name}不允许机关事业单位按险种申报缴费工资")
        for code, value in bases_per_item.items():
            if code not in rules.item_codes:
                raise ValueError(f"规则包中没有险种“{code}”")
            per_item[code] = _check_money(value, f"{code}缴费基数")
    items = []
    skipped = []
    for item in rules.items:
        if item.kind == "injury" and risk_class is None:
            skipped.append(f"{item.name}：未指定工伤行业风险类别，未计算")
            continue
        items.append(_item_fee(item, per_item.get(item.code, declared), risk_class, injury_float))
    employer_total = sum((i.employer_amount for i in items), ZERO)
    employee_total = sum((i.employee_amount for i in items), ZERO)
    return FeeResult(
        region=pack.region, pack_version=pack.version, period=wanted, items=tuple(items),
        employer_total=employer_total, employee_total=employee_total,
        total=employer_total + employee_total, skipped=tuple(skipped),
    )
