"""Declaration details (社保费申报明细查询, manual 3.1.8.3) on the reference tax side.

The person details of successful (申报成功) fee declarations are not stored again: an
accepted declaration turned each of its summaries into one arrear (欠费) row, and a
declared summary's person rows (fee_detail of its frozen batch) never change. So the feed
walks the unit's arrears in id order — ids are taken inside the serialised write of the
acceptance, so a later acceptance always gets a higher id and lands behind every cursor
(stable under concurrent declarations) — and, per arrear, its batch rows in ``n`` order.

A void marks the arrears ``deleted`` with a new change-log ``seq``: rows of voided arrears
ahead of the cursor are skipped, and arrears already behind it come back as tombstones
(``removed``) on the next page, found by ``seq`` above the high-water mark in the cursor.

No Flask here (see taxside/details_api.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rules.periods import Period
from taxside import fee_decisions as fd
from taxside import fees
from taxside.db import Store
from taxside.jsonutil import loads

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 5000
# Row layout of the feed (one JSON array per row); summary-level fields are in "summaries".
COLUMNS = ("summary_id", "employee_id", "id_type", "id_number", "name", "period", "base", "rate", "amount")
SUBITEM_DAILY = "正常缴费"  # 征收子目 of a daily summary; special ones carry their special_type
_VALS_CACHE_MAX = 100_000


@dataclass(frozen=True)
class Position:
    """Where a reader of the feed stands: after row ``n`` of arrear ``arrear``; tombstones
    of voids with ``seq`` above ``voids_seen`` are still to come."""

    arrear: int = 0
    n: int = 0
    voids_seen: int = 0


@dataclass(frozen=True)
class DetailPage:
    rows: list[list[Any]]
    summaries: dict[str, dict[str, Any]]
    removed: list[dict[str, str]]
    position: Position
    has_more: bool
    remaining: int  # rows still to come after this page (special summaries: an upper bound)


def subitem(kind: str, special_type: str | None) -> str:
    return (special_type or SUBITEM_DAILY) if kind == "special" else SUBITEM_DAILY


def _summary_fields(row: tuple[Any, ...], declaration_pk: int, declared_on: str) -> dict[str, Any]:
    (pk, kind, special_type, unit_number, agency, item, item_name, part, period_from,
     period_to, version) = row
    return {
        "summary_id": fees.summary_id(pk), "declaration_id": fd.declaration_id(declaration_pk),
        "version": version, "declared_on": declared_on, "unit_number": unit_number,
        "agency": agency, "item": item, "item_name": item_name, "part": part,
        "part_name": fees.PART_NAMES.get(part, part), "subitem": subitem(kind, special_type),
        "kind": kind, "period_from": period_from, "period_to": period_to,
    }


_ARREARS = (
    "SELECT a.id, a.summary_pk, a.declaration_pk, s.batch_pk, s.item, s.part, s.detail_count,"
    " s.kind, s.period_from, s.period_to FROM arrear a JOIN fee_summary s ON s.id = a.summary_pk"
    " WHERE a.unit_pk = ? AND a.deleted = 0 AND a.id >= ? AND s.period_from <= ?"
    " AND s.period_to >= ? AND s.batch_pk IS NOT NULL ORDER BY a.id"
)


class DetailReader:
    """Reads pages of one unit's feed; keeps parsed batch metadata between pages."""

    def __init__(self, st: Store) -> None:
        self.st = st
        self._batches: dict[int, tuple[list[str], dict[str, Any]]] = {}
        self._vals: dict[str, list[Any]] = {}

    def _batch(self, batch_pk: int) -> tuple[list[str], dict[str, Any]]:
        got = self._batches.get(batch_pk)
        if got is None:
            codes, rates = self.st.query("SELECT items, rates FROM fee_batch WHERE id = ?", (batch_pk,))[0]
            got = self._batches[batch_pk] = (loads(codes), loads(rates))
        return got

    def _parsed(self, text: str) -> list[Any]:
        # Employees with the same bases share one vals text: parse each once.
        vals = self._vals.get(text)
        if vals is None:
            if len(self._vals) > _VALS_CACHE_MAX:
                self._vals.clear()
            vals = self._vals[text] = loads(text)
        return vals

    def page(self, unit_pk: int, start: Period, end: Period, pos: Position, limit: int) -> DetailPage:
        """One page in one read snapshot: the tombstones, then up to ``limit`` rows."""
        st = self.st
        lo, hi = str(start), str(end)
        with st.db.atomic():  # a deferred transaction: every SELECT below sees one snapshot
            high = st.max_seq()
            removed = [
                {"summary_id": fees.summary_id(s), "declaration_id": fd.declaration_id(d)}
                for s, d in st.query(
                    "SELECT a.summary_pk, a.declaration_pk FROM arrear a"
                    " JOIN fee_summary s ON s.id = a.summary_pk WHERE a.unit_pk = ? AND a.deleted = 1"
                    " AND a.seq > ? AND a.seq <= ? AND a.id <= ? AND s.period_from <= ?"
                    " AND s.period_to >= ? ORDER BY a.seq",
                    (unit_pk, pos.voids_seen, high, pos.arrear, hi, lo),
                )
            ] if pos.arrear else []
            arrears = st.query(_ARREARS, (unit_pk, pos.arrear or 1, hi, lo))
            rows: list[list[Any]] = []
            summaries: dict[str, dict[str, Any]] = {}
            arrear, after, remaining, more = pos.arrear, pos.n, 0, False
            for a_pk, s_pk, d_pk, batch_pk, item, part, count, _kind, p_from, p_to in arrears:
                if more:
                    remaining += count
                    continue
                start_n = pos.n if a_pk == pos.arrear else 0
                arrear, after = a_pk, start_n
                while len(rows) < limit:
                    last, got = self._rows(batch_pk, s_pk, item, part, lo, hi, after, limit - len(rows))
                    if last == after:
                        break  # this arrear is done
                    after = last
                    if got:
                        sid = got[0][0]
                        if sid not in summaries:
                            summaries[sid] = self._summary(s_pk, d_pk)
                        rows.extend(got)
                if len(rows) >= limit:
                    more = self._more(arrears, arrear, after, lo, hi)
                    # the rest of this arrear (an estimate for the progress bar)
                    remaining += max(count - after, 0) if p_from == p_to else count
        return DetailPage(rows, summaries, removed, Position(arrear, after, high), more,
                          remaining if more else 0)

    def _more(self, arrears: list[tuple[Any, ...]], arrear: int, after: int, lo: str, hi: str) -> bool:
        for a_pk, _s, _d, batch_pk, item, part, *_ in arrears:
            if a_pk < arrear:
                continue
            if self._rows(batch_pk, 0, item, part, lo, hi, after if a_pk == arrear else 0, 1)[1]:
                return True
        return False

    def _summary(self, s_pk: int, d_pk: int) -> dict[str, Any]:
        row = self.st.db.execute_sql(
            "SELECT id, kind, special_type, unit_number, agency, item, item_name, part, period_from,"
            " period_to, version FROM fee_summary WHERE id = ?", (s_pk,),
        ).fetchone()
        (declared_on,) = self.st.db.execute_sql(
            "SELECT declared_on FROM fee_declaration WHERE id = ?", (d_pk,)
        ).fetchone()
        return _summary_fields(row, d_pk, declared_on)

    def _rows(
        self, batch_pk: int, s_pk: int, item: str, part: str, lo: str, hi: str, after: int, limit: int
    ) -> tuple[int, list[list[Any]]]:
        """(last n, rows) of one declared summary after batch position ``after``."""
        codes, rates = self._batch(batch_pk)
        bit = codes.index(item)
        slot = 1 if part == "employer" else 2
        rate_at = 2 * (slot - 1)
        sid = fees.summary_id(s_pk)
        found = self.st.query(
            "SELECT n, employee_pk, name, id_type, id_number, period, vals FROM fee_detail"
            " WHERE batch_pk = ? AND n > ? AND (mask & ?) != 0 AND period BETWEEN ? AND ?"
            " ORDER BY n LIMIT ?",
            (batch_pk, after, 1 << bit, lo, hi, limit),
        )
        out = []
        parsed = self._parsed
        last = after
        for n, emp, name, id_type, id_number, period, vals in found:
            last = n
            entry = parsed(vals)[bit]
            amount = entry[slot]
            if amount is None:  # this payer has no share of the item for this person
                continue
            out.append([sid, f"E{emp:09d}", id_type, id_number, name, period, entry[0],
                        rates[period][item][rate_at], amount])
        return last, out


