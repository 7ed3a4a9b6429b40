"""The store: Peewee over SQLite in the data directory (one desk, the default) or over a
PostgreSQL database shared by several desks (team mode, client/core/store_pg.py).

- WAL with ``synchronous=FULL``: a commit the UI reported as saved survives a power cut.
- Foreign keys on; a busy timeout so readers never see "database is locked".
- One writer at a time (ARCHITECTURE.md rule 4): every write goes through
  :meth:`Store.write`, which holds a process-wide lock around a ``BEGIN IMMEDIATE``
  transaction. Requests, scheduled jobs and sync all share it; readers use their own
  thread-local connections and are never blocked in WAL mode.
- Before anything writes to the file, a read-only look decides whether it may be opened:
  a file that is not a database, or one from a newer schema, is refused and left untouched.
- Both engines take the same SQL (``?`` placeholders, ``ON CONFLICT``, ``RETURNING``, the
  JSON helpers); ``db.executemany`` and ``db.copy_rows`` are the bulk paths (COPY on
  PostgreSQL). On PostgreSQL the writer lock is per process and transactions are ordinary
  ones; what must happen once across desks takes :meth:`Store.unit_lock`.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee

from client.core import migrations
from client.core.models import database_proxy
from client.errors import ConflictError, StoreError

DB_FILE = "socialfee.sqlite3"

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL: WAL commits are fsynced, so "saved" means saved
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -32000,
    "temp_store": 2,
}


def inspect_version(path: Path) -> int:
    """Schema version of an existing database file, read without writing to it."""
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"无法打开本地数据库 {path}：{exc}", code="store_unreadable") from exc
    try:
        # Reading the schema forces SQLite to parse the header: garbage fails here.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        (version,) = conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"本地数据库文件已损坏或不是 socialfee 的数据库：{path}。文件未被修改；"
            f"请从备份恢复，或将该文件移走后重新启动。",
            code="store_corrupt",
        ) from exc
    finally:
        conn.close()
    return int(version)


class TrackedSqliteDatabase(peewee.SqliteDatabase):
    """Knows the open connection of every thread, so a restore can close them all."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[sqlite3.Connection] = set()
        self._open_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        with self._open_lock:
            self._open.add(conn)
        return conn

    def _close(self, conn: sqlite3.Connection) -> None:
        with self._open_lock:
            self._open.discard(conn)
        super()._close(conn)

    def close_all(self) -> None:
        """Close the connections of every thread; each reconnects at its next query."""
        with self._lock, self._open_lock:
            conns, self._open = list(self._open), set()
            self._state = peewee._ConnectionLocal()  # every thread starts out closed
        for conn in conns:
            conn.close()


    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        cursor = self.cursor()
        cursor.executemany(sql, rows)
        return cursor

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        return self.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows).rowcount

    def upsert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
        conflict: Sequence[str], update: Sequence[str],
    ) -> int:
        """Insert or update by ``conflict`` (a unique key); a later row of the same key wins.
        The bulk upsert of both engines (PostgreSQL: COPY into a staging table)."""
        self.executemany(upsert_sql(table, columns, conflict, update), rows)
        return len(rows)

    def refresh_statistics(self, table: str) -> None:
        """After a bulk load: nothing on SQLite, whose plans need no statistics (on
        PostgreSQL VACUUM ANALYZE, see store_pg)."""


def upsert_sql(table: str, columns: Sequence[str], conflict: Sequence[str], update: Sequence[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(columns))
    return f'INSERT INTO "{table}" ({names}) VALUES ({marks}) ' + on_conflict(conflict, update)


def on_conflict(conflict: Sequence[str], update: Sequence[str]) -> str:
    keys = ", ".join(f'"{c}"' for c in conflict)
    if not update:
        return f"ON CONFLICT ({keys}) DO NOTHING"
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in update)
    return f"ON CONFLICT ({keys}) DO UPDATE SET {sets}"


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]  # empty: none declared
    references: frozenset[str]  # tables its foreign keys point at


