"""社保费申报明细 sync: the tax side's declaration-details feed (docs/protocol.md,
"Declaration details") into the local tables of client/core/query_details_schema.py.

The enrollment feed's rules, at a million rows:
- each page's rows, its tombstones and the cursor that follows it are committed in one
  transaction of the one writer, so an interrupted sync (dropped connection, restart)
  resumes from the last committed cursor: no gap, and a page served again is an upsert on
  (summary, employee, month), never a duplicate;
- the next page is fetched while the current one is written (the network and SQLite
  overlap; SQLite releases the GIL);
- a page's rows go in as one bulk load (``db.copy_rows``: COPY on PostgreSQL, executemany
  on SQLite); money is checked and turned into integer fen once per distinct text (bases and
  amounts repeat across persons); the totals per (summary, month) are added page by page,
  recounted only where a row was already here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import peewee

from client.core import audit
from client.core.jobs import JobContext, JobInfo
from client.core.store import Store
from client.errors import ValidationError
from client.sync.taxclient import TaxClient
from client.sync.taxclient_transport import malformed

if TYPE_CHECKING:
    from client.sync.session import SessionManager

PAGE_SIZE = 10_000
JOB_KIND = "query_details_sync"
COLUMNS = ["summary_id", "employee_id", "id_type", "id_number", "name", "period", "base", "rate", "amount"]
_MONEY = re.compile(r"(?:0|[1-9][0-9]{0,11})\.[0-9]{2}\Z")
_PERIOD = re.compile(r"[0-9]{4}(?:0[1-9]|1[0-2])\Z")
_SUMMARY_KEYS = ("summary_id", "declaration_id", "version", "declared_on", "unit_number", "agency", "item",
                 "item_name", "part", "part_name", "subitem", "kind", "period_from", "period_to")

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class RawDetailPage:
    summaries: dict[str, Any]
    items: list[Any]
    removed: list[Any]
    next_cursor: str
    has_more: bool
    remaining: int


@dataclass(frozen=True)
class DetailSyncResult:
    period_from: str
    period_to: str
    fetched: int  # rows the tax side sent in this run
    removed: int  # declared summaries taken out (their declaration was voided)
    pages: int
    resumed: bool  # continued from a stored cursor
    local_rows: int  # rows of the range held locally afterwards

    @property
    def message(self) -> str:
        span = f"{self.period_from[:4]}年{self.period_from[4:]}月至{self.period_to[:4]}年{self.period_to[4:]}月"
        parts = [f"下载申报明细 {self.fetched:,} 条" if self.fetched else "税务端没有新的申报明细"]
        if self.removed:
            parts.append(f"移除已作废申报的明细（{self.removed} 个汇总）")
        return f"费款所属期 {span}：{'，'.join(parts)}；本机共有该范围的明细 {self.local_rows:,} 条"

    def to_dict(self) -> dict[str, Any]:
        return {"period_from": self.period_from, "period_to": self.period_to, "fetched": self.fetched,
                "removed": self.removed, "pages": self.pages, "resumed": self.resumed,
                "local_rows": self.local_rows, "message": self.message}


def check_period(text: object, field: str) -> str:
    if not isinstance(text, str) or not _PERIOD.fullmatch(text.strip()):
        raise ValidationError("费款所属期应为 YYYYMM 格式的月份，如 202503", field=field)
    return text.strip()


def check_range(period_from: object, period_to: object) -> tuple[str, str]:
    lo, hi = check_period(period_from, "period_from"), check_period(period_to, "period_to")
    if hi < lo:
        raise ValidationError("费款所属期起不能晚于费款所属期止", field="period_to")
    months = (int(hi[:4]) - int(lo[:4])) * 12 + int(hi[4:]) - int(lo[4:]) + 1
    if months > 60:
        raise ValidationError("一次最多查询60个月的申报明细，请分段查询", field="period_from")
    return lo, hi


def fetch_page(client: TaxClient, unit_id: str, lo: str, hi: str, cursor: str | None, limit: int) -> RawDetailPage:
    data = client._get(f"/v1/units/{unit_id}/declaration-details", **{
        "from": lo, "to": hi, "cursor": cursor, "limit": limit})
    try:
        if data["columns"] != COLUMNS:
            raise ValueError("columns")
        items, summaries, removed = data["items"], data["summaries"], data["removed"]
        if not isinstance(items, list) or not isinstance(summaries, dict) or not isinstance(removed, list):
            raise TypeError("page")
        return RawDetailPage(summaries, items, removed, str(data["next_cursor"]), bool(data["has_more"]),
                             int(data.get("remaining") or 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise malformed(exc) from None


class _Fen:
    """Money text -> integer fen, checked once per distinct text."""

    def __init__(self) -> None:
        self.cache: dict[str, int] = {}

    def __call__(self, text: object) -> int:
        fen = self.cache.get(text)  # type: ignore[arg-type]
        if fen is None:
            if not isinstance(text, str) or not _MONEY.match(text):
                raise ValueError(f"money {text!r}")
            fen = int(text[:-3] + text[-2:])
            if len(self.cache) < 200_000:
                self.cache[text] = fen
        return fen


def _text(value: object, limit: int = 64) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"text {value!r}")
    return value


class DetailsSync:
    """One unit's feed for one 费款所属期 range."""

    def __init__(self, store: Store, client: TaxClient, unit_pk: int, unit_id: str, *,
                 page_size: int = PAGE_SIZE) -> None:
        self.store, self.client, self.unit_pk, self.unit_id = store, client, unit_pk, unit_id
        self.page_size = page_size
        self._fen = _Fen()

    def state(self, lo: str, hi: str) -> tuple[str | None, bool]:
        row = self.store.db.execute_sql(
            "SELECT cursor, complete FROM query_detail_sync WHERE unit_id = ? AND period_from = ?"
            " AND period_to = ?", (self.unit_pk, lo, hi),
        ).fetchone()
        return (row[0], bool(row[1])) if row else (None, False)

    def run(self, period_from: str, period_to: str, progress: Progress | None = None) -> DetailSyncResult:
        lo, hi = check_range(period_from, period_to)
        cursor, _complete = self.state(lo, hi)
        resumed = cursor is not None
        fetched = removed = pages = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="details-fetch") as pool:
            ahead: Future[RawDetailPage] = pool.submit(
                fetch_page, self.client, self.unit_id, lo, hi, cursor, self.page_size)
            while True:
                page = ahead.result()
                if page.has_more:  # fetch the next page while this one is written
                    ahead = pool.submit(fetch_page, self.client, self.unit_id, lo, hi, page.next_cursor,
                                        self.page_size)
                removed += self.apply(lo, hi, page)
                fetched += len(page.items)
                pages += 1
                if progress is not None:
                    progress(fetched, fetched + page.remaining, f"已下载 {fetched:,} 条申报明细")
                if not page.has_more:
                    break
        local = self.store.db.execute_sql(
            "SELECT COALESCE(SUM(t.rows), 0) FROM query_detail_total t JOIN query_detail_summary s"
            " ON s.id = t.summary_ref WHERE s.unit_id = ? AND t.period BETWEEN ? AND ?",
            (self.unit_pk, lo, hi),
        ).fetchone()[0]
        return DetailSyncResult(lo, hi, fetched, removed, pages, resumed, int(local))

    # -- one page, one transaction ---------------------------------------------------------------
    def _rows(self, page: RawDetailPage, refs: Mapping[str, int], periods: frozenset[str]) -> list[tuple[Any, ...]]:
        """The page's rows as table tuples, every value checked (the inner loop of a
        million rows: type checks inline, money converted once per distinct text)."""
        fen, unit = self._fen, self.unit_pk
        out = []
        append = out.append
        try:
            for sid, emp, id_type, id_number, name, period, base, rate, amount in page.items:
                if period not in periods:  # hashing a non-text raises TypeError or misses
                    raise ValueError(f"period {period!r}")
                if not (type(emp) is str and type(id_type) is str and type(id_number) is str
                        and type(name) is str and type(rate) is str):
                    raise TypeError("row")
                if len(emp) + len(id_type) + len(id_number) + len(name) + len(rate) > 240:
                    raise ValueError("row too long")
                append((unit, refs[sid], period, emp, id_type, id_number, name, fen(base), rate, fen(amount)))
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(exc) from None
        return out

    def _summaries(self, page: RawDetailPage) -> list[tuple[Any, ...]]:
        try:
            out = []
            for sid, s in page.summaries.items():
                values = [s[k] for k in _SUMMARY_KEYS]
                if values[0] != sid or not isinstance(values[2], int):
                    raise ValueError("summary")
                out.append((self.unit_pk, *[v if i == 2 else _text(v, 200) for i, v in enumerate(values)]))
            return out
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(exc) from None

    def apply(self, lo: str, hi: str, page: RawDetailPage) -> int:
        """Commit one page: tombstones, summaries, rows, totals and the cursor; returns how
        many summaries the tombstones took out."""
        summaries = self._summaries(page)
        try:
            gone = [(self.unit_pk, _text(g["summary_id"]), _text(g["declaration_id"])) for g in page.removed]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(exc) from None
        now = dt.datetime.now().isoformat(sep=" ", timespec="seconds")
        with self.store.write() as db:
            removed = 0
            for key in gone:
                row = db.execute_sql(
                    "SELECT id FROM query_detail_summary WHERE unit_id = ? AND summary_id = ? AND declaration_id = ?",
                    key).fetchone()
                if row is not None:
                    _drop_summary(db, row[0])
                    removed += 1
            db.executemany(
                "INSERT INTO query_detail_summary (unit_id, summary_id, declaration_id, version, declared_on,"
                " unit_number, agency, item, item_name, part, part_name, subitem, kind, period_from, period_to)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (unit_id, summary_id, declaration_id)"
                " DO UPDATE SET version = excluded.version, declared_on = excluded.declared_on,"
                " unit_number = excluded.unit_number, agency = excluded.agency, item = excluded.item,"
                " item_name = excluded.item_name, part = excluded.part, part_name = excluded.part_name,"
                " subitem = excluded.subitem, kind = excluded.kind, period_from = excluded.period_from,"
                " period_to = excluded.period_to", summaries)
            refs = {}
            for t in summaries:  # (unit, summary_id, declaration_id, ...)
                refs[t[1]] = db.execute_sql(
                    "SELECT id FROM query_detail_summary WHERE unit_id = ? AND summary_id = ? AND declaration_id = ?",
                    t[:3]).fetchone()[0]
            rows = self._rows(page, refs, _months(lo, hi))
            _insert(db, rows)
            db.execute_sql(
                "INSERT INTO query_detail_sync (unit_id, period_from, period_to, cursor, complete, rows, updated_at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT (unit_id, period_from, period_to) DO UPDATE SET"
                " cursor = excluded.cursor, complete = excluded.complete,"
                " rows = query_detail_sync.rows + excluded.rows, updated_at = excluded.updated_at",
                (self.unit_pk, lo, hi, page.next_cursor, int(not page.has_more), len(rows), now))
        return removed


