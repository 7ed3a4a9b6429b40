"""A full enrollment update running while the operator edits a payroll-base draft: no lock
errors, no lost writes on either side (issue 5, reliability)."""

from __future__ import annotations

import datetime as dt
import threading

from client.core import enrollment, wage_base, wage_context
from client.core.paging import PageRequest
from client.sync.enrollment import EnrollmentSync
from rules.packs import load_pack


def test_full_sync_and_draft_edits_interleave(taxside_factory, tmp_path, store_url) -> None:
    from client.core.store import Store
    from client.sync.taxclient import TaxClient

    live = taxside_factory(units=1, employees=3000, seed=5)
    unit = live.unit(0)
    store = Store(tmp_path, store_url)  # each engine in turn (tests/conftest.py)
    with store.write() as db:
        pk = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES (?, ?, ?, ?, 'now') RETURNING id",
            (unit.taxpayer_id, unit.unit_id, unit.name, unit.region),
        ).fetchone()[0]
    client = TaxClient(live.url, timeout=10)
    client.login(unit.unit_id, unit.initial_password)
    client.change_password(unit.unit_id, unit.initial_password, "Secure2025pass")
    # A first small sync gives the operator employees to put in the draft.
    EnrollmentSync(store, client, pk, unit.unit_id).run("full")
    ctx = wage_context.DraftContext(pk, "daily", load_pack(unit.region), dt.date(2025, 3, 15), False)
    wage_base.add_all_normal(store, ctx)
    rows = wage_base.search(store, ctx, PageRequest(size=500), wage_base.DraftFilter()).rows

    # The next full update pages slowly: every page waits, so edits land between pages.
    live.fault(f"/v1/units/{unit.unit_id}/enrollment", "latency", latency_ms=400)
    errors: list[BaseException] = []

    def sync() -> None:
        try:
            # Six pages of 500, so edits land between pages (not one page of 5,000).
            EnrollmentSync(store, client, pk, unit.unit_id, page_size=500).run("full")
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            store.db.close()

    worker = threading.Thread(target=sync)
    worker.start()
    edited = {}
    n = 0
    while worker.is_alive() or n < 50:
        row = rows[n % len(rows)]
        base = f"{8000 + n}.00"
        wage_base.update_row(store, ctx, row["id"], base, "202503")
        edited[row["id"]] = base
        enrollment.search(store, pk, PageRequest(size=50), enrollment.EnrollmentFilter(name=row["name"][:1]))
        n += 1
    worker.join(120)
    assert not errors, errors
    assert n > 50  # the edits really ran while the update did
    for row_id, base in edited.items():
        assert wage_base.get_row(store, ctx, row_id)["new_base"] == base
    (listed,) = store.db.execute_sql(
        "SELECT count(*) FROM enrollment_employee WHERE unit_id = ? AND removed = 0", (pk,)
    ).fetchone()
    assert listed == 3000
    client.close()
    store.close()
