"""The local tables of the queries (查询统计: 单位参保信息, 职工缴费基数, 应缴信息, 到账信息).

A migration step (client/core/migrations.py lists it): what the tax side answered is kept
so the pages open on local data, offline too, and say when it was last updated. Money is
exact decimal text; codes and ID numbers are text.
"""

from __future__ import annotations

import peewee


def create_query_tables(db: peewee.SqliteDatabase) -> None:
    # When each query of a unit was last brought up to date, and for what (a range).
    db.execute_sql(
        """
        CREATE TABLE query_state (
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            query TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (unit_id, query)
        )
        """
    )
    db.execute_sql(
        """
        CREATE TABLE query_registration (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            unit_number TEXT NOT NULL,
            kind TEXT NOT NULL,
            item TEXT NOT NULL,
            item_name TEXT NOT NULL,
            status TEXT NOT NULL,
            registered_on TEXT NOT NULL,
            agency TEXT NOT NULL,
            tax_authority TEXT NOT NULL,
            collection_mode TEXT NOT NULL,
            industry_risk_class INTEGER,
            UNIQUE (unit_id, unit_number, item)
        )
        """
    )
    # One row per employee and item (item_no keeps the items in their usual order, so a
    # page is a range of the primary key); the person elements come from enrollment_employee.
    db.execute_sql(
        """
        CREATE TABLE query_base (
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            employee_id TEXT NOT NULL,
            item_no INTEGER NOT NULL,
            item TEXT NOT NULL,
            unit_number TEXT NOT NULL,
            status TEXT NOT NULL,
            base TEXT NOT NULL,
            taxside_updated_at TEXT NOT NULL,
            generation INTEGER NOT NULL,
            PRIMARY KEY (unit_id, employee_id, item_no)
        ) WITHOUT ROWID
        """
    )
    # Counts of a page (every row, or one item's) read this narrow index, not the table.
    db.execute_sql("CREATE INDEX query_base_item ON query_base (unit_id, item_no)")
    db.execute_sql(
        """
        CREATE TABLE query_payable (
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            period_from TEXT NOT NULL,
            period_to TEXT NOT NULL,
            unit_number TEXT NOT NULL,
            agency TEXT NOT NULL,
            item TEXT NOT NULL,
            item_name TEXT NOT NULL,
            payable TEXT NOT NULL,
            paid TEXT NOT NULL,
            unpaid TEXT NOT NULL,
            arrear_count INTEGER NOT NULL,
            unpaid_count INTEGER NOT NULL,
            deadline TEXT,
            state TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (unit_id, period_from, period_to, unit_number, item)
        )
        """
    )
    db.execute_sql(
        """
        CREATE TABLE query_arrival (
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            payment_id TEXT NOT NULL,
            tax_ticket TEXT NOT NULL,
            method TEXT NOT NULL,
            arrear_id TEXT NOT NULL,
            unit_number TEXT NOT NULL,
            agency TEXT NOT NULL,
            item TEXT NOT NULL,
            item_name TEXT NOT NULL,
            part TEXT NOT NULL,
            part_name TEXT NOT NULL,
            period_from TEXT NOT NULL,
            period_to TEXT NOT NULL,
            amount TEXT NOT NULL,
            late_fee TEXT NOT NULL,
            total TEXT NOT NULL,
            paid_at TEXT NOT NULL,
            arrival TEXT NOT NULL,
            stored_at TEXT,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (unit_id, payment_id)
        )
        """
    )
    db.execute_sql("CREATE INDEX query_arrival_paid ON query_arrival (unit_id, paid_at)")


def add_arrival_paid_on(db: peewee.SqliteDatabase) -> None:
    # 缴款日期: the business date the tax side records on a payment (its paid_at is a clock),
    # so 到账信息 can be queried by it. Rows stored before it take their clock's date.
    db.execute_sql("ALTER TABLE query_arrival ADD COLUMN paid_on TEXT")
    db.execute_sql("UPDATE query_arrival SET paid_on = substr(paid_at, 1, 10)")
    db.execute_sql("CREATE INDEX query_arrival_paid_on ON query_arrival (unit_id, paid_on)")
