"""The services the composition root (client/app.py) builds and hands to views and jobs.

Kept apart from client/app.py so that api/, sync/ and backup/ can name the container
without importing the composition root (which imports them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from client.core.jobs import JobRunner
from client.core.store import Store
from client.core.upgrade import UpgradeService
from client.settings import Settings
from client.sync.session import SessionManager


@dataclass
class Services:
    home: Path
    settings: Settings
    store: Store
    jobs: JobRunner
    log_path: Path
    # The logged-in unit and its token: in memory only (client/sync/session.py).
    session: SessionManager = field(init=False)
    upgrade: UpgradeService = field(init=False)

    def __post_init__(self) -> None:
        self.session = SessionManager(self.store, self.settings, self.jobs)
        self.upgrade = UpgradeService(self.home, self.settings, self.jobs, self._backup_before)

    def _backup_before(self, reason: str) -> object:
        from client.backup import service as backup_service  # backup uses core, not the reverse

        return backup_service.safety_backup(self.home, self.settings, self.store, reason)

    def close(self) -> None:
        self.session.close()
        self.jobs.shutdown()
        self.store.close()