def _drop_summary(db: peewee.Database, ref: int) -> None:
    db.execute_sql("DELETE FROM query_detail WHERE summary_ref = ?", (ref,))
    db.execute_sql("DELETE FROM query_detail_total WHERE summary_ref = ?", (ref,))
    db.execute_sql("DELETE FROM query_detail_summary WHERE id = ?", (ref,))


def _months(lo: str, hi: str) -> frozenset[str]:
    y, m, out = int(lo[:4]), int(lo[4:]), []
    while f"{y}{m:02d}" <= hi:
        out.append(f"{y}{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return frozenset(out)


_COLUMNS = ("unit_id", "summary_ref", "period", "employee_id", "id_type", "id_number", "name", "base_fen",
            "rate", "amount_fen")
_INSERT = (f"INSERT INTO query_detail ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
           " ON CONFLICT (summary_ref, employee_id, period) DO NOTHING")
_ADD_TOTALS = ("INSERT INTO query_detail_total (summary_ref, period, rows, base_fen, amount_fen)"
               " VALUES (?,?,?,?,?) ON CONFLICT (summary_ref, period) DO UPDATE SET"
               " rows = query_detail_total.rows + excluded.rows,"
               " base_fen = query_detail_total.base_fen + excluded.base_fen,"
               " amount_fen = query_detail_total.amount_fen + excluded.amount_fen")


def _insert(db: peewee.Database, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert the rows and keep the totals per (summary, month).

    A declared summary's rows are frozen on the tax side (docs/protocol.md), so a row
    already here (a range overlapping an earlier one, a page served again) is the same row:
    it is left as it is. The page goes in as one bulk load (COPY on PostgreSQL) inside a
    savepoint; only when that meets a row already here does it go summary by summary with
    ON CONFLICT DO NOTHING: a summary whose rows were all new has its sums added, one with
    rows here already has its totals recounted from its rows, so nothing counts twice.
    """
    groups: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault(row[1], []).append(row)
    try:
        with db.atomic(), peewee.__exception_wrapper__:  # SQLite's bulk path raises sqlite3's own error
            db.copy_rows("query_detail", _COLUMNS, rows)
        fresh = set(groups)
    except peewee.IntegrityError:
        fresh = {ref for ref, group in groups.items() if db.executemany(_INSERT, group).rowcount == len(group)}
    sums: dict[tuple[int, str], list[int]] = {}
    for row in rows:
        if row[1] in fresh:
            acc = sums.get((row[1], row[2]))
            if acc is None:
                acc = sums[(row[1], row[2])] = [0, 0, 0]
            acc[0] += 1
            acc[1] += row[7]
            acc[2] += row[9]
    db.executemany(_ADD_TOTALS, [(*key, *acc) for key, acc in sums.items()])
    for ref in groups.keys() - fresh:
        db.execute_sql("DELETE FROM query_detail_total WHERE summary_ref = ?", (ref,))
        db.execute_sql(
            "INSERT INTO query_detail_total (summary_ref, period, rows, base_fen, amount_fen)"
            " SELECT summary_ref, period, COUNT(*), SUM(base_fen), SUM(amount_fen) FROM query_detail"
            " WHERE summary_ref = ? GROUP BY summary_ref, period", (ref,))


def start_sync(session: SessionManager, period_from: object, period_to: object) -> JobInfo:
    """查询: fetch the range's details in the background (the page shows the progress)."""
    lo, hi = check_range(period_from, period_to)
    unit = session.require_entered()
    session.client()  # offline: refused now, not inside the job
    local_id = unit.local_id
    assert local_id is not None  # an entered unit always has its local row

    def work(ctx: JobContext) -> dict[str, Any]:
        def progress(done: int, total: int, message: str) -> None:
            ctx.check_cancelled()
            ctx.progress(done, total, message)

        result = session.call(
            lambda client: DetailsSync(session.store, client, local_id, unit.unit_id).run(lo, hi, progress)
        )
        audit.record(session.store, "社保费申报明细查询", result.message, unit_id=local_id)
        return result.to_dict()

    return session.jobs.start(JOB_KIND, "下载社保费申报明细", work, unit_id=local_id)
