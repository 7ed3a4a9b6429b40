"""Employee enrollment sync (职工参保信息更新): the first pull feed.

The pattern every later feed follows:
- each page's rows and the cursor that follows them are committed in one transaction, so
  an interrupted sync (SIGKILL, network, a 500 or malformed page) resumes from the last
  committed cursor with no gap and no duplicate;
- rows are upserted by the tax side's stable ``employee_id``; tombstones mark rows removed;
- a full update stamps every row it sees with a generation number; when its last page is
  committed, rows of the unit the tax side no longer listed are marked as such (never
  silently kept);
- every change is written to the change log (更新数据) with the fields that changed.

Writes use the store's bulk paths inside ``store.write()`` (``db.upsert_rows``: executemany
on SQLite, COPY into a staging table on PostgreSQL; ``db.copy_rows`` for the change log):
Peewee's insert_many is about ten times slower for 100,000 rows.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from client.core.jobs import JobContext
from client.core.store import Store
from client.sync.taxclient import Employee, RawFeedPage, TaxClient, malformed

FEED = "enrollment"
PAGE_SIZE = 5000

ACTIVE = 0
TOMBSTONED = 1  # the tax side withdrew the enrollment
NOT_LISTED = 2  # a full update no longer found it

# Fields compared for the change log, with their Chinese names.
TRACKED_FIELDS = {
    "name": "姓名",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "gender": "性别",
    "birth_date": "出生日期",
    "unit_number": "单位编号",
    "items": "参保险种",
    "status": "缴费状态",
    "bases": "缴费基数",
}
COLUMNS = (
    "unit_id", "employee_id", "name", "id_type", "id_number", "gender", "birth_date", "unit_number",
    "items", "status", "bases", "taxside_updated_at", "removed", "seen_generation", "synced_at",
)
KEY = ("unit_id", "employee_id")
UPDATED = COLUMNS[2:]
CHANGE_COLUMNS = ("unit_id", "employee_id", "name", "id_type", "id_number", "kind", "fields", "changed_at")


@dataclass(frozen=True)
class SyncResult:
    mode: str  # full / incremental
    changed: int  # 本次共更新 N 条: rows added, changed or removed
    added: int
    updated: int
    removed: int
    pages: int
    downloaded: int = 0  # employees the tax side sent in this run

    @property
    def message(self) -> str:
        """What was downloaded and what changed (a re-download is not a bare "0 条")."""
        if not self.changed:
            if self.downloaded:
                return f"共下载 {self.downloaded} 名职工的参保信息，与本机数据一致，无需更新"
            return "税务端没有新的变化，本机数据已是最新"
        parts = [f"新增 {self.added} 人" if self.added else "", f"变更 {self.updated} 人" if self.updated else "",
                 f"移除 {self.removed} 人" if self.removed else ""]
        detail = "，".join(p for p in parts if p)
        return f"本次共更新 {self.changed} 条（{detail}），共下载 {self.downloaded} 名职工的参保信息"

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "changed": self.changed,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "pages": self.pages,
            "downloaded": self.downloaded,
            "message": self.message,
        }


@dataclass(frozen=True)
class CursorState:
    cursor: str | None
    mode: str | None  # the mode of the sync the cursor belongs to
    generation: int
    complete: bool  # the last sync reached the end of its feed


def _now() -> str:
    return dt.datetime.now().isoformat(sep=" ", timespec="seconds")


_CODE = re.compile(r"[A-Za-z0-9_]+\Z")
# Money the tax side already writes as the stored text: no leading zeros, two decimals.
_MONEY = re.compile(r"(?:0|[1-9][0-9]*)\.[0-9][0-9]\Z")
_CENT = Decimal("0.01")
_CODES_TEXT: dict[tuple[str, ...], str] = {}  # a unit has a handful of item combinations


def _json_codes(items: Iterable[str]) -> str:
    """json.dumps(list(items), ensure_ascii=False), written directly for plain codes: it runs
    100,000 times a full update and the stored text must stay byte-for-byte the same."""
    key = tuple(items)
    text = _CODES_TEXT.get(key)
    if text is None:
        if all(isinstance(i, str) and _CODE.match(i) for i in key):
            text = "[" + ", ".join(f'"{i}"' for i in key) + "]"
        else:
            text = json.dumps(list(key), ensure_ascii=False)
        if len(_CODES_TEXT) < 1024:
            _CODES_TEXT[key] = text
    return text


def _money_text(value: object) -> str:
    if isinstance(value, str) and _MONEY.match(value):
        return value
    return str((value if isinstance(value, Decimal) else Decimal(str(value))).quantize(_CENT))


_BASES_FORMAT: dict[tuple[str, ...], str] = {}  # per set of items: '{"injury": "%s", ...}'


def _json_bases(bases: Mapping[str, object]) -> str:
    """json.dumps of the bases (keys sorted, money as exact 2-decimal strings), likewise."""
    keys = tuple(sorted(bases))
    form = _BASES_FORMAT.get(keys)
    if form is None:
        plain = all(_CODE.match(k) for k in keys)
        form = "{" + ", ".join(f'"{k}": "%s"' for k in keys) + "}" if plain else ""
        if len(_BASES_FORMAT) < 1024:
            _BASES_FORMAT[keys] = form
    if form:
        return form % tuple(_money_text(bases[k]) for k in keys)
    return json.dumps({k: _money_text(bases[k]) for k in keys}, ensure_ascii=False)


def _row_values(e: Employee) -> dict[str, str]:
    """An employee as the text the local table holds (money as exact decimal strings)."""
    return {
        "name": e.name,
        "id_type": e.id_type,
        "id_number": e.id_number,
        "gender": e.gender,
        "birth_date": e.birth_date.isoformat(),
        "unit_number": e.unit_number,
        "items": _json_codes(e.items),
        "status": e.status,
        "bases": _json_bases(e.bases),
    }


def _raw_row(e: Mapping[str, Any]) -> tuple[str, dict[str, str] | None, str]:
    """A feed item straight from the tax side's JSON: (employee id, the values
    :func:`_row_values` gives for the same employee, updated_at), values None for a
    tombstone. Raises KeyError / TypeError / ValueError on a malformed item."""
    employee_id = e["employee_id"]
    if not isinstance(employee_id, str):
        raise TypeError("employee_id")
    if e["deleted"]:
        return employee_id, None, ""
    bases = e["bases"]
    items = e["items"]
    if not isinstance(bases, dict) or not isinstance(items, list):
        raise TypeError("bases/items")
    values = {
        "name": str(e["name"]),
        "id_type": str(e["id_type"]),
        "id_number": str(e["id_number"]),
        "gender": str(e["gender"]),
        "birth_date": dt.date.fromisoformat(e["birth_date"]).isoformat(),
        "unit_number": str(e["unit_number"]),
        "items": _json_codes(items),
        "status": str(e["status"]),
        "bases": _json_bases(bases),
    }
    return employee_id, values, str(e["updated_at"])


def cursor_state(store: Store, unit_id: int) -> CursorState:
    row = store.db.execute_sql(
        "SELECT cursor, mode, generation, complete FROM feed_cursor WHERE unit_id = ? AND feed = ?",
        (unit_id, FEED),
    ).fetchone()
    if row is None:
        return CursorState(None, None, 0, False)
    return CursorState(row[0], row[1], int(row[2]), bool(row[3]))


class EnrollmentSync:
    """One sync run for one unit. ``mode`` is "full" or "incremental"."""

    def __init__(
        self,
        store: Store,
        client: TaxClient,
        unit_id: int,
        taxside_unit_id: str,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.page_size = page_size
        self._log_adds = True
        self._empty = False  # set per run: the unit has no rows yet
        self.store = store
        self.client = client
        self.unit_id = unit_id
        self.taxside_unit_id = taxside_unit_id

    def run(self, mode: str, ctx: JobContext | None = None) -> SyncResult:
        state = cursor_state(self.store, self.unit_id)
        if state.mode == "full" and not state.complete:
            # An interrupted full update is finished first, from where it stopped.
            mode, cursor, generation = "full", state.cursor, state.generation
        elif mode == "full" or state.cursor is None:
            mode, cursor, generation = "full", None, state.generation + 1
        else:
            cursor, generation = state.cursor, state.generation
        # The unit's first download (even when resumed) is not a change: the log starts after it.
        self._log_adds = not (mode == "full" and generation == 1)
        added = updated = removed = pages = 0
        total: int | None = None
        done = 0
        # A unit's first download meets an empty table: no existing rows to look up per page.
        self._empty = mode == "full" and not self.store.db.execute_sql(
            "SELECT 1 FROM enrollment_employee WHERE unit_id = ? LIMIT 1", (self.unit_id,)
        ).fetchone()
        for page in self.client.iter_enrollment_raw(self.taxside_unit_id, cursor, self.page_size):
            if page.total is not None:
                total = page.total
            try:
                rows = [_raw_row(item) for item in page.items]
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                raise malformed(exc) from None
            a, u, r = self._commit_page(page, rows, mode, generation)
            added, updated, removed, pages = added + a, updated + u, removed + r, pages + 1
            done += len(page.items)
            if ctx is not None:
                label = "全量更新" if mode == "full" else "增量更新"
                ctx.progress(done, max(total or 0, done), f"{label}：已处理 {done} 条")
        if mode == "full" and done:
            # The list and its counts are planned on fresh statistics (PostgreSQL).
            self.store.db.refresh_statistics("enrollment_employee")
        return SyncResult(mode, added + updated + removed, added, updated, removed, pages, done)

    def _commit_page(
        self, page: RawFeedPage, rows: list[tuple[str, dict[str, str] | None, str]], mode: str, generation: int
    ) -> tuple[int, int, int]:
        now = _now()
        with self.store.write() as db:
            existing = {} if self._empty else self._existing(db, [r[0] for r in rows])
            upserts, changes = [], []
            added = updated = 0
            for employee_id, values, updated_at in rows:
                if values is None:
                    continue  # tombstones below
                old = existing.get(employee_id)
                if old is None:
                    added += 1
                    if self._log_adds:
                        changes.append(self._change(employee_id, values, "新增", [], now))
                else:
                    diff = [
                        {"field": TRACKED_FIELDS[k], "old": old[k], "new": v}
                        for k, v in values.items()
                        if old[k] != v
                    ]
                    if old["removed"] != ACTIVE:
                        diff.append({"field": "参保状态", "old": "已移除", "new": "在册"})
                    if diff:
                        updated += 1
                        changes.append(self._change(employee_id, values, "变更", diff, now))
                upserts.append((self.unit_id, employee_id, *values.values(), updated_at, ACTIVE, generation, now))
            db.upsert_rows("enrollment_employee", COLUMNS, upserts, KEY, UPDATED)
            removed = 0
            gone = [i for i, values, _at in rows if values is None and self._is_active(existing, i)]
            for employee_id in gone:
                old = existing[employee_id]
                changes.append(
                    self._change(
                        employee_id, old, "删除",
                        [{"field": "参保状态", "old": "在册", "new": "已移除"}], now,
                    )
                )
            if gone:
                db.executemany(
                    "UPDATE enrollment_employee SET removed = ?, synced_at = ? "
                    "WHERE unit_id = ? AND employee_id = ?",
                    [(TOMBSTONED, now, self.unit_id, i) for i in gone],
                )
                removed = len(gone)
            self._log_changes(db, changes)
            complete = not page.has_more
            if complete and mode == "full":
                # Same transaction as the last page: a crash cannot skip the reconciliation.
                removed += self._mark_not_listed(db, generation, now)
            db.execute_sql(
                "INSERT INTO feed_cursor (unit_id, feed, cursor, mode, generation, complete, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (unit_id, feed) DO UPDATE "
                "SET cursor = excluded.cursor, mode = excluded.mode, "
                "generation = excluded.generation, complete = excluded.complete, "
                "updated_at = excluded.updated_at",
                (self.unit_id, FEED, page.next_cursor, mode, generation, int(complete), now),
            )
        return added, updated, removed

    @staticmethod
    def _is_active(existing: dict[str, dict[str, object]], employee_id: str) -> bool:
        row = existing.get(employee_id)
        return row is not None and row["removed"] == ACTIVE

    def _existing(self, db: object, ids: Sequence[str]) -> dict[str, dict[str, object]]:
        found: dict[str, dict[str, object]] = {}
        fields = list(TRACKED_FIELDS)
        for start in range(0, len(ids), 900):  # stay under SQLite's variable limit
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            rows = db.execute_sql(  # type: ignore[attr-defined]
                f"SELECT employee_id, {', '.join(fields)}, removed FROM enrollment_employee "
                f"WHERE unit_id = ? AND employee_id IN ({marks})",
                (self.unit_id, *chunk),
            )
            for row in rows:
                found[row[0]] = dict(zip([*fields, "removed"], row[1:], strict=True))
        return found

    def _change(
        self, employee_id: str, values: dict, kind: str, diff: list[dict[str, str]], now: str
    ) -> tuple:
        return (
            self.unit_id,
            employee_id,
            values["name"],
            values["id_type"],
            values["id_number"],
            kind,
            json.dumps(diff, ensure_ascii=False),
            now,
        )

    @staticmethod
    def _log_changes(db: Any, changes: list[tuple]) -> None:
        # A later full update can log 100,000 changes: COPY on PostgreSQL.
        db.copy_rows("enrollment_change", CHANGE_COLUMNS, changes)

    def _mark_not_listed(self, db: Any, generation: int, now: str) -> int:
        """At the end of a full update: rows it did not see are no longer on the tax side."""
        rows = db.execute_sql(
            "UPDATE enrollment_employee SET removed = ?, synced_at = ? "
            "WHERE unit_id = ? AND removed = ? AND seen_generation <> ? "
            "RETURNING employee_id, name, id_type, id_number",
            (NOT_LISTED, now, self.unit_id, ACTIVE, generation),
        ).fetchall()
        if not rows:
            return 0
        diff = json.dumps(
            [{"field": "参保状态", "old": "在册", "new": "税务端已不再列出"}], ensure_ascii=False
        )
        self._log_changes(
            db, [(self.unit_id, r[0], r[1], r[2], r[3], "不再列出", diff, now) for r in sorted(rows)]
        )
        return len(rows)
