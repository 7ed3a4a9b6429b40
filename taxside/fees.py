"""Fee summaries (预处理汇总, manual 3.1.6) on the reference tax side: pre-processing with
the rules engine, re-computation when enrollment changes, special summaries, details.

No Flask here: the demo generator runs it on a bare Store. A computation writes one
immutable batch of person rows (one row per person and month, every item in it) that the
summaries it produced point to; a summary's details are the batch rows whose ``mask``
has the summary's item bit, paged by (batch_pk, n).
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rules.engine import FeeResult, calculate
from rules.model import PAYERS, RulePack
from rules.periods import Period
from rules.rounding import FEN
from taxside.data import STATUS_NORMAL
from taxside.db import Store
from taxside.jsonutil import dumps, loads

PackFor = Callable[[str], RulePack]
PART_NAMES = {"employer": "单位缴纳部分", "employee": "个人缴纳部分"}
SPECIAL_TYPES = ("补缴", "退休补收")
ZERO = Decimal("0.00")

SUMMARY_COLUMNS = (
    "id, kind, special_type, unit_number, agency, item, item_name, part, period_from,"
    " period_to, headcount, base_total, amount, version, computed_at, pack_version, state,"
    " declaration_pk, detail_count, batch_pk, digest, unit_pk"
)


def summary_id(pk: int) -> str:
    return f"FS{pk:08d}"


def parse_summary_id(text: str) -> int | None:
    if isinstance(text, str) and text[:2] == "FS" and text[2:].isdigit() and len(text) <= 14:
        return int(text[2:])
    return None


def money(value: Decimal) -> str:
    return str(value.quantize(FEN))


def first_business_day(year: int, month: int) -> dt.date:
    """The first Monday-Friday of the month (public holidays are not modelled)."""
    day = dt.date(year, month, 1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def current_period(today: dt.date) -> Period:
    """The fee period declared in the month of ``today`` (当月费款当月申报); before the
    month's first business day its summaries do not exist yet, so the previous month's."""
    period = Period(today.year, today.month)
    if today < first_business_day(today.year, today.month):
        return period.add_months(-1)
    return period


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


# -- the computation ----------------------------------------------------------------------------
@dataclass
class _Acc:
    """One future summary: (item, part) totals, and a digest of its persons and bases."""

    headcount: int = 0
    base_total: Decimal = ZERO
    amount: Decimal = ZERO
    rows: int = 0
    digest: str = ""


@dataclass
class _Shape:
    """What one (month, items, bases) gives: employees with the same bases share it, so
    the engine runs once per distinct base, not once per person."""

    mask: int = 0
    vals_json: str = "[]"
    # per item bit: (base, employer amount or None, employee amount or None, base text)
    entries: dict[int, tuple[Decimal, Decimal | None, Decimal | None, str]] = field(
        default_factory=dict
    )
    rates: dict[str, list[str | None]] = field(default_factory=dict)  # item -> rates


@dataclass
class _Computation:
    codes: list[str]
    names: dict[str, str]
    rates: dict[str, dict[str, list[str | None]]]
    rows: list[tuple[Any, ...]]
    acc: dict[tuple[str, str], _Acc]


def _unit(st: Store, unit_pk: int) -> tuple[str, int]:
    region, risk = st.query("SELECT region, industry_risk_class FROM unit WHERE id = ?", (unit_pk,))[0]
    return region, risk


def _numbers(st: Store, unit_pk: int) -> list[tuple[str, list[str], str]]:
    return [
        (n, loads(i), a)
        for n, i, a in st.query(
            "SELECT number, items, agency FROM unit_number WHERE unit_pk = ? ORDER BY id", (unit_pk,)
        )
    ]


def _number_for(numbers: list[tuple[str, list[str], str]], code: str) -> tuple[str, str]:
    """The unit number (and its agency) that covers an item: the one listing it, else the
    unit's first number."""
    for number, items, agency in numbers:
        if code in items:
            return number, agency
    return (numbers[0][0], numbers[0][2]) if numbers else ("", "")


# One item's fee for one payroll base: (clamped base, employer amount, employee amount,
# [employer rate, employer fixed, employee rate, employee fixed]); None: item not in the rules.
_ItemFee = tuple[Decimal, Decimal | None, Decimal | None, list[str | None]]
_CACHE_PACKS = 8
_CACHE_BASES = 60_000  # per pack: enough for the distinct bases of a 100,000-person unit

