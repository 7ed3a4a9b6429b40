"""The scheduled incremental enrollment update: when it runs and when it must not."""

from __future__ import annotations

import json
import time

import pytest

from client.backup import service as backup_service
from client.services import Services
from client.sync.scheduler import JOB_ID, OUTBOX_JOB_ID, SyncScheduler, scheduled_enrollment_update
from client.sync.session import ENROLLMENT_SYNC
from tests.conftest import log_in


@pytest.fixture
def services(engine_services: Services) -> Services:
    """On SQLite and on PostgreSQL (tests/sync/conftest.py)."""
    return engine_services


def wait_idle(services: Services) -> None:
    deadline = time.monotonic() + 20
    while services.jobs.find(active_only=True) and time.monotonic() < deadline:
        time.sleep(0.02)


def test_tick_updates_an_entered_unit_and_picks_up_changes(services: Services, taxside_factory) -> None:
    assert scheduled_enrollment_update(services) is False  # nobody logged in
    live = taxside_factory(units=1, employees=40)
    unit = log_in(services, live, index=0)
    live.sim("POST", f"/units/{unit.unit_id}/hires", {"count": 3})
    assert scheduled_enrollment_update(services) is True
    wait_idle(services)
    job = services.jobs.find(kind=ENROLLMENT_SYNC)[0]
    assert job.state == "succeeded" and job.result["added"] == 3
    (count,) = services.store.db.execute_sql(
        "SELECT count(*) FROM enrollment_employee WHERE removed = 0"
    ).fetchone()
    assert count == 43


def test_no_scheduled_update_while_paused_after_restore(services: Services, taxside_factory) -> None:
    live = taxside_factory(units=1, employees=10)
    log_in(services, live, index=0)
    (services.home / backup_service.PAUSE_FILE).write_text(json.dumps({"since": "now"}), encoding="utf-8")
    assert backup_service.pause_state(services.home) is not None
    assert scheduled_enrollment_update(services) is False


def test_scheduler_registers_the_interval_from_settings(services: Services) -> None:
    services.settings.update({"enrollment_sync_minutes": 15, "outbox_minutes": 3})
    scheduler = SyncScheduler(services)
    scheduler.start()
    try:
        jobs = {job.id: job for job in scheduler._scheduler.get_jobs()}
        assert jobs[JOB_ID].trigger.interval.total_seconds() == 15 * 60
        assert jobs[OUTBOX_JOB_ID].trigger.interval.total_seconds() == 3 * 60
    finally:
        scheduler.stop()
    services.settings.update({"enrollment_sync_minutes": 0, "outbox_minutes": 0})
    off = SyncScheduler(services)
    off.start()
    try:
        assert off._scheduler.get_jobs() == []
    finally:
        off.stop()
