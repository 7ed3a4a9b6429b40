"""Writing a backup: a consistent snapshot of the database plus settings and rules cache.

The snapshot uses SQLite's online backup API, so the app keeps running; in team mode it is
a logical dump of the team database into a SQLite file of the same format (team.py). The file is
written under a hidden temporary name, fsynced, then renamed: a crash never leaves a file
that looks like a complete backup (see docs/backup.md).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from client import __version__
from client.backup import archive, common, contents, team
from client.backup.common import (
    KIND_MANUAL,
    RULES_DIR,
    TMP_PREFIX,
    BackupInfo,
    ProgressFn,
    describe_db,
    no_progress,
)
from client.core import journal
from client.core.store import DB_FILE, Store
from client.errors import StoreError
from client.settings import SETTINGS_FILE


def journal_mark(path: Path) -> dict[str, Any] | None:
    """Where the submission journal stood in a database: its last id and its open entries.

    Kept in the manifest so a restore can tell exactly which entries of the current data
    the backup does not have (clocks and same-second timestamps cannot be trusted for that).
    """
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'submission'"
        ).fetchone():
            return None
        (max_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM submission").fetchone()
        rows = conn.execute(
            "SELECT id, state FROM submission WHERE state NOT IN (?, ?)",
            (journal.ACCEPTED, journal.REJECTED),
        )
        return {"max_id": int(max_id), "open": {str(i): str(state) for i, state in rows}}
    finally:
        conn.close()


def _new_path(folder: Path, now: dt.datetime) -> Path:
    stem = f"socialfee-backup-{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}"
    path, n = folder / f"{stem}{archive.SUFFIX}", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}{archive.SUFFIX}"
    return path


def _data_files(home: Path) -> list[tuple[str, Path]]:
    """Settings and the rule-pack cache: what the backup carries besides the database.

    Only names a restore accepts (client/backup/contents.py) are taken, so every backup
    this client writes can be restored by it.
    """
    files: list[tuple[str, Path]] = []
    if (home / SETTINGS_FILE).is_file():
        files.append((SETTINGS_FILE, home / SETTINGS_FILE))
    rules = home / RULES_DIR
    if rules.is_dir():
        for path in sorted(rules.iterdir()):
            rel = f"{RULES_DIR}/{path.name}"
            if (path.is_file() and not path.is_symlink() and contents.allowed(rel)
                    and path.stat().st_size <= contents.MAX_RULE_FILE):
                files.append((rel, path))
        files = files[: 1 + contents.MAX_RULE_FILES]
    return files


def snapshot(source: Path, dest: Path) -> None:
    """A consistent copy of a live database: one step of SQLite's online backup API.

    One step holds one read transaction, so writers (WAL) go on and the copy never
    restarts. The copy leaves WAL mode so it can later be opened read-only on its own.
    It is not fsynced: it is read back at once, and only the backup file made of it must
    reach the disk.
    """
    try:
        src = sqlite3.connect(str(source), timeout=30)
        try:
            dst = sqlite3.connect(str(dest))
            try:
                dst.execute("PRAGMA synchronous=OFF")
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"生成数据库快照失败（{exc}）。请检查数据目录 {source.parent} 的剩余空间后重试；"
            f"现有数据没有被修改。",
            code="snapshot_failed",
        ) from exc


@dataclass
class PendingBackup:
    """A backup written completely under its hidden ``.partial`` name, not yet named."""

    partial: Path
    info: BackupInfo

    def discard(self) -> None:
        self.partial.unlink(missing_ok=True)


def prepare_backup(
    home: Path,
    folder: Path,
    *,
    password: str | None = None,
    reason: str = "手动备份",
    kind: str = KIND_MANUAL,
    progress: ProgressFn = no_progress,
    frozen: Path | None = None,
    store: Store | None = None,
) -> PendingBackup:
    """Snapshot, checksums, the file written and fsynced; :func:`publish` names it.

    ``frozen``: a database file that nothing writes to meanwhile, read as it is instead of
    a snapshot (the restore's safety backup; the caller proves afterwards it did not change).
    ``store``: in team mode the database is the team's, dumped logically (team.py).
    """
    folder = Path(folder)
    common.mkdir(folder)
    now = dt.datetime.now()
    with tempfile.TemporaryDirectory(dir=home, prefix=TMP_PREFIX) as tmp:
        snap = Path(tmp) / DB_FILE
        if frozen is not None:
            snap = frozen
        elif store is not None and store.team:
            snap = team.dump(store, Path(tmp), progress)
        else:
            progress(0, 0, "正在生成数据库快照…")
            snapshot(home / DB_FILE, snap)
        common.reached("snapshot")
        version, units, tables = describe_db(snap)
        # Small members first: a restore preview reads settings.json without the database.
        files = [*_data_files(home), (DB_FILE, snap)]
        total = sum(p.stat().st_size for _, p in files)
        created = now.isoformat(timespec="milliseconds")
        manifest = {
            "format": archive.FORMAT,
            "app_version": __version__,
            "schema_version": version,
            "created_at": created,
            "kind": kind,
            "reason": reason,
            "units": [asdict(u) for u in units],
            "tables": tables,
            "journal": journal_mark(snap),
        }  # "files" (checksums and sizes) added by archive.write from the bytes it writes
        header = {"created_at": created, "app_version": __version__, "kind": kind, "reason": reason}
        final = _new_path(folder, now)
        partial = folder / f".{final.name}.partial"
        try:
            archive.write(
                partial, header, manifest, files, password=password,
                progress=lambda done, message: progress(min(done, total), total, message),
            )
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise archive.space_error(exc, folder) from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    progress(total, total, "备份已写入")
    return PendingBackup(partial, BackupInfo(
        path=str(final), name=final.name, size=partial.stat().st_size, created_at=created,
        kind=kind, reason=reason, encrypted=bool(password), app_version=__version__,
        schema_version=version, units=units, tables=tables,
    ))


def publish(pending: PendingBackup) -> BackupInfo:
    """Rename the finished file into place: from now on it is a backup the list shows."""
    final = Path(pending.info.path)
    if final.exists():  # another backup took the name meanwhile
        final = _new_path(final.parent, dt.datetime.fromisoformat(pending.info.created_at))
    try:
        os.replace(pending.partial, final)
        archive.fsync_dir(final.parent)
    except OSError as exc:
        pending.discard()
        raise archive.space_error(exc, final.parent) from exc
    return replace(pending.info, path=str(final), name=final.name)


def create_backup(
    home: Path,
    folder: Path,
    *,
    password: str | None = None,
    reason: str = "手动备份",
    kind: str = KIND_MANUAL,
    progress: ProgressFn = no_progress,
    store: Store | None = None,
) -> BackupInfo:
    """Write one complete backup of ``home`` into ``folder`` and describe it (of the team
    database with a team ``store``)."""
    pending = prepare_backup(home, folder, password=password, reason=reason, kind=kind,
                             progress=progress, store=store)
    try:
        common.reached("written")
    except BaseException:
        pending.discard()
        raise
    info = publish(pending)
    common.reached("renamed")
    progress(1, 1, "备份完成")
    return info
