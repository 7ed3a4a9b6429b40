"""The local fee check against the live reference tax side: the same pack and bases give
the same figures; every kind of difference is found and named; exports keep IDs as text."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from client.core import fee_check
from client.core import fee_declaration as fees
from client.sync import fee_declaration as fee_sync
from client.sync.enrollment import EnrollmentSync
from rules.packs import load_pack
from tests.sync.fee_helpers import refreshed, synced


@pytest.fixture
def risk(client, unit) -> int:
    return client.unit_registration(unit.unit_id).industry_risk_class


def downloaded(store, client, unit, unit_pk, kind: str = "daily") -> list[fees.Summary]:
    fee_sync.refresh_summaries(store, client, unit_pk, unit.unit_id, kind)
    chosen = fees.summaries(store, unit_pk, kind)
    for s in chosen:
        fee_sync.download_details(store, client, unit_pk, unit.unit_id, s.summary_id, s.version)
    return chosen


def run(store, unit, unit_pk, chosen, risk) -> fee_check.FeeCheck:
    return fee_check.check(store, unit_pk, chosen, load_pack(unit.region), risk)


def test_same_pack_and_bases_give_the_same_figures(store, client, unit, unit_pk, risk) -> None:
    synced(store, client, unit, unit_pk)
    chosen = downloaded(store, client, unit, unit_pk)
    result = run(store, unit, unit_pk, chosen, risk)
    assert result.ok and not result.differences and not result.stale, result.message
    assert all(i.details_checked for i in result.items)
    for item, s in zip(result.items, chosen, strict=True):
        assert (item.local_headcount, item.local_base_total, item.local_amount) == (
            s.headcount, s.base_total, s.amount)
    assert "一致" in result.message


def test_totals_only_without_details(store, client, unit, unit_pk, risk) -> None:
    synced(store, client, unit, unit_pk)
    chosen = refreshed(store, client, unit, unit_pk)
    result = run(store, unit, unit_pk, chosen, risk)
    assert result.ok and not any(i.details_checked for i in result.items)
    assert "人员明细未下载" in result.message


def test_every_kind_of_difference(store, client, unit, unit_pk, risk, tmp_path: Path) -> None:
    synced(store, client, unit, unit_pk)
    chosen = downloaded(store, client, unit, unit_pk)
    people = store.db.execute_sql(
        "SELECT employee_id, bases FROM enrollment_employee WHERE unit_id = ? AND status = '正常缴费' "
        "ORDER BY employee_id LIMIT 3", (unit_pk,),
    ).fetchall()
    (changed, changed_bases), (gone, _), (cloned, cloned_bases) = people
    bases = {k: "20000.00" for k in json.loads(changed_bases)}
    with store.write() as db:
        db.execute_sql("UPDATE enrollment_employee SET bases = ? WHERE unit_id = ? AND employee_id = ?",
                       (json.dumps(bases), unit_pk, changed))
        db.execute_sql("UPDATE enrollment_employee SET removed = 1 WHERE unit_id = ? AND employee_id = ?",
                       (unit_pk, gone))
        # Someone paying here whom the tax side does not list.
        db.execute_sql(
            "INSERT INTO enrollment_employee (unit_id, employee_id, name, id_type, id_number, gender, birth_date, "
            "unit_number, items, status, bases, taxside_updated_at, synced_at) SELECT unit_id, 'E999999999', "
            "'新职工', id_type, '11010519491231002X', gender, birth_date, unit_number, items, status, bases, "
            "taxside_updated_at, synced_at FROM enrollment_employee WHERE unit_id = ? AND employee_id = ?",
            (unit_pk, cloned),
        )
    # One cached amount off by one fen (within the rounding), one by two fen (beyond it).
    pension = next(s for s in chosen if s.item == "pension" and s.part == "employer")
    version, lines = fees.detail_lines(store, unit_pk, pension.summary_id)
    others = [n for n, line in enumerate(lines) if line.split("\t")[0] not in (changed, gone, cloned)][:2]
    rows = []
    for n, delta in zip(others, ("0.01", "0.02"), strict=True):
        eid, period, base, amount = lines[n].split("\t")
        lines[n] = "\t".join((eid, period, base, str(Decimal(amount) + Decimal(delta))))
        rows.append(eid)
    with store.write() as db:
        db.execute_sql("UPDATE fee_summary_detail SET lines = ? WHERE unit_id = ? AND summary_id = ?",
                       ("\n".join(lines), unit_pk, pension.summary_id))
    result = run(store, unit, unit_pk, chosen, risk)
    assert not result.ok
    found = {(d.kind, d.employee_id) for d in result.differences if d.summary_id == pension.summary_id}
    assert ("base", changed) in found and ("unknown", gone) in found and ("missing", "E999999999") in found
    assert ("amount", rows[1]) in found and ("amount", rows[0]) not in found
    unknown = next(d for d in result.differences if d.kind == "unknown")
    assert unknown.name and unknown.id_number  # named as the tax side lists the person
    item = next(i for i in result.items if i.summary_id == pension.summary_id)
    assert item.differs and item.differences == 4
    assert "不一致" in result.message

    path = tmp_path / "diff.xlsx"
    assert fee_check.export_xlsx(result, path) == len(result.differences)
    book = openpyxl.load_workbook(path)
    sheet = book["职工差异"]
    header = [c.value for c in sheet[1]]
    numbers = [row for row in sheet.iter_rows(min_row=2, values_only=True)]
    id_col = header.index("证件号码")
    assert all(isinstance(r[id_col], str) for r in numbers)
    assert any(r[id_col] == "11010519491231002X" for r in numbers)
    money_col = header.index("税务端应缴金额")
    assert any(isinstance(r[money_col], float) for r in numbers)
    summary_sheet = book["汇总核对"]
    assert isinstance(summary_sheet.cell(2, 2).value, str)  # 单位编号 stays text
    assert all(not str(c.value).startswith("=") for row in sheet.iter_rows() for c in row if c.value)


def test_stale_local_data_then_update(taxside, store, client, unit, unit_pk, risk) -> None:
    synced(store, client, unit, unit_pk)
    with store.write() as db:  # updated a while ago (times have one-second steps)
        for feed, updated_at in db.execute_sql("SELECT feed, updated_at FROM feed_cursor WHERE unit_id = ?",
                                               (unit_pk,)).fetchall():
            earlier = dt.datetime.fromisoformat(updated_at) - dt.timedelta(minutes=1)
            db.execute_sql("UPDATE feed_cursor SET updated_at = ? WHERE unit_id = ? AND feed = ?",
                           (earlier.isoformat(sep=" ", timespec="seconds"), unit_pk, feed))
    taxside.sim("POST", f"/units/{unit.unit_id}/base-changes", {"count": 5, "ratio": "1.10"})
    taxside.sim("POST", f"/units/{unit.unit_id}/fee-summaries/preprocess")
    chosen = downloaded(store, client, unit, unit_pk)
    result = run(store, unit, unit_pk, chosen, risk)
    assert result.stale and "建议先更新职工参保信息" in result.message
    assert result.differences  # the five new bases are not known here yet
    EnrollmentSync(store, client, unit_pk, unit.unit_id).run("incremental")
    result = run(store, unit, unit_pk, chosen, risk)
    assert result.ok and not result.stale, result.message


def test_special_summaries_are_checked_month_by_month(taxside, store, client, unit, unit_pk, risk) -> None:
    synced(store, client, unit, unit_pk)
    taxside.sim("POST", f"/units/{unit.unit_id}/special-summaries",
                {"special_type": "补缴", "from": "202501", "to": "202502", "count": 3})
    # The summaries are computed after the first update: update again so the local data are not
    # older than them (otherwise the check rightly says stale when the clock crosses a second).
    EnrollmentSync(store, client, unit_pk, unit.unit_id).run("incremental")
    chosen = downloaded(store, client, unit, unit_pk, "special")
    assert chosen and all(s.kind == "special" and s.period_label == "202501-202502" for s in chosen)
    result = run(store, unit, unit_pk, chosen, risk)
    assert result.ok, result.message
    assert all(i.local_headcount == 3 for i in result.items)
