"""Never twice: whatever happens to the answer, the client or the operator's clicks, the
tax side holds exactly ONE debit per arrear (counted in its own tables), against the live
reference tax side with fault injection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from client.backup import restore_team
from client.backup import service as backup_service
from client.core import journal
from client.core import payment as core
from client.core import payment_records as records
from client.core import payment_views as views
from client.errors import ConflictError
from client.sync.payment import PaymentService
from client.sync.taxclient import TaxClient
from tests.conftest import NEW_PASSWORD
from tests.sync.test_payment import (
    agreement_of,
    debits_per_arrear,
    pay,
    payments_per_arrear,
    refreshed_service,
    start_live,
    unit_id,
)
from tests.taxside_fixtures import LiveTaxSide


@pytest.fixture
def services(engine_services: Any) -> Any:
    """On SQLite and on PostgreSQL (tests/sync/conftest.py)."""
    return engine_services


@pytest.fixture
def live(services: Any, taxside_factory: Any) -> LiveTaxSide:
    return start_live(services, taxside_factory)


@pytest.fixture
def svc(services: Any, live: LiveTaxSide) -> PaymentService:
    return refreshed_service(services)


def first_ids(svc: PaymentService, n: int) -> list[str]:
    return [line.arrear.arrear_id for line in svc.arrears_view().items[:n]]


def test_answer_lost_after_the_bank_debited(svc: PaymentService, live: LiveTaxSide) -> None:
    """drop_after_commit on every try: the debit is committed, no answer arrives; the entry
    is 待确认 and the next 刷新 takes the stored answer by its key, never a new debit."""
    chosen = first_ids(svc, 2)
    live.fault(f"/v1/units/{unit_id(svc)}/debits", "drop_after_commit", method="POST", count=10)
    result = pay(svc, chosen)
    assert result.entry.state == journal.UNKNOWN and "请勿重复缴款" in result.message
    assert debits_per_arrear(live) == dict.fromkeys(chosen, 1)
    with pytest.raises(ConflictError, match="请勿重复"):  # locally refused while unsure
        pay(svc, chosen[:1])
    live.clear_faults()
    svc.refresh()
    entry = journal.get(svc.store, result.entry.id)
    assert entry.state == journal.ACCEPTED
    debit = records.debit_for_entry(svc.store, entry.unit_id, entry.id)
    assert debit is not None and debit.paid_count == 2
    assert debits_per_arrear(live) == dict.fromkeys(chosen, 1)
    assert payments_per_arrear(live) == dict.fromkeys(chosen, 1)


def test_busy_tax_side_then_sent_once_under_the_same_key(svc: PaymentService, live: LiveTaxSide) -> None:
    """503 on every try (nothing processed): 待确认; the next 刷新 finds nothing under the key
    and sends the very same request once."""
    chosen = first_ids(svc, 2)
    live.fault(f"/v1/units/{unit_id(svc)}/debits", "error", status=503, method="POST", count=10)
    result = pay(svc, chosen)
    assert result.entry.state == journal.UNKNOWN and debits_per_arrear(live) == {}
    live.clear_faults()
    svc.refresh()
    entry = journal.get(svc.store, result.entry.id)
    assert entry.state == journal.ACCEPTED and entry.idempotency_key == result.entry.idempotency_key
    assert debits_per_arrear(live) == dict.fromkeys(chosen, 1)


CHILD = """
import sys
from pathlib import Path
from client.core.store import Store
from client.sync.outbox import Outbox
from client.sync.taxclient import TaxClient
home, url, unit_id, unit_pk, password, store_url = sys.argv[1:7]
store = Store(Path(home), store_url or None)
client = TaxClient(url, timeout=60)
client.login(unit_id, password)
print("sending", flush=True)
Outbox(store, Path(home)).send(client, int(unit_pk), unit_id, only=("debit",))
print("done", flush=True)
"""


def test_sigkill_mid_debit_then_restart(svc: PaymentService, live: LiveTaxSide, services: Any) -> None:
    pk, uid, _region = svc._unit()
    chosen = first_ids(svc, 3)
    total = views.selection(svc.store, pk, chosen).total
    entry_id = core.request_debit(svc.store, pk, agreement_of(svc).agreement_id, chosen, str(total), "财务")
    live.fault(f"/v1/units/{uid}/debits", "latency", method="POST", latency_ms=3000)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(services.home), live.url, uid, str(pk), NEW_PASSWORD,
         services.store.url or ""],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "sending"
    deadline = time.monotonic() + 10
    while journal.get(svc.store, entry_id).state != journal.SENDING and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the request is on the wire now
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert journal.get(svc.store, entry_id).state == journal.SENDING
    # The operator clicks again before anything was resolved: refused locally.
    with pytest.raises(ConflictError, match="发送中"):
        pay(svc, chosen[:1])
    time.sleep(3)  # let the tax side finish what it received
    live.clear_faults()
    svc.refresh()  # the restarted client resolves the entry by its key
    assert journal.get(svc.store, entry_id).state == journal.ACCEPTED
    assert debits_per_arrear(live) == dict.fromkeys(chosen, 1)
    assert {r.arrear_id for r in records.payments(svc.store, pk)} == set(chosen)


def test_double_click_two_concurrent_pay_calls(svc: PaymentService, live: LiveTaxSide) -> None:
    chosen = first_ids(svc, 2)
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def click() -> None:
        barrier.wait()
        try:
            outcomes.append(pay(svc, chosen))
        except ConflictError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    refused = [o for o in outcomes if isinstance(o, ConflictError)]
    paid = [o for o in outcomes if not isinstance(o, ConflictError)]
    assert len(refused) == 1 and len(paid) == 1, outcomes
    assert "请勿重复" in refused[0].message and chosen[0] in refused[0].message
    assert paid[0].ok and debits_per_arrear(live) == dict.fromkeys(chosen, 1)


def test_bank_state_unknown_then_resolved_automatically(svc: PaymentService, live: LiveTaxSide,
                                                        services: Any) -> None:
    """原交易状态不明: the arrear stays held by the debit (locally and on the tax side) until the
    feedback fetch learns the bank's result; no second debit is ever sent."""
    pk, uid, _region = svc._unit()
    live.sim("PUT", "/settings", {"unknown_resolve_seconds": 600})  # held until we say
    live.sim("POST", f"/units/{uid}/bank-answers", {"answer": "unknown", "count": 1, "resolve_to": "paid"})
    chosen = first_ids(svc, 2)
    result = pay(svc, chosen)
    assert result.entry.state == journal.AWAITING and result.debit is not None
    statuses = {r.arrear_id: r.status for r in result.debit.results}
    assert statuses == {chosen[0]: "unknown", chosen[1]: "paid"}
    unknown = next(r for r in result.debit.results if r.status == "unknown").to_dict()
    assert "待银行确认" in unknown["status_label"] and "请勿重复缴款" in unknown["advice"]
    assert "待银行确认" in result.message
    # Held: the paid one is paid, the unknown one covered by the open entry.
    with pytest.raises(ConflictError, match="待反馈"):
        pay(svc, chosen[:1])
    with pytest.raises(ConflictError, match="已缴款"):
        pay(svc, chosen[1:])
    live.sim("PUT", "/settings", {"unknown_resolve_seconds": 0})  # the bank's result is known now
    services.session.start_outbox(feedback=True)  # what the scheduled run and 获取反馈 do
    deadline = time.monotonic() + 20
    while journal.get(svc.store, result.entry.id).state == journal.AWAITING and time.monotonic() < deadline:
        time.sleep(0.05)
    assert journal.get(svc.store, result.entry.id).state == journal.ACCEPTED
    debit = records.debit_for_entry(svc.store, pk, result.entry.id)
    assert debit is not None and {r.status for r in debit.results} == {"paid"} and debit.unknown_count == 0
    assert debits_per_arrear(live) == dict.fromkeys(chosen, 1)
    assert payments_per_arrear(live) == dict.fromkeys(chosen, 1)


