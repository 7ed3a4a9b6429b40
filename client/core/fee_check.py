"""本地核对 (beyond the official client): recompute the tax side's summaries from local data.

Before declaring, each chosen summary is recomputed from the local enrollment (the current
base of each employee per item, as the last 职工参保信息更新 brought it) with the rule pack
(rules/engine.py ``calculate``: clamp to floor and cap, rate, the pack's rounding, fixed
amounts), the way the tax side computes it. Differences are reported per summary (人数,
计费基数合计, 应缴金额) and, where the summary's person details are cached, per employee:

- ``unknown``: the tax side lists someone this PC does not know as paying that item;
- ``missing``: someone paying locally is not in the summary (daily summaries);
- ``base``: the base (计费基数) differs;
- ``amount``: the amount differs by more than one step of the pack's rounding.

"Local data are stale" when the last enrollment update here is older than the time the
tax side computed the summary: the operator is offered an update first.
Most employees share a handful of bases, so the engine runs once per (month, base).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter

from client.core.fee_declaration import Summary
from client.core.store import Store
from rules.engine import calculate
from rules.model import RulePack
from rules.periods import parse_period, period_range
from rules.rounding import FEN, JIAO, YUAN, Rounding

try:
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover
    import json

    _loads = json.loads

ZERO = Decimal("0.00")
PAYING = "正常缴费"
KIND_LABELS = {
    "unknown": "本地无该职工缴费信息",
    "missing": "汇总中缺少该职工",
    "base": "计费基数不一致",
    "amount": "应缴金额不一致",
}
_STEP = {
    Rounding.HALF_UP_FEN: FEN, Rounding.DOWN_FEN: FEN, Rounding.HALF_UP_JIAO: JIAO,
    Rounding.UP_JIAO: JIAO, Rounding.DOWN_JIAO: JIAO, Rounding.HALF_UP_YUAN: YUAN,
    Rounding.UP_YUAN: YUAN, Rounding.DOWN_YUAN: YUAN,
}


@dataclass(frozen=True)
class ItemCheck:
    """One summary: the tax side's figures next to the local recomputation."""

    summary_id: str
    label: str
    item: str
    item_name: str
    part: str
    part_name: str
    period_label: str
    unit_number: str
    agency: str
    tax_headcount: int
    local_headcount: int
    tax_base_total: Decimal
    local_base_total: Decimal
    tax_amount: Decimal
    local_amount: Decimal
    details_checked: bool  # the person details of this version were compared
    differences: int  # employee rows that differ

    @property
    def differs(self) -> bool:
        return bool(
            self.differences or self.tax_headcount != self.local_headcount
            or self.tax_base_total != self.local_base_total or self.tax_amount != self.local_amount
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("tax_base_total", "local_base_total", "tax_amount", "local_amount"):
            data[name] = str(data[name])
        data["differs"] = self.differs
        data["amount_difference"] = str(self.tax_amount - self.local_amount)
        return data


@dataclass(frozen=True)
class EmployeeDifference:
    summary_id: str
    item_name: str
    part_name: str
    period: str
    kind: str  # unknown / missing / base / amount
    employee_id: str
    name: str
    id_type: str
    id_number: str
    tax_base: Decimal | None
    local_base: Decimal | None
    tax_amount: Decimal | None
    local_amount: Decimal | None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    def to_dict(self) -> dict[str, Any]:
        data = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}
        data["kind_label"] = self.kind_label
        return data


@dataclass(frozen=True)
class FeeCheck:
    items: tuple[ItemCheck, ...]
    differences: tuple[EmployeeDifference, ...]
    stale: bool
    last_update: str | None  # the last enrollment update on this PC
    computed_at: str | None  # the newest computation among the checked summaries
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.stale and not any(i.differs for i in self.items)

    @property
    def message(self) -> str:
        parts = []
        if self.stale:
            when = self.last_update or "从未更新"
            parts.append(
                f"本地职工参保信息（最后更新：{when}）早于税务端汇总计算时间（{self.computed_at}），"
                "核对结果可能不准确，建议先更新职工参保信息"
            )
        differing = [i for i in self.items if i.differs]
        if differing:
            parts.append(
                f"{len(differing)} 条汇总与本地计算不一致"
                + (f"，{len(self.differences)} 处职工明细差异" if self.differences else "")
            )
        elif self.items:
            parts.append(f"{len(self.items)} 条汇总与本地计算一致")
        return "；".join(parts + list(self.notes))

    def to_dict(self, limit: int = 500) -> dict[str, Any]:
        """JSON-ready; the first ``limit`` employee differences (export gives them all)."""
        return {
            "ok": self.ok, "message": self.message, "stale": self.stale, "last_update": self.last_update,
            "computed_at": self.computed_at, "notes": list(self.notes),
            "items": [i.to_dict() for i in self.items],
            "difference_count": len(self.differences),
            "differences": [d.to_dict() for d in self.differences[:limit]],
        }


