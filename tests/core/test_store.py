from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import pytest

from client.core import migrations
from client.core.models import AuditLog
from client.core.store import DB_FILE, Store
from client.errors import StoreError


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_store_is_wal_durable_with_foreign_keys(tmp_path: Path) -> None:
    store = Store(tmp_path)
    db = store.db
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.schema_version == migrations.LATEST
    store.close()


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(Exception, match="FOREIGN KEY"), store.write():
        AuditLog.create(at="t", operator="o", action="a", unit=999)
    store.close()


def test_committed_write_is_in_the_file_for_another_connection(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.write():
        AuditLog.create(at="t", operator="o", action="saved")
    # A second, independent connection (another process after a crash) sees it.
    other = sqlite3.connect(tmp_path / DB_FILE)
    assert other.execute("SELECT action FROM audit_log").fetchall() == [("saved",)]
    other.close()
    store.close()


def build_v1(path: Path) -> None:
    """A database exactly as version 1 of the schema left it, with data in it."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE unit (
            id INTEGER PRIMARY KEY,
            taxpayer_id TEXT NOT NULL,
            taxside_unit_id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            region TEXT NOT NULL,
            added_at TEXT NOT NULL
        );
        INSERT INTO unit VALUES (1, '91350100M000100Y43', 'U1', '示例单位', '110000', '2026-01-01');
        PRAGMA user_version = 1;
        """
    )
    conn.close()


def test_version_1_database_upgrades_and_keeps_its_data(tmp_path: Path) -> None:
    build_v1(tmp_path / DB_FILE)
    store = Store(tmp_path)
    assert store.schema_version == migrations.LATEST
    assert store.db.execute_sql("SELECT name FROM unit").fetchall() == [("示例单位",)]
    with store.write():
        AuditLog.create(at="t", operator="o", action="a", unit=1)
    assert AuditLog.get().unit.name == "示例单位"
    store.close()


def test_migrations_are_applied_once_in_order(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.migrate() == []
    store.close()
    again = Store(tmp_path)
    assert again.schema_version == migrations.LATEST
    again.close()


def test_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {migrations.LATEST + 5}")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(StoreError) as info:
        Store(tmp_path)
    assert "更新版本" in info.value.message
    assert info.value.code == "store_too_new"
    assert digest(path) == before


def test_corrupt_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    path.write_bytes(b"this is not a database at all" * 100)
    before = digest(path)
    with pytest.raises(StoreError) as info:
        Store(tmp_path)
    assert "损坏" in info.value.message
    assert digest(path) == before


def test_one_writer_at_a_time_no_lock_errors(tmp_path: Path) -> None:
    store = Store(tmp_path)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(50):
                with store.write():
                    AuditLog.create(at=str(i), operator=f"w{n}", action="write")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            store.db.close()

    def reader() -> None:
        try:
            for _ in range(100):
                AuditLog.select().count()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            store.db.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert AuditLog.select().count() == 200
    store.close()


def test_writer_rolls_back_on_error(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(RuntimeError), store.write():
        AuditLog.create(at="t", operator="o", action="half")
        raise RuntimeError("boom")
    assert AuditLog.select().count() == 0
    store.close()
