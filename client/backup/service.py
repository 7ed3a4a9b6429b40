"""The backup package's one import for callers: ``from client.backup import service``.

A thin facade over the stages (common.py, create.py, verify.py, preview.py, restore.py,
schedule.py, secret.py); see docs/backup.md. New code may import a stage directly.
"""

from __future__ import annotations

from client.backup.common import (
    COMMITTED,
    DEFAULT_DIR,
    KIND_AUTO,
    KIND_MANUAL,
    PAUSE_FILE,
    RULES_DIR,
    STAGING,
    STATE_FILE,
    TABLE_LABELS,
    TMP_PREFIX,
    BackupInfo,
    ProgressFn,
    Services,
    UnitSummary,
    backup_folder,
    default_folder,
    describe_db,
    inspect,
    list_backups,
    table_label,
)
from client.backup.common import read_state as _state
from client.backup.create import create_backup, journal_mark
from client.backup.preview import (
    PROTECTED,
    RestorePreview,
    SettingChange,
    TableChange,
    journal_entries_after,
    restore_preview,
)
from client.backup.restore import RestoreResult, clear_pause, pause_state, recover, restore
from client.backup.schedule import (
    PeriodicBackup,
    SafetyBackupFailed,
    apply_retention,
    backup_before,
    backup_before_migration,
    backup_on_exit,
    changed_since_last_backup,
    safety_backup,
)
from client.backup.secret import (
    forget_password,
    keyring_problem,
    remember_password,
    remembered_password,
)
from client.backup.verify import VerifyResult, verify_backup

__all__ = [
    "COMMITTED", "DEFAULT_DIR", "KIND_AUTO", "KIND_MANUAL", "PAUSE_FILE", "PROTECTED", "RULES_DIR",
    "STAGING", "STATE_FILE", "TABLE_LABELS", "TMP_PREFIX", "BackupInfo", "PeriodicBackup",
    "ProgressFn", "RestorePreview", "RestoreResult", "SafetyBackupFailed", "Services",
    "SettingChange", "TableChange", "UnitSummary", "VerifyResult", "_state", "apply_retention",
    "backup_before", "backup_before_migration", "backup_folder", "backup_on_exit",
    "changed_since_last_backup", "clear_pause", "create_backup", "default_folder", "describe_db",
    "forget_password", "inspect", "journal_entries_after", "journal_mark", "keyring_problem",
    "list_backups", "pause_state", "recover", "remember_password", "remembered_password",
    "restore", "restore_preview", "safety_backup", "table_label", "verify_backup",
]