# -- local data -------------------------------------------------------------------------------------
@dataclass
class _Local:
    """The unit's employees: who pays what item on which base (text, as synced)."""

    people: dict[str, tuple[str, str, str, bool, Any, dict[str, str]]]  # id -> name, id_type, id_number, paying, items, bases


def _local(store: Store, unit_pk: int) -> _Local:
    rows = store.db.execute_sql(
        "SELECT employee_id, name, id_type, id_number, status, items, bases FROM enrollment_employee "
        "WHERE unit_id = ? AND removed = 0",
        (unit_pk,),
    )
    return _Local({r[0]: (r[1], r[2], r[3], r[4] == PAYING, _loads(r[5]), _loads(r[6])) for r in rows})


def last_enrollment_update(store: Store, unit_pk: int) -> str | None:
    row = store.db.execute_sql(
        "SELECT updated_at FROM feed_cursor WHERE unit_id = ? AND feed = 'enrollment'", (unit_pk,)
    ).fetchone()
    return str(row[0]) if row else None


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace(" ", "T"))


class _Engine:
    """``calculate`` once per (month, base text): (clamped base, amount per payer) per item."""

    def __init__(self, pack: RulePack, risk_class: int | None) -> None:
        self.pack, self.risk_class = pack, risk_class
        self._cache: dict[tuple[str, str], dict[str, tuple[Decimal, dict[str, Decimal]]]] = {}
        self.steps: dict[tuple[str, str, str], Decimal] = {}

    def fees(self, month: str, base_text: str) -> dict[str, tuple[Decimal, dict[str, Decimal]]]:
        key = (month, base_text)
        found = self._cache.get(key)
        if found is None:
            result = calculate(self.pack, month, Decimal(base_text), risk_class=self.risk_class)
            found = {}
            for item in result.items:
                shares = {}
                for payer, share in (("employer", item.employer), ("employee", item.employee)):
                    if share is not None:
                        shares[payer] = share.amount
                        self.steps[(month, item.code, payer)] = _STEP.get(share.rounding, FEN)
                found[item.code] = (item.base, shares)
            self._cache[key] = found
        return found


def _months(summary: Summary) -> list[str]:
    return [str(p) for p in period_range(parse_period(summary.period_from), parse_period(summary.period_to))]


# -- the check --------------------------------------------------------------------------------------
def check(
    store: Store, unit_pk: int, chosen: Sequence[Summary], pack: RulePack, risk_class: int | None,
) -> FeeCheck:
    """Recompute ``chosen`` from the local enrollment and ``pack`` (``risk_class``: the
    unit's 工伤行业风险类别 from its registration)."""
    local = _local(store, unit_pk)
    engine = _Engine(pack, risk_class)
    items: list[ItemCheck] = []
    diffs: list[EmployeeDifference] = []
    notes: list[str] = []
    without_details = 0
    for summary in chosen:
        details = _details(store, unit_pk, summary)
        if details is None:
            without_details += summary.has_details
            found, item = _totals_only(summary, local, engine)
        else:
            found, item = _with_details(summary, details, local, engine)
        diffs.extend(found)
        items.append(item)
    diffs = _named(store, unit_pk, diffs)
    if without_details:
        notes.append(f"{without_details} 条汇总的人员明细未下载，仅核对了汇总数")
    if risk_class is None and any(s.item == "injury" for s in chosen):
        notes.append("单位登记信息中没有工伤行业风险类别，工伤保险无法核对，请先更新单位信息")
    last = last_enrollment_update(store, unit_pk)
    newest = max((s.computed_at for s in chosen), default=None)
    stale = bool(newest) and (last is None or _when(last) < _when(str(newest)))
    return FeeCheck(tuple(items), tuple(diffs), stale, last, newest, tuple(notes))


