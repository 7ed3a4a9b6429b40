"""缴费工资申报 drafts: add, edit, batch modify, delete, import, export, submit into the journal."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from client.core import journal, wage_base, wage_context, wage_import, wage_submit
from client.core.store import Store
from client.errors import ConflictError, NotFoundError, ValidationError
from rules.codes import id_check_char
from rules.packs import load_pack

TODAY = dt.date(2025, 3, 15)  # the reference tax side's business date


def make_id(n: int) -> str:
    first = f"11010519900101{n:03d}"
    return first + id_check_char(first)


@pytest.fixture
def store(engine_store: Store) -> Store:
    """Each test runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    return engine_store


@pytest.fixture
def unit_pk(store: Store) -> int:
    with store.write() as db:
        cur = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES ('91110105MA01ABCD1X', 'U000001', '测试单位', '110000', '2025-03-15 08:00:00') RETURNING id"
        )
        unit = cur.fetchone()[0]
        rows = []
        for n in range(1, 21):
            status = "停止缴费" if n == 20 else "正常缴费"
            number = "11010500000001" if n <= 10 else "11010500000002"
            rows.append(
                (
                    unit,
                    f"E{n:09d}",
                    f"职工{n:02d}",
                    "201",
                    make_id(n),
                    "男",
                    "1990-01-01",
                    number,
                    '["pension", "medical"]',
                    status,
                    json.dumps({"pension": "8000.00", "medical": "8000.00"}),
                    "2025-03-15T08:00:00",
                    "2025-03-15 08:00:00",
                )
            )
        db.executemany(
            "INSERT INTO enrollment_employee (unit_id, employee_id, name, id_type, id_number, gender, birth_date, "
            "unit_number, items, status, bases, taxside_updated_at, synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return int(unit)


def ctx(
    unit_pk: int, kind: str = "daily", today: dt.date = TODAY, per_item: bool = False
) -> wage_context.DraftContext:
    return wage_context.DraftContext(unit_pk, kind, load_pack("110000"), today, per_item)


def page(store: Store, c: wage_context.DraftContext, **filters: str):
    return wage_base.search(
        store, c, wage_base.PageRequest(size=100), wage_base.DraftFilter(**filters)
    )


def test_add_all_normal_and_by_unit_number(store: Store, unit_pk: int) -> None:
    c = ctx(unit_pk)
    first = wage_base.add_by_unit_number(store, c, "11010500000001")
    assert (first.added, first.already) == (10, 0)
    result = wage_base.add_all_normal(store, c)
    assert (result.added, result.already) == (9, 10)  # 职工20 stopped paying: not added
    rows = page(store, c).rows
    assert len(rows) == 19 and rows[0]["current_base"] == "8000.00" and rows[0]["new_base"] == ""
    assert wage_base.summary(store, c).missing == 19
    # the draft is per kind: the annual draft is still empty
    assert wage_base.count(store, ctx(unit_pk, "annual", dt.date(2025, 8, 1))) == 0


def test_add_one_checks_and_edits(store: Store, unit_pk: int) -> None:
    c = ctx(unit_pk)
    row = wage_base.add_one(store, c, "E000000001", "9,000.5", "2025-03")
    assert (row["new_base"], row["effective_month"], row["warning"]) == ("9000.50", "202503", "")
    with pytest.raises(ConflictError):
        wage_base.add_one(store, c, "E000000001", "9000", "202503")
    with pytest.raises(ValidationError, match="停止缴费"):
        wage_base.add_one(store, c, "E000000020", "9000", "202503")
    with pytest.raises(NotFoundError):
        wage_base.add_one(store, c, "E999999999", "9000", "202503")
    with pytest.raises(ValidationError, match="生效年月") as err:
        wage_base.add_one(store, c, "E000000002", "9000", "202601")
    assert err.value.field == "effective_month"
    with pytest.raises(ValidationError) as err:
        wage_base.add_one(store, c, "E000000002", "-1", "202503")
    assert err.value.field == "new_base"
    low = wage_base.update_row(store, c, row["id"], "3000", "202503")
    assert "下限" in low["warning"]
    assert page(store, c, id_number=make_id(1)).total == 1
    assert page(store, c, name="职工01").total == 1
    assert page(store, c, name="职工0").total == 1  # 查询 by name or ID prefix, as the enrollment list
    assert page(store, c, name="职工1").total == 0
    assert page(store, c, id_number=make_id(1)[:8]).total == 1


def test_batch_modify_ratio_amount_month(store: Store, unit_pk: int) -> None:
    c = ctx(unit_pk)
    wage_base.add_by_unit_number(store, c, "11010500000001")
    ids = [r["id"] for r in page(store, c).rows]
    assert (
        wage_base.batch_modify(store, c, ids[:3], ratio_percent="5", effective_month="202503") == 3
    )
    rows = {r["id"]: r for r in page(store, c).rows}
    assert rows[ids[0]]["new_base"] == "8400.00" and rows[ids[0]]["effective_month"] == "202503"
    wage_base.batch_modify(store, c, ids[:1], ratio_percent="5", basis="new")
    assert wage_base.get_row(store, c, ids[0])["new_base"] == "8820.00"
    wage_base.batch_modify(store, c, ids[3:5], amount="50000")
    assert "上限" in wage_base.get_row(store, c, ids[3])["warning"]
    with pytest.raises(ValidationError):
        wage_base.batch_modify(store, c, ids, ratio_percent="5", amount="100")
    with pytest.raises(ValidationError):
        wage_base.batch_modify(store, c, [], ratio_percent="5")
    with pytest.raises(ValidationError):
        wage_base.batch_modify(store, c, ids, effective_month="2025-13")
    assert wage_base.delete_rows(store, c, ids[:2]) == 2
    assert wage_base.count(store, c) == 8


def test_submit_blocks_confirms_and_moves_draft_into_journal(store: Store, unit_pk: int) -> None:
    c = ctx(unit_pk)
    with pytest.raises(ValidationError, match="申报列表为空"):
        wage_submit.submit(store, c, "clerk")
    wage_base.add_by_unit_number(store, c, "11010500000001")
    ids = [r["id"] for r in page(store, c).rows]
    with pytest.raises(ValidationError, match="10 名职工未填写"):
        wage_submit.submit(store, c, "clerk")
    wage_base.batch_modify(store, c, ids, amount="9000", effective_month="202503")
    wage_base.update_row(store, c, ids[0], "0", "202503")
    with pytest.raises(ConflictError) as err:
        wage_submit.submit(store, c, "clerk")
    assert err.value.code == "confirm_submit" and "为 0" in err.value.message
    assert wage_base.count(store, c) == 10  # nothing moved
    entry_id = wage_submit.submit(store, c, "clerk", confirmed=True)
    assert wage_base.count(store, c) == 0
    entry = journal.get(store, entry_id)
    assert (entry.state, entry.row_count, entry.kind) == (journal.QUEUED, 10, "wage_base_daily")
    payload = journal.payload(store, entry_id)
    assert payload["kind"] == "daily" and payload["rows"][1]["base"] == "9000.00"
    assert payload["rows"][1]["effective_month"] == "202503"
    assert len(entry.idempotency_key) == 36


def test_copy_back_rejected_rows(store: Store, unit_pk: int) -> None:
    c = ctx(unit_pk)
    wage_base.add_by_unit_number(store, c, "11010500000002")
    ids = [r["id"] for r in page(store, c).rows]
    wage_base.batch_modify(store, c, ids, amount="9000", effective_month="202503")
    entry_id = wage_submit.submit(store, c, "clerk")
    with pytest.raises(ConflictError):
        wage_submit.copy_back(store, c, entry_id)  # not rejected
    journal.mark_decided(store, entry_id, False, [{"row": 2, "message": "低于缴费基数下限"}])
    result = wage_submit.copy_back(store, c, entry_id)
    assert result.added == len(ids)
    rows = page(store, c).rows
    assert (
        rows[1]["warning"] == "上次申报失败：低于缴费基数下限" and rows[1]["new_base"] == "9000.00"
    )


def test_annual_window(store: Store, unit_pk: int) -> None:
    closed = ctx(unit_pk, "annual", TODAY)
    with pytest.raises(ConflictError, match="开放时间"):
        wage_base.add_all_normal(store, closed)
    opened = ctx(unit_pk, "annual", dt.date(2025, 8, 1))
    wage_base.add_all_normal(store, opened)
    ids = [r["id"] for r in page(store, opened).rows]
    wage_base.batch_modify(store, opened, ids, amount="12000")
    with pytest.raises(ValidationError):
        wage_base.batch_modify(store, opened, ids, effective_month="202507")
    entry_id = wage_submit.submit(store, opened, "clerk")
    assert "生效年月 202507" in journal.get(store, entry_id).summary
    assert journal.payload(store, entry_id)["rows"][0]["effective_month"] is None


def xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_import_replaces_only_after_confirmation(store: Store, unit_pk: int) -> None:
    c = ctx(unit_pk)
    data = xlsx(
        [
            ["姓名", "证件号码", "新缴费工资", "生效年月"],
            ["职工01", make_id(1), "9000", "202503"],
            ["职工02", make_id(2), "abc", "202503"],
            ["职工03", make_id(3), "2000", "202503"],
        ]
    )
    result = wage_import.import_file(data, "a.xlsx", wage_base.enrolled(store, unit_pk), c)
    assert wage_base.save_import(store, c, result, replace=False) == 2
    assert any(p.row == 3 and p.severity == "error" for p in result.problems)
    rows = page(store, c).rows
    assert [r["name"] for r in rows] == ["职工01", "职工03"] and "下限" in rows[1]["warning"]
    with pytest.raises(ConflictError) as err:
        wage_base.save_import(store, c, result, replace=False)
    assert err.value.code == "draft_not_empty" and wage_base.count(store, c) == 2
    wage_base.save_import(store, c, result, replace=True)
    assert wage_base.count(store, c) == 2


def test_export_round_trips_through_import(store: Store, unit_pk: int, tmp_path: Path) -> None:
    c = ctx(unit_pk)
    wage_base.add_by_unit_number(store, c, "11010500000001")
    ids = [r["id"] for r in page(store, c).rows]
    wage_base.batch_modify(store, c, ids, amount="9100.5", effective_month="202503")
    target = tmp_path / "draft.xlsx"
    assert wage_base.export_xlsx(store, c, None, target) == 10
    sheet = openpyxl.load_workbook(target).active
    assert sheet.cell(2, 3).data_type == "s" and sheet.cell(2, 3).value == make_id(1)
    result = wage_import.import_file(
        target.read_bytes(), "draft.xlsx", wage_base.enrolled(store, unit_pk), c
    )
    assert not [p for p in result.problems if p.severity == "error"]
    assert {r.new_base for r in result.rows} == {"9100.50"} and len(result.rows) == 10
    assert wage_base.export_xlsx(store, c, ids[:2], tmp_path / "two.xlsx") == 2


def test_per_item_bases(store: Store, unit_pk: int) -> None:
    with pytest.raises(ValidationError, match="按险种"):
        wage_base.add_one(store, ctx(unit_pk), "E000000001", "", "202503", {"pension": "9000"})
    c = ctx(unit_pk, per_item=True)
    row = wage_base.add_one(
        store, c, "E000000001", "", "202503", {"pension": "9000", "medical": "8500"}
    )
    assert row["item_bases"] == {"pension": "9000.00", "medical": "8500.00"}
    wage_submit.submit(store, c, "clerk")
    entry = journal.entries(store, unit_pk, [journal.QUEUED])[0]
    assert journal.payload(store, entry.id)["rows"][0]["bases"] == {
        "pension": "9000.00",
        "medical": "8500.00",
    }


def test_context_rules() -> None:
    c = ctx(1)
    assert c.check_month("202407") is None and c.check_month("202504") is None
    assert "超出" in (c.check_month("202505") or "")
    assert c.check_base("202503", Decimal("8000")) is None
    assert c.check_base(None, Decimal("0"))


def test_merge_import_keeps_good_rows_and_updates_by_employee(store: Store, unit_pk: int) -> None:
    """Doing what the screen says (fix the error report, import it again) loses no good row."""
    c = ctx(unit_pk)
    first = wage_import.import_file(xlsx([
        ["姓名", "证件号码", "新缴费工资", "生效年月"],
        ["职工01", make_id(1), "9000", "202503"],
        ["职工02", make_id(2), "abc", "202503"],
        ["职工03", make_id(3), "9500", "202503"],
    ]), "a.xlsx", wage_base.enrolled(store, unit_pk), c)
    assert wage_base.save_import(store, c, first) == 2
    fixed = wage_import.import_file(xlsx([
        ["姓名", "证件号码", "新缴费工资", "生效年月", "错误原因"],
        ["职工02", make_id(2), "9200", "202503", "新缴费工资不是数字"],
        ["职工03", make_id(3), "9600", "202504", ""],
    ]), "导入错误报告.xlsx", wage_base.enrolled(store, unit_pk), c)
    assert wage_base.save_import(store, c, fixed, merge=True) == 2
    rows = {r["name"]: r for r in page(store, c).rows}
    assert set(rows) == {"职工01", "职工02", "职工03"}
    assert rows["职工01"]["new_base"] == "9000.00"  # kept
    assert (rows["职工03"]["new_base"], rows["职工03"]["effective_month"]) == ("9600.00", "202504")
    wage_base.save_import(store, c, fixed, replace=True)
    assert {r["name"] for r in page(store, c).rows} == {"职工02", "职工03"}


def test_months_out_of_range_are_shown_blocked_and_fixed(store: Store, unit_pk: int) -> None:
    c = ctx(unit_pk)
    wage_base.add_by_unit_number(store, c, "11010500000001")
    ids = [r["id"] for r in page(store, c).rows]
    wage_base.batch_modify(store, c, ids, amount="9000", effective_month="202407")
    later = ctx(unit_pk, today=dt.date(2025, 8, 15))  # the business date moved into a new base year
    info = wage_base.summary(store, later)
    assert info.out_of_range == 10 and info.flagged == 10
    assert "超出允许范围" in page(store, later).rows[0]["month_problem"]
    assert page(store, c).rows[0]["month_problem"] == ""
    assert page(store, later, flagged=True).total == 10
    with pytest.raises(ValidationError) as err:
        wage_submit.submit(store, later, "clerk", confirmed=True)
    assert err.value.code == "months_out_of_range"
    assert "职工01、职工02、职工03等 10 名职工" in err.value.message
    assert wage_base.fix_months(store, later) == 10
    first, _last = later.effective_range
    assert {r["effective_month"] for r in page(store, later).rows} == {str(first)}
    assert wage_base.summary(store, later).out_of_range == 0
    wage_submit.submit(store, later, "clerk", confirmed=True)


def test_submit_confirmation_names_employees_and_counts_zero_once(store: Store, unit_pk: int) -> None:
    c = ctx(unit_pk)
    wage_base.add_by_unit_number(store, c, "11010500000001")
    ids = [r["id"] for r in page(store, c).rows]
    wage_base.batch_modify(store, c, ids, amount="9000", effective_month="202503")
    wage_base.update_row(store, c, ids[0], "0", "202503")
    wage_base.update_row(store, c, ids[1], "3000", "202503")
    info = wage_base.summary(store, c)
    assert (info.zero, info.warnings) == (1, 1)  # the zero row is not also a floor/cap warning
    check = wage_submit.check_submit(store, c)
    assert check.zero == "职工01" and check.limits == "职工02"
    assert "职工01的新缴费工资为 0" in check.message and "职工02的新缴费工资超出" in check.message
    assert {r["name"] for r in page(store, c, flagged=True).rows} == {"职工01", "职工02"}


def test_select_all_matching_rows_across_pages(store: Store, unit_pk: int, tmp_path: Path) -> None:
    c = ctx(unit_pk)
    wage_base.add_all_normal(store, c)
    every = wage_base.Selection.parse({"all": True, "filter": {"name": "职工1"}})
    assert wage_base.batch_modify(store, c, every, amount="9900", effective_month="202503") == 10
    assert {r["name"] for r in page(store, c).rows if r["new_base"] == "9900.00"} == {
        f"职工{n}" for n in range(10, 20)
    }
    assert wage_base.export_xlsx(store, c, every, tmp_path / "some.xlsx") == 10
    assert wage_base.delete_rows(store, c, every) == 10
    assert wage_base.count(store, c) == 9
    with pytest.raises(ValidationError):
        wage_base.Selection.parse({"ids": "1,2"})


def test_collapse_item_bases_back_to_one_base(store: Store, unit_pk: int) -> None:
    c = ctx(unit_pk, per_item=True)
    wage_base.add_one(store, c, "E000000001", "", "202503", {"pension": "9000", "medical": "8500"})
    assert wage_base.summary(store, c).per_item_rows == 1
    assert wage_base.collapse_item_bases(store, c) == 1
    row = page(store, c).rows[0]
    assert (row["new_base"], row["item_bases"]) == ("9000.00", {})
