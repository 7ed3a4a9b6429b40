"""The services the composition root (client/app.py) builds and hands to views and jobs.

Kept apart from client/app.py so that api/, sync/ and backup/ can name the container
without importing the composition root (which imports them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from client.core.jobs import JobRunner
from client.core.store import Store
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

    def __post_init__(self) -> None:
        self.session = SessionManager(self.store, self.settings, self.jobs)

    def close(self) -> None:
        self.session.close()
        self.jobs.shutdown()
        self.store.close()
