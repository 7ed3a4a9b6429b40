"""Late fees (滞纳金), 社会保险法 第86条: 0.05% a day of the unpaid amount from the day it
is overdue. Whether the first overdue day counts and whether the fee is capped at the
amount owed (行政强制法 第45条) is not settled nationally: the rule pack says which.

``due`` is the last day on which payment is on time (缴款期限); the first overdue day is
the day after it. Paying on ``paid`` counts that day as overdue (up to and including it).
"""

from __future__ import annotations

import datetime as _dt
from decimal import ROUND_DOWN, Decimal

from rules.model import LateFeeRule, RulePack
from rules.rounding import FEN, round_amount


def _rule(pack_or_rule: RulePack | LateFeeRule) -> LateFeeRule:
    if isinstance(pack_or_rule, RulePack):
        return pack_or_rule.late_fee
    if isinstance(pack_or_rule, LateFeeRule):
        return pack_or_rule
    raise TypeError("需要规则包（RulePack）或滞纳金规则（LateFeeRule）")


def _check_dates(due: _dt.date, paid: _dt.date) -> None:
    for value, what in ((due, "缴款期限"), (paid, "缴款日期")):
        # datetime is a date subclass; a time of day would blur the day count.
        if not isinstance(value, _dt.date) or isinstance(value, _dt.datetime):
            raise TypeError(f"{what}必须是日期（date）")


def late_days(pack_or_rule: RulePack | LateFeeRule, due: _dt.date, paid: _dt.date) -> int:
    """Overdue days counted under the pack's convention; 0 when paid on or before ``due``."""
    rule = _rule(pack_or_rule)
    _check_dates(due, paid)
    days = (paid - due).days
    if days <= 0:
        return 0
    if not rule.first_day_counts:
        days -= 1
    return days


def late_fee(
    pack_or_rule: RulePack | LateFeeRule, amount: Decimal, due: _dt.date, paid: _dt.date
) -> Decimal:
    """amount x daily rate x overdue days, rounded and (if the pack says so) capped.

    Example: 100000 x 0.05% x 10 days = 500.00.
    """
    rule = _rule(pack_or_rule)
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError("欠费金额必须是 Decimal（不要用浮点数）")
    amount = Decimal(amount)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"欠费金额不能为负数或无效值：{amount}")
    days = late_days(rule, due, paid)
    fee = round_amount(amount * rule.daily_rate * days, rule.rounding)
    if rule.cap_at_amount and fee > amount:
        # Never above the amount owed, whatever the rounding mode would give.
        fee = amount.quantize(FEN, ROUND_DOWN)
    return fee
