"""Queries (查询统计, 3.1.8) synchronised from a live reference tax side into this PC's
tables: registrations, payroll bases (paged; a fault part-way keeps the last complete
answer's state), payables, arrivals reconciled with the local payment records (a reversed
payment and a changed amount are flagged), and broken answers stored nowhere."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from client.core import queries as q
from client.core import queries_pay as qp
from client.core.paging import PageRequest
from client.errors import NetworkError, ValidationError
from client.sync import queries as sync
from client.sync.queries import QueryService
from tests.conftest import log_in
from tests.sync.test_payment import declared_elsewhere, pay, refreshed_service
from tests.taxside_fixtures import LiveTaxSide


def taxside_rows(live: LiveTaxSide, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(live.db_path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.fixture
def services(engine_services: Any) -> Any:
    """On SQLite and on PostgreSQL (tests/sync/conftest.py)."""
    return engine_services


@pytest.fixture
def live(services: Any, taxside_factory: Any) -> LiveTaxSide:
    ts = taxside_factory(units=3, employees=60)
    ts.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    log_in(services, ts)
    services.session.popups_shown = True
    return ts


@pytest.fixture
def svc(services: Any, live: LiveTaxSide) -> QueryService:
    return QueryService(services.session)


def test_registrations_replace_the_local_rows(svc: QueryService, live: LiveTaxSide) -> None:
    pk, unit_id = svc.unit()
    assert q.registrations(svc.store, pk) == [] and q.state(svc.store, pk, q.UNIT) is None
    result = svc.sync_registrations()
    rows = q.registrations(svc.store, pk)
    numbers = taxside_rows(live, "SELECT n.number, n.items, n.agency FROM unit_number n JOIN unit u "
                                 "ON u.id = n.unit_pk WHERE u.unit_id = ?", (unit_id,))
    assert result["count"] == len(rows) == sum(len(eval(items)) for _, items, _ in numbers) > 0
    assert {r.unit_number for r in rows} == {n for n, _, _ in numbers}
    assert q.state(svc.store, pk, q.UNIT) is not None
    one = rows[0]
    assert q.registrations(svc.store, pk, q.RegistrationFilter(agency=one.agency))
    assert all(r.agency == one.agency for r in q.registrations(svc.store, pk, q.RegistrationFilter(agency=one.agency)))
    assert q.registrations(svc.store, pk, q.RegistrationFilter(unit_number="nope")) == []

    # A broken answer (not JSON) stores nothing: the last good rows stay.
    live.fault(f"/v1/units/{unit_id}/insurance-registrations", "malformed_json")
    with pytest.raises(NetworkError):
        svc.sync_registrations()
    assert q.registrations(svc.store, pk) == rows


def test_bases_paged_with_person_elements_from_enrollment(svc: QueryService, live: LiveTaxSide,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pk, unit_id = svc.unit()
    monkeypatch.setattr(sync, "BASES_PAGE", 7)
    seen: list[tuple[int, int]] = []
    live.fault(f"/v1/units/{unit_id}/payroll-bases", "error", status=503, count=1)  # retried
    result = svc.sync_bases(lambda done, total, _msg: seen.append((done, total)))
    expected = taxside_rows(live, "SELECT e.id, e.bases FROM employee e JOIN unit u ON u.id = e.unit_pk "
                                  "WHERE u.unit_id = ? AND e.deleted = 0", (unit_id,))
    assert result["employees"] == len(expected) > 7 and len(seen) > 2 and seen[-1][0] == seen[-1][1]
    page = q.bases(svc.store, pk, PageRequest(1, 500), q.BaseFilter())
    assert page.total == result["rows"]
    assert {(r["employee_id"], r["item"]): r["base"] for r in page.rows} == {
        (f"E{e:09d}", item): base for e, bases in expected for item, base in eval(bases).items()}
    assert all(r["name"] and r["id_number"] for r in page.rows)  # enrollment downloaded at login

    # An employee not downloaded on this PC: his bases show, his person elements are empty.
    first = page.rows[0]["employee_id"]
    with svc.store.write() as db:
        db.execute_sql("DELETE FROM enrollment_employee WHERE unit_id = ? AND employee_id = ?", (pk, first))
    again = svc.sync_bases(lambda *_: None)
    assert again["without_person"] == 1 and "尚未下载职工参保信息" in again["message"]
    rows = [r for r in q.bases(svc.store, pk, PageRequest(1, 500), q.BaseFilter()).rows if r["employee_id"] == first]
    assert rows and all(r["name"] == "" and r["id_number"] == "" for r in rows)

    # Query by the person elements (prefix of the name, the ID number).
    other = page.rows[-1]
    by_id = q.bases(svc.store, pk, PageRequest(1, 50), q.BaseFilter(id_number=other["id_number"]))
    assert by_id.rows and {r["employee_id"] for r in by_id.rows} == {other["employee_id"]}
    by_name = q.bases(svc.store, pk, PageRequest(1, 50), q.BaseFilter(name=other["name"][:1], item="pension"))
    assert by_name.rows and all(r["name"].startswith(other["name"][:1]) and r["item"] == "pension"
                                for r in by_name.rows)

    # The tax side fails after the first page: the state of the last complete update stays.
    before = q.state(svc.store, pk, q.BASES)
    total_before = q.bases(svc.store, pk, PageRequest(1, 1), q.BaseFilter()).total

    def fail_after_first(done: int, _total: int, _msg: str) -> None:
        if done:
            live.fault(f"/v1/units/{unit_id}/payroll-bases", "error", status=503)

    with pytest.raises(NetworkError):
        svc.sync_bases(fail_after_first, full=True)
    assert q.state(svc.store, pk, q.BASES) == before
    assert q.bases(svc.store, pk, PageRequest(1, 1), q.BaseFilter()).total == total_before


def local_bases(svc: QueryService, pk: int) -> dict[tuple[str, str], tuple[str, str]]:
    page = q.bases(svc.store, pk, PageRequest(1, 500), q.BaseFilter())
    assert page.total == len(page.rows)
    return {(r["employee_id"], r["item"]): (r["base"], r["status"]) for r in page.rows}


def taxside_bases(live: LiveTaxSide, unit_id: str) -> dict[tuple[str, str], tuple[str, str]]:
    rows = taxside_rows(live, "SELECT e.id, e.bases, e.status FROM employee e JOIN unit u ON u.id = e.unit_pk "
                              "WHERE u.unit_id = ? AND e.deleted = 0", (unit_id,))
    return {(f"E{e:09d}", item): (base, status) for e, bases, status in rows for item, base in eval(bases).items()}


def test_bases_updated_with_only_the_changes(svc: QueryService, live: LiveTaxSide,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pk, unit_id = svc.unit()
    monkeypatch.setattr(sync, "BASES_PAGE", 4)
    first = svc.sync_bases(lambda *_: None)
    assert first["mode"] == "full" and local_bases(svc, pk) == taxside_bases(live, unit_id)
    calls: list[int] = []
    nothing = svc.sync_bases(lambda done, *_: calls.append(done))
    assert nothing["mode"] == "incremental" and nothing["changed"] == 0 and len(calls) == 2  # one request
    assert "无需更新" in nothing["message"] and nothing["employees"] == first["employees"]

    # Raised bases, leavers (停止缴费), a withdrawn record and hires: only those come, and the
    # local rows then equal the tax side's.
    live.sim("POST", f"/units/{unit_id}/base-changes", {"count": 3, "ratio": "1.10"})
    live.sim("POST", f"/units/{unit_id}/leavers", {"count": 2})
    live.sim("POST", f"/units/{unit_id}/removals", {"count": 1})
    live.sim("POST", f"/units/{unit_id}/hires", {"count": 5})
    changes = svc.sync_bases(lambda *_: None)
    assert changes["mode"] == "incremental" and 5 < changes["changed"] <= 11
    assert local_bases(svc, pk) == taxside_bases(live, unit_id)
    assert changes["employees"] == first["employees"] + 5 - 1
    # The hires are not in this PC's enrollment yet: counted from the changes, as a recount says.
    assert changes["without_person"] == q.without_person(svc.store, pk) == 5
    assert q.without_person_now(svc.store, pk) == 5
    state = q.state_dict(svc.store, pk, q.BASES)
    assert state["rows"] == len(taxside_bases(live, unit_id)) and "cursor" not in state

    # The tax side fails on the second page of changes: the first page is kept with its
    # version, and the next update goes on from there to the same end.
    live.sim("POST", f"/units/{unit_id}/base-changes", {"count": 9, "ratio": "1.20"})

    def fail_after_first(done: int, _total: int, _msg: str) -> None:
        if done:
            live.fault(f"/v1/units/{unit_id}/payroll-bases", "error", status=503)

    with pytest.raises(NetworkError):
        svc.sync_bases(fail_after_first)
    part = local_bases(svc, pk)
    assert part != taxside_bases(live, unit_id)  # 4 of the 9 applied
    live.sim("DELETE", "/faults")
    resumed = svc.sync_bases(lambda *_: None)
    assert resumed["mode"] == "incremental" and 0 < resumed["changed"] < 9
    assert local_bases(svc, pk) == taxside_bases(live, unit_id)

    # A broken page of changes stores nothing of it; 全部重新下载 still reads every base.
    live.sim("POST", f"/units/{unit_id}/base-changes", {"count": 2, "ratio": "1.01"})
    live.fault(f"/v1/units/{unit_id}/payroll-bases", "malformed_json")
    kept = local_bases(svc, pk)
    with pytest.raises(NetworkError):
        svc.sync_bases(lambda *_: None)
    assert local_bases(svc, pk) == kept
    live.clear_faults()
    again = svc.sync_bases(lambda *_: None, full=True)
    assert again["mode"] == "full" and local_bases(svc, pk) == taxside_bases(live, unit_id)

    # A version the tax side refuses (another unit's, say): the full download instead.
    with svc.store.write() as db:
        q.set_state(db, pk, q.BASES, {**q.state(svc.store, pk, q.BASES).detail, "cursor": "garbage"})
    assert svc.sync_bases(lambda *_: None)["mode"] == "full"
    assert local_bases(svc, pk) == taxside_bases(live, unit_id)


def test_payables_and_arrivals_reconciled(services: Any, svc: QueryService, live: LiveTaxSide) -> None:
    pk, unit_id = svc.unit()
    live.sim("PUT", "/settings", {"arrival_delay_seconds": 0})
    declared = declared_elsewhere(live, unit_id)
    payment = refreshed_service(services)
    arrears = [a.arrear.arrear_id for a in payment.arrears_view().items]
    paid = pay(payment, arrears[:3])
    assert paid.ok, paid

    result = svc.sync_payables()
    rows = qp.payables(svc.store, pk)
    assert result["count"] == len(rows) > 0
    totals = qp.payable_totals(rows)
    assert Decimal(totals["payable"]) == Decimal(declared["total_amount"])
    assert Decimal(totals["paid"]) + Decimal(totals["unpaid"]) == Decimal(totals["payable"]) > 0
    assert Decimal(totals["paid"]) > 0
    item = rows[0].item
    assert all(r.item == item for r in qp.payables(svc.store, pk, item=item))
    assert qp.payables(svc.store, pk, "190001", "190012") == []

    synced = svc.sync_arrivals()
    view = qp.arrivals(svc.store, pk)
    assert synced["count"] == 3 and synced["flagged"] == 0
    assert [r.check for r in view.rows] == [qp.SAME] * 3
    assert {r.arrival for r in view.rows} == {"已入库"}

    first, second, third = view.rows
    live.sim("POST", f"/units/{unit_id}/payments/{first.payment_id}/reversal")
    live.sim("PUT", f"/units/{unit_id}/payments/{second.payment_id}", {"total": "1.00"})
    synced = svc.sync_arrivals()
    view = qp.arrivals(svc.store, pk)
    by_id = {r.payment_id: r for r in view.rows}
    assert synced["flagged"] == 2 and view.counts()[qp.MISSING] == 1 and view.counts()[qp.DIFFERENT] == 1
    assert by_id[first.payment_id].check == qp.MISSING and by_id[first.payment_id].total is None
    assert "税务端未查到" in by_id[first.payment_id].check_text
    assert by_id[second.payment_id].check == qp.DIFFERENT and "税务端为 1.00 元" in by_id[second.payment_id].check_text
    assert by_id[third.payment_id].check == qp.SAME
    assert "不一致 2 笔" in view.summary and "税务端未查到 1 笔" in view.summary

    # Paid after the last update: not compared yet (待核对), never "missing"; the next update checks it.
    later = pay(payment, arrears[3:4])
    assert later.ok
    late_id = later.debit.results[0].payment_id
    assert {r.payment_id: r.check for r in qp.arrivals(svc.store, pk).rows}[late_id] == qp.UNCHECKED
    assert "请点击更新后核对" in qp.arrivals(svc.store, pk).summary
    svc.sync_arrivals()
    view = qp.arrivals(svc.store, pk)
    assert {r.payment_id: r.check for r in view.rows}[late_id] == qp.SAME

    # A timed-out tax side: the last answer and its reconciliation stay.
    live.fault(f"/v1/units/{unit_id}/payment-arrivals", "error", status=503)
    with pytest.raises(NetworkError):
        svc.sync_arrivals()
    assert qp.arrivals(svc.store, pk).to_dict() == view.to_dict()


def test_arrivals_by_the_business_date_of_the_payment(services: Any, svc: QueryService, live: LiveTaxSide) -> None:
    pk, unit_id = svc.unit()
    live.sim("PUT", "/settings", {"arrival_delay_seconds": 0})
    declared_elsewhere(live, unit_id)
    payment = refreshed_service(services)
    arrears = [a.arrear.arrear_id for a in payment.arrears_view().items]
    assert pay(payment, arrears[:2]).ok
    svc.sync_arrivals()
    (day,) = {r.paid_on for r in qp.arrivals(svc.store, pk).rows}
    later = (dt.date.fromisoformat(day) + dt.timedelta(days=3)).isoformat()
    live.sim("PUT", "/settings", {"today": later})  # the tax side's business date, not the clock
    assert pay(refreshed_service(services), arrears[2:3]).ok

    on_later = qp.ArrivalRange(paid_from=later, paid_to=later)
    synced = svc.sync_arrivals(on_later)
    assert synced["count"] == 1 and f"缴款日期 {later} 至 {later}" in synced["message"]
    view = qp.arrivals(svc.store, pk, on_later)
    assert [(r.paid_on, r.check) for r in view.rows] == [(later, qp.SAME)]
    assert view.to_dict()["synced_paid_from"] == later and view.to_dict()["synced_from"] is None
    assert [r.paid_on for r in qp.arrivals(svc.store, pk, qp.ArrivalRange(paid_to=day)).rows] == [day, day]
    # The fee period query still lists the three, each with its 缴款日期.
    svc.sync_arrivals()
    assert sorted(r.paid_on for r in qp.arrivals(svc.store, pk).rows) == [day, day, later]

    # An update for one day replaces only that day's rows: a reversed payment of it goes.
    first = next(r for r in qp.arrivals(svc.store, pk).rows if r.paid_on == day)
    live.sim("POST", f"/units/{unit_id}/payments/{first.payment_id}/reversal")
    svc.sync_arrivals(qp.ArrivalRange(paid_from=day, paid_to=day))
    stored = svc.store.db.execute_sql("SELECT payment_id, paid_on FROM query_arrival WHERE unit_id = ?",
                                      (pk,)).fetchall()
    assert sorted(p for _, p in stored) == [day, later] and first.payment_id not in {i for i, _ in stored}

    for bad in ({"paid_from": "2025-02-30"}, {"paid_from": "20250301"}, {"paid_from": later, "paid_to": day}):
        with pytest.raises(ValidationError):
            qp.ArrivalRange.parse(bad)


@pytest.mark.parametrize("value", ["1E+5", "NaN", "Infinity", "8000.001", " 8000", "8,000.00", 8000, None])
def test_an_amount_that_is_not_decimal_text_is_a_broken_answer(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        sync._money({"base": value}, "base")
    assert sync._money({"base": "8000.5"}, "base") == "8000.5"



def test_deep_pages_follow_the_kept_order(svc: QueryService, live: LiveTaxSide,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pk, unit_id = svc.unit()
    monkeypatch.setattr(q, "STEP", 7)  # many kept keys for 60 employees
    svc.sync_bases(lambda *_: None)

    def reference(item: str) -> list[tuple[str, str]]:
        where = "unit_id = ?" + (" AND item = ?" if item else "")
        return [tuple(r) for r in svc.store.db.execute_sql(
            f"SELECT employee_id, item FROM query_base WHERE {where} ORDER BY employee_id, item_no",
            (pk, item) if item else (pk,)).fetchall()]

    def pages(item: str, size: int) -> tuple[list[tuple[str, str]], int]:
        out, page, total = [], 1, 0
        while True:
            found = q.bases(svc.store, pk, PageRequest(page, size), q.BaseFilter(item=item))
            total = found.total
            if not found.rows:
                return out, total
            out += [(r["employee_id"], r["item"]) for r in found.rows]
            page += 1

    for item in ("", "pension", "injury"):
        for size in (1, 5, 13):
            got, total = pages(item, size)
            assert got == reference(item) and total == len(got) > 0
    # After an update the order is read again: hires at the end, a withdrawn one gone.
    live.sim("POST", f"/units/{unit_id}/hires", {"count": 3})
    live.sim("POST", f"/units/{unit_id}/removals", {"count": 2})
    svc.sync_bases(lambda *_: None)
    got, total = pages("", 13)
    assert got == reference("") and total == len(got) == len(taxside_bases(live, unit_id))
    assert q.bases(svc.store, pk, PageRequest(10_000, 50), q.BaseFilter()).rows == []
