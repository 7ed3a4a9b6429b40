"""Local tables of 社保费申报明细查询 (manual 3.1.8.3): one migration step, kept beside the
code that reads them (client/core/query_details.py) and fills them (client/sync/details.py).

- ``query_detail_summary``: one row per declared summary (summary_id + declaration_id), with
  the fields every person row of it shares (单位编号, 经办机构, 征收项目/品目/子目);
- ``query_detail``: one row per person, month and summary (a year of a large unit is
  millions), money in integer fen so sums are exact and cheap; the natural key
  (summary, employee, month) makes a re-served page an upsert, never a duplicate;
- ``query_detail_total``: rows and sums per (summary, month), kept with every page, so the
  totals of a filter without person elements never scan the details;
- ``query_detail_sync``: the feed cursor per unit and 费款所属期 range, committed with the
  page it follows.
"""

from __future__ import annotations

import peewee


def create(db: peewee.SqliteDatabase) -> None:
    db.execute_sql(
        """
        CREATE TABLE query_detail_summary (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            summary_id TEXT NOT NULL,
            declaration_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            declared_on TEXT NOT NULL,
            unit_number TEXT NOT NULL,
            agency TEXT NOT NULL,
            item TEXT NOT NULL,
            item_name TEXT NOT NULL,
            part TEXT NOT NULL,
            part_name TEXT NOT NULL,
            subitem TEXT NOT NULL,
            kind TEXT NOT NULL,
            period_from TEXT NOT NULL,
            period_to TEXT NOT NULL,
            UNIQUE (unit_id, summary_id, declaration_id)
        )
        """
    )
    # No foreign key on the big table: a million FK probes per sync buy nothing, since rows
    # of a summary are only ever deleted together with it (client/sync/details.py).
    db.execute_sql(
        """
        CREATE TABLE query_detail (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL,
            summary_ref INTEGER NOT NULL,
            period TEXT NOT NULL,
            employee_id TEXT NOT NULL,
            id_type TEXT NOT NULL,
            id_number TEXT NOT NULL,
            name TEXT NOT NULL,
            base_fen INTEGER NOT NULL,
            rate TEXT NOT NULL,
            amount_fen INTEGER NOT NULL,
            UNIQUE (summary_ref, employee_id, period)
        )
        """
    )
    # The page order (period, summary, id) is this index's own order: a filtered page reads
    # only its rows, whether the filter is a period range, an item or both.
    db.execute_sql("CREATE INDEX query_detail_period ON query_detail (unit_id, period, summary_ref)")
    db.execute_sql("CREATE INDEX query_detail_person ON query_detail (unit_id, id_number)")
    db.execute_sql("CREATE INDEX query_detail_name ON query_detail (unit_id, name)")
    db.execute_sql(
        """
        CREATE TABLE query_detail_total (
            summary_ref INTEGER NOT NULL,
            period TEXT NOT NULL,
            rows INTEGER NOT NULL,
            base_fen INTEGER NOT NULL,
            amount_fen INTEGER NOT NULL,
            PRIMARY KEY (summary_ref, period)
        ) WITHOUT ROWID
        """
    )
    db.execute_sql(
        """
        CREATE TABLE query_detail_sync (
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            period_from TEXT NOT NULL,
            period_to TEXT NOT NULL,
            cursor TEXT,
            complete INTEGER NOT NULL DEFAULT 0,
            rows INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (unit_id, period_from, period_to)
        )
        """
    )
