"""The submission journal's sender against the live reference tax side: exactly one
submission on the tax side whatever happens to the connection or to the client, for every
kind (payroll-base declarations, fee declarations, voids)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.core import fee_declaration as fees
from client.core import journal, wage_base, wage_context, wage_submit
from client.core.paging import PageRequest
from client.core.store import Store
from client.sync.enrollment import EnrollmentSync
from client.sync.outbox import Outbox
from client.sync.taxclient import TaxClient
from rules.packs import load_pack
from tests.sync.conftest import NEW_PASSWORD
from tests.sync.fee_helpers import declare_all, taxside_count
from tests.taxside_fixtures import LiveTaxSide

TODAY = dt.date(2025, 3, 15)


def declarations(taxside: LiveTaxSide) -> int:
    conn = sqlite3.connect(taxside.db_path)
    try:
        return int(conn.execute("SELECT count(*) FROM wage_base_declaration").fetchone()[0])
    finally:
        conn.close()


def draft_entry(store: Store, client: TaxClient, unit, unit_pk: int, base: str = "9000", count: int = 5) -> int:
    """Sync the unit, put `count` employees in the daily draft with `base`, submit: entry id."""
    EnrollmentSync(store, client, unit_pk, unit.unit_id).run("full")
    ctx = wage_context.DraftContext(unit_pk, "daily", load_pack(unit.region), TODAY, False)
    wage_base.add_all_normal(store, ctx)
    rows = wage_base.search(store, ctx, PageRequest(size=500), wage_base.DraftFilter()).rows
    keep = [r["id"] for r in rows[:count]]
    wage_base.delete_rows(store, ctx, [r["id"] for r in rows[count:]] or [0])
    wage_base.batch_modify(store, ctx, keep, amount=base, effective_month="202503")
    return wage_submit.submit(store, ctx, "tester", confirmed=True)


@pytest.fixture
def outbox(store: Store, tmp_path: Path) -> Outbox:
    return Outbox(store, tmp_path)


@dataclass
class Case:
    """One journal entry of a kind, waiting to be sent, and where its request goes."""

    kind: str
    entry_id: int
    path: str  # the POST it makes (fault injection matches on it)
    table: str  # the tax side's table that holds one row per received submission
    taxside: LiveTaxSide

    def count(self) -> int:
        return taxside_count(self.taxside, self.table)


@pytest.fixture(params=["wage_base_daily", "fee_declaration", "fee_void"])
def case(request, taxside, client, store, unit, unit_pk, tmp_path) -> Case:
    units = f"/v1/units/{unit.unit_id}"
    if request.param == "wage_base_daily":
        entry_id = draft_entry(store, client, unit, unit_pk)
        return Case(request.param, entry_id, f"{units}/wage-base-declarations", "wage_base_declaration", taxside)
    entry_id = declare_all(store, client, unit, unit_pk)
    if request.param == "fee_declaration":
        return Case(request.param, entry_id, f"{units}/fee-declarations", "fee_declaration", taxside)
    # A void needs a successful declaration first.
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    sender = Outbox(store, tmp_path / "setup")
    sender.send(client, unit_pk, unit.unit_id)
    assert sender.fetch_feedback(client, unit_pk, unit.unit_id).accepted == 1
    declaration_id = str(journal.get(store, entry_id).taxside_id)
    void_id = fees.request_void(store, unit_pk, declaration_id, "申报有误", "tester")
    return Case(request.param, void_id, f"{units}/fee-declarations/{declaration_id}/voids", "fee_void", taxside)


def test_send_then_feedback_accepted_and_base_flows_back(taxside, client, store, unit, unit_pk, outbox) -> None:
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    entry_id = draft_entry(store, client, unit, unit_pk)
    report = outbox.send(client, unit_pk, unit.unit_id)
    assert (report.sent, report.waiting) == (1, 0)
    entry = journal.get(store, entry_id)
    assert entry.state == journal.AWAITING and entry.taxside_id
    feedback = outbox.fetch_feedback(client, unit_pk, unit.unit_id)
    assert (feedback.accepted, feedback.rejected) == (1, 0)
    assert journal.get(store, entry_id).state == journal.ACCEPTED
    assert outbox.fetch_feedback(client, unit_pk, unit.unit_id).message == "无需获取反馈"
    EnrollmentSync(store, client, unit_pk, unit.unit_id).run("incremental")
    (changed,) = store.db.execute_sql(
        "SELECT count(*) FROM enrollment_employee WHERE unit_id = ? AND bases LIKE '%9000.00%'", (unit_pk,)
    ).fetchone()
    assert changed == 5


def test_rejected_with_reasons_per_row(taxside, client, store, unit, unit_pk, outbox) -> None:
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    entry_id = draft_entry(store, client, unit, unit_pk, base="100")  # below every floor
    outbox.send(client, unit_pk, unit.unit_id)
    report = outbox.fetch_feedback(client, unit_pk, unit.unit_id)
    assert report.rejected == 1 and "申报失败 1 笔" in report.message
    entry = journal.get(store, entry_id)
    assert entry.state == journal.REJECTED and len(entry.reasons) == 5
    assert all("下限" in r["message"] and r["row"] >= 1 for r in entry.reasons)


def test_processing_until_the_delay_passes(taxside, client, store, unit, unit_pk, outbox) -> None:
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 3600})
    entry_id = draft_entry(store, client, unit, unit_pk)
    outbox.send(client, unit_pk, unit.unit_id)
    report = outbox.fetch_feedback(client, unit_pk, unit.unit_id)
    assert report.processing == 1 and "仍在处理" in report.message
    assert journal.get(store, entry_id).state == journal.AWAITING


@pytest.mark.parametrize("fault", ["drop_after_commit", "timeout", "malformed_json", "error"])
def test_lost_answers_resolve_by_key_never_twice(taxside, client, store, unit, unit_pk, outbox, case, fault) -> None:
    before = case.count()
    spec = {"hold_s": 5} if fault == "timeout" else {"status": 503} if fault == "error" else {}
    # More failures than the client's own retries: the run ends without an answer.
    taxside.fault(case.path, fault, method="POST", count=5, **spec)
    report = outbox.send(client, unit_pk, unit.unit_id)
    assert report.waiting == 1 and report.error
    assert journal.get(store, case.entry_id).state == journal.UNKNOWN
    taxside.clear_faults()
    report = outbox.send(client, unit_pk, unit.unit_id)
    assert report.sent == 1
    assert journal.get(store, case.entry_id).state == journal.AWAITING
    assert case.count() == before + 1


def test_offline_stays_queued_and_goes_out_later(taxside, client, store, unit, unit_pk, outbox, case) -> None:
    before = case.count()
    with TaxClient("http://127.0.0.1:9", timeout=1) as nowhere:  # nothing listens there
        nowhere.set_token("x")
        report = outbox.send(nowhere, unit_pk, unit.unit_id)
    assert report.waiting == 1 and "恢复连接后自动发送" in report.message
    assert journal.get(store, case.entry_id).state == journal.QUEUED
    assert case.count() == before
    assert outbox.send(client, unit_pk, unit.unit_id).sent == 1
    assert case.count() == before + 1


def test_paused_after_restore_sends_nothing(taxside, client, store, unit, unit_pk, tmp_path, case) -> None:
    before = case.count()
    (tmp_path / "pause").mkdir()
    from client.backup import service as backup_service

    (tmp_path / "pause" / backup_service.PAUSE_FILE).write_text('{"restored_at": "x", "entries": []}')
    report = Outbox(store, tmp_path / "pause").send(client, unit_pk, unit.unit_id)
    assert report.paused and "暂停" in report.message
    assert journal.get(store, case.entry_id).state == journal.QUEUED and case.count() == before


CHILD = """
import sys
from pathlib import Path
from client.core.store import Store
from client.sync.outbox import Outbox
from client.sync.taxclient import TaxClient
home, url, unit_id, unit_pk, password, store_url = sys.argv[1:7]
store = Store(Path(home), store_url or None)  # the test's engine
client = TaxClient(url, timeout=60)
client.login(unit_id, password)
print("sending", flush=True)
Outbox(store, Path(home)).send(client, int(unit_pk), unit_id)
print("done", flush=True)
"""


def test_sigkill_mid_submit_leaves_exactly_one_declaration(taxside, client, store, unit, unit_pk, tmp_path, case) -> None:
    before = case.count()
    # The tax side answers late: the client is killed while its request is in flight.
    taxside.fault(case.path, "latency", method="POST", latency_ms=3000)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store.path.parent), taxside.url, unit.unit_id, str(unit_pk), NEW_PASSWORD,
         store.url or ""],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "sending"
    deadline = time.monotonic() + 10
    while journal.get(store, case.entry_id).state != journal.SENDING and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the request is on the wire now
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert journal.get(store, case.entry_id).state == journal.SENDING
    time.sleep(3)  # let the tax side finish what it received
    taxside.clear_faults()
    report = Outbox(store, tmp_path).send(client, unit_pk, unit.unit_id)
    assert report.sent == 1 and journal.get(store, case.entry_id).state == journal.AWAITING
    assert case.count() == before + 1
    # Sending again changes nothing: the entry is no longer waiting to be sent.
    assert Outbox(store, tmp_path).send(client, unit_pk, unit.unit_id).sent == 0
    assert case.count() == before + 1


def test_sigkill_before_the_request_left(taxside, client, store, unit, unit_pk, tmp_path, case) -> None:
    """A crash right after the entry was marked sending, before anything reached the tax
    side: the key is unknown there, so the same request goes out once under the same key."""
    before = case.count()
    journal.mark_sending(store, journal.get(store, case.entry_id))
    report = Outbox(store, tmp_path).send(client, unit_pk, unit.unit_id)
    assert report.sent == 1 and case.count() == before + 1
