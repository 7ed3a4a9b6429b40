"""Restore in team mode: a backup file's data into the team's PostgreSQL database.

The order protects what the restore replaces and what the other desks are doing:

1. The backup is unpacked and its database checked and migrated in a temporary folder
   (verify.py, as for one desk): a bad file stops here and no desk notices anything.
2. Every desk's sender stops (team.stop_senders): the team-wide flag, then each unit's
   sender lock taken once, so no submission is in flight from any desk.
3. A safety backup of the team data as they are (a logical dump), named before anything
   is replaced; the journal entries the backup lacks are read from that same dump.
4. One transaction empties the client tables, moves the backup's rows in and sets the
   review pause; the restore pause flag goes with the old rows. If anything fails before
   the commit, the flag is lifted and the team data are as they were.
This desk's settings are merged as on one desk and its restore-pause.json is written, so
its page shows the journal to review; the other desks see the review pause in the database.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from client.backup import common, team
from client.backup.common import (
    PAUSE_FILE,
    TMP_PREFIX,
    BackupInfo,
    ProgressFn,
    Services,
    write_json_durably,
)
from client.backup.preview import journal_entries_after, merged_settings, settings_in_backup
from client.backup.schedule import prepare_safety, publish_safety
from client.backup.verify import extract_checked
from client.core import audit, team_state
from client.errors import ConflictError
from client.settings import SETTINGS_FILE

RESTORE_LOCK = ("team_restore", 0)  # one restore of the team data at a time, across desks


def restore_team(
    services: Services, path: Path, password: str | None, info: BackupInfo,
    manifest: dict[str, Any], progress: ProgressFn,
) -> tuple[BackupInfo, tuple[dict[str, Any], ...]]:
    """Steps 1-4 above; returns the safety backup and the journal entries to review."""
    with services.store.unit_lock(*RESTORE_LOCK) as held:
        if not held:
            raise ConflictError("另一台电脑正在从备份恢复团队数据。请等它完成后再试；现有数据没有被修改。",
                                code="restore_running")
        return _restore(services, path, password, info, manifest, progress)


def _restore(
    services: Services, path: Path, password: str | None, info: BackupInfo,
    manifest: dict[str, Any], progress: ProgressFn,
) -> tuple[BackupInfo, tuple[dict[str, Any], ...]]:
    store, home = services.store, services.home
    operator = audit.current_operator()
    reason = f"恢复 {path.name} 之前的安全备份"
    with tempfile.TemporaryDirectory(dir=home, prefix=TMP_PREFIX) as tmp:
        new, current = Path(tmp) / "new", Path(tmp) / "current"
        new.mkdir()
        current.mkdir()
        extract_checked(path, new, password, progress, quick=True, migrate=True)
        common.reached("checked")
        progress(0, 0, "正在暂停各电脑的发送…")
        committed = False
        try:
            team.stop_senders(store, operator, f"从备份 {path.name} 恢复")
            common.reached("senders_stopped")
            dumped = team.dump(store, current, progress)
            newer = journal_entries_after(services, info.created_at, manifest.get("journal"), db=dumped)
            pending = prepare_safety(home, services.settings, reason, progress=progress, frozen=dumped)
            safety = publish_safety(home, services.settings, store, pending, reason, keep=path,
                                    audited=False)
            review = {
                "restored_at": dt.datetime.now().isoformat(timespec="seconds"),
                "backup_file": path.name,
                "backup_created_at": info.created_at,
                "journal_entries": list(newer),
            }
            team.replace_team_data(store, new, review, operator, progress)
            committed = True
        finally:
            if not committed:
                team.resume_senders(store)
        common.reached("replaced")
        settings_file = new / SETTINGS_FILE
        raw = settings_file.read_bytes() if settings_file.exists() else None
        write_json_durably(home / SETTINGS_FILE, merged_settings(services.settings, settings_in_backup(raw)))
    write_json_durably(home / PAUSE_FILE, review)
    return safety, newer


def _restore_running(services: Services) -> bool:
    """Whether a desk is restoring the team data now (it holds the restore lock)."""
    with services.store.unit_lock(*RESTORE_LOCK) as held:
        return not held


def review_pause(services: Services) -> dict[str, Any] | None:
    """The pause after a restore as this desk sees it: its own file, else the team's flag.

    A ``senders_paused`` flag is shown too: ``running`` while a desk restores, else
    ``interrupted`` (the restoring desk went away before its commit: the team data were
    not replaced, and the flag waits for someone to lift it here)."""
    from client.backup.restore import pause_state  # restore.py imports this module

    own = pause_state(services.home)
    if own is not None or not services.store.team:
        return own
    review = team_state.get(services.store, team_state.RESTORE_REVIEW)
    if review is not None:
        return review
    stopping = team_state.get(services.store, team_state.SENDERS_PAUSED)
    if stopping is None:
        return None
    state = "running" if _restore_running(services) else "interrupted"
    return {**stopping, state: True, "journal_entries": []}


def clear_review(services: Services) -> None:
    """核对完成: this desk's file and, in team mode, the team's review pause (and the flag
    of a restore that was interrupted, never that of one under way)."""
    from client.backup.restore import clear_pause

    clear_pause(services.home)
    if not services.store.team:
        return
    team_state.clear(services.store, team_state.RESTORE_REVIEW)
    if team_state.get(services.store, team_state.SENDERS_PAUSED) and not _restore_running(services):
        team_state.clear(services.store, team_state.SENDERS_PAUSED)