def test_unknown_resolving_to_failed_frees_the_arrear(svc: PaymentService, live: LiveTaxSide) -> None:
    pk, uid, _region = svc._unit()
    live.sim("PUT", "/settings", {"unknown_resolve_seconds": 600})  # held until we say
    live.sim("POST", f"/units/{uid}/bank-answers", {"answer": "unknown", "count": 1, "resolve_to": "failed"})
    chosen = first_ids(svc, 1)
    first = pay(svc, chosen)
    assert first.entry.state == journal.AWAITING
    live.sim("PUT", "/settings", {"unknown_resolve_seconds": 0})
    svc.refresh()  # 刷新 polls the debit too
    entry = journal.get(svc.store, first.entry.id)
    assert entry.state == journal.REJECTED and entry.reasons and "重新缴款" in entry.reasons[0]["message"]
    assert views.arrears_view(svc.store, pk, None, svc.session.business_date()).items[0].payable
    again = pay(svc, chosen)  # nothing was taken: paying again is right, and it goes through
    assert again.ok
    assert debits_per_arrear(live) == dict.fromkeys(chosen, 2)  # one failed, one paid
    assert payments_per_arrear(live) == dict.fromkeys(chosen, 1)


def test_arrear_sitting_in_an_open_voucher(svc: PaymentService, live: LiveTaxSide) -> None:
    """Another PC issued a voucher since our list was fetched: the tax side's 409 is shown in
    Chinese, the arrears are fetched again, and the next try is refused locally."""
    pk, uid, _region = svc._unit()
    chosen = first_ids(svc, 2)
    other = TaxClient(live.url, timeout=5)
    other.login(uid, NEW_PASSWORD)
    voucher = other.submit_voucher(uid, chosen[:1], idempotency_key="other-pc-voucher-1")
    other.close()
    result = pay(svc, chosen)
    assert result.entry.state == journal.REJECTED and not result.ok
    assert "缴款凭证" in result.message and chosen[0] in result.message and result.arrears_refreshed
    assert debits_per_arrear(live) == {}
    line = next(x for x in svc.arrears_view().items if x.arrear.arrear_id == chosen[0])
    assert line.arrear.hold == "voucher" and line.arrear.voucher_id == voucher.voucher_id and not line.payable
    with pytest.raises(ConflictError, match=voucher.voucher_id):
        pay(svc, chosen)
    assert pay(svc, chosen[1:]).ok and debits_per_arrear(live) == {chosen[1]: 1}


