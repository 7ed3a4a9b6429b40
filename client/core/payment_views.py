"""What the 费款缴纳 pages and the home page show, read from this PC only.

- ``arrears_view``: the last arrears list with 欠费总条数, the tax side's totals and, per arrear,
  a late fee estimated to today with the region's pack (rules/latefee.py). The estimate is
  labelled as such: the tax side's figure prevails (it is what a debit takes).
- ``selection``: the totals of the arrears the operator ticked (what 缴款 asks to confirm).
- ``home_alerts``: outstanding arrears, nearest deadline first, and the employees without
  a payroll base (the manual's 登录提示).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from client.core import home_status, payment
from client.core.payment import ZERO, Arrear
from client.core.store import Store
from rules import latefee
from rules.model import RulePack

ESTIMATE_NOTE = "滞纳金估算为本机按业务规则计算至今日的金额，仅供参考，以税务端计算为准"


@dataclass(frozen=True)
class ArrearLine:
    arrear: Arrear
    late_fee_estimate: Decimal | None  # None: no pack for the region on this PC
    open_entry: str  # "" or the open journal entry that still holds it (e.g. 三方协议缴款（待反馈）)

    @property
    def payable(self) -> bool:
        return self.arrear.state == "unpaid" and not self.arrear.hold and not self.open_entry

    def to_dict(self) -> dict[str, Any]:
        data = self.arrear.to_dict()
        estimate = self.late_fee_estimate
        data.update(
            late_fee_estimate=None if estimate is None else str(estimate),
            total_estimate=None if estimate is None else str(self.arrear.amount + estimate),
            open_entry=self.open_entry, payable=self.payable,
        )
        return data


@dataclass(frozen=True)
class ArrearsView:
    items: tuple[ArrearLine, ...]
    count: int  # 欠费总条数
    amount_total: Decimal
    late_fee_total: Decimal  # the tax side's, as of ``today``
    total: Decimal
    late_fee_estimate_total: Decimal | None
    today: str | None  # the tax side's business date of the list
    estimated_on: str  # the day the estimate is counted to
    fetched_at: str | None

    def to_dict(self) -> dict[str, Any]:
        estimate = self.late_fee_estimate_total
        return {
            "items": [line.to_dict() for line in self.items], "count": self.count,
            "amount_total": str(self.amount_total), "late_fee_total": str(self.late_fee_total),
            "total": str(self.total), "late_fee_estimate_total": None if estimate is None else str(estimate),
            "today": self.today, "estimated_on": self.estimated_on, "fetched_at": self.fetched_at,
            "estimate_note": ESTIMATE_NOTE,
        }


def _estimate(pack: RulePack | None, arrear: Arrear, today: dt.date) -> Decimal | None:
    if pack is None:
        return None
    if arrear.state != "unpaid":
        return ZERO
    return latefee.late_fee(pack, arrear.amount, dt.date.fromisoformat(arrear.deadline), today)


def arrears_view(store: Store, unit_pk: int, pack: RulePack | None, today: dt.date, period: str = "") -> ArrearsView:
    rows = payment.arrears(store, unit_pk, period)
    held = payment.covered(store, unit_pk)
    lines = tuple(
        ArrearLine(a, _estimate(pack, a, today),
                   f"{held[a.arrear_id].kind_label}（{held[a.arrear_id].state_label}）" if a.arrear_id in held else "")
        for a in rows
    )
    fetch = payment.last_fetch(store, unit_pk)
    amount = sum((a.amount for a in rows), ZERO)
    late = sum((a.late_fee for a in rows), ZERO)
    estimates = [line.late_fee_estimate for line in lines]
    estimate_total = None if pack is None else sum((e for e in estimates if e is not None), ZERO)
    return ArrearsView(lines, len(rows), amount, late, amount + late, estimate_total,
                       fetch.today if fetch else None, today.isoformat(), fetch.fetched_at if fetch else None)


@dataclass(frozen=True)
class SelectionTotals:
    count: int
    amount_total: Decimal
    late_fee_total: Decimal
    total: Decimal  # what a debit of them takes as of the list's date: the operator confirms this

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}


def selection(store: Store, unit_pk: int, arrear_ids: Sequence[str]) -> SelectionTotals:
    chosen = payment.arrears_by_id(store, unit_pk, list(arrear_ids))
    amount = sum((a.amount for a in chosen), ZERO)
    late = sum((a.late_fee for a in chosen), ZERO)
    return SelectionTotals(len(chosen), amount, late, amount + late)


@dataclass(frozen=True)
class HomeAlerts:
    arrears: tuple[dict[str, Any], ...]  # unpaid, nearest deadline first
    arrears_count: int
    arrears_total: Decimal
    without_base: int  # 正常缴费 employees with no payroll base
    fetched_at: str | None

    @property
    def messages(self) -> list[str]:
        out = []
        if self.arrears_count:
            first = self.arrears[0]
            out.append(f"您有 {self.arrears_count} 条欠费未缴纳，合计 {self.arrears_total:,.2f} 元，"
                       f"最近的限缴日期为 {first['deadline']}，请及时缴款")
        if self.without_base:
            out.append(f"有 {self.without_base} 名职工尚未申报缴费工资，请及时进行缴费工资申报")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"arrears": list(self.arrears), "arrears_count": self.arrears_count,
                "arrears_total": str(self.arrears_total), "without_base": self.without_base,
                "fetched_at": self.fetched_at, "messages": self.messages}


def without_base(store: Store, unit_pk: int) -> int:
    """正常缴费 employees whose synced enrollment holds no base for any item (one SQL count)."""
    return home_status.without_base(store, unit_pk)


def home_alerts(store: Store, unit_pk: int, today: dt.date, limit: int = 5) -> HomeAlerts:
    unpaid = [a for a in payment.arrears(store, unit_pk) if a.state == "unpaid"]
    shown = tuple(
        {**a.to_dict(), "days_left": (dt.date.fromisoformat(a.deadline) - today).days} for a in unpaid[:limit]
    )
    fetch = payment.last_fetch(store, unit_pk)
    return HomeAlerts(shown, len(unpaid), sum((a.total for a in unpaid), ZERO), without_base(store, unit_pk),
                      fetch.fetched_at if fetch else None)