@dataclass
class _PackCache:
    pack: RulePack  # held so that its id() cannot be reused while cached
    fees: dict[tuple[int, str, str], dict[str, _ItemFee]] = field(default_factory=dict)
    shapes: dict[tuple[int, str, str, str, str], _Shape] = field(default_factory=dict)


_caches: dict[int, _PackCache] = {}
_caches_lock = threading.Lock()


def _cache_of(pack: RulePack) -> _PackCache:
    """Engine results and shapes of one pack object, kept across computations: a
    re-computation after a few base changes runs the engine only for the new bases."""
    with _caches_lock:
        cache = _caches.get(id(pack))
        if cache is None or cache.pack is not pack:
            if len(_caches) >= _CACHE_PACKS:
                _caches.clear()
            cache = _caches[id(pack)] = _PackCache(pack)
        if len(cache.fees) > _CACHE_BASES or len(cache.shapes) > _CACHE_BASES:
            cache.fees.clear()
            cache.shapes.clear()
        return cache


def _item_fees(result: FeeResult) -> dict[str, _ItemFee]:
    out = {}
    for fee in result.items:
        er, ee = fee.employer, fee.employee
        out[fee.code] = (
            fee.base, er.amount if er else None, ee.amount if ee else None,
            [str(er.rate) if er else None, money(er.fixed) if er else None,
             str(ee.rate) if ee else None, money(ee.fixed) if ee else None],
        )
    return out


class _Engine:
    """The rules engine over one pack: one call per distinct (month, base)."""

    def __init__(self, pack: RulePack, risk_class: int, codes: list[str]) -> None:
        self.pack, self.risk_class, self.codes = pack, risk_class, codes
        self.codes_key = ",".join(codes)  # bits are positions in codes
        cache = _cache_of(pack)
        self.results, self.shapes = cache.fees, cache.shapes

    def shape(self, month: Period, label: str, items_json: str, bases_json: str) -> _Shape:
        key = (self.risk_class, label, self.codes_key, items_json, bases_json)
        shape = self.shapes.get(key)
        if shape is None:
            shape = self.shapes[key] = self._shape(month, label, items_json, bases_json)
        return shape

    def _shape(self, month: Period, label: str, items_json: str, bases_json: str) -> _Shape:
        items, bases = loads(items_json), loads(bases_json)
        shape = _Shape()
        vals: list[list[str | None] | None] = []
        rates = shape.rates
        for bit, code in enumerate(self.codes):
            text = bases.get(code)
            if code not in items or not isinstance(text, str):
                vals.append(None)
                continue
            key = (self.risk_class, label, text)
            per_item = self.results.get(key)
            if per_item is None:
                per_item = self.results[key] = _item_fees(
                    calculate(self.pack, month, Decimal(text), risk_class=self.risk_class)
                )
            fee = per_item.get(code)
            if fee is None:  # the item is not in this month's rules
                vals.append(None)
                continue
            base_value, er, ee, item_rates = fee
            shape.mask |= 1 << bit
            base = money(base_value)
            shape.entries[bit] = (base_value, er, ee, base)
            vals.append([base, money(er) if er is not None else None,
                         money(ee) if ee is not None else None])
            rates.setdefault(code, item_rates)
        shape.vals_json = dumps(vals).decode()
        return shape


