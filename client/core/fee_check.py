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
from typing import Any, NamedTuple

import xlsxwriter

from client.core import fee_declaration as fees
from client.core.fee_declaration import Summary
from client.core.store import Store
from rules.model import PackError, RulePack
from rules.periods import parse_period, period_range
from rules.rounding import FEN, JIAO, YUAN, Rounding, round_amount

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
class _Local:
    """The unit's paying employees as synced: the base text of each item they pay."""

    def __init__(self, store: Store, unit_pk: int, codes: Sequence[str]) -> None:
        self.store, self.unit_pk, self.codes = store, unit_pk, tuple(codes)
        # SQLite picks each item's base out of the JSON: far cheaper than parsing it here.
        # Employee order, as the tax side lists details: equal summaries compare as lists.
        picks = ", ".join(
            f"CASE WHEN instr(items, '\"{c}\"') > 0 THEN json_extract(bases, '$.{c}') END" for c in self.codes
        )
        rows = store.db.execute_sql(
            f"SELECT employee_id, {picks or 'NULL'} FROM enrollment_employee "
            "WHERE unit_id = ? AND removed = 0 AND status = ? ORDER BY employee_id",
            (unit_pk, PAYING),
        ).fetchall()
        self.people: dict[str, tuple[Any, ...]] = {r[0]: r for r in rows}
        self._payers: dict[str, list[tuple[str, str]]] = {}
        self._counts: dict[str, Counter[str]] = {}

    def base(self, eid: str, code: str) -> str | None:
        """The base text of a paying employee for ``code``; None when not paying it."""
        person = self.people.get(eid)
        if person is None or code not in self.codes:
            return None
        return person[1 + self.codes.index(code)]

    def payers(self, code: str) -> list[tuple[str, str]]:
        """(employee_id, base text) of everyone paying ``code`` here."""
        found = self._payers.get(code)
        if found is None:
            col = 1 + self.codes.index(code)
            found = self._payers[code] = [(r[0], r[col]) for r in self.people.values() if r[col] is not None]
        return found

    def counts(self, code: str) -> Counter[str]:
        """How many employees pay ``code`` on each base text."""
        found = self._counts.get(code)
        if found is None:
            found = self._counts[code] = Counter(text for _eid, text in self.payers(code))
        return found

    def names(self, ids: Iterable[str]) -> dict[str, tuple[str, str, str]]:
        """(name, id_type, id_number) of local employees, read only for those that differ."""
        wanted = list(set(ids))
        out: dict[str, tuple[str, str, str]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self.store.db.execute_sql(
                "SELECT employee_id, name, id_type, id_number FROM enrollment_employee WHERE unit_id = ? "
                f"AND employee_id IN ({', '.join('?' for _ in chunk)})",
                [self.unit_pk, *chunk],
            )
            out.update((r[0], (r[1], r[2], r[3])) for r in rows)
        return out


def last_enrollment_update(store: Store, unit_pk: int) -> str | None:
    row = store.db.execute_sql(
        "SELECT updated_at FROM feed_cursor WHERE unit_id = ? AND feed = 'enrollment'", (unit_pk,)
    ).fetchone()
    return str(row[0]) if row else None


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace(" ", "T"))


class Share(NamedTuple):
    """One employee's figures for one item and payer, as decimals and as protocol text."""

    base: Decimal
    amount: Decimal
    base_text: str
    amount_text: str


