"""Ordered schema migrations. The schema version is SQLite's ``PRAGMA user_version``.

Each step is plain SQL written for the schema as it was at that version, so an old
database always upgrades the same way, whatever the models look like today. Append new
steps; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee

Step = Callable[[peewee.SqliteDatabase], None]


def _v1_units(db: peewee.SqliteDatabase) -> None:
    db.execute_sql(
        """
        CREATE TABLE unit (
            id INTEGER PRIMARY KEY,
            taxpayer_id TEXT NOT NULL,
            taxside_unit_id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            region TEXT NOT NULL,
            added_at TEXT NOT NULL
        )
        """
    )


def _v2_audit_log(db: peewee.SqliteDatabase) -> None:
    db.execute_sql(
        """
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            operator TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            unit_id INTEGER REFERENCES unit (id) ON DELETE SET NULL
        )
        """
    )
    db.execute_sql("CREATE INDEX audit_log_at ON audit_log (at)")
    db.execute_sql("CREATE INDEX audit_log_action ON audit_log (action, at)")


MIGRATIONS: tuple[Step, ...] = (_v1_units, _v2_audit_log)
LATEST = len(MIGRATIONS)