def _named(store: Store, unit_pk: int, diffs: list[EmployeeDifference]) -> list[EmployeeDifference]:
    """Employees unknown here are named as the tax side's details name them."""
    wanted = {(d.summary_id, d.employee_id) for d in diffs if d.kind == "unknown" and not d.name}
    if not wanted:
        return diffs
    names: dict[tuple[str, str], tuple[str, str, str]] = {}
    for summary_id in {w[0] for w in wanted}:
        ids = [w[1] for w in wanted if w[0] == summary_id]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = store.db.execute_sql(
                "SELECT employee_id, name, id_type, id_number FROM fee_summary_detail WHERE unit_id = ? "
                f"AND summary_id = ? AND employee_id IN ({', '.join('?' for _ in chunk)})",
                [unit_pk, summary_id, *chunk],
            )
            names.update(((summary_id, r[0]), (r[1], r[2], r[3])) for r in rows)
    out = []
    for d in diffs:
        found = names.get((d.summary_id, d.employee_id)) if d.kind == "unknown" and not d.name else None
        out.append(replace(d, name=found[0], id_type=found[1], id_number=found[2]) if found else d)
    return out


def _item(summary: Summary, headcount: int, base_total: Decimal, amount: Decimal, details: bool, n: int) -> ItemCheck:
    return ItemCheck(
        summary.summary_id, summary.label, summary.item, summary.item_name, summary.part, summary.part_name,
        summary.period_label, summary.unit_number, summary.agency, summary.headcount, headcount,
        summary.base_total, base_total.quantize(FEN), summary.amount, amount.quantize(FEN), details, n,
    )


def _payers(local: _Local, code: str) -> Iterable[tuple[str, str]]:
    """(employee_id, base text) of the local employees paying ``code``."""
    for eid, (_n, _t, _i, paying, items, bases) in local.people.items():
        if paying and code in items:
            base = bases.get(code)
            if base is not None:
                yield eid, base


def _totals_only(summary: Summary, local: _Local, engine: _Engine) -> tuple[list[EmployeeDifference], ItemCheck]:
    """Daily summaries without cached details: the totals of everyone paying locally."""
    if summary.kind != "daily":
        return [], _item(summary, 0, ZERO, ZERO, False, 0)
    counts = Counter(base for _eid, base in _payers(local, summary.item))
    headcount, base_total, amount = 0, ZERO, ZERO
    for month in _months(summary):
        for base_text, n in counts.items():
            fee = engine.fees(month, base_text).get(summary.item)
            if fee is None or summary.part not in fee[1]:
                continue
            headcount += n
            base_total += fee[0] * n
            amount += fee[1][summary.part] * n
    return [], _item(summary, headcount, base_total, amount, False, 0)


def _details(store: Store, unit_pk: int, summary: Summary) -> list[tuple[str, str, str, str]] | None:
    """(employee_id, period, base, amount) of the cached details of this very version."""
    rows = store.db.execute_sql(
        "SELECT employee_id, period, base, amount, version FROM fee_summary_detail "
        "WHERE unit_id = ? AND summary_id = ?",
        (unit_pk, summary.summary_id),
    ).fetchall()
    if not rows:
        return [] if summary.headcount == 0 else None  # nobody to compare, or not downloaded
    if rows[0][4] != summary.version:
        return None  # details of an older version: the figures changed since
    return [r[:4] for r in rows]