# -- the history generator (/sim) -----------------------------------------------------------------
def declare_history(
    st: Store, unit_pk: int, months: list[Period], pack_for: fees.PackFor, *, paid: bool = True
) -> list[int]:
    """Declare every pending daily summary of each month on the 电子税务局 (accepted at
    once), as a unit with a history would have; ``paid``: its arrears are paid too.
    Returns the declaration pks. Raises PackError for a month the pack does not cover."""
    made = []
    for month in months:
        fees.refresh(st, unit_pk, pack_for, month)
        refs = [
            (fees.summary_id(pk), version)
            for pk, version in st.query(
                "SELECT id, version FROM fee_summary WHERE unit_pk = ? AND kind = 'daily'"
                " AND period_from = ? AND state = 'pending' AND headcount > 0 ORDER BY id",
                (unit_pk, str(month)),
            )
        ]
        if not refs:
            continue
        with st.write():
            pk = fd.receive(st, unit_pk, refs, fd.CHANNEL_ETAX)
        fd.decide(st, pk, pack_for)
        made.append(pk)
        if paid:
            now = st.now().isoformat()
            with st.write():
                for (arrear_pk,) in st.query(
                    "SELECT id FROM arrear WHERE declaration_pk = ? AND state = 'unpaid'", (pk,)
                ):
                    seq = st.log_change("arrears", "upsert", unit_pk=unit_pk, entity_id=fd.arrear_id(arrear_pk))
                    st.db.execute_sql(
                        "UPDATE arrear SET state = 'paid', paid_at = ?, seq = ? WHERE id = ?",
                        (now, seq, arrear_pk),
                    )
    return made


def count_rows(st: Store, unit_pk: int, start: Period, end: Period) -> int:
    """Rows the feed serves for the range now (tests and the bench), read in one go."""
    reader, total, pos = DetailReader(st), 0, Position()
    while True:
        page = reader.page(unit_pk, start, end, pos, MAX_LIMIT)
        total += len(page.rows)
        if not page.has_more:
            return total
        pos = page.position
