"""Two clerks editing the same 缴费工资申报 draft row: the second save, based on the version it
loaded, is refused with a clear conflict and the first clerk's save stays (both engines)."""

from __future__ import annotations

import datetime as dt

import pytest

from client.core import wage_base, wage_context
from client.core.store import Store
from client.core.wage_import import ImportedRow, ImportResult, RawTable
from client.errors import ConflictError, NotFoundError
from rules.packs import load_pack

TODAY = dt.date(2025, 3, 15)


@pytest.fixture
def store(engine_store: Store) -> Store:
    return engine_store


@pytest.fixture
def ctx(store: Store) -> wage_context.DraftContext:
    with store.write() as db:
        unit = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES ('91110105MA01ABCD1X', 'U000001', '测试单位', '110000', '2025-03-15 08:00:00') RETURNING id"
        ).fetchone()[0]
    return wage_context.DraftContext(int(unit), "daily", load_pack("110000"), TODAY, True)


def add_row(store: Store, ctx: wage_context.DraftContext, n: int) -> int:
    with store.write() as db:
        return int(db.execute_sql(
            "INSERT INTO wage_base_draft (unit_id, kind, employee_id, name, id_type, id_number, unit_number, "
            "current_base, added_at) VALUES (?, 'daily', ?, ?, '201', ?, '11010500000001', '8000.00', "
            "'2025-03-15 08:00:00') RETURNING id",
            (ctx.unit_pk, f"E{n:09d}", f"职工{n:02d}", f"11010519900101{n:04d}"),
        ).fetchone()[0])


def test_a_stale_save_is_refused_and_the_other_save_stays(store: Store, ctx: wage_context.DraftContext) -> None:
    row_id = add_row(store, ctx, 1)
    loaded = wage_base.get_row(store, ctx, row_id)  # both clerks open the same row
    assert loaded["row_version"] == 1
    first = wage_base.update_row(store, ctx, row_id, "9000", "202503", row_version=1, employee_id="E000000001")
    assert (first["new_base"], first["row_version"]) == ("9000.00", 2)
    with pytest.raises(ConflictError) as err:
        wage_base.update_row(store, ctx, row_id, "7000", "202503", row_version=1, employee_id="E000000001")
    assert err.value.message == "该记录已被其他操作员修改，请刷新后再试"
    assert (err.value.status, err.value.code, err.value.field) == (409, "row_version_conflict", "row_version")
    kept = wage_base.get_row(store, ctx, row_id)
    assert (kept["new_base"], kept["effective_month"], kept["row_version"]) == ("9000.00", "202503", 2)
    # After reloading the row the second clerk's save goes through on the new version.
    again = wage_base.update_row(store, ctx, row_id, "7000", "202504", row_version=2, employee_id="E000000001")
    assert (again["new_base"], again["effective_month"], again["row_version"]) == ("7000.00", "202504", 3)


def test_a_removed_row_or_another_employee_under_its_id_is_not_saved(
    store: Store, ctx: wage_context.DraftContext
) -> None:
    row_id = add_row(store, ctx, 1)
    with pytest.raises(ConflictError):  # the id now names someone else's row
        wage_base.update_row(store, ctx, row_id, "9000", "202503", row_version=1, employee_id="E000000099")
    assert wage_base.get_row(store, ctx, row_id)["new_base"] == ""
    wage_base.delete_rows(store, ctx, [row_id])
    with pytest.raises(NotFoundError):
        wage_base.update_row(store, ctx, row_id, "9000", "202503", row_version=1, employee_id="E000000001")


def test_batch_changes_bump_the_version(store: Store, ctx: wage_context.DraftContext) -> None:
    ids = [add_row(store, ctx, n) for n in (1, 2)]
    versions = lambda: [wage_base.get_row(store, ctx, i)["row_version"] for i in ids]  # noqa: E731
    wage_base.batch_modify(store, ctx, ids, amount="9000")
    assert versions() == [2, 2]
    with store.write() as db:  # a month the business date has left behind
        db.execute_sql("UPDATE wage_base_draft SET effective_month = '202001' WHERE id = ?", (ids[0],))
    assert wage_base.fix_months(store, ctx) == 1
    assert versions() == [3, 2]
    wage_base.update_row(store, ctx, ids[1], "", "202503", {"pension": "9000"}, row_version=2)
    assert wage_base.collapse_item_bases(store, ctx) == 1
    assert versions() == [3, 4]
    with pytest.raises(ConflictError):  # a page that loaded before the batch change
        wage_base.update_row(store, ctx, ids[0], "1", "202503", row_version=1)


def imported(*employees: tuple[str, str, str]) -> ImportResult:
    rows = [
        ImportedRow(
            row=n + 2, employee_id=e, name=name, id_type="201", id_number=f"1101051990010{n:05d}",
            unit_number="11010500000001", current_base="8000.00", new_base=base, effective_month="202503",
            warning="",
        )
        for n, (e, name, base) in enumerate(employees)
    ]
    return ImportResult(rows=rows, problems=[], total_rows=len(rows), table=RawTable(1, [], [], {}, "工资.xlsx"))


def test_imports_bump_versions_so_a_stale_page_cannot_save_over_them(
    store: Store, ctx: wage_context.DraftContext
) -> None:
    row_id = add_row(store, ctx, 1)
    wage_base.update_row(store, ctx, row_id, "9000", "202503", row_version=1)  # version 2
    # 合并: the employee in the file is updated in place, with a new version.
    wage_base.save_import(store, ctx, imported(("E000000001", "职工01", "9100.00")), merge=True)
    merged = wage_base.get_row(store, ctx, row_id)
    assert (merged["new_base"], merged["row_version"]) == ("9100.00", 3)
    with pytest.raises(ConflictError):
        wage_base.update_row(store, ctx, row_id, "1", "202503", row_version=2)
    # 覆盖: the rows are new (SQLite may give them the old ids), their versions above any loaded.
    wage_base.save_import(store, ctx, imported(("E000000001", "职工01", "9200.00")), replace=True)
    (fresh,) = wage_base.search(store, ctx, wage_base.PageRequest(size=10), wage_base.DraftFilter()).rows
    assert fresh["new_base"] == "9200.00" and fresh["row_version"] == 4
    with pytest.raises((ConflictError, NotFoundError)):
        wage_base.update_row(store, ctx, row_id, "1", "202503", row_version=3, employee_id="E000000001")
    assert wage_base.get_row(store, ctx, fresh["id"])["new_base"] == "9200.00"
