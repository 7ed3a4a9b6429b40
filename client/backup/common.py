"""Shared by every stage of backup and restore: names, what a backup is, how it is listed.

The stages live in their own modules, as a sync is split by stage: create.py (write a
backup), verify.py (check one, and the candidate database of a restore), restore.py
(preview, restore, recovery at start), schedule.py (automatic backups and retention).
Nothing here imports client.app or client.services: the stages name the parts they need
as the :class:`Services` protocol.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from client.backup import archive
from client.backup.contents import RULES_DIR
from client.backup.crypto import DamagedBackup
from client.errors import ValidationError
from client.settings import Settings

if TYPE_CHECKING:
    from client.core.jobs import JobRunner
    from client.core.store import Store

__all__ = ["RULES_DIR"]


class Services(Protocol):
    """The parts of client.services.Services a backup needs (no network, no session)."""

    home: Path
    settings: Settings
    store: Store
    jobs: JobRunner


DEFAULT_DIR = "backups"
TMP_PREFIX = ".sf-tmp-"
STAGING = ".sf-restore"
COMMITTED = "COMMITTED"
PAUSE_FILE = "restore-pause.json"
STATE_FILE = "backup-state.json"
KIND_MANUAL, KIND_AUTO = "manual", "auto"

ProgressFn = Callable[[int, int, str], None]


def no_progress(done: int, total: int, message: str) -> None:
    pass


def _reached(step: str) -> None:
    """A named point of a backup or restore; crash tests replace this to kill the process."""


def reached(step: str) -> None:
    _reached(step)  # looked up at call time, so a replaced hook is honoured


# --- what a backup holds ----------------------------------------------------------------

from client.core.tables import TABLE_LABELS, table_label  # noqa: E402, F401  (shown names of tables)


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


def info_of(path: Path, header: archive.Header, manifest: dict[str, Any] | None) -> BackupInfo:
    """The list entry of a backup; ``manifest`` has passed contents.check_manifest."""
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
        schema_version=manifest["schema_version"],
        units=tuple(UnitSummary(**u) for u in manifest["units"]),
        tables={str(k): int(v) for k, v in manifest.get("tables", {}).items()},
    )


def require(path: Path) -> None:
    if not path.is_file():
        raise DamagedBackup(f"找不到备份文件 {path}。请检查路径后重试。", code="backup_missing")


def inspect_manifest(path: Path, password: str | None) -> tuple[BackupInfo, dict[str, Any] | None]:
    """The list entry and manifest (None: encrypted and no password given)."""
    require(path)
    with open(path, "rb") as fh:
        header = archive.read_header(fh, path)
    if header.encrypted and not password:
        return info_of(path, header, None), None
    header, manifest = archive.read_manifest(path, password)
    return info_of(path, header, manifest), manifest


def inspect(path: Path, password: str | None = None) -> BackupInfo:
    """What a backup holds, from its header and manifest (no full decompression)."""
    return inspect_manifest(path, password)[0]


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


# --- folders and small files ------------------------------------------------------------


def default_folder(home: Path) -> Path:
    return home / DEFAULT_DIR


def backup_folder(home: Path, settings: Settings) -> Path:
    chosen = str(settings.get("backup_folder")).strip()
    return Path(chosen).expanduser() if chosen else default_folder(home)


def mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise archive.space_error(exc, folder) from exc


def write_json_durably(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    archive.fsync_dir(path.parent)


def read_state(home: Path) -> dict[str, Any]:
    """backup-state.json: the last automatic backup and the last backup proven good."""
    try:
        data = json.loads((home / STATE_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def update_state(home: Path, **changes: Any) -> None:
    write_json_durably(home / STATE_FILE, read_state(home) | changes)


def mark_good(home: Path, path: Path, created_at: str) -> None:
    """``path`` restored or verified cleanly: retention keeps the newest such backup."""
    state = read_state(home)
    kept = state.get("proven_good")
    newer = str(created_at) >= str(state.get("proven_good_created_at", ""))
    if isinstance(kept, str) and Path(kept).exists() and not newer:
        return
    # It only guides retention: the restore or the check itself has succeeded either way.
    with contextlib.suppress(OSError):
        update_state(home, proven_good=str(Path(path).resolve()), proven_good_created_at=created_at)


def proven_good(home: Path) -> Path | None:
    kept = read_state(home).get("proven_good")
    return Path(kept) if isinstance(kept, str) else None
