"""Automatic backups: before risky operations, on exit, periodically; and their retention.

Retention deletes automatic backups only, and never the newest backup that restored or
verified cleanly (common.mark_good): a run of bad automatic backups must not push the
last good one out.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Any

from client.backup import archive, common, retention, team
from client.backup.common import KIND_AUTO, BackupInfo, ProgressFn, Services, no_progress
from client.backup.create import PendingBackup, create_backup, prepare_backup, publish
from client.backup.secret import remembered_password
from client.core import audit, migrations
from client.core.store import DB_FILE, Store
from client.errors import ConflictError, JobCancelled, SocialFeeError, StoreError
from client.settings import SETTINGS_FILE, Settings

log = logging.getLogger(__name__)

# One automatic backup at a time (re-entrant: safety_backup holds it across both steps).
_auto_lock = threading.RLock()


def _fingerprint(home: Path, store: Store | None = None) -> list[list[int]]:
    parts = []
    names: tuple[str, ...] = (DB_FILE, f"{DB_FILE}-wal", SETTINGS_FILE)
    if store is not None and store.team:  # the shared database, changed by any desk
        parts.append([team.change_count(store), 0])
        names = (SETTINGS_FILE,)
    for name in names:
        try:
            st = (home / name).stat()
            parts.append([st.st_mtime_ns, st.st_size])
        except OSError:
            parts.append([0, 0])
    return parts


def changed_since_last_backup(home: Path, store: Store | None = None) -> bool:
    return common.read_state(home).get("fingerprint") != _fingerprint(home, store)


def apply_retention(
    folder: Path, keep: int, thin: bool, now: dt.datetime | None = None, *,
    protect: tuple[Path | None, ...] = (),
) -> list[str]:
    """Delete automatic backups beyond the count (and thinning); manual ones are never
    touched, nor those in ``protect`` (the newest backup proven good, the one restoring)."""
    shielded = {p.resolve() for p in protect if p is not None}
    autos = [
        b for b in common.list_backups(folder)
        if b.kind == KIND_AUTO and b.problem is None and Path(b.path).resolve() not in shielded
    ]
    times = []
    for b in autos:
        try:
            times.append(dt.datetime.fromisoformat(b.created_at))
        except ValueError:
            times.append(dt.datetime.min)  # an unreadable time counts as the oldest
    doomed = retention.to_delete(times, now or dt.datetime.now(), keep, thin)
    removed = []
    for i in sorted(doomed):
        Path(autos[i].path).unlink(missing_ok=True)
        removed.append(autos[i].name)
    return removed


class SafetyBackupFailed(StoreError):
    """The automatic backup before a risky operation failed: the operation must not run."""

    code = "safety_backup_failed"


def backup_before(
    services: Services, reason: str, *, progress: ProgressFn = no_progress,
    keep: Path | None = None,
) -> BackupInfo:
    """An automatic backup before something risky (restore, full sync, draft import...).

    ``reason`` names the moment, e.g. "全量更新之前". Raises :class:`SafetyBackupFailed`
    (a StoreError, with the cause in Chinese) when the backup cannot be written: the caller
    must not go on with the risky operation then. ``keep``: a backup retention must not
    delete this time (the one a restore is about to bring back).
    """
    return safety_backup(services.home, services.settings, services.store, reason,
                         progress=progress, keep=keep)


def safety_backup(
    home: Path, settings: Settings, store: Store, reason: str, *, progress: ProgressFn = no_progress,
    keep: Path | None = None,
) -> BackupInfo:
    """:func:`backup_before` for code that holds the parts, not the Services (the session)."""
    with _auto_lock:
        pending = prepare_safety(home, settings, reason, progress=progress, store=store)
        info = publish_safety(home, settings, store, pending, reason, keep=keep)
    progress(1, 1, "备份完成")
    return info


def prepare_safety(
    home: Path, settings: Settings, reason: str, *, progress: ProgressFn = no_progress,
    frozen: Path | None = None, store: Store | None = None,
) -> PendingBackup:
    """The file of an automatic backup, written but not yet named (nothing visible yet)."""
    folder = common.backup_folder(home, settings)
    try:
        return prepare_backup(
            home, folder, password=remembered_password(), reason=reason, kind=KIND_AUTO,
            progress=progress, frozen=frozen, store=store,
        )
    except JobCancelled:
        raise  # the operator cancelled the job: not a failure
    except Exception as exc:
        raise _safety_failed(reason, exc, folder) from exc


def publish_safety(
    home: Path, settings: Settings, store: Store, pending: PendingBackup, reason: str, *,
    keep: Path | None = None, audited: bool = True,
) -> BackupInfo:
    """Name a prepared automatic backup, then retention, the audit log and the state.

    ``audited=False``: the caller's own audit entry names it (a restore: an entry written
    here would go into the database the restore is about to replace)."""
    with _auto_lock:
        folder = Path(pending.info.path).parent
        try:
            info = publish(pending)
        except Exception as exc:
            raise _safety_failed(reason, exc, folder) from exc
        apply_retention(folder, settings.get("backup_keep"), bool(settings.get("backup_thin")),
                        protect=(common.proven_good(home), keep))
        if audited:
            audit.record(store, "自动备份", f"{reason}：{info.name}")
        common.update_state(home, fingerprint=_fingerprint(home, store), last_auto_at=info.created_at)
        return info


def _safety_failed(
    reason: str, exc: Exception, folder: Path,
    then: str = "请处理上述问题（或在「系统设置 → 备份恢复」中换一个备份位置）后重试。",
) -> SafetyBackupFailed:
    if isinstance(exc, SocialFeeError):
        cause = exc.message
    elif isinstance(exc, OSError):
        cause = archive.space_error(exc, folder).message
    else:
        log.error("automatic backup (%s) failed", reason, exc_info=exc)
        cause = f"程序内部错误（{type(exc).__name__}），详情已记录在日志中。"
    return SafetyBackupFailed(
        f"自动备份（{reason}）没有完成：{cause} 为保护现有数据，本次操作已中止，没有做任何修改；{then}"
    )


def backup_on_exit(services: Services) -> BackupInfo | None:
    """The manual's 退出时自动备份 (skipped when nothing changed since the last backup)."""
    if not services.settings.get("backup_on_exit") or not changed_since_last_backup(services.home, services.store):
        return None
    try:
        return backup_before(services, "退出时自动备份")
    except Exception:
        log.exception("automatic backup on exit failed")
        return None