class _Engine:
    """The engine's arithmetic (rules/engine.py ``calculate``: clamp the base to the item's
    floor and cap, base x rate rounded by the pack's mode for that item and payer, plus the
    fixed amount), with the rules of each (month, item, payer) looked up once and the
    result kept per base text: most employees share a handful of bases. A test pins it to
    ``calculate`` itself."""

    def __init__(self, pack: RulePack, risk_class: int | None) -> None:
        self.pack, self.risk_class = pack, risk_class
        self._rules: dict[tuple[str, str, str], tuple[Any, Decimal, Decimal, Rounding] | None] = {}
        self._cache: dict[tuple[str, str, str, str], Share | None] = {}
        self._bases: dict[tuple[str, str, str], tuple[Decimal, str]] = {}

    def _rule(self, month: str, code: str, payer: str) -> tuple[Any, Decimal, Decimal, Rounding] | None:
        key = (month, code, payer)
        if key not in self._rules:
            found = None
            try:
                item = self.pack.period_for(month).item(code)
            except (KeyError, PackError):  # the item (or the month) is not in the pack
                item = None
            rule = item.payer(payer) if item is not None else None
            if rule is not None and not (rule.injury is not None and self.risk_class is None):
                rate = rule.injury.rate_for(self.risk_class, Decimal(1)) if rule.injury is not None else rule.rate
                found = (item.base, rate, rule.fixed.quantize(FEN), rule.rounding)
            self._rules[key] = found
        return self._rules[key]

    def step(self, month: str, code: str, payer: str) -> Decimal:
        rule = self._rule(month, code, payer)
        return _STEP.get(rule[3], FEN) if rule else FEN

    def share(self, month: str, code: str, payer: str, base_text: str) -> Share | None:
        key = (month, code, payer, base_text)
        try:
            return self._cache[key]
        except KeyError:
            pass
        rule = self._rule(month, code, payer)
        found = None
        if rule is not None:
            limits, rate, fixed, rounding = rule
            base, text = self._base(month, code, limits, base_text)
            amount = round_amount(base * rate, rounding) + fixed  # two decimals: both parts have
            found = Share(base, amount, text, str(amount))
        self._cache[key] = found
        return found

    def table(self, month: str, code: str, payer: str, texts: Iterable[str]) -> dict[str, Share]:
        """``share`` for many base texts at once (the daily summaries: every base in use);
        texts with no share (the item not in the pack) are left out."""
        rule = self._rule(month, code, payer)
        if rule is None:
            return {}
        limits, rate, fixed, rounding = rule
        bases = self._bases
        out: dict[str, Share] = {}
        for text in texts:
            found = bases.get((month, code, text))
            if found is None:
                base = limits.clamp(Decimal(text))
                found = bases[(month, code, text)] = (base, str(base.quantize(FEN)))
            amount = round_amount(found[0] * rate, rounding) + fixed
            out[text] = Share(found[0], amount, found[1], str(amount))
        return out

    def _base(self, month: str, code: str, limits: Any, base_text: str) -> tuple[Decimal, str]:
        """The clamped base (计费基数), shared by the item's two parts."""
        key = (month, code, base_text)
        found = self._bases.get(key)
        if found is None:
            base = limits.clamp(Decimal(base_text))
            found = self._bases[key] = (base, str(base.quantize(FEN)))
        return found


def _months(summary: Summary) -> list[str]:
    return [str(p) for p in period_range(parse_period(summary.period_from), parse_period(summary.period_to))]


# -- the check --------------------------------------------------------------------------------------
def check(
    store: Store, unit_pk: int, chosen: Sequence[Summary], pack: RulePack, risk_class: int | None,
) -> FeeCheck:
    """Recompute ``chosen`` from the local enrollment and ``pack`` (``risk_class``: the
    unit's 工伤行业风险类别 from its registration)."""
    local = _Local(store, unit_pk, sorted({s.item for s in chosen}))
    engine = _Engine(pack, risk_class)
    items: list[ItemCheck] = []
    diffs: list[EmployeeDifference] = []
    notes: list[str] = []
    without_details = 0
    for summary in chosen:
        details = _details(store, unit_pk, summary)
        if details is None:
            without_details += summary.has_details
        found, item = _compare(summary, details, local, engine)
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
    wanted = {d.summary_id for d in diffs if d.kind == "unknown" and not d.name}
    if not wanted:
        return diffs
    names = {sid: fees.detail_people(store, unit_pk, sid) for sid in wanted}
    out = []
    for d in diffs:
        found = names[d.summary_id].get(d.employee_id) if d.kind == "unknown" and not d.name else None
        out.append(replace(d, name=found[0], id_type=found[1], id_number=found[2]) if found else d)
    return out


def _details(store: Store, unit_pk: int, summary: Summary) -> list[str] | None:
    """The cached detail lines ("employee_id\tperiod\tbase\tamount") of this very version."""
    found = fees.detail_lines(store, unit_pk, summary.summary_id)
    if found is None:
        return [] if summary.headcount == 0 else None  # nobody to compare, or not downloaded
    version, lines = found
    return lines if version == summary.version else None  # else the figures changed since


