"""Every table of the schema has a name the operator can read (no audit_log on screen)."""

from __future__ import annotations

from pathlib import Path

from client.core.store import Store
from client.core.tables import TABLE_LABELS, table_label


def test_every_table_has_a_chinese_label(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        names = [r[0] for r in store.db.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )]
    finally:
        store.close()
    missing = sorted(n for n in names if n not in TABLE_LABELS)
    assert missing == [], f"add these tables to client/core/tables.py: {missing}"
    assert table_label("something_new") == "其他数据（something_new）"
