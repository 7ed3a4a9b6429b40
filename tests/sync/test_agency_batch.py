"""单位总览's batch actions against the live reference tax side: several units, each with its
own session; a missing and a wrong password, a fault on one unit: the others still finish."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import pytest
from keyring.backend import KeyringBackend

from client.core import agency, audit, journal, passwords
from client.core import fee_declaration as fees
from client.core.paging import PageRequest
from client.errors import ConflictError, NotFoundError, ValidationError
from client.services import Services
from client.sync import agency as batches
from client.sync import fee_declaration as fee_sync
from client.sync.agency import AgencyBatches, BatchUnit
from client.sync.taxclient import TaxClient
from tests.conftest import NEW_PASSWORD, log_in
from tests.taxside_fixtures import LiveTaxSide


@pytest.fixture
def services(engine_services: Services) -> Services:
    """On SQLite and on PostgreSQL (tests/sync/conftest.py)."""
    return engine_services


@pytest.fixture
def five(services: Services, taxside_factory: Any) -> LiveTaxSide:
    """Five units registered here with NEW_PASSWORD; unit 4 is the UI's current unit."""
    live = taxside_factory(units=5, employees=60)
    for n in range(5):
        log_in(services, live, n)
    services.session.popups_shown = True
    return live


def finished(services: Services, runner: AgencyBatches, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while services.jobs.get(job_id).active and time.monotonic() < deadline:
        time.sleep(0.02)
    return runner.view(job_id).to_dict()


def by_unit(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["unit_id"]: line for line in view["lines"]}


def test_one_unit_failing_never_stops_the_others(services: Services, five: LiveTaxSide,
                                                 memory_keyring: KeyringBackend) -> None:
    u = [five.unit(n) for n in range(5)]
    passwords.remember_password(u[0].unit_id, NEW_PASSWORD)
    passwords.remember_password(u[1].unit_id, NEW_PASSWORD)
    five.sim("POST", f"/units/{u[0].unit_id}/hires", {"count": 3})
    five.sim("POST", f"/units/{u[2].unit_id}/hires", {"count": 2})
    five.fault(f"/v1/units/{u[1].unit_id}/enrollment", "error", status=503)
    current = services.session.view().unit
    runner = AgencyBatches(services.session)

    started = runner.start("enrollment", [
        BatchUnit(u[0].unit_id),  # saved in the keyring
        BatchUnit(u[1].unit_id),  # saved, but the tax side fails for it
        BatchUnit(u[2].unit_id, NEW_PASSWORD, remember=True),  # typed, 记住 ticked
        BatchUnit(u[3].unit_id),  # neither typed nor saved
        BatchUnit(u[4].unit_id, "Wrong2025pass"),
    ])
    assert [line["state"] for line in started.to_dict()["lines"]][1:] == ["waiting"] * 4
    view = finished(services, runner, started.job.id)
    lines = by_unit(view)

    assert view["job"]["state"] == "succeeded"
    assert lines[u[0].unit_id]["state"] == "done" and "新增 3 人" in lines[u[0].unit_id]["message"]
    assert lines[u[2].unit_id]["state"] == "done" and "新增 2 人" in lines[u[2].unit_id]["message"]
    assert lines[u[1].unit_id]["state"] == "failed" and lines[u[1].unit_id]["message"]
    assert lines[u[1].unit_id]["state_label"] == "失败"
    assert (lines[u[3].unit_id]["state"], lines[u[3].unit_id]["message"]) == ("failed", "需要输入申报密码")
    assert lines[u[4].unit_id]["state"] == "failed" and "申报密码错误" in lines[u[4].unit_id]["message"]
    assert view["counts"] == {"waiting": 0, "running": 0, "done": 2, "failed": 3}
    # The UI's unit stays as it was; 记住 saved the typed password, nothing else was stored.
    after = services.session.view()
    assert after.entered and after.unit == current
    assert passwords.recall_password(u[2].unit_id) == NEW_PASSWORD
    assert passwords.recall_password(u[4].unit_id) is None
    # The new employees are in the local store, in the overview's counts.
    page, _totals = agency.overview(services.store, PageRequest(1, 50), today=services.session.business_date())
    employees = {r["unit_id"]: r["employees"] for r in page.rows}
    assert employees[u[0].unit_id] == five.sim("GET", "/units")["items"][0]["employees"]
    logged = [(e["action"], e["detail"]) for e in audit.search(PageRequest(size=100)).rows]
    assert any(a == "申报密码错误" and "批量" in d for a, d in logged)
    assert any(a == "批量操作完成" and "完成 2 个，失败 3 个" in d for a, d in logged)

    # Once the fault is gone, the same unit goes through on the next batch.
    five.clear_faults()
    again = finished(services, runner, runner.start("enrollment", [BatchUnit(u[1].unit_id)]).job.id)
    assert by_unit(again)[u[1].unit_id]["state"] == "done"


def declare_waiting(services: Services, live: LiveTaxSide, n: int) -> int:
    """A fee declaration of unit n, sent and 待反馈 (decided once asked about)."""
    unit = live.unit(n)
    local = services.store.db.execute_sql("SELECT id FROM unit WHERE taxside_unit_id = ?", (unit.unit_id,))
    pk = int(local.fetchone()[0])
    with TaxClient(live.url) as client:
        client.login(unit.unit_id, NEW_PASSWORD)
        fee_sync.refresh_summaries(services.store, client, pk, unit.unit_id)
        chosen = [s.summary_id for s in fees.summaries(services.store, pk)]
        entry_id = fees.declare(services.store, pk, chosen, "tester")
        services.session.outbox.send(client, pk, unit.unit_id)
    assert journal.get(services.store, entry_id).state == journal.AWAITING
    return entry_id


def test_feedback_then_arrears_for_several_units(services: Services, five: LiveTaxSide,
                                                 memory_keyring: KeyringBackend) -> None:
    five.sim("PUT", "/settings", {"decision_delay_seconds": 3600})
    entries = {n: declare_waiting(services, five, n) for n in (0, 2)}
    five.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    chosen = [BatchUnit(five.unit(n).unit_id, NEW_PASSWORD) for n in (0, 1, 2)]
    runner = AgencyBatches(services.session)
    page, totals = agency.overview(services.store, PageRequest(1, 50), today=services.session.business_date())
    assert totals.awaiting == 2

    view = finished(services, runner, runner.start("feedback", chosen).job.id)
    lines = by_unit(view)
    assert all(line["state"] == "done" for line in lines.values()), lines
    assert "申报成功 1 笔" in lines[five.unit(0).unit_id]["message"]
    assert lines[five.unit(1).unit_id]["message"] == "无需获取反馈"
    assert all(journal.get(services.store, e).state == journal.ACCEPTED for e in entries.values())

    view = finished(services, runner, runner.start("arrears", chosen).job.id)
    assert all(line["state"] == "done" for line in view["lines"]), view["lines"]
    page, totals = agency.overview(services.store, PageRequest(1, 50, "arrears_amount", True),
                                   today=services.session.business_date())
    with_arrears = {r["unit_id"] for r in page.rows if r["arrears_count"]}
    assert with_arrears == {five.unit(0).unit_id, five.unit(2).unit_id}
    assert page.rows[0]["unit_id"] in with_arrears and page.rows[0]["nearest_deadline"]
    assert totals.awaiting == 0 and totals.arrears_count > 0


def test_feedback_resolves_an_unknown_outcome_by_its_key(services: Services, five: LiveTaxSide) -> None:
    """The answer to a declaration was lost (the connection dropped after the tax side took
    it): 获取全部反馈 asks about its key first, so it ends decided, declared once."""
    five.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = five.unit(3)
    five.fault(f"/v1/units/{unit.unit_id}/fee-declarations", "drop_after_commit", method="POST", count=3)
    local = services.store.db.execute_sql("SELECT id FROM unit WHERE taxside_unit_id = ?", (unit.unit_id,))
    pk = int(local.fetchone()[0])
    with TaxClient(five.url) as client:
        client.login(unit.unit_id, NEW_PASSWORD)
        fee_sync.refresh_summaries(services.store, client, pk, unit.unit_id)
        entry_id = fees.declare(services.store, pk, [s.summary_id for s in fees.summaries(services.store, pk)], "t")
        services.session.outbox.send(client, pk, unit.unit_id)
    assert journal.get(services.store, entry_id).state == journal.UNKNOWN
    five.clear_faults()
    runner = AgencyBatches(services.session)
    view = finished(services, runner, runner.start("feedback", [BatchUnit(unit.unit_id, NEW_PASSWORD)]).job.id)
    [line] = view["lines"]
    assert line["state"] == "done" and "申报成功 1 笔" in line["message"], line
    assert journal.get(services.store, entry_id).state == journal.ACCEPTED
    assert declarations_of(five, unit.unit_id) == 1


def declarations_of(live: LiveTaxSide, unit_id: str) -> int:
    conn = sqlite3.connect(live.db_path)
    try:
        return int(conn.execute(
            "SELECT COUNT(*) FROM fee_declaration d JOIN unit u ON u.id = d.unit_pk WHERE u.unit_id = ?",
            (unit_id,)).fetchone()[0])
    finally:
        conn.close()


def test_start_checks_what_it_is_given(services: Services, five: LiveTaxSide) -> None:
    runner = AgencyBatches(services.session)
    unit = five.unit(0).unit_id
    with pytest.raises(ValidationError):
        runner.start("delete_everything", [BatchUnit(unit)])
    with pytest.raises(ValidationError):
        runner.start("feedback", [])
    with pytest.raises(ValidationError):
        runner.start("feedback", [BatchUnit(unit), BatchUnit(unit)])
    with pytest.raises(NotFoundError):
        runner.start("feedback", [BatchUnit("U-NOT-HERE")])
    with pytest.raises(NotFoundError):  # not among the operator's units
        runner.start("feedback", [BatchUnit(unit, NEW_PASSWORD)], allowed=frozenset({five.unit(1).unit_id}))
    with pytest.raises(ValidationError) as caught:  # 记住 without a keyring is refused, not ignored
        runner.start("feedback", [BatchUnit(unit, NEW_PASSWORD, remember=True)])
    assert caught.value.field == "remember"


def test_one_batch_at_a_time_and_a_units_own_job_is_left_alone(services: Services, five: LiveTaxSide) -> None:
    runner = AgencyBatches(services.session)
    five.fault("/v1/units/", "latency", latency_ms=300, count=1)
    first = runner.start("feedback", [BatchUnit(five.unit(0).unit_id, NEW_PASSWORD)])
    with pytest.raises(ConflictError):
        runner.start("feedback", [BatchUnit(five.unit(1).unit_id, NEW_PASSWORD)])
    finished(services, runner, first.job.id)
    # The current unit's own enrollment update is running: the batch skips that unit.
    current = services.session.view().unit
    assert current is not None
    five.fault(f"/v1/units/{current.unit_id}/enrollment", "latency", latency_ms=1500, count=1)
    own = services.session.start_enrollment_sync("incremental")
    view = finished(services, runner, runner.start("enrollment", [
        BatchUnit(current.unit_id, NEW_PASSWORD), BatchUnit(five.unit(0).unit_id, NEW_PASSWORD),
    ]).job.id)
    lines = by_unit(view)
    assert lines[current.unit_id]["state"] == "failed" and "正在进行中" in lines[current.unit_id]["message"]
    assert lines[five.unit(0).unit_id]["state"] == "done"
    while services.jobs.get(own.id).active:
        time.sleep(0.02)


def test_switch_without_asking_again_only_after_a_check_in_this_start(services: Services,
                                                                      five: LiveTaxSide) -> None:
    session = services.session
    target = five.unit(1).unit_id
    assert batches.switch_checked(session, target)  # logged in earlier in this start
    view = session.view()
    assert view.entered and view.unit is not None and view.unit.unit_id == target
    session.checked.clear()  # as after a restart
    assert not batches.switch_checked(session, five.unit(2).unit_id)
    assert session.view().unit.unit_id == target  # nothing changed
    session.checked[five.unit(3).unit_id] = "Changed2025x"  # changed elsewhere since
    assert not batches.switch_checked(session, five.unit(3).unit_id)
    assert five.unit(3).unit_id not in session.checked