def _compute(
    pack: RulePack, risk_class: int, months: list[Period], employees: Iterable[tuple[Any, ...]],
    codes: list[str] | None = None,
) -> _Computation:
    """Every person x month through the engine. ``employees``: (pk, name, id_type,
    id_number, items JSON, bases JSON). ``codes`` limits the items (special summaries)."""
    first = pack.period_for(months[0])
    for month in months[1:]:
        pack.period_for(month)  # a month the pack does not cover fails before any work
    codes = [c for c in (codes or first.item_codes) if c in first.item_codes]
    engine = _Engine(pack, risk_class, codes)
    labels = [(m, str(m)) for m in months]
    shapes: dict[tuple[str, str, str], _Shape] = {}
    counts: dict[int, int] = {}  # id(shape) -> rows using it
    rates: dict[str, dict[str, list[str | None]]] = {}
    rows: list[tuple[Any, ...]] = []
    order: list[tuple[int, str, _Shape]] = []
    persons: list[set[int]] = [set() for _ in codes]
    for pk, name, id_type, id_number, items_json, bases_json in employees:
        for month, label in labels:  # rows ordered by employee, then month
            key = (label, items_json, bases_json)
            shape = shapes.get(key)
            if shape is None:
                shape = shapes[key] = engine.shape(month, label, items_json, bases_json)
                for code, item_rates in shape.rates.items():
                    rates.setdefault(label, {}).setdefault(code, item_rates)
            if not shape.mask:
                continue
            counts[id(shape)] = counts.get(id(shape), 0) + 1
            rows.append((len(rows) + 1, pk, name, id_type, id_number, label, shape.mask, shape.vals_json))
            order.append((pk, label, shape))
            if len(labels) > 1:
                for bit in shape.entries:
                    persons[bit].add(pk)
    acc: dict[tuple[str, str], _Acc] = {}
    for shape in shapes.values():  # totals: each distinct value times how often it occurs
        count = counts.get(id(shape), 0)
        for bit, (base, er, ee, _text) in shape.entries.items():
            for payer, amount in (("employer", er), ("employee", ee)):
                if amount is None:
                    continue
                a = acc.setdefault((codes[bit], payer), _Acc())
                a.rows += count
                a.base_total += base * count
                a.amount += amount * count
    keys = [f"{pk}:{label}:" for pk, label, _ in order]
    for bit, code in enumerate(codes):
        trail = [k + s.entries[bit][3] for k, (_, _, s) in zip(keys, order, strict=True)
                 if bit in s.entries]
        digest = hashlib.sha256("|".join([pack.version, *trail]).encode()).hexdigest()
        for payer in PAYERS:
            if (code, payer) in acc:
                a = acc[(code, payer)]
                a.digest = digest
                a.headcount = len(persons[bit]) if len(labels) > 1 else a.rows
    names = {c: first.item(c).name for c in codes}
    return _Computation(codes, names, rates, rows, acc)


def _write_batch(st: Store, unit_pk: int, kind: str, comp: _Computation, now: str) -> int:
    cur = st.db.execute_sql(
        "INSERT INTO fee_batch(unit_pk, kind, items, rates, computed_at) VALUES (?,?,?,?,?)",
        (unit_pk, kind, dumps(comp.codes).decode(), dumps(comp.rates).decode(), now),
    )
    batch_pk = int(cur.lastrowid)
    st.db.cursor().executemany(
        "INSERT INTO fee_detail(batch_pk, n, employee_pk, name, id_type, id_number, period, mask,"
        " vals) VALUES (?,?,?,?,?,?,?,?,?)",
        ((batch_pk, *row) for row in comp.rows),
    )
    return batch_pk


def _drop_unused_batches(st: Store, batch_pks: Iterable[int | None]) -> None:
    for pk in {b for b in batch_pks if b is not None}:
        if not st.query("SELECT 1 FROM fee_summary WHERE batch_pk = ? LIMIT 1", (pk,)):
            st.db.execute_sql("DELETE FROM fee_detail WHERE batch_pk = ?", (pk,))
            st.db.execute_sql("DELETE FROM fee_batch WHERE id = ?", (pk,))


# -- daily summaries -------------------------------------------------------------------------------
def _source_seq(st: Store, unit_pk: int) -> int:
    return int(st.query("SELECT MAX(seq) FROM employee WHERE unit_pk = ?", (unit_pk,))[0][0] or 0)


def is_fresh(st: Store, unit_pk: int, period: Period, pack: RulePack) -> bool:
    row = st.db.execute_sql(
        "SELECT source_seq, pack_version FROM fee_run WHERE unit_pk = ? AND period = ?",
        (unit_pk, str(period)),
    ).fetchone()
    return row is not None and row[0] == _source_seq(st, unit_pk) and row[1] == pack.version


def refresh(st: Store, unit_pk: int, pack_for: PackFor, period: Period | None = None) -> None:
    """Bring the unit's daily summaries of ``period`` (default: the current one) up to date.

    Cheap when nothing changed (one indexed MAX and one lookup). Raises PackError when the
    pack has no rules for the period."""
    period = period or current_period(st.today())
    region, risk = _unit(st, unit_pk)
    pack = pack_for(region)
    if is_fresh(st, unit_pk, period, pack):
        return
    with st.write():
        if is_fresh(st, unit_pk, period, pack):  # a concurrent request did it
            return
        _recompute(st, unit_pk, period, pack, risk)


