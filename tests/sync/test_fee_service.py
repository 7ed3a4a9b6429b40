"""The fee-declaration service the pages will call, through a real login (session, jobs,
the one sender) against the live tax side."""

from __future__ import annotations

import time
from typing import Any

import pytest

from client.core import journal
from client.errors import ValidationError
from client.sync.fee_declaration import FeeDeclarationService
from tests.conftest import log_in


def settle(services) -> None:
    deadline = time.monotonic() + 30
    while services.jobs.find(active_only=True) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not services.jobs.find(active_only=True)


@pytest.fixture
def services(engine_services: Any) -> Any:
    """On SQLite and on PostgreSQL (tests/sync/conftest.py)."""
    return engine_services


@pytest.fixture
def live(services, taxside_factory):
    ts = taxside_factory(units=3, employees=40)
    ts.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    log_in(services, ts)
    services.session.popups_shown = True
    return ts


def test_refresh_check_declare_records_void(services, live) -> None:
    fees = FeeDeclarationService(services.session)
    refreshed = fees.refresh()
    assert refreshed.count and "待申报" in refreshed.message
    chosen = fees.summaries("daily", {})
    ids = [s.summary_id for s in chosen]
    page = fees.details_page(ids[0], 1, 10)
    assert page.total == chosen[0].headcount and len(page.items) == min(10, page.total)
    with pytest.raises(ValidationError):
        fees.details_page(ids[0], 0, 10)

    first = fees.check(ids)
    assert first.ok and "人员明细未下载" in first.message, first.message
    fees.start_download_details(ids)
    settle(services)
    checked = fees.check(ids)
    assert checked.ok and all(i.details_checked for i in checked.items), checked.message

    entry_id = fees.declare(ids, "财务")
    settle(services)  # the sender ran, and fetched feedback
    assert journal.get(services.store, entry_id).state == journal.ACCEPTED
    job = fees.start_records_sync()
    settle(services)
    result = services.jobs.get(job.id).result
    assert result["count"] == 1 and result["send"]["paused"] is False
    (row,) = fees.records({}).rows
    assert row["status_label"] == "申报成功" and row["entry_id"] == entry_id

    fees.request_void(row["declaration_id"], "申报有误", "财务")
    settle(services)
    (row,) = fees.records({}).rows
    assert row["status_label"] == "已作废"
    assert fees.records({"status": "voided"}).total == 1
    with pytest.raises(ValidationError, match="日期范围"):
        fees.start_records_sync("2024-01-01", "2025-03-15")
