"""The home page's charts: the last 12 fee periods of a unit, from this PC's data only.

- amount per insurance item (应缴金额 by 征收项目): the summaries of accepted declarations
  (``fee_record``, every channel), by the period they start in;
- headcount (缴费人数): the largest headcount among a period's declared daily summaries
  (every employee pays pension, so that is the number of people);
- payable vs paid: the declared amount against the payment records' amounts (本金, late
  fees apart) of the same period.

Sums are integer fen added up by SQL (exact: amounts are two-decimal text), returned as
decimal text; the page's script turns them into numbers only to draw them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from client.core.home_status import CENT, period_label
from client.core.store import Store
from rules.item_names import ORDER as ITEM_ORDER
from rules.periods import Period

MONTHS = 12
# Items sort by code in the tax side's order (ITEM_ORDER): names are the pack's and vary
# (基本医疗保险（含生育保险）); codes outside it (a pack's own) follow by code, then name.

_FEN = "CAST(round(CAST({} AS REAL) * 100) AS INTEGER)"
_AMOUNT = "json_extract(s.value, '$.amount')"


@dataclass(frozen=True)
class ItemSeries:
    name: str
    amounts: tuple[str, ...]  # decimal text per period, "0.00" where none


@dataclass(frozen=True)
class HomeCharts:
    periods: tuple[str, ...]  # YYYYMM, oldest first
    items: tuple[ItemSeries, ...]
    headcount: tuple[int | None, ...]  # None: nothing declared for the period here
    payable: tuple[str, ...]
    paid: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.items and all(p == "0.00" for p in self.paid)

    def to_dict(self) -> dict[str, Any]:
        return {
            "periods": list(self.periods), "labels": [period_label(p) for p in self.periods],
            "items": [{"name": s.name, "amounts": list(s.amounts)} for s in self.items],
            "headcount": list(self.headcount), "payable": list(self.payable), "paid": list(self.paid),
            "empty": self.empty,
        }


def _text(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(CENT))


def _item_key(code: str, name: str) -> tuple[int, str, str]:
    return (ITEM_ORDER.index(code), "", name) if code in ITEM_ORDER else (len(ITEM_ORDER), code, name)


def home_charts(store: Store, unit_pk: int, current: Period, months: int = MONTHS) -> HomeCharts:
    periods = tuple(str(current.add_months(n - months + 1)) for n in range(months))
    first, last = periods[0], periods[-1]
    declared = store.db.execute_sql(
        "SELECT p, item, min(code), sum(fen), max(heads) FROM ("
        "SELECT json_extract(s.value, '$.period_from') AS p, json_extract(s.value, '$.item_name') AS item, "
        "json_extract(s.value, '$.item') AS code, "
        f"{_FEN.format(_AMOUNT)} AS fen, "
        "CASE WHEN coalesce(json_extract(s.value, '$.kind'), 'daily') = 'daily' "
        "THEN CAST(json_extract(s.value, '$.headcount') AS INTEGER) END AS heads "
        "FROM fee_record r, json_each(r.summaries) s WHERE r.unit_id = ? AND r.status = 'accepted'"
        ") AS d WHERE p BETWEEN ? AND ? GROUP BY p, item",  # PostgreSQL: a named subquery; max of numbers
        (unit_pk, first, last),
    ).fetchall()
    paid_rows = store.db.execute_sql(
        f"SELECT period_from, sum({_FEN.format('amount')}) FROM payment_record "
        "WHERE unit_id = ? AND period_from BETWEEN ? AND ? GROUP BY period_from",
        (unit_pk, first, last),
    ).fetchall()
    index = {p: n for n, p in enumerate(periods)}
    by_item: dict[str, list[int]] = {}
    codes: dict[str, str] = {}
    payable = [0] * months
    heads: list[int | None] = [None] * months
    for period, item, code, fen, count in declared:
        n = index[str(period)]
        name = str(item or "其他")
        by_item.setdefault(name, [0] * months)[n] += int(fen or 0)
        codes.setdefault(name, str(code or ""))
        payable[n] += int(fen or 0)
        if count is not None:
            heads[n] = max(heads[n] or 0, int(count))
    paid = [0] * months
    for period, fen in paid_rows:
        paid[index[str(period)]] += int(fen or 0)
    items = tuple(
        ItemSeries(name, tuple(_text(v) for v in values))
        for name, values in sorted(by_item.items(), key=lambda kv: _item_key(codes[kv[0]], kv[0]))
    )
    return HomeCharts(periods, items, tuple(heads), tuple(_text(v) for v in payable), tuple(_text(v) for v in paid))
