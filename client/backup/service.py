"""Backup, verification and restore of the data directory (see docs/backup.md).

- A backup is one file: a consistent snapshot of the database (SQLite's online backup
  API, so the app keeps running), settings.json and the ``rules/`` folder, with a
  manifest. It is written under a hidden temporary name, fsynced, then renamed: a crash
  never leaves a file that looks like a complete backup.
- A restore extracts into ``.sf-restore/new`` inside the data directory, proves every
  checksum and the database's integrity, makes a safety backup of the current state,
  closes the store and swaps the files in. The commit point is one atomic rename of the
  ``COMMITTED`` marker: killed before it, the next start throws the staging away (old
  data); killed after it, the next start finishes the moves (new data).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from client import __version__
from client.backup import archive, retention
from client.backup.crypto import DamagedBackup
from client.core import audit, journal, migrations
from client.core.store import DB_FILE
from client.errors import ConflictError, JobCancelled, SocialFeeError, StoreError, ValidationError
from client.settings import SETTINGS_FILE, Settings

if TYPE_CHECKING:
    from client.core.jobs import JobRunner
    from client.core.store import Store


class Services(Protocol):
    """The parts of client.services.Services a backup needs (no network, no session)."""

    home: Path
    settings: Settings
    store: Store
    jobs: JobRunner

log = logging.getLogger(__name__)

DEFAULT_DIR = "backups"
RULES_DIR = "rules"
TMP_PREFIX = ".sf-tmp-"
STAGING = ".sf-restore"
COMMITTED = "COMMITTED"
PAUSE_FILE = "restore-pause.json"
STATE_FILE = "backup-state.json"
KIND_MANUAL, KIND_AUTO = "manual", "auto"
KEYRING_SERVICE, KEYRING_USER = "socialfee", "backup-password"

ProgressFn = Callable[[int, int, str], None]


def _no_progress(done: int, total: int, message: str) -> None:
    pass


def _reached(step: str) -> None:
    """A named point of a backup or restore; crash tests kill the process here."""


# --- what a backup holds ----------------------------------------------------------------

# Tables as the restore summary names them; a table not listed here is shown by its name.
TABLE_LABELS = {
    "unit": "单位",
    "enrollment_employee": "职工参保信息",
    "enrollment_change": "参保信息变更记录",
    "feed_cursor": "同步进度",
    "audit_log": "操作日志",
    "notice": "通知公告",
    "rule_pack_cache": "规则包缓存",
    "local_credential": "本机密码",
    "refresh_state": "刷新状态",
    "wage_base_draft": "缴费工资申报草稿",
    "submission": "申报记录（提交日志）",
}


def table_label(name: str) -> str:
    return TABLE_LABELS.get(name, name)


@dataclass(frozen=True)
class UnitSummary:
    name: str
    taxpayer_id: str
    region: str


@dataclass(frozen=True)
class BackupInfo:
    """One backup file as the list, the CLI and the result dialogs show it."""

    path: str
    name: str
    size: int
    created_at: str
    kind: str
    reason: str
    encrypted: bool
    app_version: str
    schema_version: int | None = None  # None: encrypted and no password given
    units: tuple[UnitSummary, ...] = ()
    tables: dict[str, int] = field(default_factory=dict)
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"table_labels": {t: table_label(t) for t in self.tables}}


def describe_db(path: Path) -> tuple[int, tuple[UnitSummary, ...], dict[str, int]]:
    """Schema version, units and row count per table of a database file, read-only."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        tables = {n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}
        units: tuple[UnitSummary, ...] = ()
        if "unit" in tables:
            rows = conn.execute("SELECT name, taxpayer_id, region FROM unit ORDER BY id")
            units = tuple(UnitSummary(*r) for r in rows)
    finally:
        conn.close()
    return int(version), units, tables


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