def _recompute(st: Store, unit_pk: int, period: Period, pack: RulePack, risk: int) -> None:
    now = st.now().isoformat()
    seq = _source_seq(st, unit_pk)
    existing = {
        (r[3], r[5], r[7]): r
        for r in st.query(
            f"SELECT {SUMMARY_COLUMNS} FROM fee_summary WHERE unit_pk = ? AND kind = 'daily'"
            " AND period_from = ?",
            (unit_pk, str(period)),
        )
    }
    if not existing or any(r[16] == "pending" for r in existing.values()):
        _apply(st, unit_pk, period, pack, risk, existing, now)
    # else: everything of the period is declared and frozen; nothing to compute
    st.db.execute_sql(
        "INSERT INTO fee_run(unit_pk, period, source_seq, pack_version, computed_at)"
        " VALUES (?,?,?,?,?) ON CONFLICT(unit_pk, period) DO UPDATE SET"
        " source_seq = excluded.source_seq, pack_version = excluded.pack_version,"
        " computed_at = excluded.computed_at",
        (unit_pk, str(period), seq, pack.version, now),
    )


def _apply(
    st: Store, unit_pk: int, period: Period, pack: RulePack, risk: int,
    existing: dict[tuple[str, str, str], tuple[Any, ...]], now: str,
) -> None:
    employees = st.query(
        "SELECT id, name, id_type, id_number, items, bases FROM employee WHERE unit_pk = ?"
        " AND deleted = 0 AND status = ? ORDER BY id",
        (unit_pk, STATUS_NORMAL),
    )
    comp = _compute(pack, risk, [period], employees)
    numbers = _numbers(st, unit_pk)
    batch_pk = _write_batch(st, unit_pk, "daily", comp, now)
    used = False
    replaced: list[int | None] = []
    by_key = {}
    for (code, part), acc in comp.acc.items():
        number, agency = _number_for(numbers, code)
        by_key[(number, code, part)] = (acc, agency)
    for key, (acc, agency) in by_key.items():
        old = existing.pop(key, None)
        figures = (acc.headcount, money(acc.base_total), money(acc.amount))
        digest = acc.digest
        if old is None:
            st.db.execute_sql(
                "INSERT INTO fee_summary(unit_pk, kind, special_type, unit_number, agency, item,"
                " item_name, part, period_from, period_to, headcount, base_total, amount,"
                " detail_count, digest, version, computed_at, pack_version, batch_pk, state)"
                " VALUES (?,'daily',NULL,?,?,?,?,?,?,?,?,?,?,?,?,1,?,?,?,'pending')",
                (unit_pk, key[0], agency, key[1], comp.names[key[1]], key[2], str(period),
                 str(period), *figures, acc.rows, digest, now, pack.version, batch_pk),
            )
            used = True
        elif old[16] == "pending" and (old[20], old[10], old[11], old[12]) != (digest, *figures):
            replaced.append(old[19])
            st.db.execute_sql(
                "UPDATE fee_summary SET headcount = ?, base_total = ?, amount = ?, detail_count = ?,"
                " digest = ?, version = version + 1, computed_at = ?, pack_version = ?,"
                " batch_pk = ?, agency = ? WHERE id = ?",
                (*figures, acc.rows, digest, now, pack.version, batch_pk, agency, old[0]),
            )
            used = True
    for old in existing.values():  # nobody pays that item/part any more
        if old[16] == "pending" and old[10] != 0:
            replaced.append(old[19])
            st.db.execute_sql(
                "UPDATE fee_summary SET headcount = 0, base_total = '0.00', amount = '0.00',"
                " detail_count = 0, digest = '', version = version + 1, computed_at = ?,"
                " pack_version = ?, batch_pk = NULL WHERE id = ?",
                (now, pack.version, old[0]),
            )
    if not used:
        replaced.append(batch_pk)
    _drop_unused_batches(st, replaced)


def preprocess_all(st: Store, pack_for: PackFor) -> int:
    """Bring every unit's daily summaries of the current period up to date (month start);
    returns how many units were computed. Units whose pack lacks the period are skipped."""
    from rules.model import PackError

    done = 0
    for (unit_pk,) in st.query("SELECT id FROM unit ORDER BY id"):
        try:
            refresh(st, unit_pk, pack_for)
        except PackError:
            continue
        done += 1
    return done


