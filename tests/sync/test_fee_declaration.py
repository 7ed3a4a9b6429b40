"""社保费申报 against the live reference tax side: summaries, declaring through the one
sender, feedback, records of every channel merged with the journal, voids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.core import fee_declaration as fees
from client.core import journal
from client.core.paging import PageRequest
from client.errors import ConflictError, ValidationError
from client.sync import fee_declaration as fee_sync
from client.sync.outbox import Outbox
from tests.sync.fee_helpers import declarations, declare_all, refreshed, voids

TODAY = "2025-03-15"


@pytest.fixture
def outbox(store, tmp_path: Path) -> Outbox:
    return Outbox(store, tmp_path)


@pytest.fixture(autouse=True)
def no_delay(taxside) -> None:
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})


def all_records(store, unit_pk, **filters: str) -> list[dict]:
    return fees.records(store, unit_pk, PageRequest(size=500), fees.RecordFilter.parse(filters)).rows


def test_summaries_are_cached_and_queried(store, client, unit, unit_pk) -> None:
    chosen = refreshed(store, client, unit, unit_pk)
    assert len(chosen) >= 5 and all(s.state == "pending" and s.period_from == "202503" for s in chosen)
    first = chosen[0]
    assert fees.summaries(store, unit_pk, filters=fees.SummaryFilter(unit_number=first.unit_number))
    assert not fees.summaries(store, unit_pk, filters=fees.SummaryFilter(period="202502"))
    assert fees.summaries(store, unit_pk, filters=fees.SummaryFilter.parse({"period": "202503"})) == chosen
    assert not fees.summaries(store, unit_pk, filters=fees.SummaryFilter(agency="别的经办机构"))
    with pytest.raises(ValidationError, match="YYYYMM"):
        fees.SummaryFilter.parse({"period": "2025-03"})
    # 刷新 replaces the cache: nothing is listed twice.
    assert refreshed(store, client, unit, unit_pk) == [
        fees.summaries_by_id(store, unit_pk, [s.summary_id])[0] for s in chosen
    ]


def test_declare_feedback_record_and_void(taxside, store, client, unit, unit_pk, outbox) -> None:
    entry_id = declare_all(store, client, unit, unit_pk)
    entry = journal.get(store, entry_id)
    assert entry.kind == fees.DECLARATION and entry.state == journal.QUEUED
    (row,) = all_records(store, unit_pk)
    assert (row["status_label"], row["entry_id"]) == ("待提交", entry_id)
    with pytest.raises(ConflictError, match="已提交申报"):  # the same summaries cannot go twice
        fees.declare(store, unit_pk, [fees.summaries(store, unit_pk)[0].summary_id], "tester")

    assert outbox.send(client, unit_pk, unit.unit_id).sent == 1
    assert journal.get(store, entry_id).state == journal.AWAITING
    (row,) = all_records(store, unit_pk)
    assert row["status_label"] == "待反馈" and row["declaration_id"]

    report = outbox.fetch_feedback(client, unit_pk, unit.unit_id)
    assert (report.accepted, report.rejected) == (1, 0)
    (row,) = all_records(store, unit_pk)
    assert row["status_label"] == "申报成功" and row["entry_id"] == entry_id and row["can_void"]
    assert row["arrears"] and all(a["state"] == "unpaid" for a in row["arrears"])
    assert all(s.state == "declared" for s in fees.summaries(store, unit_pk))
    # Fetching the tax side's records again keeps one row per declaration.
    for _ in range(2):
        fee_sync.sync_records(store, client, unit_pk, unit.unit_id, "2025-02-01", TODAY)
    assert len(all_records(store, unit_pk)) == 1 and declarations(taxside) == 1

    with pytest.raises(ValidationError, match="作废原因"):
        fees.request_void(store, unit_pk, row["declaration_id"], " ", "tester")
    with pytest.raises(ValidationError, match="不超过100个字"):
        fees.request_void(store, unit_pk, row["declaration_id"], "字" * 101, "tester")
    void_id = fees.request_void(store, unit_pk, row["declaration_id"], "申报有误", "tester")
    with pytest.raises(ConflictError, match="作废申请"):
        fees.request_void(store, unit_pk, row["declaration_id"], "再次作废", "tester")
    assert not all_records(store, unit_pk)[0]["can_void"]
    outbox.send(client, unit_pk, unit.unit_id)
    report = outbox.fetch_feedback(client, unit_pk, unit.unit_id)
    assert report.accepted == 1
    assert journal.get(store, void_id).state_label == "作废成功"
    (row,) = all_records(store, unit_pk)
    assert row["status_label"] == "已作废" and not row["can_void"]
    assert all(a["state"] == "voided" for a in row["arrears"]) and voids(taxside) == 1
    assert [r["status"] for r in all_records(store, unit_pk, status="voided")] == ["voided"]
    assert not all_records(store, unit_pk, status="accepted")
    # Voided: the summaries are pending again and can be declared anew.
    assert all(s.state == "pending" for s in refreshed(store, client, unit, unit_pk))


def test_records_of_every_channel_and_date_filters(taxside, store, client, unit, unit_pk) -> None:
    made = taxside.sim("POST", f"/units/{unit.unit_id}/fee-declarations", {})  # on the 电子税务局
    result = fee_sync.sync_records(store, client, unit_pk, unit.unit_id, *fee_sync.default_range(
        __import__("datetime").date(2025, 3, 15)))
    assert result.count == 1 and "2025-02-01" in result.message
    (row,) = all_records(store, unit_pk)
    assert row["declaration_id"] == made["declaration_id"] and row["channel"] == "电子税务局"
    assert row["entry_id"] is None and row["status_label"] == "申报成功"
    assert all_records(store, unit_pk, date_from=TODAY, date_to=TODAY)
    assert not all_records(store, unit_pk, date_from="2025-03-16")
    with pytest.raises(ValidationError, match="日期范围"):
        fee_sync.sync_records(store, client, unit_pk, unit.unit_id, "2024-01-01", TODAY)
    with pytest.raises(ValidationError, match="不能晚于"):
        fee_sync.check_range("2025-03-15", "2025-03-01")
    with pytest.raises(ValidationError, match="申报状态"):
        fees.RecordFilter.parse({"status": "nonsense"})


def test_stale_summary_is_rejected_with_a_clear_message(taxside, store, client, unit, unit_pk, outbox) -> None:
    entry_id = declare_all(store, client, unit, unit_pk)
    # The tax side re-computes after new hires: the versions in the entry are stale now.
    taxside.sim("POST", f"/units/{unit.unit_id}/hires", {"count": 3})
    taxside.sim("POST", f"/units/{unit.unit_id}/fee-summaries/preprocess")
    outbox.send(client, unit_pk, unit.unit_id)
    report = outbox.fetch_feedback(client, unit_pk, unit.unit_id)
    assert report.rejected == 1
    entry = journal.get(store, entry_id)
    assert entry.state == journal.REJECTED and entry.reasons
    assert all("汇总已重新计算，请刷新后重新申报" in r["message"] and r["row"] >= 1 for r in entry.reasons)
    assert "基本养老保险" in entry.reasons[0]["message"]  # names the summary as the operator saw it
    (row,) = all_records(store, unit_pk)
    assert row["status_label"] == "申报失败" and row["reasons"]
    # Refreshed, the same summaries can be declared again (new versions) and pass.
    declare_all(store, client, unit, unit_pk)
    outbox.send(client, unit_pk, unit.unit_id)
    assert outbox.fetch_feedback(client, unit_pk, unit.unit_id).accepted == 1
    assert declarations(taxside) == 2
    assert sorted(r["status_label"] for r in all_records(store, unit_pk)) == ["申报失败", "申报成功"]


def test_void_refused_by_the_tax_side(taxside, store, client, unit, unit_pk, outbox) -> None:
    declare_all(store, client, unit, unit_pk)
    outbox.send(client, unit_pk, unit.unit_id)
    outbox.fetch_feedback(client, unit_pk, unit.unit_id)
    (row,) = all_records(store, unit_pk)
    # Paid meanwhile at the bank: this PC does not know yet, the tax side refuses.
    taxside.sim("POST", f"/units/{unit.unit_id}/fee-declarations/{row['declaration_id']}/paid", {})
    void_id = fees.request_void(store, unit_pk, row["declaration_id"], "申报有误", "tester")
    outbox.send(client, unit_pk, unit.unit_id)
    assert outbox.fetch_feedback(client, unit_pk, unit.unit_id).rejected == 1
    entry = journal.get(store, void_id)
    assert entry.state_label == "作废失败" and entry.reasons[0]["message"] == "该申报已缴款，不能作废"
    (row,) = all_records(store, unit_pk)
    assert row["status_label"] == "申报成功"
    # Once the records are synced the paid state is known and the void is offered no more.
    fee_sync.sync_records(store, client, unit_pk, unit.unit_id, "2025-03-01", TODAY)
    (row,) = all_records(store, unit_pk)
    assert row["paid"] and not row["can_void"]
    with pytest.raises(ConflictError, match="已缴款"):
        fees.request_void(store, unit_pk, row["declaration_id"], "申报有误", "tester")


def test_refused_at_once_is_a_failed_declaration(taxside, store, client, unit, unit_pk, outbox) -> None:
    """A request the tax side refuses when it arrives (400) ends 申报失败 with its message."""
    chosen = refreshed(store, client, unit, unit_pk)
    entry_id = fees.declare(store, unit_pk, [chosen[0].summary_id], "tester")
    # A payload damaged on disk (a summary named twice) is refused as a whole.
    (text,) = store.db.execute_sql("SELECT payload FROM submission WHERE id = ?", (entry_id,)).fetchone()
    payload = json.loads(text)
    payload["summaries"][1:2] = [payload["summaries"][0]]
    store.db.execute_sql("UPDATE submission SET payload = ? WHERE id = ?", (json.dumps(payload), entry_id))
    report = outbox.send(client, unit_pk, unit.unit_id)
    assert report.refused == 1
    entry = journal.get(store, entry_id)
    assert entry.state == journal.REJECTED and "重复" in entry.reasons[0]["message"]
    assert declarations(taxside) == 0
