"""The local store: Peewee over SQLite in the data directory.

- WAL with ``synchronous=FULL``: a commit the UI reported as saved survives a power cut.
- Foreign keys on; a busy timeout so readers never see "database is locked".
- One writer at a time (ARCHITECTURE.md rule 4): every write goes through
  :meth:`Store.write`, which holds a process-wide lock around a ``BEGIN IMMEDIATE``
  transaction. Requests, scheduled jobs and sync all share it; readers use their own
  thread-local connections and are never blocked in WAL mode.
- Before anything writes to the file, a read-only look decides whether it may be opened:
  a file that is not a database, or one from a newer schema, is refused and left untouched.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

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


class Store:
    """One open database with its migrations applied."""

    def __init__(self, home: Path) -> None:
        self.path = home / DB_FILE
        self._write_lock = threading.RLock()
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
        database_proxy.initialize(self.db)
        try:
            self.db.connect(reuse_if_open=True)
            self.migrate()
        except peewee.DatabaseError as exc:
            self.db.close()
            raise StoreError(f"无法打开本地数据库 {self.path}：{exc}", code="store_open") from exc

    @property
    def schema_version(self) -> int:
        return int(self.db.execute_sql("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> list[int]:
        """Apply the pending steps in order, each in its own transaction; returns them."""
        applied: list[int] = []
        current = self.schema_version
        for version in range(current + 1, migrations.LATEST + 1):
            with self.write():
                migrations.MIGRATIONS[version - 1](self.db)
                self.db.execute_sql(f"PRAGMA user_version = {version}")
            applied.append(version)
        return applied

    @contextmanager
    def write(self) -> Iterator[peewee.SqliteDatabase]:
        """The single writer: a process-wide lock around one IMMEDIATE transaction."""
        with self._write_lock, self.db.atomic(lock_type="IMMEDIATE"):
            yield self.db

    @contextmanager
    def writers_held(self) -> Iterator[None]:
        """No write of this process starts meanwhile (a restore reads the file itself)."""
        with self._write_lock:
            yield

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                total += part.stat().st_size
        return total

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
            if not self.db.is_closed():
                # Fold the WAL back so the file alone is complete when the app is gone.
                self.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            self.db.close()
