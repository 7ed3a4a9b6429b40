"""首页 本月待办 and the 12-period charts from local data: each line's state as the data change,
written through the same save functions the syncs use, on a real SQLite file."""

from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from client.core import audit, home_charts, home_status, journal
from client.core import fee_declaration as fees
from client.core import payment as pay
from client.core import payment_records as records
from client.core.payment_views import without_base as alerts_without_base
from client.core.store import Store
from rules.packs import load_pack
from rules.periods import Period

TODAY = dt.date(2025, 4, 15)
NOW = dt.datetime(2025, 4, 15, 10, 0)
ITEMS = (("pension", "基本养老保险"), ("medical", "基本医疗保险"), ("unemployment", "失业保险"))


@pytest.fixture
def store(engine_store: Store) -> Store:
    """Each test runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    st = engine_store
    with st.write() as db:
        for n in (1, 2):
            db.execute_sql(
                "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) VALUES (?, ?, ?, '110000', ?)",
                (f"T{n}", f"U{n}", f"单位{n}", "2025-01-01 00:00:00"),
            )
    return st


def status(store: Store, *, today: dt.date = TODAY, now: dt.datetime = NOW, pack: Any = None,
           backup_at: dt.datetime | None = None, unit: int = 1) -> home_status.HomeStatus:
    return home_status.home_status(store, unit, today=today, now=now, pack=pack, backup_at=backup_at)


def line(found: home_status.HomeStatus, key: str) -> home_status.StatusLine:
    got = found.line(key)
    assert got is not None, key
    return got


def add_employees(store: Store, rows: list[tuple[str, str, str]], unit: int = 1, updated: str = "2025-04-14 09:00:00") -> None:
    """(employee_id, status, bases JSON text) as the enrollment sync writes them."""
    with store.write() as db:
        for eid, state, bases in rows:
            db.execute_sql(
                "INSERT INTO enrollment_employee (unit_id, employee_id, name, id_type, id_number, gender, birth_date, "
                "unit_number, items, status, bases, taxside_updated_at, synced_at) VALUES "
                "(?, ?, '张三', '201', ?, '男', '1990-01-01', '110105000001', '[\"pension\"]', ?, ?, '', '')",
                (unit, eid, f"11010519900101{len(eid):04d}", state, bases),
            )
        db.execute_sql(
            "INSERT INTO feed_cursor (unit_id, feed, cursor, mode, generation, complete, updated_at) "
            "VALUES (?, 'enrollment', 'c', 'full', 1, 1, ?) ON CONFLICT (unit_id, feed) DO UPDATE SET "
            "cursor = excluded.cursor, mode = excluded.mode, generation = excluded.generation, "
            "complete = excluded.complete, updated_at = excluded.updated_at", (unit, updated),
        )


def summary(sid: str, period: str, item: int = 0, part: str = "employer", amount: str = "1000.00",
            kind: str = "daily", headcount: int = 3, state: str = "pending") -> dict[str, Any]:
    code, name = ITEMS[item]
    return {"summary_id": sid, "kind": kind, "special_type": None if kind == "daily" else "补缴",
            "unit_number": "110105000001", "agency": "朝阳社保", "item": code, "item_name": name, "part": part,
            "part_name": "单位缴纳部分" if part == "employer" else "个人缴纳部分", "period_from": period,
            "period_to": period, "headcount": headcount, "base_total": "30000.00", "amount": amount, "version": 1,
            "computed_at": "2025-04-01T09:00:00", "pack_version": "2025.07.1", "state": state,
            "declaration_id": None, "has_details": True}


def record(did: str, summaries: list[dict[str, Any]], status: str = "accepted") -> dict[str, Any]:
    return {"declaration_id": did, "channel": "电子税务局", "status": status, "received_at": "2025-04-02T09:00:00",
            "decided_at": "2025-04-02T09:00:03", "declared_on": "2025-04-02", "summary_count": len(summaries),
            "total_amount": str(sum(Decimal(s["amount"]) for s in summaries)), "summaries": summaries, "arrears": []}


def arrear(aid: str, amount: str, deadline: str, late_fee: str = "0.00", hold: str | None = None,
           period: str = "202504") -> dict[str, Any]:
    total = str(Decimal(amount) + Decimal(late_fee))
    return {"arrear_id": aid, "declaration_id": "FD1", "summary_id": "FS1", "unit_number": "110105000001",
            "agency": "朝阳社保", "item": "pension", "item_name": "基本养老保险", "part": "employer",
            "part_name": "单位缴纳部分", "period_from": period, "period_to": period, "amount": amount,
            "deadline": deadline, "late_days": 0, "late_fee": late_fee, "total": total, "state": "unpaid",
            "hold": hold, "voucher_id": None, "debit_id": "DB1" if hold == "debit" else None, "paid_at": None,
            "tax_ticket": None}


def save_arrears(store: Store, items: list[dict[str, Any]]) -> None:
    pay.save_arrears(store, 1, items, today=TODAY.isoformat(), count=len(items),
                     amount_total=sum((Decimal(a["amount"]) for a in items), Decimal(0)), late_fee_total=Decimal(0))


def entry(store: Store, kind: str, state: str, payload: dict[str, Any] | None = None) -> int:
    with store.write() as db:
        entry_id = journal.create(db, 1, kind, payload or {"summaries": []}, summary="s", row_count=1, operator="财务")
        db.execute_sql("UPDATE submission SET state = ? WHERE id = ?", (state, entry_id))
    return entry_id


# -- the lines --------------------------------------------------------------------------------------
def test_current_period_follows_the_first_business_day() -> None:
    assert str(home_status.current_period(dt.date(2025, 4, 15))) == "202504"
    # 2025-03-01 is a Saturday: until Monday the 3rd the tax side still serves February.
    assert str(home_status.current_period(dt.date(2025, 3, 2))) == "202502"
    assert str(home_status.current_period(dt.date(2025, 3, 3))) == "202503"
    assert str(home_status.current_period(dt.date(2025, 1, 1))) == "202501"  # a Wednesday
    assert home_status.first_business_day(2025, 6) == dt.date(2025, 6, 2)  # 1 June 2025 is a Sunday


def test_a_fresh_unit_has_everything_to_do(store: Store) -> None:
    found = status(store)
    assert found.period == "202504" and found.period_label == "2025年04月"
    assert [ln.key for ln in found.lines] == ["enrollment", "wage_base", "wage_feedback", "summaries",
                                               "declarations", "arrears", "vouchers", "backup"]
    assert line(found, "enrollment").state == "todo" and line(found, "enrollment").path == "/enrollment"
    assert line(found, "summaries").state == "todo" and "尚未查询本期（2025年04月）" in line(found, "summaries").text
    assert line(found, "arrears").state == "todo" and "尚未查询欠费信息" in line(found, "arrears").text
    assert line(found, "backup").state == "warn" and line(found, "backup").path == "/settings#backup-panel"
    for key in ("wage_base", "wage_feedback", "declarations", "vouchers"):
        assert line(found, key).state == "ok", key
    assert found.open_count == 4
    assert found.to_dict()["lines"][0]["state_label"] == "待办理"
    # The lines say whose data they count: this PC's, or the team's shared database.
    if store.team:
        assert line(found, "enrollment").text == "团队数据库还没有职工参保信息，请先从税务端更新。"
        assert line(found, "backup").text == "团队数据库中的数据还没有备份过，建议立即备份。"
    else:
        assert line(found, "enrollment").text == "本机还没有职工参保信息，请先从税务端更新。"
        assert line(found, "backup").text == "本机数据还没有备份过，建议立即备份。"


def test_a_unit_collected_by_the_tax_office_has_no_payroll_base_lines(store: Store) -> None:
    found = home_status.home_status(store, 1, today=TODAY, now=NOW, pack=None, wage_base_shown=False)
    assert found.line("wage_base") is None and found.line("wage_feedback") is None


def test_enrollment_age_and_an_interrupted_full_update(store: Store) -> None:
    add_employees(store, [("E1", "正常缴费", '{"pension": "8000.00"}'), ("E2", "停止缴费", '{"pension": "0.00"}')])
    got = line(status(store), "enrollment")
    assert got.state == "ok" and "2025-04-14 09:00（昨天）" in got.text and "共 2 名职工" in got.text
    got = line(status(store, now=dt.datetime(2025, 4, 21, 9, 30)), "enrollment")
    assert got.state == "warn" and "7 天前" in got.text
    with store.write() as db:
        db.execute_sql("UPDATE feed_cursor SET complete = 0 WHERE unit_id = 1")
    got = line(status(store), "enrollment")
    assert got.state == "warn" and "中断" in got.text


def test_employees_without_a_payroll_base_counted_as_the_login_alerts_count_them(store: Store) -> None:
    add_employees(store, [
        ("E1", "正常缴费", '{"medical": "8000.00", "pension": "8000.00"}'),
        ("E2", "正常缴费", '{"medical": "0.00", "pension": "0.00"}'),
        ("E3", "正常缴费", "{}"),
        ("E4", "正常缴费", '{"pension": ""}'),
        ("E5", "正常缴费", '{"medical": "0.00", "pension": "5200.00"}'),  # one item is enough
        ("E6", "正常缴费", "not json"),
        ("E7", "停止缴费", "{}"),  # not paying: not asked for a base
        ("E8", "正常缴费", '{"pension": "0.05"}'),
    ])
    add_employees(store, [("F1", "正常缴费", "{}")], unit=2)
    with store.write() as db:
        db.execute_sql("UPDATE enrollment_employee SET removed = 1 WHERE employee_id = 'E4'")
    assert home_status.without_base(store, 1) == 3  # E2, E3, E6
    assert alerts_without_base(store, 1) == 3  # the 登录提示 reads the same count
    got = line(status(store), "wage_base")
    assert got.state == "todo" and "有 3 名正常缴费的职工缴费工资为空" in got.text and got.path == "/wage-base"
    with store.write() as db:
        db.execute_sql("UPDATE enrollment_employee SET bases = '{\"pension\": \"6000.00\"}' WHERE unit_id = 1")
    assert line(status(store), "wage_base").state == "ok"


def test_payroll_base_declarations_awaiting_feedback_or_unknown(store: Store) -> None:
    entry(store, "wage_base_daily", journal.AWAITING)
    got = line(status(store), "wage_feedback")
    assert got.state == "todo" and "1 笔待反馈" in got.text and got.path == "/wage-base/records"
    unknown = entry(store, "wage_base_annual", journal.UNKNOWN)
    got = line(status(store), "wage_feedback")
    assert got.state == "warn" and "结果不明" in got.text
    with store.write() as db:
        db.execute_sql("UPDATE submission SET state = 'accepted'")
    assert line(status(store), "wage_feedback").state == "ok"
    assert unknown  # an entry of another kind never counts
    entry(store, "fee_declaration", journal.AWAITING)
    assert line(status(store), "wage_feedback").state == "ok"


def test_summaries_pending_submitted_declared_and_late(store: Store) -> None:
    fees.save_summaries(store, 1, "daily", [summary("FS1", "202504", amount="1200.50"),
                                             summary("FS2", "202504", item=1, amount="800.00")])
    got = line(status(store), "summaries")
    assert got.state == "todo" and got.text == "本期（2025年04月）有 2 条汇总待申报，应缴 2,000.50 元。"
    # Last month's, never declared: the line turns to a warning and says since when.
    fees.save_summaries(store, 1, "daily", [summary("FS0", "202503"), summary("FS1", "202504", amount="1200.50"),
                                             summary("FS2", "202504", item=1, amount="800.00")])
    got = line(status(store), "summaries")
    assert got.state == "warn" and "另有 1 条往期汇总尚未申报（2025年03月起）" in got.text
    # All of them submitted (待反馈): nothing left to declare here.
    entry(store, "fee_declaration", journal.AWAITING,
          {"summaries": [{"summary_id": s, "version": 1} for s in ("FS0", "FS1", "FS2")]})
    got = line(status(store), "summaries")
    assert got.state == "ok" and got.text == "本期（2025年04月）汇总已提交申报，待税务端反馈。"
    with store.write() as db:  # accepted: the record marks them declared
        fees.save_record(db, 1, record("FD1", [summary(s, p) for s, p in
                                              (("FS0", "202503"), ("FS1", "202504"), ("FS2", "202504"))]))
        db.execute_sql("UPDATE submission SET state = 'accepted'")
    got = line(status(store), "summaries")
    assert got.state == "ok" and got.text == "本期（2025年04月）汇总已申报。"
    # A special summary (补缴) waits too.
    fees.save_summaries(store, 1, "special", [summary("FS9", "202501", kind="special")])
    got = line(status(store), "summaries")
    assert got.state == "todo" and "另有 1 条特殊缴费汇总待申报" in got.text


def test_summaries_declared_elsewhere_show_from_the_records(store: Store) -> None:
    fees.save_summaries(store, 1, "daily", [])  # the tax side lists nothing pending
    with store.write() as db:
        fees.save_record(db, 1, record("FD1", [summary("FS1", "202503", state="declared")]))
    got = line(status(store), "summaries")
    here = "团队数据库" if store.team else "本机"
    assert got.state == "todo" and f"{here}没有本期（2025年04月）的汇总" in got.text  # March only
    with store.write() as db:
        fees.save_record(db, 1, record("FD2", [summary("FS2", "202504", state="declared")]))
    assert line(status(store), "summaries").state == "ok"
    with store.write() as db:  # voided: pending again
        fees.save_record(db, 1, {**record("FD2", [summary("FS2", "202504")]), "status": "voided"})
    assert line(status(store), "summaries").state == "todo"


def test_fee_declarations_awaiting_feedback_or_unknown(store: Store) -> None:
    entry(store, "fee_declaration", journal.QUEUED)
    got = line(status(store), "declarations")
    assert got.state == "todo" and "1 笔待提交" in got.text and got.path == "/fee-declaration/records"
    entry(store, "fee_void", journal.AWAITING)
    assert "1 笔待反馈、1 笔待提交" in line(status(store), "declarations").text
    entry(store, "fee_declaration", journal.UNKNOWN)
    got = line(status(store), "declarations")
    assert got.state == "warn" and "原交易状态不明" in got.text and "不要重复申报" in got.text
    assert "另有 1 笔待反馈、1 笔待提交" in got.text


def test_arrears_nearest_deadline_and_the_late_fee_per_day(store: Store) -> None:
    pack = load_pack("110000")
    save_arrears(store, [])
    got = line(status(store, pack=pack), "arrears")
    assert got.state == "ok" and "没有未缴的欠费" in got.text
    save_arrears(store, [arrear("AR2", "100000.00", "2025-04-30")])
    got = line(status(store, pack=pack), "arrears")
    rate = pack.late_fee.daily_rate
    assert got.state == "todo" and got.path == "/payment"
    assert "1 条欠费未缴，合计 100,000.00 元，最近的限缴日期为 2025-04-30（还有 15 天）" in got.text
    assert f"逾期后每天将产生滞纳金约 {Decimal('100000') * rate:,.2f} 元" in got.text
    save_arrears(store, [arrear("AR1", "20000.00", "2025-03-31", late_fee="150.00", period="202503"),
                         arrear("AR2", "100000.00", "2025-04-30", hold="debit")])
    got = line(status(store, pack=pack), "arrears")
    assert got.state == "warn"
    assert "2 条欠费未缴，合计 120,150.00 元，最近的限缴日期为 2025-03-31（已逾期 15 天）" in got.text
    assert f"逾期欠费每天新增滞纳金约 {Decimal('20000') * rate:,.2f} 元" in got.text  # the overdue one only
    assert "其中 1 条扣款结果待银行确认" in got.text
    assert "滞纳金" not in line(status(store, pack=None), "arrears").text  # no pack: no estimate
    # Another unit's arrears never show here.
    assert line(status(store, unit=2), "arrears").state == "todo"


def voucher(vid: str, deadline: str, total: str, state: str = "open") -> dict[str, Any]:
    return {"voucher_id": vid, "voucher_no": "325110250400000002", "state": state,
            "issued_at": "2025-04-10T09:00:00", "issued_on": "2025-04-10", "deadline": deadline, "count": 1,
            "total": total, "arrears": [{"arrear_id": "AR9"}], "paid_at": None, "voided_at": None}


def test_unpaid_bank_vouchers(store: Store) -> None:
    with store.write() as db:
        records.save_voucher(db, 1, voucher("BV1", "2025-04-20", "5000.00"))
        records.save_voucher(db, 1, voucher("BV0", "2025-04-11", "10.00", state="voided"))
    got = line(status(store), "vouchers")
    assert got.state == "todo" and got.path == "/payment/vouchers"
    assert got.text == "1 张缴款凭证尚未到银行缴款，合计 5,000.00 元，请在 2025-04-20（还有 5 天）前缴款。"
    got = line(status(store, today=dt.date(2025, 4, 22)), "vouchers")
    assert got.state == "warn" and "已过限缴日期" in got.text
    with store.write() as db:
        records.save_voucher(db, 1, {**voucher("BV1", "2025-04-20", "5000.00", state="paid"),
                                     "paid_at": "2025-04-12T10:00:00"})
    assert line(status(store), "vouchers").state == "ok"


def test_last_backup_from_the_audit_log_or_the_folder(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    assert home_status.last_backup(store, folder, "*.sfbak") is None
    folder.mkdir()
    (folder / ".socialfee-backup-x.sfbak.partial").write_text("x")  # unfinished: not a backup
    (folder / "notes.txt").write_text("x")
    assert home_status.last_backup(store, folder, "*.sfbak") is None
    audit.record(store, "手动备份", "/elsewhere/a.sfbak")
    logged = home_status.last_backup(store, folder, "*.sfbak")
    assert logged is not None
    newer = folder / "socialfee-backup-20991231-000000-000.sfbak"
    newer.write_bytes(b"x")
    stamp = time.mktime((logged + dt.timedelta(hours=1)).timetuple())
    os.utime(newer, (stamp, stamp))
    assert home_status.last_backup(store, folder, "*.sfbak") == logged + dt.timedelta(hours=1)

    got = line(status(store, backup_at=dt.datetime(2025, 4, 15, 9, 20)), "backup")
    assert got.state == "ok" and got.text == "上次备份于 2025-04-15 09:20（40 分钟前）。"
    got = line(status(store, backup_at=dt.datetime(2025, 4, 1, 9, 0)), "backup")
    assert got.state == "warn" and "14 天前" in got.text and "已超过 7 天" in got.text


# -- the charts -------------------------------------------------------------------------------------
def payment(pid: str, period: str, amount: str, item: str = "基本养老保险") -> dict[str, Any]:
    return {"payment_id": pid, "tax_ticket": "3" * 18, "method": "三方协议", "debit_id": "DB1", "voucher_id": None,
            "agreement_no": "1", "bank": "工行", "arrear_id": f"AR{pid}", "unit_number": "110105000001",
            "agency": "朝阳社保", "item": "pension", "item_name": item, "part": "employer", "part_name": "单位缴纳部分",
            "period_from": period, "period_to": period, "amount": amount, "late_fee": "1.00",
            "total": str(Decimal(amount) + 1), "paid_at": "2025-04-02T09:00:00", "arrival": "已入库",
            "stored_at": None}


def test_charts_of_the_last_twelve_periods(store: Store) -> None:
    current = Period(2025, 4)
    empty = home_charts.home_charts(store, 1, current)
    assert empty.empty and empty.periods[0] == "202405" and empty.periods[-1] == "202504"
    assert empty.headcount == (None,) * 12
    with store.write() as db:
        fees.save_record(db, 1, record("FD1", [
            summary("FS1", "202504", item=0, amount="1000.10", headcount=30),
            summary("FS2", "202504", item=0, part="employee", amount="400.05", headcount=30),
            summary("FS3", "202504", item=2, amount="0.15", headcount=29),
            summary("FS4", "202503", item=1, amount="500.00", headcount=28),
            summary("FS5", "202405", item=0, amount="7.00", headcount=25),
            summary("FS6", "202404", item=0, amount="9.00", headcount=25),  # older than 12 periods
            summary("FS7", "202503", item=0, amount="60.00", kind="special", headcount=99),  # 补缴
        ]))
        fees.save_record(db, 1, {**record("FD2", [summary("FS8", "202502", amount="70.00")]), "status": "voided"})
        records.save_payments(db, 1, [payment("1", "202503", "500.00"), payment("2", "202504", "0.15")])
    charts = home_charts.home_charts(store, 1, current)
    data = charts.to_dict()
    assert not charts.empty and data["labels"][-1] == "2025年04月"
    names = [s["name"] for s in data["items"]]
    assert names == ["基本养老保险", "基本医疗保险", "失业保险"]  # the tax side's order
    pension = data["items"][0]["amounts"]
    assert pension[-1] == "1400.15" and pension[-2] == "60.00" and pension[0] == "7.00"
    assert data["items"][2]["amounts"][-1] == "0.15" and data["items"][1]["amounts"][-2] == "500.00"
    assert data["payable"][-1] == "1400.30" and data["payable"][-2] == "560.00" and data["payable"][-3] == "0.00"
    assert data["paid"][-1] == "0.15" and data["paid"][-2] == "500.00"  # 本金, late fees apart
    assert data["headcount"][-1] == 30 and data["headcount"][-2] == 28 and data["headcount"][-3] is None
    assert all(isinstance(v, str) for s in data["items"] for v in s["amounts"])
    assert home_charts.home_charts(store, 2, current).empty  # another unit's records never show


def test_chart_items_sort_by_code_whatever_the_pack_names_them(store: Store) -> None:
    def named(sid: str, code: str, name: str) -> dict[str, Any]:
        return {**summary(sid, "202504"), "item": code, "item_name": name}

    with store.write() as db:
        fees.save_record(db, 1, record("FD1", [
            named("FS1", "injury", "工伤保险"), named("FS2", "unemployment", "失业保险"),
            named("FS3", "medical", "基本医疗保险（含生育保险）"), named("FS4", "pension", "基本养老保险"),
            named("FS5", "long_term_care", "长期护理保险"),  # a pack's own item: after the five
        ]))
    names = [s.name for s in home_charts.home_charts(store, 1, Period(2025, 4)).items]
    assert names == ["基本养老保险", "基本医疗保险（含生育保险）", "失业保险", "工伤保险", "长期护理保险"]


def test_the_count_of_employees_without_a_base_reads_only_the_partial_index(store: Store) -> None:
    rows = [(f"E{n}", "正常缴费", '{"pension": "%s"}' % ("0.00" if n % 100 == 0 else f"{4000 + n}.00"))
            for n in range(1000)]
    add_employees(store, rows)
    if store.team:
        # PostgreSQL takes no index hint: with statistics its planner picks the partial
        # index by itself (10 rows in it against 1,000 in the table).
        store.db.execute_sql("ANALYZE enrollment_employee")
        plan = " ".join(str(r[0]) for r in store.db.execute_sql(
            "EXPLAIN " + home_status.WITHOUT_BASE_SQL, (1,)).fetchall())
        assert f"Index Scan using {home_status.NO_BASE_INDEX}" in plan, plan
        assert "Seq Scan on enrollment_employee" not in plan, plan
    else:
        plan = " ".join(str(r) for r in store.db.execute_sql(
            "EXPLAIN QUERY PLAN " + home_status.WITHOUT_BASE_SQL, (1,)).fetchall())
        assert f"USING INDEX {home_status.NO_BASE_INDEX} (unit_id=?)" in plan, plan
    (in_index,) = store.db.execute_sql(
        f"SELECT count(*) FROM enrollment_employee INDEXED BY {home_status.NO_BASE_INDEX} "
        "WHERE removed = 0 AND status = '正常缴费' AND (instr(bases, '\"0.00\"') > 0 OR instr(bases, '.') = 0)"
    ).fetchone()
    assert in_index == 10 and home_status.without_base(store, 1) == 10


def test_vendored_chartjs_matches_its_recorded_checksums() -> None:
    """The Chart.js file is the registry's, unchanged, and the page loads it from here (no CDN)."""
    import hashlib
    import re

    from tests.conftest import REPO

    folder = REPO / "client" / "web" / "static" / "vendor" / "chartjs"
    version = (folder / "VERSION").read_text(encoding="utf-8")
    for name in ("chart.umd.min.js", "LICENSE.md"):
        recorded = re.search(rf"{re.escape(name)} sha256:\s+([0-9a-f]{{64}})", version)
        assert recorded is not None, name
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == recorded.group(1), name
    assert "Chart.js v4.6.1" in (folder / "chart.umd.min.js").read_text(encoding="utf-8")[:200]
    assert "registry.npmjs.org/chart.js/-/chart.js-4.6.1.tgz" in version
    template = (REPO / "client" / "web" / "templates" / "home.html").read_text(encoding="utf-8")
    assert "vendor/chartjs/chart.umd.min.js" in template and "cdn" not in template.lower()
