"""The enrollment list, counts, detail and export over a unit synced from the tax side."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from client.core import enrollment
from client.core.paging import PageRequest
from client.errors import NotFoundError, ValidationError
from client.sync.enrollment import EnrollmentSync


@pytest.fixture
def synced(taxside, unit, client, store, unit_pk):
    EnrollmentSync(store, client, unit_pk, unit.unit_id).run("full")
    taxside.sim("POST", f"/units/{unit.unit_id}/leavers", {"count": 3})
    taxside.sim("POST", f"/units/{unit.unit_id}/base-changes", {"count": 2, "ratio": "1.10"})
    EnrollmentSync(store, client, unit_pk, unit.unit_id).run("incremental")
    return store, unit_pk


def test_counts_and_filters(synced, unit) -> None:
    store, pk = synced
    counts = enrollment.counts(store, pk)
    assert counts.total == unit.employees
    assert counts.stopped >= 3 and counts.normal + counts.stopped == counts.total
    page = enrollment.search(store, pk, PageRequest(1, 50), enrollment.EnrollmentFilter())
    assert page.total == unit.employees and len(page.rows) == min(50, unit.employees)
    first = page.rows[0]
    # Exact ID number, and prefix; names by prefix; status; unit number.
    by_id = enrollment.EnrollmentFilter.parse({"id_number": " " + first["id_number"].lower() + " "})
    assert [r["employee_id"] for r in enrollment.search(store, pk, PageRequest(), by_id).rows] == [first["employee_id"]]
    prefix = enrollment.EnrollmentFilter(id_number=first["id_number"][:6])
    assert all(r["id_number"].startswith(first["id_number"][:6]) for r in enrollment.search(store, pk, PageRequest(), prefix).rows)
    by_name = enrollment.EnrollmentFilter(name=first["name"][:1])
    found = enrollment.search(store, pk, PageRequest(1, 500), by_name)
    assert found.total >= 1 and all(r["name"].startswith(first["name"][:1]) for r in found.rows)
    stopped = enrollment.search(store, pk, PageRequest(1, 500), enrollment.EnrollmentFilter(status="停止缴费"))
    assert stopped.total == counts.stopped
    by_unit_number = enrollment.EnrollmentFilter(unit_number=first["unit_number"])
    assert enrollment.search(store, pk, PageRequest(), by_unit_number).total >= 1
    with pytest.raises(ValidationError) as info:
        enrollment.EnrollmentFilter.parse({"status": "退休"})
    assert info.value.field == "status"
    with pytest.raises(ValidationError):
        enrollment.search(store, pk, PageRequest(sort="bases"), enrollment.EnrollmentFilter())
    desc = enrollment.search(store, pk, PageRequest(1, 5, "id_number", True), enrollment.EnrollmentFilter())
    numbers = [r["id_number"] for r in desc.rows]
    assert numbers == sorted(numbers, reverse=True)


def test_detail_has_every_field_and_the_base_history(synced) -> None:
    store, pk = synced
    (changed,) = store.db.execute_sql(
        "SELECT employee_id FROM enrollment_change WHERE unit_id = ? AND fields LIKE '%缴费基数%' LIMIT 1",
        (pk,),
    ).fetchone()
    detail = enrollment.detail(store, pk, changed)
    assert detail.name and detail.id_number and detail.birth_date and detail.items
    assert detail.id_type_name == "居民身份证"
    assert "养老" in detail.bases
    assert any(f["field"] == "缴费基数" for h in detail.history for f in h["fields"])
    # ... and the sentence the clerk reads: per item, formatted, no JSON.
    texts = [h["text"] for h in detail.history if any(f["field"] == "缴费基数" for f in h["fields"])]
    assert texts and all("保险" in t and "→" in t and "{" not in t for t in texts)
    with pytest.raises(NotFoundError):
        enrollment.detail(store, pk, "NOPE")


def test_export_keeps_id_numbers_as_complete_text(synced, unit, tmp_path: Path) -> None:
    store, pk = synced
    target = tmp_path / "职工.xlsx"
    assert enrollment.export_xlsx(store, pk, target) == unit.employees
    rows = list(load_workbook(target, read_only=True).active.iter_rows(values_only=True))
    assert rows[0] == enrollment.EXPORT_HEADERS
    ids = [r[2] for r in rows[1:]]
    assert all(isinstance(i, str) and len(i) == 18 for i in ids)
    local = {r[0] for r in store.db.execute_sql("SELECT id_number FROM enrollment_employee WHERE unit_id = ?", (pk,))}
    assert set(ids) == local
    some = [r[0] for r in store.db.execute_sql("SELECT employee_id FROM enrollment_employee LIMIT 3")]
    assert enrollment.export_xlsx(store, pk, tmp_path / "selected.xlsx", some) == 3
    with pytest.raises(ValidationError):
        enrollment.export_xlsx(store, pk, tmp_path / "none.xlsx", [])


def test_counts_follow_an_update_made_on_another_desk(synced, taxside, unit, client, tmp_path: Path) -> None:
    """The page's counts are kept between requests; an update from any desk (or this one)
    shows at the next request, and the total of a status-only page is the matching count."""
    store, pk = synced
    before = enrollment.counts(store, pk)
    assert enrollment.counts(store, pk) == before  # kept
    # Another desk: a second Store on the same database (on SQLite, the same file).
    other = type(store)(tmp_path / "other", store.url) if store.team else store
    try:
        taxside.sim("POST", f"/units/{unit.unit_id}/hires", {"count": 4})
        taxside.sim("POST", f"/units/{unit.unit_id}/leavers", {"count": 2})
        EnrollmentSync(other, client, pk, unit.unit_id).run("incremental")
    finally:
        if other is not store:
            other.close()
    after = enrollment.counts(store, pk)
    assert after.total == before.total + 4
    assert after.stopped == before.stopped + 2
    for status, expected in (("", after.total), ("正常缴费", after.normal), ("停止缴费", after.stopped)):
        page = enrollment.search(store, pk, PageRequest(1, 10), enrollment.EnrollmentFilter(status=status))
        assert page.total == expected
