"""检查本地数据 (the data check job) and 关于 on both engines."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import psycopg
import pytest

from client.core import system
from client.core.jobs import SUCCEEDED, JobRunner
from client.core.models import AuditLog
from client.core.store import DB_FILE, Store
from tests import pg_cluster


def run_check(store: Store) -> dict:
    runner = JobRunner()
    try:
        job = runner.start("data_check", "检查本地数据", lambda ctx: system.check_data(store, ctx).to_dict())
        deadline = time.monotonic() + 20
        while runner.get(job.id).state == "running" and time.monotonic() < deadline:
            time.sleep(0.01)
        info = runner.get(job.id)
        assert info.state == SUCCEEDED, info.error
        assert info.done == info.total  # the progress reached its end
        return info.result
    finally:
        runner.shutdown()


def add_unit(store: Store) -> int:
    with store.write() as db:
        pk = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES ('91110105MA01ABCD1X', 'U1', '测试单位', '110000', '2025-03-15 08:00:00') RETURNING id"
        ).fetchone()[0]
        for n in range(3):
            AuditLog.create(at=f"2025-03-15 08:00:0{n}", operator="张三", action="backup", unit=pk)
    return int(pk)


def test_a_sound_database_passes_with_a_count_per_table(engine_store: Store) -> None:
    add_unit(engine_store)
    result = run_check(engine_store)
    assert (result["ok"], result["integrity"], result["foreign_key_problems"]) == (True, "ok", 0)
    assert result["team"] is engine_store.team  # the page says which data were checked
    counts = {t["table"]: t["rows"] for t in result["tables"]}
    assert counts["单位"] == 1 and counts["操作日志"] == 3
    assert len(counts) == len(engine_store.tables())  # every table, each under its Chinese name
    assert all(not t["table"].startswith("其他数据") for t in result["tables"])


def test_sqlite_rows_whose_foreign_key_points_nowhere_are_found(tmp_path: Path) -> None:
    store = Store(tmp_path)
    add_unit(store)
    # Written behind the store's back with foreign keys off (another tool, a bad restore).
    conn = sqlite3.connect(tmp_path / DB_FILE)
    conn.execute("INSERT INTO audit_log (at, operator, action, unit_id) VALUES ('t', 'o', 'a', 999)")
    conn.commit()
    conn.close()
    try:
        result = run_check(store)
    finally:
        store.close()
    assert (result["ok"], result["integrity"], result["foreign_key_problems"]) == (False, "ok", 1)


def test_postgres_invalid_index_and_unvalidated_key_are_found(tmp_path: Path, pg_url: str) -> None:
    store = Store(tmp_path, pg_url)
    try:
        add_unit(store)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            # A unique index built concurrently over duplicates fails and stays behind, invalid.
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute("CREATE UNIQUE INDEX CONCURRENTLY audit_log_one_action ON audit_log (action)")
            conn.execute("ALTER TABLE audit_log ADD CONSTRAINT audit_log_unit_again FOREIGN KEY (unit_id) "
                         "REFERENCES unit (id) NOT VALID")
        result = run_check(store)
    finally:
        store.close()
    assert result["ok"] is False
    assert result["integrity"] == "索引 audit_log_one_action 无效"
    assert result["foreign_key_problems"] == 1


def test_about_names_the_file_or_the_team_server_without_its_password(
    tmp_path: Path, engine_store: Store
) -> None:
    info = system.about(engine_store, tmp_path, tmp_path / "socialfee.log")
    assert info.team is engine_store.team
    if engine_store.team:
        assert pg_cluster.PASSWORD not in info.database_path
        assert info.database_path.startswith("postgresql://postgres@127.0.0.1:")
    else:
        assert info.database_path == str(tmp_path / DB_FILE)
    assert info.database_bytes > 0 and info.database_size
