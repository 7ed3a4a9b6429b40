"""Every table of the schema has a name the operator can read (no audit_log on screen)."""

from __future__ import annotations

from pathlib import Path

from client.core.store import Store
from client.core.tables import TABLE_LABELS, table_label


def test_every_table_has_a_chinese_label(engine_store: Store) -> None:
    names = engine_store.tables()
    assert "unit" in names and "audit_log" in names
    missing = sorted(n for n in names if n not in TABLE_LABELS)
    assert missing == [], f"add these tables to client/core/tables.py: {missing}"
    assert table_label("something_new") == "其他数据（something_new）"


def test_both_engines_have_the_same_tables(tmp_path: Path, pg_url: str) -> None:
    (tmp_path / "local").mkdir()
    local, team = Store(tmp_path / "local"), Store(tmp_path, pg_url)
    try:
        assert team.tables() == local.tables()
        assert "socialfee_schema" not in team.tables()  # the version, not client data
    finally:
        local.close()
        team.close()
