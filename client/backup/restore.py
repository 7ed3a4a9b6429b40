"""Restore: replace the current data by a backup, atomically, never destroying what it protects.

1. The backup is unpacked into ``.sf-restore/new`` inside the data directory under the
   bounds of contents.py (only the database, settings and rules cache; sizes checked
   before writing), every checksum proven.
2. The candidate database is checked on its own terms and migrated there (verify.py);
   settings.json is rebuilt with the security-relevant settings kept (preview.py).
3. Only a candidate that passed gets a safety backup of the current state (its file is
   written beside steps 1-2 but named, and retention run, only after they passed). The
   store's writers wait from here to the swap, so the safety backup reads the database
   file itself (:class:`_Frozen`), and nothing saved meanwhile falls between the two.
4. The store closes and the files are swapped. The commit point is one atomic rename of
   the ``COMMITTED`` marker: killed before it, the next start throws the staging away
   (old data); killed after it, the next start finishes the moves (new data).
The backups and logs folders are never touched.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import sqlite3
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from client.backup import archive, common, contents
from client.backup.common import (
    COMMITTED,
    PAUSE_FILE,
    RULES_DIR,
    STAGING,
    TMP_PREFIX,
    BackupInfo,
    ProgressFn,
    Services,
    no_progress,
    write_json_durably,
)
from client.backup.create import PendingBackup
from client.backup.preview import journal_entries_after, merged_settings, settings_in_backup
from client.backup.restore_team import restore_team
from client.backup.schedule import prepare_safety, publish_safety
from client.backup.team import drop_team_flags
from client.backup.verify import extract_checked, too_new
from client.core import audit, formats, migrations
from client.core.store import DB_FILE
from client.errors import AuthError, ConflictError, ValidationError
from client.settings import SETTINGS_FILE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreResult:
    restored: BackupInfo
    safety_backup: BackupInfo
    schema_version: int
    paused: bool
    newer_journal_entries: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def refuse_if_busy(services: Services, own_job: str | None) -> None:
    busy = [j for j in services.jobs.find(active_only=True) if j.id != own_job]
    if busy:
        raise ConflictError(
            f"「{busy[0].title}」正在进行中。请等它完成后再恢复，以免数据不一致。", code="job_running"
        )


def _refuse_folder_inside(services: Services) -> None:
    """The safety backup must not land where the restore is about to write."""
    folder = common.backup_folder(services.home, services.settings).resolve()
    for name in contents.RESTORED:
        target = (services.home / name).resolve()
        if folder == target or folder.is_relative_to(target):
            raise ValidationError(
                f"自动备份位置 {folder} 位于恢复会替换的 {name} 中，恢复前的安全备份会被覆盖。"
                f"请先在「系统设置 → 备份恢复」中换一个备份位置；现有数据没有被修改。",
                field="backup_folder", code="backup_folder_inside",
            )


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_dir():
            archive.fsync_dir(path)
    archive.fsync_dir(folder)


def _roll_forward(home: Path, *, later: bool = False) -> None:
    """Finish the moves of a committed restore. Idempotent: safe to run again after a crash.

    ``later``: the staging folder (the replaced database in it) is renamed to a temporary
    name and deleted by a helper thread: freeing 200 MB takes a tenth of a second the
    operator need not wait for. A crash before it is gone leaves a temporary folder, which
    the next start deletes (:func:`recover`)."""
    staging = home / STAGING
    plan = json.loads((staging / COMMITTED).read_text(encoding="utf-8"))
    new, old = staging / "new", staging / "old"
    old.mkdir(exist_ok=True)
    # The plan is ours, but only ever these names: never backups/, logs/ or anything else.
    allowed = (*contents.RESTORED, PAUSE_FILE)
    for name in [n for n in plan["remove"] if n in allowed]:
        if (home / name).exists():
            os.replace(home / name, old / name)
    for name in [n for n in plan["move"] if n in allowed]:
        src, dst = new / name, home / name
        if not src.exists():
            continue  # moved before the crash
        if name == DB_FILE:
            # A -wal or -shm left here belongs to the old file: replayed into the new one
            # it would corrupt it.
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{dst}{suffix}").unlink(missing_ok=True)
        if src.is_dir() and dst.exists():
            if (old / name).exists():
                shutil.rmtree(old / name)
            os.replace(dst, old / name)
        os.replace(src, dst)
    archive.fsync_dir(home)
    if not later:
        shutil.rmtree(staging)
        return
    trash = home / f"{TMP_PREFIX}replaced-{uuid.uuid4().hex}"
    os.replace(staging, trash)  # the restore is complete from here: no staging left
    threading.Thread(target=shutil.rmtree, args=(trash,), kwargs={"ignore_errors": True},
                     name="restore-cleanup", daemon=True).start()


def recover(home: Path) -> str | None:
    """At start: finish a committed restore or throw an unfinished one away; drop temp dirs."""
    outcome = None
    staging = home / STAGING
    if staging.exists():
        if (staging / COMMITTED).exists():
            _roll_forward(home)
            outcome = "finished"
            log.warning("finished a restore that was interrupted after its commit point")
        else:
            shutil.rmtree(staging, ignore_errors=True)
            outcome = "discarded"
            log.warning("discarded a restore that was interrupted before its commit point")
    for leftover in home.glob(f"{TMP_PREFIX}*"):
        shutil.rmtree(leftover, ignore_errors=True)
    return outcome


class _Frozen:
    """The current database as a file nothing changes while the restore holds the writers.

    In WAL mode the main file only changes when WAL frames are checkpointed into it. With
    this process's writers held, the WAL checkpointed and truncated, and the WAL still empty
    afterwards (and the file's size, time and inode the same), nothing wrote meanwhile: the
    file read as it is, is a consistent copy, and the safety backup needs no snapshot of it.
    """

    def __init__(self, db: Path) -> None:
        self.db, self.wal = db, Path(f"{db}-wal")
        self.before = self._state()

    @classmethod
    def take(cls, db: Path) -> _Frozen | None:
        """None when a reader or another process kept the WAL from being emptied."""
        try:
            conn = sqlite3.connect(str(db), timeout=1)
            try:
                busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return None
        frozen = cls(db)
        return frozen if busy == 0 and frozen.before[0] == 0 else None

    def _state(self) -> tuple[int, int, int, int]:
        try:
            wal = self.wal.stat().st_size
        except FileNotFoundError:
            wal = 0  # the last connection closed: nothing was in it to fold in
        st = self.db.stat()
        return wal, st.st_size, st.st_mtime_ns, st.st_ino

    def unchanged(self) -> bool:
        return self._state() == self.before


class _SafetyMaker:
    """Writes the safety backup's file beside the unpacking (both only read the current
    data), so the restore costs little more than its two halves' longer one. The file stays
    hidden until :meth:`publish`: a refused candidate leaves no safety backup behind and
    sets off no retention. With the database :class:`_Frozen`, the file is read as it is;
    if it changed after all, the backup is made again from a snapshot."""

    def __init__(self, services: Services, reason: str, frozen: _Frozen | None) -> None:
        self.services, self.reason, self.frozen = services, reason, frozen
        self._pending: PendingBackup | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="safety-backup", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        home, settings = self.services.home, self.services.settings
        try:
            if self.frozen is not None:
                pending = prepare_safety(home, settings, self.reason, frozen=self.frozen.db)
                if self.frozen.unchanged():
                    self._pending = pending
                    return
                pending.discard()
                log.warning("the database changed while the safety backup read it: snapshot instead")
            self._pending = prepare_safety(home, settings, self.reason)
        except BaseException as exc:  # handed to the restoring thread
            self._error = exc

    def publish(self, keep: Path) -> BackupInfo:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._pending is not None
        pending, self._pending = self._pending, None
        svc = self.services
        return publish_safety(svc.home, svc.settings, svc.store, pending, self.reason, keep=keep,
                              audited=False)

    def discard(self) -> None:
        self._thread.join()
        if self._pending is not None:
            self._pending.discard()


def _stage(
    services: Services, path: Path, password: str | None, new: Path, progress: ProgressFn,
    pause: dict[str, Any],
) -> BackupInfo:
    """Unpack and prove the candidate in ``new``; only then is the safety backup named."""
    frozen = _Frozen.take(services.store.path)
    maker = _SafetyMaker(services, f"恢复 {path.name} 之前的安全备份", frozen)
    try:
        extract_checked(path, new, password, progress, quick=True, migrate=True)
        drop_team_flags(new / DB_FILE)
        settings_file = new / SETTINGS_FILE
        raw = settings_file.read_bytes() if settings_file.exists() else None
        write_json_durably(settings_file, merged_settings(services.settings, settings_in_backup(raw)))
        write_json_durably(new / PAUSE_FILE, pause)
        _fsync_tree(new.parent)
        common.reached("checked")
        progress(1, 1, "正在等待恢复前的安全备份完成…")
        return maker.publish(keep=path)
    finally:
        maker.discard()  # nothing left once published


def restore(
    services: Services,
    path: Path,
    password: str | None = None,
    *,
    progress: ProgressFn = no_progress,
    own_job: str | None = None,
) -> RestoreResult:
    """Replace the current data by a backup, atomically, after a safety backup."""
    home, path = services.home, Path(path)
    refuse_if_busy(services, own_job)
    info, manifest = common.inspect_manifest(path, password)
    if manifest is None:
        raise AuthError("该备份已加密，请输入备份密码。", code="backup_needs_password")
    if manifest["schema_version"] > migrations.LATEST:
        raise too_new(info.name, info.app_version, manifest["schema_version"])
    _refuse_folder_inside(services)
    if services.store.team:  # the team's PostgreSQL database: client/backup/restore_team.py
        safety, newer = restore_team(services, path, password, info, manifest, progress)
    else:
        # Read before the swap: once restored, the local data no longer has these entries.
        newer = journal_entries_after(services, info.created_at, manifest.get("journal"))
        pause = {
            "restored_at": dt.datetime.now().isoformat(timespec="seconds"),
            "backup_file": path.name,
            "backup_created_at": info.created_at,
            "journal_entries": list(newer),
        }
        # Writers wait from the safety backup to the swap: nothing saved meanwhile is lost
        # between the two, and the file the safety backup reads stays as it is.
        with services.store.writers_held():
            safety = _stage_and_swap(services, path, password, pause, progress)
    services.settings.reload()
    common.reached("reopened")
    common.mark_good(home, path, info.created_at)
    audit.record(services.store, "从备份恢复", f"{path.name}（创建于 {formats.when(info.created_at)}）；安全备份 {safety.name}")
    return RestoreResult(info, safety, services.store.schema_version, True, newer)


def _stage_and_swap(
    services: Services, path: Path, password: str | None, pause: dict[str, Any],
    progress: ProgressFn,
) -> BackupInfo:
    home = services.home
    staging = home / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    new = staging / "new"
    try:
        new.mkdir(parents=True)
        safety = _stage(services, path, password, new, progress, pause)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise archive.space_error(exc, home) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    common.reached("staged")
    moving = sorted(p.name for p in new.iterdir())
    plan = {"move": moving, "remove": [n for n in (SETTINGS_FILE, RULES_DIR) if n not in moving]}
    progress(1, 1, "正在替换数据…")

    def swap() -> None:
        common.reached("closed")
        try:
            write_json_durably(staging / COMMITTED, plan)  # the commit point
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        common.reached("committed")
        _roll_forward(home, later=True)

    try:
        services.store.reopen(swap)
    finally:
        if not (staging / COMMITTED).exists():
            shutil.rmtree(staging, ignore_errors=True)  # refused before the commit point
    return safety


# --- paused after restore -----------------------------------------------------------------


def pause_state(home: Path) -> dict[str, Any] | None:
    """Set after a restore: sync and sending wait until the operator has seen the journal."""
    try:
        data = json.loads((home / PAUSE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def clear_pause(home: Path) -> None:
    (home / PAUSE_FILE).unlink(missing_ok=True)