def _info(path: Path, header: archive.Header, manifest: dict[str, Any] | None) -> BackupInfo:
    data = header.data
    base = dict(
        path=str(path),
        name=path.name,
        size=path.stat().st_size,
        created_at=str(data.get("created_at", "")),
        kind=str(data.get("kind", KIND_MANUAL)),
        reason=str(data.get("reason", "")),
        encrypted=header.encrypted,
        app_version=str(data.get("app_version", "")),
    )
    if manifest is None:
        return BackupInfo(**base)
    return BackupInfo(
        **base,
        schema_version=int(manifest.get("schema_version", 0)),
        units=tuple(UnitSummary(**u) for u in manifest.get("units", [])),
        tables={str(k): int(v) for k, v in manifest.get("tables", {}).items()},
    )


def _require(path: Path) -> None:
    if not path.is_file():
        raise DamagedBackup(f"找不到备份文件 {path}。请检查路径后重试。", code="backup_missing")


def _inspect(path: Path, password: str | None) -> tuple[BackupInfo, dict[str, Any] | None]:
    _require(path)
    with open(path, "rb") as fh:
        header = archive.read_header(fh, path)
    if header.encrypted and not password:
        return _info(path, header, None), None
    header, manifest = archive.read_manifest(path, password)
    return _info(path, header, manifest), manifest


def inspect(path: Path, password: str | None = None) -> BackupInfo:
    """What a backup holds, from its header and manifest (no full decompression)."""
    return _inspect(path, password)[0]


# --- folders, names, settings ----------------------------------------------------------


def default_folder(home: Path) -> Path:
    return home / DEFAULT_DIR


def backup_folder(home: Path, settings: Settings) -> Path:
    chosen = str(settings.get("backup_folder")).strip()
    return Path(chosen).expanduser() if chosen else default_folder(home)


def _new_path(folder: Path, now: dt.datetime) -> Path:
    stem = f"socialfee-backup-{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}"
    path, n = folder / f"{stem}{archive.SUFFIX}", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}{archive.SUFFIX}"
    return path


def _data_files(home: Path) -> list[tuple[str, Path]]:
    """Settings and the rule-pack cache: every file the backup carries besides the db."""
    files: list[tuple[str, Path]] = []
    if (home / SETTINGS_FILE).is_file():
        files.append((SETTINGS_FILE, home / SETTINGS_FILE))
    rules = home / RULES_DIR
    if rules.is_dir():
        for path in sorted(rules.rglob("*")):
            if path.is_file() and not path.is_symlink():
                files.append((path.relative_to(home).as_posix(), path))
    return files


def _snapshot(source: Path, dest: Path) -> None:
    """A consistent copy of a live database: one step of SQLite's online backup API.

    One step holds one read transaction, so writers (WAL) go on and the copy never
    restarts. The copy leaves WAL mode so it can later be opened read-only on its own.
    """
    try:
        src = sqlite3.connect(str(source), timeout=30)
        try:
            dst = sqlite3.connect(str(dest))
            try:
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


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise archive.space_error(exc, folder) from exc


# --- backup -------------------------------------------------------------------------------


