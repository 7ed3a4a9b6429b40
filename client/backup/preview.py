"""What a restore would change, shown before the operator confirms (settings page and CLI).

Tables (row counts), units, the submission-journal entries the backup does not have, and
every setting that would change. Security-relevant settings (the tax-side address, the
proxy, any folder) are never taken from a backup: a backup must not be able to send the
declaration password to a relay or move where safety backups go. They keep their current
values, and the preview says so next to the value the backup carried.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from client.backup import archive
from client.backup.common import (
    TABLE_LABELS,
    TMP_PREFIX,
    BackupInfo,
    Services,
    UnitSummary,
    describe_db,
    inspect_manifest,
    table_label,
)
from client.backup.verify import too_new
from client.core import journal, migrations
from client.errors import AuthError, ValidationError
from client.settings import SETTINGS, SETTINGS_FILE, Setting, Settings, coerce

log = logging.getLogger(__name__)

# Kept from the current data on every restore, whatever the backup holds. The data location
# too: a backup must not move where this desk saves (a team desk's backup restored on one
# desk, or a crafted one naming someone else's server).
PROTECTED = tuple(s.name for s in SETTINGS
                  if s.name == "taxside_url" or s.name.startswith("proxy_") or "folder" in s.name
                  or s.group == "database")


@dataclass(frozen=True)
class TableChange:
    table: str
    current: int | None
    backup: int | None
    label: str = ""


@dataclass(frozen=True)
class SettingChange:
    """One setting whose value in the backup differs from the current one."""

    name: str
    label: str
    current: str  # as shown: empty is （空）, a proxy password is masked
    backup: str
    kept: bool  # security-relevant: the current value stays after the restore


@dataclass(frozen=True)
class RestorePreview:
    backup: BackupInfo
    current_units: tuple[UnitSummary, ...]
    tables: tuple[TableChange, ...]
    will_migrate: bool
    # Submissions recorded after the backup was made: they would be forgotten locally
    # although the tax side has them.
    newer_journal_entries: tuple[dict[str, Any], ...]
    settings: tuple[SettingChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- settings ---------------------------------------------------------------------------


def settings_in_backup(raw: bytes | None) -> dict[str, Any]:
    """The known, valid settings of a backup's settings.json (the rest falls to defaults,
    as the client itself treats a damaged settings file)."""
    if raw is None:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    known = {s.name: s for s in SETTINGS}
    values = {}
    for name, value in data.items():
        if name in known and isinstance(value, str | int) and not isinstance(value, bool):
            try:
                values[name] = coerce(known[name], value)
            except ValidationError:
                continue
    return values


def merged_settings(current: Settings, from_backup: dict[str, Any]) -> dict[str, Any]:
    """settings.json after a restore: the backup's values, the protected ones kept."""
    kept = {name: current.get(name) for name in PROTECTED}
    return {k: v for k, v in from_backup.items() if k not in PROTECTED} | kept


def _shown(setting: Setting, value: Any) -> str:
    if setting.kind is int and (setting.minimum, setting.maximum) == (0, 1):
        return "是" if value else "否"
    text = str(value)
    if not text:
        return "（空）"
    if "://" in text:
        try:
            parts = urlsplit(text)
            if parts.password:  # never show a proxy password, not even in a preview
                text = text.replace(f":{parts.password}@", ":******@", 1)
        except ValueError:
            pass
    return text


def setting_changes(current: Settings, from_backup: dict[str, Any]) -> tuple[SettingChange, ...]:
    changes = []
    for s in SETTINGS:
        now, then = current.get(s.name), from_backup.get(s.name, s.default)
        if now != then:
            changes.append(SettingChange(s.name, s.label, _shown(s, now), _shown(s, then),
                                         s.name in PROTECTED))
    return tuple(changes)


# --- the submission journal -------------------------------------------------------------


_JOURNAL_COLUMNS = (
    "s.id, s.unit_id, coalesce(u.name, ''), s.kind, s.state, s.created_at, s.updated_at, "
    "s.summary, s.row_count, s.operator, s.taxside_id"
)


def journal_entries_after(
    services: Services, created_at: str, mark: dict[str, Any] | None = None, *,
    db: Path | None = None,
) -> tuple[dict[str, Any], ...]:
    """Submission-journal entries of the current data that a backup does not have.

    With the backup's journal mark (see :func:`journal_mark`): entries created after its
    last id, and entries that were open in it and have moved on since. Without one (an
    older backup): entries created or changed since ``created_at``, counting the same
    second as after, because a missed entry could be declared twice and an extra one only
    costs a look.
    """
    source = db if db is not None else services.store.path
    conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
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
            # The open ones through the state index: state comes after the payload in a row,
            # so testing it on every row reads every payload's overflow pages.
            rows = [
                r
                for r in conn.execute(f"{base} WHERE s.id > ? OR s.id IN (SELECT id FROM submission "
                                      "WHERE state NOT IN (?, ?)) ORDER BY s.id",
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




def restore_preview(services: Services, path: Path, password: str | None = None) -> RestorePreview:
    path = Path(path)
    info, manifest = inspect_manifest(path, password)
    if manifest is None:
        raise AuthError("该备份已加密，请输入备份密码。", code="backup_needs_password")
    if manifest["schema_version"] > migrations.LATEST:
        raise too_new(info.name, info.app_version, manifest["schema_version"])
    if services.store.team:
        return _team_preview(services, path, password, info, manifest)
    _version, units, current = describe_db(services.store.path)
    return _preview(services, path, password, info, manifest, units, current)


def _preview(
    services: Services, path: Path, password: str | None, info: BackupInfo,
    manifest: dict[str, Any], units: tuple[UnitSummary, ...], current: dict[str, int],
    db: Path | None = None,
) -> RestorePreview:
    # The operator's tables first, in the order of TABLE_LABELS; unknown ones after them.
    order = {name: i for i, name in enumerate(TABLE_LABELS)}
    names = sorted(set(current) | set(info.tables), key=lambda n: (order.get(n, len(order)), n))
    tables = tuple(
        TableChange(n, current.get(n), info.tables.get(n), table_label(n)) for n in names
    )
    from_backup = settings_in_backup(archive.read_member(path, password, SETTINGS_FILE))
    return RestorePreview(
        info, units, tables, manifest["schema_version"] < migrations.LATEST,
        journal_entries_after(services, info.created_at, manifest.get("journal"), db=db),
        setting_changes(services.settings, from_backup),
    )


def _team_preview(
    services: Services, path: Path, password: str | None, info: BackupInfo, manifest: dict[str, Any],
) -> RestorePreview:
    """The same preview of the team database, read from a logical dump of one moment."""
    from client.backup import team

    with tempfile.TemporaryDirectory(dir=services.home, prefix=TMP_PREFIX) as tmp:
        dumped = team.dump(services.store, Path(tmp))
        _version, units, current = describe_db(dumped)
        return _preview(services, path, password, info, manifest, units, current, db=dumped)