def _expected(
    summary: Summary, details: list[str] | None, local: _Local, engine: _Engine
) -> tuple[list[str], int, Decimal, Decimal]:
    """The lines the summary should have by local data, in the details' shape, with their
    headcount, base and amount totals. Daily: everyone paying the item here. Special: the
    persons and months it lists."""
    code, part = summary.item, summary.part
    out: list[str] = []
    base_total = amount = ZERO
    if summary.kind == "daily":
        payers = local.payers(code)
        counts = local.counts(code)
        headcount = 0
        for month in _months(summary):
            shares = engine.table(month, code, part, counts)
            tails = {text: f"\t{month}\t{found.base_text}\t{found.amount_text}" for text, found in shares.items()}
            for text, found in shares.items():
                n = counts[text]
                base_total += found.base * n
                amount += found.amount * n
                if month == summary.period_from:  # daily: one month; persons counted once
                    headcount += n
            if len(tails) == len(counts):
                out += [eid + tails[text] for eid, text in payers]
            else:
                out += [eid + tails[text] for eid, text in payers if text in tails]
        return out, headcount, base_total, amount
    persons: set[str] = set()
    for line in details or ():
        eid, month = line.split("\t", 2)[:2]
        base_text = local.base(eid, code)
        found = engine.share(month, code, part, base_text) if base_text is not None else None
        if found is not None:
            out.append(f"{eid}\t{month}\t{found.base_text}\t{found.amount_text}")
            persons.add(eid)
            base_total += found.base
            amount += found.amount
    return out, len(persons), base_total, amount


def _compare(
    summary: Summary, details: list[str] | None, local: _Local, engine: _Engine
) -> tuple[list[EmployeeDifference], ItemCheck]:
    expected, headcount, base_total, amount = _expected(summary, details, local, engine)
    if details is None:
        return [], _item(summary, headcount, base_total, amount, False, 0)
    if details == expected:  # both in employee order: the common case costs one list compare
        return [], _item(summary, headcount, base_total, amount, True, 0)
    # Equal figures are equal text: set arithmetic finds the few lines that differ.
    tax_lines, local_lines = set(details), set(expected)
    tax_only, local_only = tax_lines - local_lines, local_lines - tax_lines
    by_key = {}
    for line in local_only:
        cells = line.split("\t")
        by_key[(cells[0], cells[1])] = cells
    diffs: list[EmployeeDifference] = []

    def diff(kind: str, eid: str, period: str, tax: list[str] | None, mine: list[str] | None) -> None:
        diffs.append(EmployeeDifference(
            summary.summary_id, summary.item_name, summary.part_name, period, kind, eid, "", "", "",
            _dec(tax[2]) if tax else None, _dec(mine[2]) if mine else None,
            _dec(tax[3]) if tax else None, _dec(mine[3]) if mine else None,
        ))

    for line in sorted(tax_only):
        row = line.split("\t")
        if len(row) != 4:
            continue  # not a line save_details wrote
        eid, period = row[0], row[1]
        mine = by_key.pop((eid, period), None)
        if mine is None:
            diff("unknown", eid, period, row, None)
        elif Decimal(row[2]) != Decimal(mine[2]):
            diff("base", eid, period, row, mine)
        elif abs(Decimal(row[3]) - Decimal(mine[3])) > engine.step(period, summary.item, summary.part):
            diff("amount", eid, period, row, mine)
    for (eid, period), mine in sorted(by_key.items()):
        diff("missing", eid, period, None, mine)
    names = local.names(d.employee_id for d in diffs)
    diffs = [replace(d, name=n[0], id_type=n[1], id_number=n[2]) if (n := names.get(d.employee_id)) else d
             for d in diffs]
    return diffs, _item(summary, headcount, base_total, amount, True, len(diffs))


def _item(summary: Summary, headcount: int, base_total: Decimal, amount: Decimal, details: bool, n: int) -> ItemCheck:
    return ItemCheck(
        summary.summary_id, summary.label, summary.item, summary.item_name, summary.part, summary.part_name,
        summary.period_label, summary.unit_number, summary.agency, summary.headcount, headcount,
        summary.base_total, base_total.quantize(FEN), summary.amount, amount.quantize(FEN), details, n,
    )


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
