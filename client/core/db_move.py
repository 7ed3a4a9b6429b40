"""Moving one desk's data between engines: SQLite -> PostgreSQL (a team starts from what
one desk already has) and back (`socialfee db move`, client/cli_db.py).

- The source and the target are migrated stores of the same schema version; the target
  must be empty (no units, no journal entries, nothing but what a migration seeds).
- Tables are copied parents first (the foreign keys read from the target's catalog), in
  primary-key order, in batches of :data:`BATCH` rows (memory stays bounded at 100,000
  employees), ids kept, by ``db.copy_rows`` (COPY on PostgreSQL), from one consistent
  snapshot of the source, into ONE transaction of the target.
- Before that transaction commits, every table is read back from the target: its row count
  and a sha256 over its rows in primary-key order (values as tagged text, the same on both
  engines) must equal the source's. Any difference rolls the whole target back and the
  error names the table. The submission journal is one of those tables: the same
  idempotency keys, states and payloads ("journal intact").
- The source is only read; it stays the fallback.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import peewee

from client.core.store import Store, TableInfo
from client.errors import ConflictError, StoreError

BATCH = 5000
JOURNAL = "submission"
# Rows a migration puts into a new database: not data of anyone (the built-in roles).
SEEDED = {"operator_role": "key IS NULL"}

Progress = Callable[[str, int, int], None]  # (table, rows copied, rows of the table)


class MoveError(StoreError):
    code = "db_move"


@dataclass(frozen=True)
class TableReport:
    table: str
    rows: int
    checksum: str  # sha256 hex, equal on the source and the target

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "rows": self.rows, "checksum": self.checksum}


@dataclass(frozen=True)
class MoveReport:
    source: str  # locations for the screen, never a password
    target: str
    schema_version: int
    tables: tuple[TableReport, ...]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def journal_entries(self) -> int:
        return next((t.rows for t in self.tables if t.table == JOURNAL), 0)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "schema_version": self.schema_version,
                "rows": self.rows, "journal_entries": self.journal_entries, "journal_intact": True,
                "seconds": round(self.seconds, 3), "tables": [t.to_dict() for t in self.tables]}


def move(source: Store, target: Store, progress: Progress | None = None) -> MoveReport:
    """Copy every table of ``source`` into the empty ``target`` and verify it; returns the
    per-table counts and checksums, or raises with the target left as it was."""
    started = time.monotonic()
    if source.location == target.location:
        raise MoveError("目标就是当前的数据位置，无需迁移。", code="db_move_same")
    order = plan(source, target)
    refuse_not_empty(target, order)
    reports: list[TableReport] = []
    with source.snapshot() as sdb, target.write() as tdb:
        for info in reversed(order):  # what the migration seeded goes; children first
            tdb.execute_sql(f'DELETE FROM "{info.name}"')
        copied = {info.name: _copy(sdb, tdb, info, progress) for info in order}
        target.reset_identities(info.name for info in order)
        for info in order:
            rows, digest = copied[info.name]
            check_rows, check_digest = table_checksum(tdb, info)
            if (check_rows, check_digest) != (rows, digest):
                what = "申报记录（提交日志）" if info.name == JOURNAL else f"表 {info.name}"
                raise MoveError(
                    f"校验未通过：{what} 源数据库 {rows} 行、目标数据库 {check_rows} 行，校验和"
                    f"{'相同' if digest == check_digest else '不同'}。目标数据库已回滚为迁移前的状态；"
                    f"当前数据没有被修改。",
                    code="db_move_verify",
                )
            reports.append(TableReport(info.name, rows, digest))
    return MoveReport(source.location, target.location, target.schema_version, tuple(reports),
                      time.monotonic() - started)


def plan(source: Store, target: Store) -> list[TableInfo]:
    """The tables parents first, after checking both stores have the same schema."""
    if source.schema_version != target.schema_version:
        raise MoveError(
            f"两个数据库的数据结构版本不同（当前 {source.schema_version}，目标 {target.schema_version}）："
            f"请先用同一版本的 socialfee 打开两者完成升级，再迁移。",
            code="db_move_schema",
        )
    names = target.tables()
    missing = sorted(set(names) ^ set(source.tables()))
    if missing:
        raise MoveError(f"两个数据库的数据表不一致（{'、'.join(missing)}）：请先完成升级再迁移。",
                        code="db_move_schema")
    infos = {}
    for name in names:
        info = target.table_columns(name)
        if set(info.columns) != set(source.table_columns(name).columns):
            raise MoveError(f"两个数据库中表 {name} 的字段不一致：请先完成升级再迁移。", code="db_move_schema")
        infos[name] = info
    return fk_order(infos)


def fk_order(infos: dict[str, TableInfo]) -> list[TableInfo]:
    """Referenced tables before those that reference them; ties by name (stable)."""
    done: list[TableInfo] = []
    placed: set[str] = set()
    pending = sorted(infos)
    while pending:
        ready = [n for n in pending if all(r in placed or r == n or r not in infos for r in infos[n].references)]
        if not ready:
            raise MoveError(f"数据表之间的外键成环（{'、'.join(pending)}），无法确定迁移顺序。", code="db_move_schema")
        for name in ready:
            done.append(infos[name])
            placed.add(name)
        pending = [n for n in pending if n not in placed]
    return done


def refuse_not_empty(target: Store, order: Sequence[TableInfo]) -> None:
    counts = {}
    for info in order:
        where = f" WHERE {SEEDED[info.name]}" if info.name in SEEDED else ""
        counts[info.name] = int(target.db.execute_sql(f'SELECT count(*) FROM "{info.name}"{where}').fetchone()[0])
    if counts.get("unit") or counts.get(JOURNAL):
        raise ConflictError(
            f"目标数据库 {target.location} 已有数据（{counts.get('unit', 0)} 个单位、{counts.get(JOURNAL, 0)} "
            f"条申报记录），不会覆盖。请使用新建的空数据库；当前数据没有被修改。",
            code="db_move_not_empty",
        )
    busy = [(name, n) for name, n in counts.items() if n]
    if busy:
        listed = "、".join(f"{name} {n} 行" for name, n in busy[:5])
        raise ConflictError(
            f"目标数据库 {target.location} 不是空的（{listed}），不会覆盖。请使用新建的空数据库；"
            f"当前数据没有被修改。",
            code="db_move_not_empty",
        )


# -- reading in primary-key order, in batches ------------------------------------------------------
def batches(db: peewee.Database, info: TableInfo) -> Iterator[list[tuple[Any, ...]]]:
    """The table's rows in primary-key order, BATCH at a time (keyset paging: each batch
    starts after the last key, so neither engine holds the whole table)."""
    names = ", ".join(f'"{c}"' for c in info.columns)
    key = info.primary_key or info.columns
    order = ", ".join(f'"{c}"' for c in key)
    at = [info.columns.index(c) for c in key]
    base = f'SELECT {names} FROM "{info.name}"'
    last: tuple[Any, ...] | None = None
    offset = 0
    while True:
        if not info.primary_key:  # no key to page by (none today): ordered by every column
            rows = db.execute_sql(f"{base} ORDER BY {order} LIMIT {BATCH} OFFSET {offset}").fetchall()
            offset += len(rows)
        elif last is None:
            rows = db.execute_sql(f"{base} ORDER BY {order} LIMIT {BATCH}").fetchall()
        else:
            marks = ", ".join("?" * len(key))
            rows = db.execute_sql(f"{base} WHERE ({order}) > ({marks}) ORDER BY {order} LIMIT {BATCH}",
                                  last).fetchall()
        if not rows:
            return
        yield [tuple(r) for r in rows]
        if len(rows) < BATCH:
            return
        last = tuple(rows[-1][i] for i in at)


def normalised(value: Any) -> str:
    """A value as tagged text, the same whichever engine it was read from."""
    if value is None:
        return "n"
    if isinstance(value, bool):
        return f"i{int(value)}"
    if isinstance(value, int):
        return f"i{value}"
    if isinstance(value, float):
        return f"f{value!r}"
    if isinstance(value, str):
        return f"s{value}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"b{bytes(value).hex()}"
    return f"s{value}"  # Decimal and the like: their text


def _hash_rows(digest: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    for row in rows:
        for value in row:
            text = normalised(value).encode("utf-8", "surrogatepass")
            digest.update(b"%d:" % len(text))  # length-prefixed: no separator can be forged
            digest.update(text)
        digest.update(b"\n")


def table_checksum(db: peewee.Database, info: TableInfo) -> tuple[int, str]:
    digest, count = hashlib.sha256(), 0
    for rows in batches(db, info):
        _hash_rows(digest, rows)
        count += len(rows)
    return count, digest.hexdigest()


def _copy(sdb: peewee.Database, tdb: Any, info: TableInfo, progress: Progress | None) -> tuple[int, str]:
    total = int(sdb.execute_sql(f'SELECT count(*) FROM "{info.name}"').fetchone()[0])
    digest, count = hashlib.sha256(), 0
    if progress:
        progress(info.name, 0, total)
    for rows in batches(sdb, info):
        _hash_rows(digest, rows)
        try:
            tdb.copy_rows(info.name, info.columns, rows)
        except (peewee.DatabaseError, ValueError) as exc:
            raise MoveError(f"写入表 {info.name} 时出错（第 {count + 1} 行起）：{exc}。目标数据库已回滚为迁移前的"
                            f"状态；当前数据没有被修改。", code="db_move_write") from exc
        count += len(rows)
        if progress:
            progress(info.name, count, total)
    return count, digest.hexdigest()