def create_backup(
    home: Path,
    folder: Path,
    *,
    password: str | None = None,
    reason: str = "手动备份",
    kind: str = KIND_MANUAL,
    progress: ProgressFn = _no_progress,
) -> BackupInfo:
    """Write one complete backup of ``home`` into ``folder`` and describe it."""
    folder = Path(folder)
    _mkdir(folder)
    now = dt.datetime.now()
    with tempfile.TemporaryDirectory(dir=home, prefix=TMP_PREFIX) as tmp:
        snap = Path(tmp) / DB_FILE
        progress(0, 0, "正在生成数据库快照…")
        _snapshot(home / DB_FILE, snap)
        _reached("snapshot")
        version, units, tables = describe_db(snap)
        files = [(DB_FILE, snap), *_data_files(home)]
        total = 2 * sum(p.stat().st_size for _, p in files)
        hashed = 0

        def on_hash(n: int) -> None:
            nonlocal hashed
            hashed += n
            progress(hashed, total, "正在计算校验和…")

        members = {}
        for name, path in files:
            members[name] = {"sha256": archive.sha256_file(path, on_hash), "size": path.stat().st_size}
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
            "files": members,
        }
        header = {"created_at": created, "app_version": __version__, "kind": kind, "reason": reason}
        final = _new_path(folder, now)
        partial = folder / f".{final.name}.partial"
        try:
            archive.write(
                partial, header, manifest, files, password=password,
                progress=lambda done, message: progress(total // 2 + done, total, message),
            )
            _reached("written")
            os.replace(partial, final)
            archive.fsync_dir(folder)
        except OSError as exc:
            raise archive.space_error(exc, folder) from exc
        finally:
            partial.unlink(missing_ok=True)
    _reached("renamed")
    progress(total, total, "备份完成")
    return BackupInfo(
        path=str(final), name=final.name, size=final.stat().st_size, created_at=created,
        kind=kind, reason=reason, encrypted=bool(password), app_version=__version__,
        schema_version=version, units=units, tables=tables,
    )


def list_backups(folder: Path) -> list[BackupInfo]:
    """Every backup file in ``folder``, newest first; unreadable ones carry ``problem``."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(f"*{archive.SUFFIX}"):
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            found.append(inspect(path))
        except (ValidationError, OSError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            found.append(
                BackupInfo(str(path), path.name, path.stat().st_size, "", "", "", False, "",
                           problem=message)
            )
    return sorted(found, key=lambda b: (b.created_at, b.name), reverse=True)


# --- verify -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    backup: BackupInfo
    checks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"backup": self.backup.to_dict(), "checks": list(self.checks)}


def _integrity(db: Path, name: str, *, quick: bool = False) -> None:
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            pragma = "quick_check" if quick else "integrity_check"
            messages = [r[0] for r in conn.execute(f"PRAGMA {pragma}")]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        messages = [str(exc)]
    if messages != ["ok"]:
        raise DamagedBackup(
            f"备份 {name} 中的数据库未通过完整性检查（{'；'.join(messages[:5])}）。请换一份备份。",
            code="backup_integrity",
        )


def _extract_checked(
    path: Path, target: Path, password: str | None, progress: ProgressFn, *, quick: bool = False
) -> tuple[archive.Header, dict[str, Any]]:
    _require(path)
    size = max(1, path.stat().st_size)
    expected = 0

    def on_bytes(done: int, message: str) -> None:
        progress(min(done, expected or size), expected or size, message)

    header, manifest = archive.read_manifest(path, password)
    expected = sum(int(f.get("size", 0)) for f in manifest["files"].values())
    header, manifest = archive.extract(path, target, password, progress=on_bytes)
    progress(expected, expected, "正在检查数据库完整性…")
    _integrity(target / DB_FILE, path.name, quick=quick)
    return header, manifest


def verify_backup(
    path: Path, work_dir: Path, password: str | None = None, progress: ProgressFn = _no_progress
) -> VerifyResult:
    """Manifest, every checksum, and ``PRAGMA integrity_check`` of the database."""
    path = Path(path)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix=TMP_PREFIX) as tmp:
        header, manifest = _extract_checked(path, Path(tmp), password, progress)
    info = _info(path, header, manifest)
    checks = (
        "文件头与清单完整",
        f"{len(manifest['files'])} 个文件的 SHA-256 校验和一致",
        "数据库完整性检查通过（PRAGMA integrity_check）",
    )
    return VerifyResult(info, checks)


# --- restore ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableChange:
    table: str
    current: int | None
    backup: int | None
    label: str = ""


@dataclass(frozen=True)
class RestorePreview:
    backup: BackupInfo
    current_units: tuple[UnitSummary, ...]
    tables: tuple[TableChange, ...]
    will_migrate: bool
    # Submissions recorded after the backup was made: they would be forgotten locally
    # although the tax side has them. Filled in once the submission journal exists.
    newer_journal_entries: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_JOURNAL_COLUMNS = (
    "s.id, s.unit_id, coalesce(u.name, ''), s.kind, s.state, s.created_at, s.updated_at, "
    "s.summary, s.row_count, s.operator, s.taxside_id"
)


def journal_entries_after(
    services: Services, created_at: str, mark: dict[str, Any] | None = None
) -> tuple[dict[str, Any], ...]:
    """Submission-journal entries of the current data that a backup does not have.

    With the backup's journal mark (see :func:`journal_mark`): entries created after its
    last id, and entries that were open in it and have moved on since. Without one (an
    older backup): entries created or changed since ``created_at``, counting the same
    second as after, because a missed entry could be declared twice and an extra one only
    costs a look.
    """
    conn = sqlite3.connect(f"{services.store.path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'submission'"
        ).fetchone():
            return ()
        base = f"SELECT {_JOURNAL_COLUMNS} FROM submission s LEFT JOIN unit u ON u.id = s.unit_id"
        opened: dict[str, str] = {}
        if mark is not None:
            last = int(mark.get("max_id", 0))
            opened = {str(k): str(v) for k, v in dict(mark.get("open") or {}).items()}
            # Few rows: the new ones and the ones open in the backup (never the whole journal).
            rows = [
                r
                for r in conn.execute(f"{base} WHERE s.id > ? OR s.state NOT IN (?, ?) ORDER BY s.id",
                                      (last, journal.ACCEPTED, journal.REJECTED))
                if r[0] > last or opened.get(str(r[0])) != r[4]
            ]
            # Entries open in the backup and decided since.
            decided = [int(k) for k in opened if int(k) <= last]
            for start in range(0, len(decided), 900):
                chunk = decided[start : start + 900]
                rows += conn.execute(
                    f"{base} WHERE s.id IN ({','.join('?' * len(chunk))}) AND s.state IN (?, ?)",
                    (*chunk, journal.ACCEPTED, journal.REJECTED),
                ).fetchall()
            rows.sort(key=lambda r: r[0])
        else:
            since = created_at[:19]
            rows = conn.execute(
                f"{base} WHERE julianday(s.created_at) >= julianday(?) "
                "OR julianday(s.updated_at) >= julianday(?) ORDER BY s.id",
                (since, since),
            ).fetchall()
    except sqlite3.Error:
        log.warning("could not read the submission journal for the restore summary", exc_info=True)
        return ()
    finally:
        conn.close()
    found = []
    for (id_, unit_id, unit_name, kind, state, created, updated, summary, row_count, operator,
         taxside_id) in rows:
        in_backup = mark is not None and id_ <= int(mark.get("max_id", 0))
        before = opened.get(str(id_)) if in_backup else None
        found.append({
            "id": id_,
            "unit_id": unit_id,
            "unit_name": unit_name,
            "kind": kind,
            "kind_label": journal.KIND_LABELS.get(kind, kind),
            "state": state,
            "state_label": journal.STATE_LABELS.get(state, state),
            "created_at": created,
            "updated_at": updated,
            "summary": summary,
            "row_count": row_count,
            "operator": operator,
            "taxside_id": taxside_id,
            # In the backup with an older state (restored, it shows that state again).
            "in_backup": in_backup,
            "backup_state_label": journal.STATE_LABELS.get(before, before) if before else None,
        })
    return tuple(found)


def _refuse_newer(info: BackupInfo) -> None:
    if info.schema_version is not None and info.schema_version > migrations.LATEST:
        raise StoreError(
            f"备份 {info.name} 由更新版本的 socialfee（{info.app_version}，数据结构版本 "
            f"{info.schema_version}）创建，当前程序只支持到版本 {migrations.LATEST}。"
            f"请先安装新版本 socialfee 再恢复；现有数据没有被修改。",
            code="backup_too_new",
        )


def restore_preview(services: Services, path: Path, password: str | None = None) -> RestorePreview:
    info, manifest = _inspect(Path(path), password)
    if manifest is None:
        archive.read_manifest(Path(path), password)  # raises: the password is needed
    _refuse_newer(info)
    _version, units, current = describe_db(services.store.path)
    # The operator's tables first, in the order of TABLE_LABELS; unknown ones after them.
    order = {name: i for i, name in enumerate(TABLE_LABELS)}
    names = sorted(set(current) | set(info.tables), key=lambda n: (order.get(n, len(order)), n))
    tables = tuple(
        TableChange(n, current.get(n), info.tables.get(n), table_label(n)) for n in names
    )
    return RestorePreview(
        info, units, tables, (info.schema_version or 0) < migrations.LATEST,
        journal_entries_after(services, info.created_at, (manifest or {}).get("journal")),
    )


@dataclass(frozen=True)
class RestoreResult:
    restored: BackupInfo
    safety_backup: BackupInfo
    schema_version: int
    paused: bool
    newer_journal_entries: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _refuse_if_busy(services: Services, own_job: str | None) -> None:
    busy = [j for j in services.jobs.find(active_only=True) if j.id != own_job]
    if busy:
        raise ConflictError(
            f"「{busy[0].title}」正在进行中。请等它完成后再恢复，以免数据不一致。", code="job_running"
        )


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_dir():
            archive.fsync_dir(path)
    archive.fsync_dir(folder)


def _write_json_durably(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    archive.fsync_dir(path.parent)


def _roll_forward(home: Path) -> None:
    """Finish the moves of a committed restore. Idempotent: safe to run again after a crash."""
    staging = home / STAGING
    plan = json.loads((staging / COMMITTED).read_text(encoding="utf-8"))
    new, old = staging / "new", staging / "old"
    old.mkdir(exist_ok=True)
    for name in plan["remove"]:
        if (home / name).exists():
            os.replace(home / name, old / name)
    for name in plan["move"]:
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
    shutil.rmtree(staging)


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


def restore(
    services: Services,
    path: Path,
    password: str | None = None,
    *,
    progress: ProgressFn = _no_progress,
    own_job: str | None = None,
) -> RestoreResult:
    """Replace the current data by a backup, atomically, after a safety backup."""
    home, path = services.home, Path(path)
    _refuse_if_busy(services, own_job)
    info, manifest = _inspect(path, password)
    if manifest is None:
        archive.read_manifest(path, password)
    _refuse_newer(info)
    # Read before the swap: once restored, the local data no longer has these entries.
    newer = journal_entries_after(services, info.created_at, manifest.get("journal") if manifest else None)
    # The safety backup runs beside the unpacking (both only read the current data); the
    # swap waits for both. Checksums prove every byte against the manifest, so the
    # restore runs SQLite's quick_check; 校验 runs the full integrity_check.
    safety_box: dict[str, Any] = {}

    def make_safety() -> None:
        try:
            safety_box["info"] = backup_before(services, f"恢复 {path.name} 之前的安全备份")
        except BaseException as exc:  # handed to the restoring thread
            safety_box["error"] = exc

    maker = threading.Thread(target=make_safety, name="safety-backup", daemon=True)
    maker.start()
    staging = home / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    new = staging / "new"
    try:
        new.mkdir(parents=True)
        header, manifest = _extract_checked(path, new, password, progress, quick=True)
        _refuse_newer(_info(path, header, manifest))
        _write_json_durably(new / PAUSE_FILE, {
            "restored_at": dt.datetime.now().isoformat(timespec="seconds"),
            "backup_file": path.name,
            "backup_created_at": info.created_at,
            "journal_entries": list(newer),
        })
        _fsync_tree(staging)
        progress(1, 1, "正在等待安全备份完成…")
        maker.join()
        if "error" in safety_box:
            raise safety_box["error"]
        safety: BackupInfo = safety_box["info"]
    except OSError as exc:
        maker.join()
        shutil.rmtree(staging, ignore_errors=True)
        raise archive.space_error(exc, home) from exc
    except BaseException:
        maker.join()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _reached("staged")
    moving = sorted(p.name for p in new.iterdir())
    plan = {
        "move": moving,
        "remove": [n for n in (SETTINGS_FILE, RULES_DIR) if n not in moving],
    }
    progress(1, 1, "正在替换数据…")

    def swap() -> None:
        _reached("closed")
        try:
            _write_json_durably(staging / COMMITTED, plan)  # the commit point
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _reached("committed")
        _roll_forward(home)

    try:
        services.store.reopen(swap)
    finally:
        if not (staging / COMMITTED).exists():
            shutil.rmtree(staging, ignore_errors=True)  # refused before the commit point
    services.settings.reload()
    _reached("reopened")
    audit.record(services.store, "从备份恢复", f"{path.name}（创建于 {info.created_at}）；安全备份 {safety.name}")
    return RestoreResult(inspect(path, password), safety, services.store.schema_version, True, newer)


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


# --- automatic backups --------------------------------------------------------------------


_auto_lock = threading.Lock()


def _fingerprint(home: Path) -> list[list[int]]:
    parts = []
    for name in (DB_FILE, f"{DB_FILE}-wal", SETTINGS_FILE):
        try:
            st = (home / name).stat()
            parts.append([st.st_mtime_ns, st.st_size])
        except OSError:
            parts.append([0, 0])
    return parts


def _state(home: Path) -> dict[str, Any]:
    try:
        data = json.loads((home / STATE_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def changed_since_last_backup(home: Path) -> bool:
    return _state(home).get("fingerprint") != _fingerprint(home)


def apply_retention(folder: Path, keep: int, thin: bool, now: dt.datetime | None = None) -> list[str]:
    """Delete automatic backups beyond the count (and thinning); manual ones are never touched."""
    autos = [b for b in list_backups(folder) if b.kind == KIND_AUTO and b.problem is None]
    times = [dt.datetime.fromisoformat(b.created_at) for b in autos]
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
    services: Services, reason: str, *, progress: ProgressFn = _no_progress
) -> BackupInfo:
    """An automatic backup before something risky (restore, full sync, draft import...).

    ``reason`` names the moment, e.g. "全量更新之前". Raises :class:`SafetyBackupFailed`
    (a StoreError, with the cause in Chinese) when the backup cannot be written: the caller
    must not go on with the risky operation then.
    """
    return safety_backup(services.home, services.settings, services.store, reason, progress=progress)


def safety_backup(
    home: Path, settings: Settings, store: Store, reason: str, *, progress: ProgressFn = _no_progress
) -> BackupInfo:
    """:func:`backup_before` for code that holds the parts, not the Services (the session)."""
    with _auto_lock:
        folder = backup_folder(home, settings)
        try:
            info = create_backup(
                home, folder, password=remembered_password(), reason=reason,
                kind=KIND_AUTO, progress=progress,
            )
        except JobCancelled:
            raise  # the operator cancelled the job: not a failure
        except Exception as exc:
            raise _safety_failed(reason, exc, folder) from exc
        apply_retention(folder, settings.get("backup_keep"), bool(settings.get("backup_thin")))
        audit.record(store, "自动备份", f"{reason}：{info.name}")
        _write_json_durably(home / STATE_FILE, {
            "fingerprint": _fingerprint(home), "last_auto_at": info.created_at,
        })
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
    if not services.settings.get("backup_on_exit") or not changed_since_last_backup(services.home):
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
    folder = backup_folder(home, settings)
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
        if hours <= 0 or not changed_since_last_backup(self.services.home):
            return False
        last = _state(self.services.home).get("last_auto_at")
        try:
            return last is None or now - dt.datetime.fromisoformat(last) >= dt.timedelta(hours=hours)
        except ValueError:
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


# --- remembered password (OS keyring only, never in clear) --------------------------------


def keyring_problem() -> str | None:
    """None when a usable keyring backend exists, else why the password cannot be kept."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
            raise RuntimeError(type(backend).__name__)
    except Exception:
        return "本机没有可用的系统密钥环（keyring），无法记住备份密码；密码不会以明文保存，每次请手动输入。"
    return None


def remember_password(password: str) -> None:
    problem = keyring_problem()
    if problem:
        raise ValidationError(problem, field="remember", code="no_keyring")
    import keyring

    keyring.set_password(KEYRING_SERVICE, KEYRING_USER, password)


def remembered_password() -> str | None:
    if keyring_problem():
        return None
    import keyring

    try:
        return keyring.get_password(KEYRING_SERVICE, KEYRING_USER) or None
    except Exception:
        log.warning("keyring lookup failed", exc_info=True)
        return None


def forget_password() -> None:
    if keyring_problem():
        return
    import keyring
    from keyring.errors import PasswordDeleteError

    with contextlib.suppress(PasswordDeleteError):
        keyring.delete_password(KEYRING_SERVICE, KEYRING_USER)