def _lock_key(name: str, unit_pk: int) -> int:
    """A stable signed 64-bit key for an advisory lock on (name, unit)."""
    digest = hashlib.sha256(f"socialfee:{name}:{unit_pk}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Store:
    """One open database with its migrations applied.

    ``url`` (a ``postgresql://`` connection URL with its password) selects team mode;
    without it the database is the SQLite file in ``home``. ``bind=False``: a store opened
    beside the app's (a backup's scratch copy, a move's target) leaves the models bound to
    the app's store, so no request's model query lands in it meanwhile.
    """

    def __init__(self, home: Path, url: str | None = None, *, bind: bool = True) -> None:
        self.path = home / DB_FILE
        self.url = url
        self.dialect = "postgres" if url else "sqlite"
        self._bind = bind
        self._write_lock = threading.RLock()
        self._unit_locks: dict[tuple[str, int], threading.Lock] = {}
        if url:
            self._open_postgres(url)
            return
        if self.path.exists() and self.path.stat().st_size > 0:
            version = inspect_version(self.path)
            if version > migrations.LATEST:
                raise StoreError(
                    f"本地数据库由更新版本的 socialfee 创建（数据结构版本 {version}），"
                    f"当前程序只支持到版本 {migrations.LATEST}。数据库未被修改；"
                    f"请安装新版本后再打开。",
                    code="store_too_new",
                )
        self.db = TrackedSqliteDatabase(
            str(self.path), pragmas=PRAGMAS, check_same_thread=False, timeout=10
        )
        if self._bind:
            database_proxy.initialize(self.db)
        try:
            self.db.connect(reuse_if_open=True)
            self.migrate()
        except peewee.DatabaseError as exc:
            self.db.close()
            raise StoreError(f"无法打开本地数据库 {self.path}：{exc}", code="store_open") from exc

    def _open_postgres(self, url: str) -> None:
        from client.core import store_pg

        self.db = store_pg.TeamPostgresDatabase(url)
        try:
            self.db.connect(reuse_if_open=True)
            # A read-only look first: a newer schema is refused before anything (not even
            # the helper functions, which a newer version may define otherwise) is written.
            (known,) = self.db.execute_sql("SELECT to_regclass('socialfee_schema') IS NOT NULL").fetchone()
            version = self.schema_version if known else 0
            if version <= migrations.LATEST:
                with self.write() as db:
                    # Two desks starting at once: one creates the helpers and migrates.
                    db.execute_sql("SELECT pg_advisory_xact_lock(?)", (_lock_key("migrate", 0),))
                    db.execute_sql("CREATE TABLE IF NOT EXISTS socialfee_schema (version BIGINT NOT NULL)")
                    db.execute_sql(store_pg.COMPAT_FUNCTIONS)
                version = self.schema_version
        except (peewee.DatabaseError, peewee.InterfaceError) as exc:
            self.db.close()
            raise StoreError(f"无法连接团队数据库（PostgreSQL）：{exc}", code="store_open") from exc
        if version > migrations.LATEST:
            self.db.close()
            raise StoreError(
                f"团队数据库由更新版本的 socialfee 创建（数据结构版本 {version}），"
                f"当前程序只支持到版本 {migrations.LATEST}。数据库未被修改；"
                f"请安装新版本后再打开。",
                code="store_too_new",
            )
        if self._bind:
            database_proxy.initialize(self.db)
        try:
            self.migrate()
        except peewee.DatabaseError as exc:
            self.db.close()
            raise StoreError(f"无法升级团队数据库（PostgreSQL）：{exc}", code="store_open") from exc

    @property
    def team(self) -> bool:
        return self.dialect == "postgres"

    @property
    def location(self) -> str:
        """Where the data are, for the screen: the file, or the server without the password."""
        if not self.url:
            return str(self.path)
        from client.core import db_location

        return db_location.redact(self.url)

    @property
    def schema_version(self) -> int:
        if self.team:
            row = self.db.execute_sql("SELECT max(version) FROM socialfee_schema").fetchone()
            return int(row[0] or 0)
        return int(self.db.execute_sql("PRAGMA user_version").fetchone()[0])

    def _set_version(self, version: int) -> None:
        if self.team:
            self.db.execute_sql("DELETE FROM socialfee_schema")
            self.db.execute_sql("INSERT INTO socialfee_schema (version) VALUES (?)", (version,))
        else:
            self.db.execute_sql(f"PRAGMA user_version = {version}")

    def migrate(self) -> list[int]:
        """Apply the pending steps in order, each in its own transaction; returns them."""
        applied: list[int] = []
        for version in range(self.schema_version + 1, migrations.LATEST + 1):
            with self.write():
                if self.team:  # another desk may have applied it meanwhile
                    self.db.execute_sql("SELECT pg_advisory_xact_lock(?)", (_lock_key("migrate", 0),))
                    if self.schema_version >= version:
                        continue
                migrations.MIGRATIONS[version - 1](self.db)
                self._set_version(version)
            applied.append(version)
        return applied

    @contextmanager
    def write(self) -> Iterator[peewee.Database]:
        """The single writer of this process: a lock around one transaction (IMMEDIATE on
        SQLite, so the file has one writer; an ordinary one on PostgreSQL)."""
        if self.team:
            with self._write_lock, self.db.atomic():
                yield self.db
            return
        with self._write_lock, self.db.atomic(lock_type="IMMEDIATE"):
            yield self.db

    @contextmanager
    def unit_lock(self, name: str, unit_pk: int, wait: bool = False) -> Iterator[bool]:
        """Held by one desk at a time for (name, unit): yields whether this caller holds it.

        On PostgreSQL an advisory lock on its own connection (one sender, one enrollment
        update per unit across all desks; released when the desk goes away); on SQLite,
        where one process owns the data folder, a lock of this process.
        """
        if self.team:
            from client.core import store_pg

            with store_pg.advisory_lock(self.url or "", _lock_key(name, unit_pk), wait) as held:
                yield held
            return
        with self._write_lock:
            lock = self._unit_locks.setdefault((name, unit_pk), threading.Lock())
        held = lock.acquire(blocking=wait)
        try:
            yield held
        finally:
            if held:
                lock.release()

    @contextmanager
    def writers_held(self) -> Iterator[None]:
        """No write of this process starts meanwhile (a restore reads the file itself)."""
        with self._write_lock:
            yield

    def health(self) -> tuple[list[str], int]:
        """The engine's check of the data: (problems, or ["ok"]; foreign-key problems).

        SQLite: its integrity and foreign-key checks. PostgreSQL checks pages and keys as it
        writes, so a cheap look: every client table answers, no index was left invalid by a
        failed build, no foreign key is marked unvalidated.
        """
        if not self.team:
            messages = [str(r[0]) for r in self.db.execute_sql("PRAGMA integrity_check")]
            return messages, len(list(self.db.execute_sql("PRAGMA foreign_key_check")))
        problems: list[str] = []
        for name in self.tables():
            try:
                with self.db.atomic():
                    self.db.execute_sql(f'SELECT 1 FROM "{name}" LIMIT 1').fetchall()
            except peewee.DatabaseError as exc:
                problems.append(f"表 {name} 无法读取：{str(exc).strip()}")
        problems += [f"索引 {r[0]} 无效" for r in self.db.execute_sql(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND NOT i.indisvalid ORDER BY c.relname")]
        (unchecked,) = self.db.execute_sql(
            "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = current_schema() AND c.contype = 'f' AND NOT c.convalidated").fetchone()
        return problems or ["ok"], int(unchecked)

    def size_bytes(self) -> int:
        if self.team:
            row = self.db.execute_sql("SELECT pg_database_size(current_database())").fetchone()
            return int(row[0])
        total = 0
        for suffix in ("", "-wal"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                total += part.stat().st_size
        return total

    # -- the catalog, for moving the data between engines (client/core/db_move.py) ------
    def tables(self) -> list[str]:
        """The client's tables by name: not the engine's own, nor the schema version's."""
        if self.team:
            from client.core import store_pg

            return store_pg.tables(self.db)
        rows = self.db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [str(r[0]) for r in rows if not str(r[0]).startswith("sqlite_")]

    def table_columns(self, table: str) -> TableInfo:
        """Columns in declared order, the primary key in key order, the tables referenced."""
        if self.team:
            from client.core import store_pg

            return store_pg.table_info(self.db, table)
        cols = self.db.execute_sql(f'PRAGMA table_info("{table}")').fetchall()
        refs = self.db.execute_sql(f'PRAGMA foreign_key_list("{table}")').fetchall()
        key = tuple(str(c[1]) for c in sorted((c for c in cols if c[5]), key=lambda c: c[5]))
        return TableInfo(table, tuple(str(c[1]) for c in cols), key, frozenset(str(r[2]) for r in refs))

    def reset_identities(self, tables: Iterable[str]) -> None:
        """After rows came in with their ids: PostgreSQL's identity sequences continue after
        the largest id (SQLite's rowid does so by itself)."""
        if self.team:
            from client.core import store_pg

            store_pg.reset_identities(self.db, tables)

    @contextmanager
    def snapshot(self) -> Iterator[peewee.Database]:
        """One consistent, read-only view of every table while other desks may write."""
        if self.team:
            with self.db.atomic(isolation_level="REPEATABLE READ"):
                self.db.execute_sql("SET TRANSACTION READ ONLY")
                yield self.db
            return
        with self.db.atomic():  # deferred: WAL gives the snapshot of the first read
            yield self.db

    def reopen(self, swap: Callable[[], None]) -> None:
        """Close the file, let ``swap`` replace it on disk, open it again (restore).

        Writers wait on the write lock meanwhile. The WAL is folded in and the file leaves
        WAL mode first, so no -wal/-shm of the old file is left to be replayed into the new
        one. Every thread's connection is closed first; SQLite still refuses the switch
        while another process has the file open, and then nothing is swapped.
        """
        with self._write_lock:
            self.db.close_all()
            try:
                # Leaving WAL mode checkpoints and removes the -wal and -shm files.
                (mode,) = self.db.execute_sql("PRAGMA journal_mode=DELETE").fetchone()
            except peewee.OperationalError:
                mode = "busy"
            if str(mode).lower() != "delete":
                raise ConflictError(
                    "本地数据库仍被其他操作占用，暂时不能替换。请稍后重试；现有数据没有被修改。",
                    code="store_busy",
                )
            self.db.close()
            try:
                swap()
            finally:
                self.db.connect(reuse_if_open=True)  # the pragmas put it back in WAL mode
                self.migrate()

    def close(self) -> None:
        with self._write_lock:
            if self.team:
                self.db.close_all()
                return
            if not self.db.is_closed():
                # Fold the WAL back so the file alone is complete when the app is gone.
                self.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            self.db.close()
