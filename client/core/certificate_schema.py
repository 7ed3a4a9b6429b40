"""The schema step for printed certificates and notices (client/core/certificate.py), kept
apart so client/core/migrations.py can import it without importing the store."""

from __future__ import annotations

import peewee


def create_certificate_tables(db: peewee.SqliteDatabase) -> None:
    # One row per employee part of a printed 职工缴费证明 (or per 年金缴款通知单): the SHA-256
    # printed on it, for whom, the range, when and by whom, so a copy can be checked later.
    db.execute_sql(
        """
        CREATE TABLE certificate_record (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER REFERENCES unit (id) ON DELETE SET NULL,
            sha256 TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            unit_name TEXT NOT NULL,
            name TEXT NOT NULL,
            id_type TEXT NOT NULL,
            id_number TEXT NOT NULL,
            period_from TEXT NOT NULL,
            period_to TEXT NOT NULL,
            rows INTEGER NOT NULL,
            total TEXT NOT NULL,
            printed_at TEXT NOT NULL,
            operator TEXT NOT NULL,
            pdf_name TEXT NOT NULL
        )
        """
    )
    db.execute_sql("CREATE INDEX certificate_record_unit ON certificate_record (unit_id, id)")