def _with_details(
    summary: Summary, details: list[tuple[str, str, str, str]], local: _Local, engine: _Engine
) -> tuple[list[EmployeeDifference], ItemCheck]:
    code, part = summary.item, summary.part
    people = local.people
    diffs: list[EmployeeDifference] = []
    seen: set[str] = set()
    headcount_ids: set[str] = set()
    base_total, amount = ZERO, ZERO

    def diff(kind: str, eid: str, period: str, tb: Any, lb: Any, ta: Any, la: Any) -> None:
        name, id_type, id_number = people[eid][:3] if eid in people else ("", "", "")
        diffs.append(EmployeeDifference(
            summary.summary_id, summary.item_name, summary.part_name, period, kind, eid, name, id_type,
            id_number, _dec(tb), _dec(lb), _dec(ta), _dec(la),
        ))

    for eid, period, tax_base, tax_amount in details:
        seen.add(eid)
        person = people.get(eid)
        base_text = None
        if person is not None and person[3] and code in person[4]:
            base_text = person[5].get(code)
        if base_text is None:
            diff("unknown", eid, period, tax_base, None, tax_amount, None)
            continue
        fee = engine.fees(period, base_text).get(code)
        share = fee[1].get(part) if fee else None
        if fee is None or share is None:
            diff("unknown", eid, period, tax_base, None, tax_amount, None)
            continue
        local_base, local_amount = fee
        headcount_ids.add(eid)
        base_total += local_base
        amount += share
        # Text first: the same figures are the same text; parse only when it differs.
        if tax_base != str(local_base) and Decimal(tax_base) != local_base:
            diff("base", eid, period, tax_base, local_base, tax_amount, share)
        elif tax_amount != str(share) and abs(Decimal(tax_amount) - share) > engine.steps[(period, code, part)]:
            diff("amount", eid, period, tax_base, local_base, tax_amount, share)
    if summary.kind == "daily":
        for eid, base_text in _payers(local, code):
            if eid in seen:
                continue
            for month in _months(summary):
                fee = engine.fees(month, base_text).get(code)
                if fee is not None and part in fee[1]:
                    diff("missing", eid, month, None, fee[0], None, fee[1][part])
                    headcount_ids.add(eid)
                    base_total += fee[0]
                    amount += fee[1][part]
    return diffs, _item(summary, len(headcount_ids), base_total, amount, True, len(diffs))


def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


# -- export ---------------------------------------------------------------------------------------
ITEM_HEADERS = (
    "汇总编号", "单位编号", "社保经办机构", "征收项目", "征收品目", "费款所属期", "税务端缴费人数", "本地缴费人数",
    "税务端计费基数合计", "本地计费基数合计", "税务端应缴金额", "本地应缴金额", "差额", "核对人员明细", "差异人数",
)
DIFF_HEADERS = (
    "汇总编号", "征收项目", "征收品目", "费款所属期", "差异类型", "职工编号", "姓名", "证件类型", "证件号码",
    "税务端计费基数", "本地计费基数", "税务端应缴金额", "本地应缴金额",
)


def export_xlsx(result: FeeCheck, target: Path) -> int:
    """差异导出: the summaries and every employee difference; returns the difference rows.

    Codes and ID numbers are string cells in text-formatted columns (Excel never turns
    them into numbers); money is numeric with two decimals; nothing is ever a formula.
    """
    book = xlsxwriter.Workbook(str(target), {"constant_memory": True, "strings_to_formulas": False,
                                             "strings_to_numbers": False})
    try:
        bold = book.add_format({"bold": True})
        text = book.add_format({"num_format": "@"})
        money = book.add_format({"num_format": "#,##0.00"})
        sheet = book.add_worksheet("汇总核对")
        sheet.write_row(0, 0, ITEM_HEADERS, bold)
        sheet.set_column(0, 5, 18, text)
        sheet.set_column(6, len(ITEM_HEADERS) - 1, 16)
        for n, i in enumerate(result.items, start=1):
            for col, value in enumerate((i.summary_id, i.unit_number, i.agency, i.item_name, i.part_name,
                                         i.period_label)):
                sheet.write_string(n, col, value, text)
            sheet.write_number(n, 6, i.tax_headcount)
            sheet.write_number(n, 7, i.local_headcount)
            for col, value in enumerate((i.tax_base_total, i.local_base_total, i.tax_amount, i.local_amount,
                                         i.tax_amount - i.local_amount), start=8):
                sheet.write_number(n, col, float(value), money)
            sheet.write_string(n, 13, "是" if i.details_checked else "否", text)
            sheet.write_number(n, 14, i.differences)
        sheet = book.add_worksheet("职工差异")
        sheet.write_row(0, 0, DIFF_HEADERS, bold)
        sheet.set_column(0, 8, 16, text)
        sheet.set_column(8, 8, 22, text)
        sheet.set_column(9, len(DIFF_HEADERS) - 1, 16)
        n = 0
        for n, d in enumerate(result.differences, start=1):
            for col, value in enumerate((d.summary_id, d.item_name, d.part_name, d.period, d.kind_label,
                                         d.employee_id, d.name, d.id_type, d.id_number)):
                sheet.write_string(n, col, value, text)
            for col, value in enumerate((d.tax_base, d.local_base, d.tax_amount, d.local_amount), start=9):
                if value is not None:
                    sheet.write_number(n, col, float(value), money)
    finally:
        book.close()
    return n
