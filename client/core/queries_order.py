"""The order of the 职工缴费基数 list, so a deep page does not read the rows before it.

SQLite cannot seek to the 499,900th row of an index: ``OFFSET`` steps over every row
before it (page 5000 of 500,000 rows joined to the person elements took 0.3 s), and
``count(*)`` reads them all too. Instead, once per version of a unit's bases, one pass over
the narrow keys keeps the key of every ``STEP``-th row and the total; a page then starts
at the nearest kept key (an index seek) and steps over fewer than ``STEP`` rows.

Every write of ``query_base`` bumps the unit's version in the same transaction
(``bump``), so a kept order is never used for other rows; the cache lives in this process
only (one client per data folder) and is keyed by the database file too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import peewee

from client.core import journal
from client.core.store import Store

STEP = 100  # a page steps over fewer than this many rows (each joined to its person)
VERSION = "bases_version"  # a query_state row: {"v": n}, bumped by every write of query_base
ALL_ITEMS = -1


@dataclass(frozen=True)
class Order:
    version: tuple[Any, ...]
    total: int
    keys: tuple[tuple[str, int], ...]  # (employee_id, item_no) of rows 0, STEP, 2 * STEP, ...

    def start(self, offset: int) -> tuple[tuple[str, int], int] | None:
        """The kept key at or before ``offset`` and how many rows lie between; None past the end."""
        if offset >= self.total:
            return None
        return self.keys[offset // STEP], offset % STEP


_lock = threading.Lock()
_orders: dict[tuple[str, int, int], Order] = {}


def bump(db: peewee.SqliteDatabase, unit_pk: int) -> None:
    """Inside the caller's write of the unit's bases."""
    db.execute_sql(
        "INSERT INTO query_state (unit_id, query, synced_at, detail) VALUES (?, ?, ?, '{\"v\": 1}') "
        "ON CONFLICT (unit_id, query) DO UPDATE SET synced_at = excluded.synced_at, "
        "detail = json_set(detail, '$.v', coalesce(json_extract(detail, '$.v'), 0) + 1)",
        (unit_pk, VERSION, journal.now_text()),
    )


def _version(store: Store, unit_pk: int) -> tuple[Any, ...]:
    row = store.db.execute_sql(
        "SELECT synced_at, detail FROM query_state WHERE unit_id = ? AND query = ?", (unit_pk, VERSION)
    ).fetchone()
    return (str(store.path), *(row or ("", "")))


def order(store: Store, unit_pk: int, item_no: int = ALL_ITEMS) -> Order:
    """The kept order of the unit's rows (of one item when ``item_no`` is given)."""
    key = (str(store.path), unit_pk, item_no)
    version = _version(store, unit_pk)  # read first: the pass below sees these rows or newer
    with _lock:
        found = _orders.get(key)
    if found is not None and found.version == version:
        return found
    where, params = "unit_id = ?", [unit_pk]
    if item_no != ALL_ITEMS:
        where += " AND item_no = ?"
        params.append(item_no)
    keys = tuple(
        (str(e), int(n)) for e, n in store.db.execute_sql(
            f"SELECT employee_id, item_no FROM (SELECT employee_id, item_no, "
            f"row_number() OVER (ORDER BY employee_id, item_no) - 1 AS k FROM query_base WHERE {where}) "
            f"WHERE k % {STEP} = 0 ORDER BY employee_id, item_no", params,
        )
    )
    (total,) = store.db.execute_sql(f"SELECT count(*) FROM query_base WHERE {where}", params).fetchone()
    made = Order(version, int(total), keys)
    with _lock:
        _orders[key] = made
    return made

