"""Checking a backup: every checksum, then the database on its own terms.

The database inside a backup is judged by the file, never by the manifest: its own
``user_version``, the tables and columns that version of the schema has, no triggers,
SQLite's integrity check, and (for an older version) the migrations to the current one,
run on the unpacked copy. A candidate that passes is one the client can open and start
with; verify (校验) and restore run the same checks.
"""

from __future__ import annotations

import functools
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee

from client.backup import archive, common
from client.backup.common import TMP_PREFIX, BackupInfo, ProgressFn, no_progress, table_label
from client.backup.crypto import DamagedBackup
from client.core import migrations
from client.core.store import DB_FILE
from client.errors import StoreError

MAX_MMAP = 2**31  # mapped at most; SQLite reads any part past it (or a failed map) as usual


@dataclass(frozen=True)
class VerifyResult:
    backup: BackupInfo
    checks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"backup": self.backup.to_dict(), "checks": list(self.checks)}


@functools.cache
def reference_schema(version: int) -> dict[str, frozenset[str]]:
    """Tables and columns of schema ``version``, as the migrations build it (in memory)."""
    db = peewee.SqliteDatabase(":memory:")
    try:
        for step in migrations.MIGRATIONS[:version]:
            step(db)
        return {
            name: frozenset(r[1] for r in db.execute_sql(f'PRAGMA table_info("{name}")'))
            for (name,) in db.execute_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
    finally:
        db.close()


def _bad(name: str, why: str, code: str = "backup_database") -> DamagedBackup:
    return DamagedBackup(
        f"备份 {name} 中的数据库不能使用（{why}）。请换一份备份；现有数据没有被修改。", code=code
    )


def too_new(name: str, app_version: str, version: int) -> StoreError:
    return StoreError(
        f"备份 {name} 由更新版本的 socialfee（{app_version or '未知版本'}，数据结构版本 "
        f"{version}）创建，当前程序只支持到版本 {migrations.LATEST}。"
        f"请先安装新版本 socialfee 再恢复；现有数据没有被修改。",
        code="backup_too_new",
    )


def _schema_problems(conn: sqlite3.Connection, version: int) -> list[str]:
    have = {
        name: {r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')}
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    problems = []
    for table, columns in sorted(reference_schema(version).items()):
        if table not in have:
            problems.append(f"缺少数据表「{table_label(table)}」")
        elif missing := sorted(columns - have[table]):
            problems.append(f"数据表「{table_label(table)}」缺少列 {'、'.join(missing)}")
    # The schema has none: one in a backup would run on the client's own writes.
    for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
        problems.append(f"含有本程序不使用的触发器 {trigger}")
    return problems


def _migrate(db: Path, version: int, name: str) -> None:
    """Upgrade the unpacked copy to the current schema, as the store would at start."""
    pdb = peewee.SqliteDatabase(str(db), pragmas={"foreign_keys": 1})
    try:
        pdb.connect()
        for target in range(version + 1, migrations.LATEST + 1):
            with pdb.atomic():
                migrations.MIGRATIONS[target - 1](pdb)
                pdb.execute_sql(f"PRAGMA user_version = {target}")
    except peewee.DatabaseError as exc:
        raise _bad(name, f"无法升级到当前数据结构版本 {migrations.LATEST}：{exc}") from exc
    finally:
        pdb.close()


def check_database(
    db: Path, name: str, manifest: dict[str, Any], *, quick: bool, migrate: bool
) -> int:
    """Prove the candidate database at ``db`` can be opened by this client; its version.

    ``quick``: PRAGMA quick_check instead of integrity_check (a restore: the checksum has
    already proven every byte is the one the backup was made with). ``migrate``: bring an
    older schema to the current version in place.
    """
    try:
        conn = sqlite3.connect(str(db))
    except sqlite3.Error as exc:
        raise _bad(name, f"无法打开：{exc}") from exc
    try:
        # The checks read every page: mapped, not one pread each (a third of their CPU). The
        # file is our own unpacked copy, which nothing else truncates while it is mapped.
        conn.execute(f"PRAGMA mmap_size = {min(db.stat().st_size, MAX_MMAP)}")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            (version,) = conn.execute("PRAGMA user_version").fetchone()
        except sqlite3.DatabaseError as exc:
            raise _bad(name, f"不是有效的 SQLite 数据库：{exc}") from exc
        version = int(version)
        if version > migrations.LATEST:
            raise too_new(name, str(manifest.get("app_version", "")), version)
        if version < 1:
            raise _bad(name, "没有数据结构（数据结构版本 0）", "backup_schema")
        if version != manifest["schema_version"]:
            raise _bad(
                name, f"清单写的数据结构版本是 {manifest['schema_version']}，数据库本身是 {version}",
                "backup_mismatch",
            )
        try:
            problems = _schema_problems(conn, version)
            pragma = "quick_check" if quick else "integrity_check"
            messages = [r[0] for r in conn.execute(f"PRAGMA {pragma}")]
        except sqlite3.DatabaseError as exc:
            problems, messages = [], [str(exc)]
        if problems:
            raise _bad(name, "；".join(problems[:5]), "backup_schema")
        if messages != ["ok"]:
            raise DamagedBackup(
                f"备份 {name} 中的数据库未通过完整性检查（{'；'.join(messages[:5])}）。请换一份备份。",
                code="backup_integrity",
            )
        # A file in WAL mode would want a -wal beside it: the swap moves the file alone.
        (mode,) = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
        if str(mode).lower() != "delete":
            raise _bad(name, f"日志模式 {mode} 无法切换")
    finally:
        conn.close()
    if migrate and version < migrations.LATEST:
        _migrate(db, version, name)
    return version


def extract_checked(
    path: Path, target: Path, password: str | None, progress: ProgressFn, *, quick: bool,
    migrate: bool,
) -> tuple[archive.Header, dict[str, Any], int]:
    """Unpack, prove every checksum, then check the database; header, manifest, version."""
    common.require(path)
    expected = 0

    def on_bytes(done: int, message: str) -> None:
        progress(min(done, expected or 1), expected or 1, message)

    def on_manifest(manifest: dict[str, Any]) -> None:
        nonlocal expected
        if manifest["schema_version"] > migrations.LATEST:  # before a byte is unpacked
            raise too_new(path.name, str(manifest.get("app_version", "")), manifest["schema_version"])
        expected = sum(f["size"] for f in manifest["files"].values())

    header, manifest = archive.extract(path, target, password, progress=on_bytes, on_manifest=on_manifest)
    progress(expected, expected, "正在检查数据库…")
    version = check_database(target / DB_FILE, path.name, manifest, quick=quick, migrate=migrate)
    return header, manifest, version


def verify_backup(
    path: Path, home: Path, password: str | None = None, progress: ProgressFn = no_progress
) -> VerifyResult:
    """Manifest, every checksum, and the database as a restore would check it (full
    ``PRAGMA integrity_check``), in a temporary folder inside the data directory ``home``."""
    path = Path(path)
    with tempfile.TemporaryDirectory(dir=home, prefix=TMP_PREFIX) as tmp:
        header, manifest, version = extract_checked(
            path, Path(tmp), password, progress, quick=False, migrate=True
        )
    info = common.info_of(path, header, manifest)
    common.mark_good(home, path, info.created_at)
    checks = (
        "文件头与清单完整",
        f"{len(manifest['files'])} 个文件的 SHA-256 校验和一致",
        "数据库完整性检查通过（PRAGMA integrity_check）",
        f"数据结构（版本 {version}）完整" + (
            f"，可升级到当前版本 {migrations.LATEST}" if version < migrations.LATEST else ""
        ),
    )
    return VerifyResult(info, checks)
