"""Scheduled work (apscheduler): the incremental enrollment update every N minutes, and the
sender of the submission journal with feedback polling every M minutes.

The manual warns that a long session misses enrollment changes made meanwhile; this job
removes that warning. It runs only for an entered, online unit, and never while sync is
paused after a restore (the operator must look at the journal first).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

from client.backup import service as backup_service
from client.core import journal, team_state
from client.errors import SocialFeeError

if TYPE_CHECKING:
    from client.services import Services

log = logging.getLogger(__name__)

JOB_ID = "enrollment_incremental"
OUTBOX_JOB_ID = "outbox"


def _paused(services: Services) -> bool:
    """Paused after a restore: this desk's file, or in team mode the team's flags (a restore
    under way or not yet reviewed, set by any desk)."""
    return (backup_service.pause_state(services.home) is not None
            or team_state.senders_paused(services.store) is not None)


def scheduled_enrollment_update(services: Services) -> bool:
    """One tick: start an incremental update when one may run; True when it was started."""
    view = services.session.view()
    if not view.entered or view.offline:
        return False
    if _paused(services):
        return False
    try:
        services.session.start_enrollment_sync("incremental")
    except SocialFeeError as exc:  # already running, offline, logged out meanwhile
        log.info("scheduled enrollment update not started: %s", exc.code)
        return False
    return True


def scheduled_outbox(services: Services) -> bool:
    """One tick: send queued entries and fetch feedback for 待反馈 ones, when there are any."""
    view = services.session.view()
    if not view.entered or view.offline or view.unit is None or view.unit.local_id is None:
        return False
    if _paused(services):
        return False
    if not any(journal.count_open(services.store, view.unit.local_id).values()):
        return False
    try:
        services.session.start_outbox(feedback=True)
    except SocialFeeError as exc:
        log.info("scheduled outbox not started: %s", exc.code)
        return False
    return True


class SyncScheduler:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._scheduler = BackgroundScheduler(daemon=True)

    def start(self) -> None:
        minutes = int(self.services.settings.get("enrollment_sync_minutes"))
        if minutes > 0:
            self._scheduler.add_job(
                scheduled_enrollment_update,
                "interval",
                minutes=minutes,
                args=[self.services],
                id=JOB_ID,
                max_instances=1,
                coalesce=True,
            )
        outbox_minutes = int(self.services.settings.get("outbox_minutes"))
        if outbox_minutes > 0:
            self._scheduler.add_job(
                scheduled_outbox,
                "interval",
                minutes=outbox_minutes,
                args=[self.services],
                id=OUTBOX_JOB_ID,
                max_instances=1,
                coalesce=True,
            )
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.shutdown(wait=False)
