"""单位总览: the per-unit aggregates, sorting, filtering, paging and the operator's units."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from client.core import agency
from client.core.paging import PageRequest
from client.core.store import Store
from client.errors import ValidationError

TODAY = dt.date(2025, 3, 15)


@pytest.fixture
def store(engine_store: Store) -> Store:
    """Each test runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    return engine_store


def add_unit(store: Store, unit_id: str, name: str, *, added_at: str = "2025-01-01 08:00:00",
             registration: str = "", removed: bool = False) -> int:
    with store.write() as db:
        cur = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at, registration, removed_at) "
            "VALUES (?, ?, ?, '110000', ?, ?, ?) RETURNING id",
            (f"91110000{unit_id}", unit_id, name, added_at, registration, "2025-02-01" if removed else None),
        )
        pk = cur.fetchone()[0]
    return int(pk)


def add_employees(store: Store, pk: int, count: int, *, removed: int = 0) -> None:
    rows = [(pk, f"E{pk}-{removed}-{i}", f"职工{i}", "居民身份证", f"11010119900101{i:04d}", "男", "1990-01-01",
             "N1", "[]", "正常缴费", "{}", "2025-03-01", removed, 1, "2025-03-01") for i in range(count)]
    with store.write() as db:
        db.executemany(
            "INSERT INTO enrollment_employee (unit_id, employee_id, name, id_type, id_number, gender, birth_date, "
            "unit_number, items, status, bases, taxside_updated_at, removed, seen_generation, synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def set_feed(store: Store, pk: int, updated_at: str, complete: int = 1) -> None:
    with store.write() as db:
        db.execute_sql("INSERT INTO feed_cursor (unit_id, feed, cursor, mode, generation, complete, updated_at) "
                       "VALUES (?, 'enrollment', 'c', 'incremental', 1, ?, ?)", (pk, complete, updated_at))


def add_drafts(store: Store, pk: int, count: int) -> None:
    with store.write() as db:
        db.executemany(
            "INSERT INTO wage_base_draft (unit_id, kind, employee_id, name, id_type, id_number, unit_number, "
            "added_at) VALUES (?, 'daily', ?, '张三', '居民身份证', '110101199001010011', 'N1', '2025-03-01')",
            [(pk, f"E{i}") for i in range(count)])


def add_summary(store: Store, pk: int, summary_id: str, state: str) -> None:
    with store.write() as db:
        db.execute_sql(
            "INSERT INTO fee_summary (unit_id, summary_id, kind, unit_number, agency, item, item_name, part, "
            "part_name, period_from, period_to, headcount, base_total, amount, version, computed_at, pack_version, "
            "state, has_details, fetched_at) VALUES (?, ?, 'daily', 'N1', '中心', 'pension', '养老', 'unit', '单位', "
            "'202503', '202503', 1, '5000.00', '800.00', 1, '2025-03-01', '1', ?, 0, '2025-03-01')",
            (pk, summary_id, state))


def add_entry(store: Store, pk: int, state: str, n: int) -> None:
    with store.write() as db:
        db.execute_sql(
            "INSERT INTO submission (unit_id, kind, idempotency_key, payload, summary, row_count, operator, state, "
            "created_at, updated_at) VALUES (?, 'fee_declaration', ?, '{}', '社保费申报', 1, 'tester', ?, "
            "'2025-03-01', '2025-03-01')", (pk, f"k-{pk}-{state}-{n}", state))


def add_arrear(store: Store, pk: int, arrear_id: str, total: str, deadline: str, state: str = "unpaid") -> None:
    with store.write() as db:
        db.execute_sql(
            "INSERT INTO payment_arrear (unit_id, arrear_id, declaration_id, summary_id, unit_number, agency, item, "
            "item_name, part, part_name, period_from, period_to, amount, deadline, late_days, late_fee, total, state) "
            "VALUES (?, ?, 'D1', 'S1', 'N1', '中心', 'pension', '养老', 'unit', '单位', '202502', '202502', ?, ?, 0, "
            "'0.00', ?, ?)", (pk, arrear_id, total, deadline, total, state))


def add_backup(store: Store, at: str, action: str = "自动备份") -> None:
    with store.write() as db:
        db.execute_sql("INSERT INTO audit_log (at, operator, action, detail) VALUES (?, 'tester', ?, 'x')",
                       (at, action))


def rows(store: Store, **kwargs: object) -> list[dict]:
    request = kwargs.pop("request", PageRequest(1, 50))
    page, _totals = agency.overview(store, request, today=TODAY, local_today=TODAY, **kwargs)  # type: ignore[arg-type]
    return page.rows


def test_each_unit_gets_its_own_aggregates(store: Store) -> None:
    a = add_unit(store, "U1", "甲公司")
    b = add_unit(store, "U2", "乙公司", added_at="2025-03-10 09:00:00")
    add_unit(store, "U3", "已删除单位", removed=True)
    add_employees(store, a, 5)
    add_employees(store, a, 2, removed=1)  # removed employees are not counted
    add_employees(store, b, 3)
    set_feed(store, a, "2025-03-12 10:00:00")
    add_drafts(store, a, 4)
    add_summary(store, a, "S1", "pending")
    add_summary(store, a, "S2", "declared")
    add_summary(store, b, "S3", "pending")
    for state, count in (("queued", 1), ("awaiting", 2), ("unknown", 1), ("sending", 1), ("accepted", 3)):
        for n in range(count):
            add_entry(store, a, state, n)
    add_entry(store, b, "awaiting", 0)
    add_arrear(store, a, "A1", "1234.56", "2025-03-20")
    add_arrear(store, a, "A2", "0.10", "2025-03-10")
    add_arrear(store, a, "A3", "99.99", "2025-03-01", state="paid")
    add_backup(store, "2025-03-05 12:00:00")
    add_backup(store, "2025-03-01 12:00:00", action="手动备份")

    # Deadlines count from the tax side's date, the age of local updates from this PC's.
    page, totals = agency.overview(store, PageRequest(1, 50), today=TODAY, current="U2",
                                   local_today=dt.date(2025, 3, 20))
    by_id = {r["unit_id"]: r for r in page.rows}
    assert set(by_id) == {"U1", "U2"}
    first, second = by_id["U1"], by_id["U2"]
    assert (first["employees"], first["enrollment_at"], first["enrollment_days"]) == (5, "2025-03-12 10:00:00", 8)
    assert (first["wage_base_drafts"], first["fee_pending"]) == (4, 1)
    assert (first["queued"], first["awaiting"], first["unknown"]) == (1, 2, 2)
    assert (first["arrears_count"], first["arrears_amount"], first["nearest_deadline"]) == (2, "1234.66", "2025-03-10")
    assert first["deadline_days"] == -5  # overdue by five days
    assert first["backup_at"] == "2025-03-05 12:00:00"
    assert not first["current"] and second["current"]
    assert (second["employees"], second["enrollment_at"], second["enrollment_days"]) == (3, None, None)
    assert (second["arrears_count"], second["arrears_amount"], second["nearest_deadline"]) == (0, "0.00", None)
    assert second["backup_at"] is None  # the newest backup was made before the unit was added
    assert totals.units == 2 and totals.awaiting == 3 and totals.unknown == 2
    assert totals.arrears_count == 2 and totals.arrears_amount == Decimal("1234.66")
    assert totals.overdue_units == 1


def test_amounts_sum_exactly(store: Store) -> None:
    pk = add_unit(store, "U1", "甲公司")
    for n in range(1000):  # 0.10 a thousand times: a float sum would drift
        add_arrear(store, pk, f"A{n}", "0.10", "2025-04-01")
    add_arrear(store, pk, "BIG", "98765432109.99", "2025-04-01")
    [row] = rows(store)
    assert row["arrears_amount"] == "98765432209.99"


@pytest.mark.parametrize("key", sorted(agency.SORTABLE))
def test_every_column_sorts_both_ways(store: Store, key: str) -> None:
    for n, (name, employees) in enumerate((("丙", 3), ("甲", 1), ("乙", 2))):
        pk = add_unit(store, f"U{n}", name)
        add_employees(store, pk, employees)
        add_drafts(store, pk, employees)
        set_feed(store, pk, f"2025-03-0{employees} 08:00:00")
        add_arrear(store, pk, f"A{n}", f"{employees}00.00", f"2025-04-0{employees}")
    up = rows(store, request=PageRequest(1, 50, key, False))
    down = rows(store, request=PageRequest(1, 50, key, True))
    assert len(up) == len(down) == 3
    if key in ("employees", "wage_base_drafts", "enrollment_at", "arrears_amount", "nearest_deadline"):
        assert [r["employees"] for r in up] == [1, 2, 3]
        assert [r["employees"] for r in down] == [3, 2, 1]


def test_never_updated_units_sort_last_both_ways(store: Store) -> None:
    fresh = add_unit(store, "U1", "甲")
    set_feed(store, fresh, "2025-03-14 08:00:00")
    old = add_unit(store, "U2", "乙")
    set_feed(store, old, "2025-01-01 08:00:00")
    add_unit(store, "U3", "丙")
    assert [r["unit_id"] for r in rows(store, request=PageRequest(1, 50, "enrollment_at", False))] == ["U2", "U1", "U3"]
    assert [r["unit_id"] for r in rows(store, request=PageRequest(1, 50, "enrollment_at", True))] == ["U1", "U2", "U3"]


def test_unknown_sort_is_refused(store: Store) -> None:
    with pytest.raises(ValidationError) as caught:
        rows(store, request=PageRequest(1, 50, "u.name; DROP TABLE unit", False))
    assert caught.value.field == "sort"


def test_filter_by_name_number_and_unit_number(store: Store) -> None:
    add_unit(store, "U1", "北京甲科技有限公司")
    add_unit(store, "U2", "上海乙贸易有限公司", registration='{"unit_numbers": [{"number": "110105246300"}]}')
    add_unit(store, "U3", "100%_公司")
    assert [r["unit_id"] for r in rows(store, flt=agency.OverviewFilter("科技"))] == ["U1"]
    assert [r["unit_id"] for r in rows(store, flt=agency.OverviewFilter("91110000U2"))] == ["U2"]
    assert [r["unit_id"] for r in rows(store, flt=agency.OverviewFilter("2463"))] == ["U2"]
    # LIKE wildcards typed by the operator are plain characters
    assert [r["unit_id"] for r in rows(store, flt=agency.OverviewFilter("%_"))] == ["U3"]
    assert rows(store, flt=agency.OverviewFilter("没有这个单位")) == []
    with pytest.raises(ValidationError):
        agency.OverviewFilter.parse({"q": "长" * 101})


def test_operator_sees_only_assigned_units(store: Store) -> None:
    for n in range(3):
        add_unit(store, f"U{n}", f"单位{n}")
    assert [r["unit_id"] for r in rows(store, allowed=frozenset({"U0", "U2"}))] == ["U0", "U2"]
    assert rows(store, allowed=frozenset()) == []
    assert len(rows(store, allowed=None)) == 3


def test_paging_keeps_totals_and_past_the_end(store: Store) -> None:
    for n in range(7):
        pk = add_unit(store, f"U{n}", f"单位{n}")
        add_arrear(store, pk, f"A{n}", "10.00", "2025-04-01")
    page, totals = agency.overview(store, PageRequest(2, 3), today=TODAY)
    assert [r["unit_id"] for r in page.rows] == ["U3", "U4", "U5"]
    assert page.total == 7 and totals.arrears_count == 7 and totals.arrears_amount == Decimal("70.00")
    page, totals = agency.overview(store, PageRequest(9, 3), today=TODAY)
    assert page.rows == [] and page.total == 7
    assert agency.unit_count(store) == 7
