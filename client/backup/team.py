"""Backup and restore in team mode: the client's backup format from and into PostgreSQL.

A backup file always packs a SQLite database (the format is unchanged). From a team
store the database in it is a logical dump: every client table copied by
:func:`client.core.db_move.move` into a fresh SQLite store inside one REPEATABLE READ,
READ ONLY transaction on the server, so all tables are of one moment while the desks
keep working. Such a file restores into either engine.

A restore into a team store (:func:`replace_team_data`) first stops every desk's sender
(the ``senders_paused`` flag of client/core/team_state.py, then each unit's sender lock
taken and released, so no send is in flight), then empties the client tables and moves
the backup's rows in, all in one transaction, which also sets ``restore_review``: every
desk's sender stays paused until someone reviewed the journal, as on one desk today.
The server's own backups (pg_dump, base backups) remain the database administrator's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from client.backup import common
from client.backup.common import ProgressFn, no_progress
from client.core import team_state
from client.core.store import DB_FILE, Store
from client.errors import StoreError

# Kept out of every backup: coordination of the desks, not data (see team_state.py).
NOT_BACKED_UP = ("team_state",)


@contextmanager
def scratch_store(home: Path) -> Iterator[Store]:
    """A SQLite store in ``home`` (fresh or the candidate of a restore), closed afterwards.
    The models stay bound to the app's store: no request's query lands in the scratch file."""
    store = Store(home, bind=False)
    try:
        yield store
    finally:
        store.close()


def _moved(progress: ProgressFn, message: str) -> Any:
    def report(table: str, done: int, total: int) -> None:
        progress(done, total, f"{message}（{table}）")
    return report


def dump(store: Store, folder: Path, progress: ProgressFn = no_progress) -> Path:
    """The team database as a SQLite file ``folder/DB_FILE``: consistent, out of WAL mode."""
    from client.core import db_move  # task MOVE's copier of the client tables

    progress(0, 0, "正在导出团队数据库的快照…")
    try:
        with scratch_store(folder) as target:
            # One REPEATABLE READ, READ ONLY transaction on the server (store.snapshot).
            db_move.move(store, target, _moved(progress, "正在导出团队数据库"))
            with target.write() as db:
                for table in NOT_BACKED_UP:
                    db.execute_sql(f'DELETE FROM "{table}"')
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(
            f"导出团队数据库的快照失败（{exc}）。团队数据库没有被修改；请检查与数据库服务器的连接后重试。",
            code="snapshot_failed",
        ) from exc
    path = folder / DB_FILE
    # Like a SQLite snapshot: the file can be opened read-only on its own.
    conn = sqlite3.connect(str(path))
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    return path


def drop_team_flags(path: Path) -> None:
    """The desks' flags out of a restored SQLite candidate: a backup (ours never has any)
    must not bring a pause no page of a single desk could lift."""
    conn = sqlite3.connect(str(path))
    try:
        with conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'team_state'").fetchone():
                conn.execute("DELETE FROM team_state")
    finally:
        conn.close()


def _empty(db: Any, store: Store) -> None:
    """Every client table of the team database emptied inside the caller's transaction:
    one statement, however the foreign keys point."""
    db.execute_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in store.tables()))


def change_count(store: Store) -> int:
    """Rows inserted, updated or deleted in the team database so far, by any desk (the
    server's statistics): what "changed since the last backup" compares. The operation log
    and the desks' flags do not count, so a backup's own log entry sets off no next one."""
    row = store.db.execute_sql(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables "
        "WHERE schemaname = current_schema() AND relname NOT IN ('audit_log', 'team_state')"
    ).fetchone()
    return int(row[0])


def stop_senders(store: Store, operator: str, reason: str) -> None:
    """Every desk's sender stops, and none is in the middle of a send or of an enrollment
    update when this returns."""
    team_state.set_flag(store, team_state.SENDERS_PAUSED, {"reason": reason}, operator)
    units = [int(r[0]) for r in store.db.execute_sql("SELECT id FROM unit ORDER BY id")]
    for unit in units:
        # A sender holds its unit's lock across a send and checks the flag before the next;
        # an enrollment update checks it once it holds its lock (client/sync/enrollment_desks.py).
        for name in ("sender", "enrollment"):
            with store.unit_lock(name, unit, wait=True):
                pass


def resume_senders(store: Store) -> None:
    team_state.clear(store, team_state.SENDERS_PAUSED)


def replace_team_data(
    store: Store, candidate: Path, review: dict[str, Any], operator: str,
    progress: ProgressFn = no_progress,
) -> None:
    """Replace the team database's client tables by those of the SQLite ``candidate``
    folder (checked and migrated), in one transaction that also sets the review pause."""
    from client.core import db_move

    with scratch_store(candidate) as source:
        progress(0, 0, "正在替换团队数据库中的数据…")
        # db_move.move nests its transaction in this one (a savepoint) and finds the target
        # empty: a failed copy or check rolls the emptying back too.
        with store.write() as db:
            _empty(db, store)
            common.reached("emptied")
            db_move.move(source, store, _moved(progress, "正在写入团队数据库"))
            common.reached("moved")
            # The backup's own flags are gone with the rows; the review pause is set, in
            # the same transaction: no desk ever sees the new data without it.
            db.execute_sql("DELETE FROM team_state")
            team_state.put(db, team_state.RESTORE_REVIEW, review, operator)