def test_backup_from_before_the_payment_restored(svc: PaymentService, live: LiveTaxSide, services: Any,
                                                 tmp_path: Path) -> None:
    pk = svc._unit()[0]
    chosen = first_ids(svc, 2)
    backup = backup_service.create_backup(services.home, tmp_path / "backups", store=services.store)
    assert pay(svc, chosen).ok
    backup_service.restore(services, Path(backup.path))
    # The restored data knows nothing of the payment: the list still shows the arrears unpaid.
    assert {line.arrear.arrear_id for line in svc.arrears_view().items} >= set(chosen)
    assert records.payments(svc.store, pk) == []
    paused = pay(svc, chosen)  # sending is paused after a restore: kept as 待提交
    assert paused.entry.state == journal.QUEUED and "暂停" in paused.message
    restore_team.clear_review(services)  # the operator reviewed the restore (every desk's, in team mode)
    result = svc.push(paused.entry.id)
    assert result.entry.state == journal.REJECTED and "请勿重复缴款" in result.message
    assert result.arrears_refreshed
    assert not {line.arrear.arrear_id for line in svc.arrears_view().items} & set(chosen)
    assert debits_per_arrear(live) == dict.fromkeys(chosen, 1)
    assert payments_per_arrear(live) == dict.fromkeys(chosen, 1)
