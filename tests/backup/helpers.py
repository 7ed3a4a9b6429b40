"""Shared by the backup tests: a data directory with something in it, and its digest."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from client.core.store import DB_FILE


def add_unit(home: Path, name: str, uid: str) -> None:
    # A separate connection, as another writer would; WAL keeps it safe.
    conn = sqlite3.connect(home / DB_FILE)
    with conn:
        conn.execute(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES ('91350100M000100Y43', ?, ?, '110000', '2026-01-01')",
            (uid, name),
        )
    conn.close()


def unit_names(home: Path) -> list[str]:
    conn = sqlite3.connect(f"{(home / DB_FILE).as_uri()}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM unit ORDER BY id")]
    finally:
        conn.close()


def fill(home: Path, rows: int = 2000) -> None:
    """Bulk rows so a backup takes long enough to be interrupted."""
    conn = sqlite3.connect(home / DB_FILE)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, payload TEXT)")
        conn.executemany(
            "INSERT INTO filler (payload) VALUES (?)",
            ((hashlib.sha256(str(i).encode()).hexdigest() * 30,) for i in range(rows)),
        )
    conn.close()
