"""Enrollment sync against the live reference tax side: resumable, exact, never doubled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.core.store import Store
from client.errors import NetworkError
from client.sync.enrollment import (
    COLUMNS,
    KEY,
    NOT_LISTED,
    UPDATED,
    EnrollmentSync,
    _row_values,
    cursor_state,
)
from client.sync.taxclient import Employee, TaxClient
from tests.sync.conftest import NEW_PASSWORD


def taxside_set(client: TaxClient, unit_id: str) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for page in client.iter_enrollment(unit_id, None, 5000):
        for e in page.items:
            assert isinstance(e, Employee)
            found[e.employee_id] = _row_values(e)
    return found


def local_set(store: Store, unit_pk: int) -> dict[str, dict[str, str]]:
    rows = store.db.execute_sql(
        "SELECT employee_id, name, id_type, id_number, gender, birth_date, unit_number, items, "
        "status, bases FROM enrollment_employee WHERE unit_id = ? AND removed = 0",
        (unit_pk,),
    ).fetchall()
    keys = ["name", "id_type", "id_number", "gender", "birth_date", "unit_number", "items", "status", "bases"]
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def total_rows(store: Store, unit_pk: int) -> int:
    return store.db.execute_sql(
        "SELECT count(*) FROM enrollment_employee WHERE unit_id = ?", (unit_pk,)
    ).fetchone()[0]


def test_full_then_incremental_equals_the_tax_side(taxside, unit, client, store, unit_pk) -> None:
    first = EnrollmentSync(store, client, unit_pk, unit.unit_id, page_size=50).run("incremental")
    assert first.mode == "full"  # no cursor yet: the first sync is a full one
    assert first.added == first.changed == unit.employees
    assert first.message == (
        f"本次共更新 {unit.employees} 条（新增 {unit.employees} 人），共下载 {unit.employees} 名职工的参保信息"
    )
    assert local_set(store, unit_pk) == taxside_set(client, unit.unit_id)
    if store.team:  # the list is planned on the rows just loaded, not on an empty table's statistics
        (planned, vacuumed) = store.db.execute_sql(
            "SELECT c.reltuples, s.last_vacuum IS NOT NULL FROM pg_class c "
            "JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = 'enrollment_employee'"
        ).fetchone()
        assert planned == unit.employees and vacuumed
    again = EnrollmentSync(store, client, unit_pk, unit.unit_id, page_size=50).run("full")
    assert again.changed == 0 and again.downloaded == unit.employees
    assert again.message == f"共下载 {unit.employees} 名职工的参保信息，与本机数据一致，无需更新"

    hired = taxside.sim("POST", f"/units/{unit.unit_id}/hires", {"count": 4})["employee_ids"]
    taxside.sim("POST", f"/units/{unit.unit_id}/leavers", {"count": 2})
    taxside.sim("POST", f"/units/{unit.unit_id}/removals", {"count": 3})
    taxside.sim("POST", f"/units/{unit.unit_id}/base-changes", {"count": 5, "ratio": "1.05"})
    second = EnrollmentSync(store, client, unit_pk, unit.unit_id, page_size=3).run("incremental")
    assert second.mode == "incremental"
    assert second.added == 4 and second.removed == 3
    assert second.changed == second.added + second.updated + second.removed
    assert local_set(store, unit_pk) == taxside_set(client, unit.unit_id)

    log = store.db.execute_sql(
        "SELECT employee_id, kind, fields FROM enrollment_change WHERE unit_id = ? ORDER BY id",
        (unit_pk,),
    ).fetchall()
    assert {r[0] for r in log if r[1] == "新增"} >= set(hired)
    changed_fields = [f["field"] for r in log if r[1] == "变更" for f in json.loads(r[2])]
    assert "缴费基数" in changed_fields and "缴费状态" in changed_fields
    # Nothing new on the tax side: nothing to do, and nothing written twice.
    third = EnrollmentSync(store, client, unit_pk, unit.unit_id).run("incremental")
    assert third.changed == 0
    assert total_rows(store, unit_pk) == unit.employees + 4


@pytest.mark.parametrize(
    ("kind", "spec"),
    [("error", {"status": 500}), ("malformed_json", {}), ("wrong_content_type", {}), ("timeout", {"hold_s": 2})],
)
def test_fault_mid_feed_resumes_from_the_last_committed_page(
    taxside, unit, client, store, unit_pk, kind, spec
) -> None:
    class FaultAfterTwoPages:
        calls = 0

        def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
            self.calls += 1
            if self.calls == 2:
                taxside.fault(f"/v1/units/{unit.unit_id}/enrollment", kind, **spec)

    sync = EnrollmentSync(store, client, unit_pk, unit.unit_id, page_size=10)
    with pytest.raises(NetworkError) as info:
        sync.run("full", FaultAfterTwoPages())
    assert info.value.message  # a Chinese message for the operator
    state = cursor_state(store, unit_pk)
    assert state.mode == "full" and not state.complete and state.cursor
    assert total_rows(store, unit_pk) == 20  # exactly the two committed pages
    taxside.clear_faults()
    resumed = sync.run("incremental")  # an unfinished full update is finished first
    assert resumed.mode == "full"
    assert resumed.added == unit.employees - 20
    assert local_set(store, unit_pk) == taxside_set(client, unit.unit_id)
    assert total_rows(store, unit_pk) == unit.employees


def test_full_update_marks_what_the_tax_side_no_longer_lists(unit, client, store, unit_pk) -> None:
    EnrollmentSync(store, client, unit_pk, unit.unit_id).run("full")
    # A row the tax side does not have (e.g. a removal this PC never heard of).
    with store.write() as db:
        db.execute_sql(
            "INSERT INTO enrollment_employee (unit_id, employee_id, name, id_type, id_number, "
            "gender, birth_date, unit_number, items, status, bases, taxside_updated_at, synced_at) "
            "VALUES (?, 'GHOST', '幽灵', '201', '11010519491231002X', '女', '1949-12-31', 'x', '[]', "
            "'正常缴费', '{}', 't', 't')",
            (unit_pk,),
        )
    result = EnrollmentSync(store, client, unit_pk, unit.unit_id).run("full")
    assert result.removed == 1 and result.changed == 1
    (removed,) = store.db.execute_sql(
        "SELECT removed FROM enrollment_employee WHERE employee_id = 'GHOST'"
    ).fetchone()
    assert removed == NOT_LISTED
    assert local_set(store, unit_pk) == taxside_set(client, unit.unit_id)


def test_sigkill_mid_sync_then_resume(taxside, unit, client, store, unit_pk, tmp_path) -> None:
    home = store.path.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.enrollment_probe", str(home), taxside.url,
         str(unit_pk), unit.unit_id, NEW_PASSWORD, store.url or ""],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2], env={**os.environ},
    )
    taxside.fault(f"/v1/units/{unit.unit_id}/enrollment", "latency", latency_ms=40)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and total_rows(store, unit_pk) < 30:
        time.sleep(0.01)
    proc.kill()
    proc.wait(10)
    taxside.clear_faults()
    partial = total_rows(store, unit_pk)
    assert 0 < partial < unit.employees, proc.stderr.read()
    assert partial % 7 == 0  # only whole pages were ever committed
    result = EnrollmentSync(store, client, unit_pk, unit.unit_id).run("incremental")
    assert result.mode == "full"
    assert local_set(store, unit_pk) == taxside_set(client, unit.unit_id)
    assert total_rows(store, unit_pk) == unit.employees


def test_bulk_upsert_of_a_page_keeps_the_last_row_of_an_employee(store, unit_pk) -> None:
    """db.upsert_rows, which writes every page (COPY into a staging table on PostgreSQL):
    a later row of the same employee wins as in SQLite's row-by-row upsert, rows already
    here are updated, and a second load in the same transaction does not see the first."""
    def row(employee_id: str, name: str, generation: int) -> tuple:
        return (unit_pk, employee_id, name, "201", "11010519491231002X", "女", "1949-12-31", "U1",
                '["pension"]', "正常缴费", '{"pension": "5000.00"}', "t", 0, generation, "now")

    with store.write() as db:
        assert db.upsert_rows("enrollment_employee", COLUMNS, [row("E1", "甲", 1), row("E2", "乙", 1)],
                              KEY, UPDATED) == 2
    with store.write() as db:
        db.upsert_rows("enrollment_employee", COLUMNS, [row("E1", "丙", 2), row("E3", "丁", 2), row("E1", "戊", 2)],
                       KEY, UPDATED)
        db.upsert_rows("enrollment_employee", COLUMNS, [row("E4", "己", 2), row("E1", "庚", 2)], KEY, UPDATED)
    found = store.db.execute_sql(
        "SELECT employee_id, name, seen_generation FROM enrollment_employee WHERE unit_id = ? ORDER BY employee_id",
        (unit_pk,),
    ).fetchall()
    assert [tuple(r) for r in found] == [("E1", "庚", 2), ("E2", "乙", 1), ("E3", "丁", 2), ("E4", "己", 2)]


def test_stored_text_of_items_and_bases_is_what_json_dumps_writes() -> None:
    """The fast writers must store exactly json.dumps' text: a change of format would mark
    every employee as changed on the next update."""
    import random
    from decimal import Decimal

    from client.sync.enrollment import _json_bases, _json_codes

    rng = random.Random(7)
    keys = ["pension", "medical", "unemployment", "injury", "maternity", "养老", 'a"b', "x\\y"]
    amounts = ["8000", "8000.5", "0", "123456.789", "1E+3", "7162.00", "-1.005"]
    for _ in range(5000):
        chosen = rng.sample(keys, rng.randint(0, 5))
        bases = {k: Decimal(rng.choice(amounts)) for k in chosen}
        expected = json.dumps(
            {k: str(Decimal(v).quantize(Decimal("0.01"))) for k, v in sorted(bases.items())}, ensure_ascii=False
        )
        assert _json_bases(bases) == expected
        assert _json_codes(chosen) == json.dumps(chosen, ensure_ascii=False)


_money = st.one_of(
    st.decimals(min_value=-10**7, max_value=10**7, places=2).map(str),
    st.decimals(min_value=0, max_value=10**6, allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["8000", "08000.00", "1E+3", "7162.5", "0.00", "0", "-0.00"]),
    st.integers(min_value=0, max_value=10**6),
)
_codes = st.sampled_from(["pension", "medical", "unemployment", "injury", "maternity", "养老", 'a"b'])


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(_codes, max_size=5),
    bases=st.dictionaries(_codes, _money, max_size=5),
    name=st.text(max_size=8),
    birth=st.dates(),
    deleted=st.booleans(),
)
def test_raw_feed_rows_equal_the_typed_path(items, bases, name, birth, deleted) -> None:
    """The full update reads the feed's JSON directly: the stored text must be exactly what
    the typed client (Employee, Decimal) gives for the same item."""
    from client.sync.enrollment import _raw_row
    from client.sync.taxclient import _employee

    raw = {
        "employee_id": "E1", "deleted": deleted, "name": name, "id_type": "201", "id_number": "110105",
        "gender": "男", "birth_date": birth.isoformat(), "unit_number": "1101", "items": items,
        "status": "正常缴费", "bases": bases, "updated_at": "2025-03-15T08:00:00",
    }
    employee_id, values, updated_at = _raw_row(raw)
    typed = _employee(raw)
    if deleted:
        assert values is None and employee_id == "E1"
    else:
        assert values == _row_values(typed) and updated_at == typed.updated_at


@pytest.mark.parametrize("broken", [
    {"bases": "x"}, {"items": None}, {"birth_date": "1990-13-01"}, {"bases": {"pension": "abc"}},
])
def test_a_malformed_item_is_a_clear_error_and_commits_nothing(broken) -> None:
    from client.sync.enrollment import _raw_row

    raw = {
        "employee_id": "E1", "deleted": False, "name": "张三", "id_type": "201", "id_number": "1",
        "gender": "男", "birth_date": "1990-01-01", "unit_number": "1", "items": ["pension"],
        "status": "正常缴费", "bases": {"pension": "8000.00"}, "updated_at": "x", **broken,
    }
    with pytest.raises((KeyError, TypeError, ValueError, ArithmeticError)):
        _raw_row(raw)
