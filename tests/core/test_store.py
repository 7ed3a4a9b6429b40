from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import peewee
import psycopg
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


def test_foreign_keys_are_enforced(engine_store: Store) -> None:
    # SQLite says "FOREIGN KEY constraint failed", PostgreSQL "violates foreign key constraint".
    with pytest.raises(peewee.IntegrityError, match="(?i)foreign key"), engine_store.write():
        AuditLog.create(at="t", operator="o", action="a", unit=999)
    assert AuditLog.select().count() == 0


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


def test_migrations_are_applied_once_in_order(tmp_path: Path, store_url: str | None) -> None:
    store = Store(tmp_path, store_url)
    assert store.schema_version == migrations.LATEST
    assert store.migrate() == []
    store.close()
    again = Store(tmp_path, store_url)
    assert again.schema_version == migrations.LATEST
    assert again.migrate() == []
    # v8's built-in roles once, not once per opening.
    assert again.db.execute_sql("SELECT count(*) FROM operator_role").fetchone()[0] == 4
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


def test_one_writer_at_a_time_no_lock_errors(engine_store: Store) -> None:
    store = engine_store
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


def test_writer_rolls_back_on_error(engine_store: Store) -> None:
    with pytest.raises(RuntimeError), engine_store.write():
        AuditLog.create(at="t", operator="o", action="half")
        raise RuntimeError("boom")
    assert AuditLog.select().count() == 0


def test_unit_lock_is_held_by_one_caller_at_a_time(engine_store: Store) -> None:
    store = engine_store
    got: list[bool] = []
    with store.unit_lock("sender", 1) as held:
        assert held
        # Another thread (on PostgreSQL, another connection) does not get it meanwhile…
        def try_it() -> None:
            with store.unit_lock("sender", 1) as other:
                got.append(other)

        worker = threading.Thread(target=try_it)
        with store.unit_lock("sender", 2) as other_unit, store.unit_lock("enrollment", 1) as other_name:
            assert other_unit and other_name  # …while other units and other names are free
        worker.start()
        worker.join()
        assert got == [False]
    with store.unit_lock("sender", 1) as again:
        assert again  # released on leaving the block


# ---- PostgreSQL (team mode) ----


def pg_catalog(url: str) -> list[tuple]:
    """What a look at a database must not change: its tables, functions (with their row
    versions: a CREATE OR REPLACE shows) and the schema version."""
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT relname, relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' ORDER BY relname").fetchall()
        functions = conn.execute(
            "SELECT proname, prosrc, p.xmin::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' ORDER BY proname").fetchall()
        versions = conn.execute("SELECT version FROM socialfee_schema").fetchall()
        future = conn.execute("SELECT x FROM future").fetchall()
    return [*tables, *functions, *versions, *future]


def test_postgres_migrations_run_and_keep_the_version_in_a_table(tmp_path: Path, pg_url: str) -> None:
    store = Store(tmp_path, pg_url)
    assert (store.dialect, store.team) == ("postgres", True)
    assert store.schema_version == migrations.LATEST
    assert "postgres:" not in store.location and "team-Secret" not in store.location
    store.close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM socialfee_schema").fetchall() == [(migrations.LATEST,)]
        # The migrations' types, translated: 64-bit ids, binary-ordered text.
        (id_type,) = conn.execute("SELECT data_type FROM information_schema.columns "
                                  "WHERE table_name = 'unit' AND column_name = 'id'").fetchone()
        (collation,) = conn.execute("SELECT collation_name FROM information_schema.columns "
                                    "WHERE table_name = 'unit' AND column_name = 'name'").fetchone()
    assert (id_type, collation) == ("bigint", "C")