# -- special summaries -----------------------------------------------------------------------------
def create_special(
    st: Store, unit_pk: int, pack: RulePack, special_type: str, months: list[Period],
    employee_pks: list[int], codes: list[str],
) -> list[int]:
    """补缴 / 退休补收 summaries over ``months`` for the given employees (caller holds the
    write transaction). Raises PackError for a month the pack does not cover."""
    _region, risk = _unit(st, unit_pk)
    marks = ",".join("?" * len(employee_pks))
    employees = st.query(
        f"SELECT id, name, id_type, id_number, items, bases FROM employee WHERE id IN ({marks})"
        " ORDER BY id",
        tuple(employee_pks),
    )
    comp = _compute(pack, risk, months, employees, codes)
    now = st.now().isoformat()
    batch_pk = _write_batch(st, unit_pk, "special", comp, now)
    numbers = _numbers(st, unit_pk)
    created = []
    for (code, part), acc in comp.acc.items():
        number, agency = _number_for(numbers, code)
        cur = st.db.execute_sql(
            "INSERT INTO fee_summary(unit_pk, kind, special_type, unit_number, agency, item,"
            " item_name, part, period_from, period_to, headcount, base_total, amount,"
            " detail_count, digest, version, computed_at, pack_version, batch_pk, state)"
            " VALUES (?,'special',?,?,?,?,?,?,?,?,?,?,?,?,?,1,?,?,?,'pending')",
            (unit_pk, special_type, number, agency, code, comp.names[code], part, str(months[0]),
             str(months[-1]), acc.headcount, money(acc.base_total), money(acc.amount),
             acc.rows, acc.digest, now, pack.version, batch_pk),
        )
        created.append(int(cur.lastrowid))
    if not created:
        _drop_unused_batches(st, [batch_pk])
    return created


# -- answers ---------------------------------------------------------------------------------------
def summary_json(row: tuple[Any, ...], declaration_id: Callable[[int], str]) -> dict[str, Any]:
    return {
        "summary_id": summary_id(row[0]), "kind": row[1], "special_type": row[2],
        "unit_number": row[3], "agency": row[4], "item": row[5], "item_name": row[6],
        "part": row[7], "part_name": PART_NAMES.get(row[7], row[7]),
        "period_from": row[8], "period_to": row[9], "headcount": row[10],
        "base_total": row[11], "amount": row[12], "version": row[13], "computed_at": row[14],
        "pack_version": row[15], "state": row[16],
        "declaration_id": declaration_id(row[17]) if row[17] is not None else None,
        "has_details": row[18] > 0,
    }


def load_summary(st: Store, unit_pk: int, pk: int) -> tuple[Any, ...] | None:
    return st.db.execute_sql(
        f"SELECT {SUMMARY_COLUMNS} FROM fee_summary WHERE id = ? AND unit_pk = ?", (pk, unit_pk)
    ).fetchone()


def detail_rows(
    st: Store, summary: tuple[Any, ...], *, after: int, offset: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """(n, row JSON) of a summary's persons after position ``after`` (cursor) or from
    ``offset``; at most ``limit``."""
    batch_pk = summary[19]
    if batch_pk is None:
        return []
    codes_json, rates_json = st.query("SELECT items, rates FROM fee_batch WHERE id = ?", (batch_pk,))[0]
    codes, rates = loads(codes_json), loads(rates_json)
    bit = codes.index(summary[5])
    slot = 1 if summary[7] == "employer" else 2
    if offset:
        # Find where the page starts in the (batch_pk, n, mask) index, then read only its rows.
        start = st.query(
            "SELECT n FROM fee_detail"
            " WHERE batch_pk = ? AND n > ? AND (mask & ?) != 0 ORDER BY n LIMIT 1 OFFSET ?",
            (batch_pk, after, 1 << bit, offset),
        )
        if not start:
            return []
        after = start[0][0] - 1
    rows = st.query(
        "SELECT n, employee_pk, name, id_type, id_number, period, vals FROM fee_detail"
        " WHERE batch_pk = ? AND n > ? AND (mask & ?) != 0 ORDER BY n LIMIT ?",
        (batch_pk, after, 1 << bit, limit),
    )
    out = []
    for n, emp, name, id_type, id_number, period, vals in rows:
        entry = loads(vals)[bit]
        rate = rates[period][summary[5]]
        out.append((n, {
            "employee_id": f"E{emp:09d}", "name": name, "id_type": id_type,
            "id_number": id_number, "period": period, "base": entry[0],
            "rate": rate[2 * (slot - 1)], "fixed": rate[2 * (slot - 1) + 1],
            "amount": entry[slot],
        }))
    return out
