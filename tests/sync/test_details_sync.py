"""社保费申报明细 sync against the live reference tax side: exact, resumable after a dropped
connection or a restart, never doubled; voids taken out, new declarations picked up."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from client.core import query_details
from client.core.paging import PageRequest
from client.core.store import Store
from client.errors import NetworkError
from client.sync.details import DetailsSync, fetch_page
from client.sync.taxclient import TaxClient

Key = tuple[str, str, str, str]


def truth(client: TaxClient, unit_id: str, lo: str, hi: str) -> dict[Key, tuple[Any, ...]]:
    """Every row of the range, read from the feed with a bare loop."""
    rows: dict[Key, tuple[Any, ...]] = {}
    cursor = None
    while True:
        page = fetch_page(client, unit_id, lo, hi, cursor, 10000)
        for r in page.items:
            s = page.summaries[r[0]]
            rows[(r[0], s["declaration_id"], r[1], r[5])] = (r[3], r[4], r[6], r[8])
        if not page.has_more:
            return rows
        cursor = page.next_cursor


def local(store: Store, unit_pk: int) -> dict[Key, tuple[Any, ...]]:
    found = store.db.execute_sql(
        "SELECT s.summary_id, s.declaration_id, d.employee_id, d.period, d.id_number, d.name, d.base_fen,"
        " d.amount_fen FROM query_detail d JOIN query_detail_summary s ON s.id = d.summary_ref"
        " WHERE d.unit_id = ?", (unit_pk,)).fetchall()
    out = {}
    for sid, did, emp, period, id_number, name, base, amount in found:
        out[(sid, did, emp, period)] = (id_number, name, f"{Decimal(base) / 100:.2f}", f"{Decimal(amount) / 100:.2f}")
    assert len(out) == len(found)
    return out


def local_totals(store: Store, unit_pk: int) -> tuple[int, int]:
    by_rows = store.db.execute_sql(
        "SELECT COUNT(*), SUM(amount_fen) FROM query_detail WHERE unit_id = ?", (unit_pk,)).fetchone()
    cached = store.db.execute_sql(
        "SELECT SUM(t.rows), SUM(t.amount_fen) FROM query_detail_total t JOIN query_detail_summary s"
        " ON s.id = t.summary_ref WHERE s.unit_id = ?", (unit_pk,)).fetchone()
    assert tuple(by_rows) == tuple(cached)
    return by_rows


@pytest.fixture
def history(taxside, unit) -> None:
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    taxside.sim("POST", f"/units/{unit.unit_id}/declaration-history", {"from": "202412", "to": "202502"})


def test_sync_equals_the_tax_side_and_repeats_add_nothing(history, taxside, unit, client, store, unit_pk) -> None:
    pages: list[tuple[int, int]] = []
    result = DetailsSync(store, client, unit_pk, unit.unit_id, page_size=150).run(
        "202412", "202502", lambda done, total, _m: pages.append((done, total)))
    expected = truth(client, unit.unit_id, "202412", "202502")
    assert local(store, unit_pk) == expected
    assert result.fetched == result.local_rows == len(expected) and result.pages > 3
    assert pages[-1] == (len(expected), len(expected))  # the progress ends at its total
    local_totals(store, unit_pk)
    # Again: the stored cursor is at the end, nothing comes twice.
    again = DetailsSync(store, client, unit_pk, unit.unit_id).run("202412", "202502")
    assert again.fetched == 0 and again.resumed and again.local_rows == len(expected)
    # An overlapping range fetches its own rows; the ones already here are upserted, not doubled.
    wider = DetailsSync(store, client, unit_pk, unit.unit_id).run("202411", "202501")
    assert wider.fetched == len({k for k in expected if k[3] <= "202501"})
    assert local(store, unit_pk) == expected
    local_totals(store, unit_pk)  # the rows already here were not counted twice


def test_dropped_connection_mid_feed_then_resume_after_restart(
    history, taxside, unit, client, store, unit_pk, tmp_path: Path
) -> None:
    expected = truth(client, unit.unit_id, "202412", "202502")
    seen: list[int] = []

    def drop_after_two_pages(done: int, _total: int, _message: str) -> None:
        seen.append(done)
        if len(seen) == 2:  # every later page is cut off mid-body, more often than retries go
            taxside.fault(f"/v1/units/{unit.unit_id}/declaration-details", "cut_body", after_bytes=300, count=20)

    with pytest.raises(NetworkError):
        DetailsSync(store, client, unit_pk, unit.unit_id, page_size=100).run("202412", "202502", drop_after_two_pages)
    partial = local(store, unit_pk)
    assert 200 <= len(partial) < len(expected)
    assert all(expected[k] == v for k, v in partial.items())
    taxside.clear_faults()
    # A restart: the store opened again, a new sync of the same range continues at its cursor.
    store.close()
    reopened = Store(tmp_path, store.url)
    try:
        result = DetailsSync(reopened, client, unit_pk, unit.unit_id, page_size=100).run("202412", "202502")
        assert result.resumed and result.fetched == len(expected) - len(partial)
        assert local(reopened, unit_pk) == expected
        local_totals(reopened, unit_pk)
    finally:
        reopened.close()


def test_voided_declarations_go_and_new_ones_come(history, taxside, unit, client, store, unit_pk) -> None:
    sync = DetailsSync(store, client, unit_pk, unit.unit_id, page_size=500)
    sync.run("202412", "202503")
    before = local(store, unit_pk)
    assert {k[3] for k in before} == {"202412", "202501", "202502"}
    # The current period declared on the 电子税务局 (accepted at once): the next 查询 adds it.
    declared = taxside.sim("POST", f"/units/{unit.unit_id}/fee-declarations", {})
    added = sync.run("202412", "202503")
    assert added.fetched > 0 and {k[3] for k in local(store, unit_pk)} == {"202412", "202501", "202502", "202503"}
    assert local(store, unit_pk) == truth(client, unit.unit_id, "202412", "202503")
    # Voided: its rows are taken out at the next 查询.
    receipt = client.void_fee_declaration(unit.unit_id, declared["declaration_id"], "申报有误", idempotency_key="v-1")
    assert client.fee_void(unit.unit_id, receipt.void_id).status == "accepted"
    result = sync.run("202412", "202503")
    assert result.removed > 0 and result.fetched == 0
    assert local(store, unit_pk) == before
    local_totals(store, unit_pk)


def test_hostile_pages_are_refused_whole(history, taxside, unit, client, store, unit_pk) -> None:
    """A page whose body is not the feed's shape changes nothing (the transport retries,
    then gives up with a network error); the rows already committed stay."""
    taxside.fault(f"/v1/units/{unit.unit_id}/declaration-details", "malformed_json", count=5)
    with pytest.raises(NetworkError):
        DetailsSync(store, client, unit_pk, unit.unit_id).run("202412", "202502")
    assert local(store, unit_pk) == {}
    taxside.clear_faults()
    sync = DetailsSync(store, client, unit_pk, unit.unit_id)
    page = fetch_page(client, unit.unit_id, "202412", "202412", None, 5)
    bad = page.__class__(page.summaries, [[*page.items[0][:6], "=1+1", *page.items[0][7:]]], [],
                         page.next_cursor, True, 0)
    with pytest.raises(NetworkError):
        sync.apply("202412", "202412", bad)
    assert local(store, unit_pk) == {} and sync.state("202412", "202412") == (None, False)


def test_the_synced_rows_read_back_by_every_filter(history, client, unit, store, unit_pk) -> None:
    """社保费申报明细查询 over what the sync stored, on each engine: every filter's pages in
    order, its totals and its export are the stored rows that match, worked out here."""
    DetailsSync(store, client, unit_pk, unit.unit_id, page_size=400).run("202412", "202502")
    summaries = {r[0]: r[1:] for r in store.db.execute_sql(
        "SELECT id, unit_number, item, part FROM query_detail_summary WHERE unit_id = ?", (unit_pk,)).fetchall()}
    rows = store.db.execute_sql(
        "SELECT summary_ref, period, id, employee_id, id_type, id_number, name, amount_fen FROM query_detail"
        " WHERE unit_id = ?", (unit_pk,)).fetchall()
    some = sorted(rows, key=lambda r: r[2])[len(rows) // 2]
    item = summaries[some[0]][1]
    cases = {
        "every row": ({}, lambda r: True),
        "a month range": ({"period_from": "202501", "period_to": "202502"}, lambda r: r[1] >= "202501"),
        "an item": ({"item": item}, lambda r: summaries[r[0]][1] == item),
        "an item in a month": ({"item": item, "period_from": "202412", "period_to": "202412"},
                               lambda r: summaries[r[0]][1] == item and r[1] == "202412"),
        "an ID type alone": ({"id_type": some[4]}, lambda r: r[4] == some[4]),
        "an ID number": ({"id_number": some[5].lower()}, lambda r: r[5] == some[5]),
        "a name": ({"name": some[6], "period_to": "202501"}, lambda r: r[6] == some[6] and r[1] <= "202501"),
        "nothing": ({"unit_number": "没有这个单位"}, lambda r: False),
    }
    for label, (args, keep) in cases.items():
        flt = query_details.DetailFilter.parse(args)
        expected = sorted((r for r in rows if keep(r)), key=lambda r: (r[1], r[0], r[2]))
        want = [(r[3], r[1]) for r in expected]
        got: list[tuple[str, str]] = []
        page = query_details.search(store, unit_pk, PageRequest(1, 50), flt)
        for n in range(2, page.totals.rows // 50 + 2):
            got += [(x["employee_id"], x["period"]) for x in page.rows]
            page = query_details.search(store, unit_pk, PageRequest(n, 50), flt)
        got += [(x["employee_id"], x["period"]) for x in page.rows]
        assert got == want, label
        employer = sum(r[7] for r in expected if summaries[r[0]][2] == "employer")
        assert page.totals == query_details.Totals(
            len(expected), False, query_details.yuan(employer),
            query_details.yuan(sum(r[7] for r in expected) - employer)), label
        exported = list(query_details.export_rows(store, unit_pk, flt))
        assert [(x[7], x[0]) for x in exported] == [(r[5], r[1]) for r in expected], label
    assert [o["value"] for o in query_details.options(store, unit_pk)["item"]] == sorted(
        {s[1] for s in summaries.values()})
    (kept,) = query_details.local_ranges(store, unit_pk)
    assert kept["complete"] and kept["rows"] == len(rows)