def test_newer_postgres_database_is_refused_and_left_untouched(tmp_path: Path, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE socialfee_schema (version BIGINT NOT NULL)")
        conn.execute("INSERT INTO socialfee_schema VALUES (%s)", (migrations.LATEST + 5,))
        conn.execute("CREATE TABLE future (x TEXT)")
        conn.execute("INSERT INTO future VALUES ('kept')")
        # A newer release's own helper: a refusing older one must not replace it.
        conn.execute("CREATE FUNCTION json_extract(doc text, path text) RETURNS text "
                     "LANGUAGE sql AS $$ SELECT 'newer' $$")
    before = pg_catalog(pg_url)
    with pytest.raises(StoreError) as info:
        Store(tmp_path, pg_url)
    assert info.value.code == "store_too_new"
    assert "更新版本" in info.value.message and "未被修改" in info.value.message
    assert str(migrations.LATEST + 5) in info.value.message
    assert pg_catalog(pg_url) == before


def test_two_stores_on_one_postgres_database_migrate_it_once(tmp_path: Path, pg_url: str) -> None:
    start = threading.Barrier(2)
    opened: list[Store] = []
    errors: list[BaseException] = []

    def open_desk(n: int) -> None:
        (tmp_path / f"desk{n}").mkdir()
        start.wait()
        try:
            opened.append(Store(tmp_path / f"desk{n}", pg_url))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    desks = [threading.Thread(target=open_desk, args=(n,)) for n in (1, 2)]
    for d in desks:
        d.start()
    for d in desks:
        d.join()
    assert errors == []
    assert [s.schema_version for s in opened] == [migrations.LATEST] * 2
    assert [s.migrate() for s in opened] == [[], []]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM socialfee_schema").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM operator_role").fetchone() == (4,)
    for s in opened:
        s.close()


def test_unit_lock_is_exclusive_across_desks(tmp_path: Path, pg_url: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = Store(tmp_path / "a", pg_url), Store(tmp_path / "b", pg_url)
    try:
        with a.unit_lock("sender", 7) as held:
            assert held
            with b.unit_lock("sender", 7) as other:
                assert not other
            with b.unit_lock("sender", 8) as other_unit:
                assert other_unit
        with b.unit_lock("sender", 7) as after:
            assert after
        # wait=True: b blocks until a lets go.
        entered, release, waited = threading.Event(), threading.Event(), []

        def holder() -> None:
            with a.unit_lock("enrollment", 7) as held:
                assert held
                entered.set()
                release.wait(10)

        t = threading.Thread(target=holder)
        t.start()
        assert entered.wait(10)

        def waiter() -> None:
            with b.unit_lock("enrollment", 7, wait=True) as held:
                waited.append(held)

        w = threading.Thread(target=waiter)
        w.start()
        with b.unit_lock("enrollment", 7) as meanwhile:
            assert not meanwhile  # a still holds it, so the waiter cannot have it either
        assert waited == []
        release.set()
        t.join()
        w.join(10)
        assert waited == [True]
    finally:
        a.close()
        b.close()


def test_unit_lock_is_released_when_the_holders_connection_dies(tmp_path: Path, pg_url: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = Store(tmp_path / "a", pg_url), Store(tmp_path / "b", pg_url)
    try:
        with a.unit_lock("sender", 3) as held:
            assert held
            with b.unit_lock("sender", 3) as other:
                assert not other
            # The desk goes away (crash, network cut): the server ends its session.
            with psycopg.connect(pg_url, autocommit=True) as admin:
                pids = [r[0] for r in admin.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")]
                assert len(pids) == 1
                assert admin.execute("SELECT pg_terminate_backend(%s)", (pids[0],)).fetchone() == (True,)
                # The backend ends asynchronously: wait until it is gone (no clock involved).
                for _ in range(1000):
                    if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pids[0],)).fetchone():
                        break
                    admin.execute("SELECT pg_sleep(0.01)")
            with b.unit_lock("sender", 3) as taken_over:
                assert taken_over
        # Leaving the block on the dead connection raised nothing, and the lock is free.
        with a.unit_lock("sender", 3) as again:
            assert again
    finally:
        a.close()
        b.close()