def backup_before_migration(home: Path, settings: Settings) -> BackupInfo | None:
    """Before the store upgrades an existing database, keep a copy of it as it was."""
    db = home / DB_FILE
    if not db.exists() or db.stat().st_size == 0:
        return None
    from client.core.store import inspect_version

    version = inspect_version(db)
    if version >= migrations.LATEST:
        return None  # up to date, or too new (the store refuses it untouched)
    folder = common.backup_folder(home, settings)
    reason = f"升级数据结构（版本 {version} → {migrations.LATEST}）之前"
    try:
        return create_backup(
            home, folder, password=remembered_password(), reason=reason, kind=KIND_AUTO
        )
    except Exception as exc:  # no upgrade without the copy: the start stops here
        raise _safety_failed(reason, exc, folder, "请处理上述问题后重新启动程序。") from exc


class PeriodicBackup:
    """Every ``backup_interval_hours``, a backup job when something changed."""

    def __init__(self, services: Services, tick_seconds: float = 60.0) -> None:
        self.services, self.tick = services, tick_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="auto-backup", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def due(self, now: dt.datetime) -> bool:
        hours = int(self.services.settings.get("backup_interval_hours"))
        if hours <= 0 or not changed_since_last_backup(self.services.home, self.services.store):
            return False
        last = common.read_state(self.services.home).get("last_auto_at")
        try:
            return last is None or now - dt.datetime.fromisoformat(last) >= dt.timedelta(hours=hours)
        except (TypeError, ValueError):
            return True

    def _job(self, ctx: object) -> dict[str, Any]:
        return backup_before(self.services, "定时自动备份").to_dict()

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                if self.due(dt.datetime.now()):
                    self.services.jobs.start("backup", "定时自动备份", self._job)
            except ConflictError:
                pass  # a backup is running already, or the app is closing
            except Exception:
                log.exception("periodic backup check failed")
