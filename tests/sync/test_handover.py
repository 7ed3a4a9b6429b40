"""换机向导 against the live reference tax side, through the app's own HTTP API: settle
sends what is queued and resolves an unknown outcome (exactly once on the tax side), an
offline settle lists what stays open; backup -> restore into a second data directory ->
the comparison is all 一致; a tampered count is 不一致."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.app import build_services, start_server
from client.backup import service as backup_service
from client.core import handover, journal, wage_base, wage_context, wage_submit
from client.core.paging import PageRequest
from client.services import Services
from client.sync.enrollment import EnrollmentSync
from rules.packs import load_pack
from tests.conftest import NEW_PASSWORD, csrf_of, log_in
from tests.sync.fee_helpers import declare_all, taxside_count
from tests.sync.test_payment import debits_per_arrear, pay, refreshed_service, start_live

TODAY = dt.date(2025, 3, 15)


@pytest.fixture
def services(engine_services: Services) -> Services:
    """On SQLite and on PostgreSQL (tests/sync/conftest.py): the old PC's data either way."""
    return engine_services


def wait_job(client: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").json()["job"]
    assert job["state"] == "succeeded", job
    return job["result"]


def post_job(client: httpx.Client, path: str, body: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    headers = {"X-CSRF-Token": csrf_of(client)}
    resp = client.post(path, json=body, headers=headers, **kw) if body is not None else client.post(
        path, headers=headers, **kw)
    assert resp.status_code == 202, resp.text
    return wait_job(client, resp.json()["job"])


def queued_wage_base(services: Services, unit: Any) -> int:
    """Five employees in the daily draft, submitted: a 待提交 entry (nothing sent yet)."""
    pk = services.session.require_entered().local_id
    store = services.store
    EnrollmentSync(store, services.session.client(), pk, unit.unit_id).run("full")
    ctx = wage_context.DraftContext(pk, "daily", load_pack(unit.region), TODAY, False)
    wage_base.add_all_normal(store, ctx)
    rows = wage_base.search(store, ctx, PageRequest(size=500), wage_base.DraftFilter()).rows
    wage_base.delete_rows(store, ctx, [r["id"] for r in rows[5:]] or [0])
    wage_base.batch_modify(store, ctx, [r["id"] for r in rows[:5]], amount="9000", effective_month="202503")
    return wage_submit.submit(store, ctx, "tester", confirmed=True)


def test_settle_backup_restore_compare(services, ui, browser_client, taxside_factory, tmp_path: Path) -> None:
    live = taxside_factory(units=3, employees=20)
    unit = log_in(services, live)
    live.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    session, store = services.session, services.store
    pk = session.require_entered().local_id
    wage_entry = queued_wage_base(services, unit)
    # A fee declaration whose answer is lost after the tax side committed it: 待确认.
    fee_entry = declare_all(store, session.client(), unit, pk)
    units_path = f"/v1/units/{unit.unit_id}/fee-declarations"
    live.fault(units_path, "drop_after_commit", method="POST", count=5)
    fees_before = taxside_count(live, "fee_declaration")
    wages_before = taxside_count(live, "wage_base_declaration")
    session.call(lambda c: session.outbox.send(c, pk, unit.unit_id, only=("fee_declaration",)))
    assert journal.get(store, fee_entry).state == journal.UNKNOWN
    assert journal.get(store, wage_entry).state == journal.QUEUED
    live.clear_faults()

    report = post_job(browser_client, "/api/handover/settle", {})
    assert report["done"] and not report["still_open"] and not report["problem"]
    changes = {(r["before"], r["after"]) for r in report["settled"]}
    assert changes == {("待提交", "申报成功"), ("待确认", "申报成功")}
    # Exactly one submission each on the tax side: the unknown one was resolved by its key.
    assert taxside_count(live, "fee_declaration") == fees_before + 1
    assert taxside_count(live, "wage_base_declaration") == wages_before + 1
    assert journal.get(store, fee_entry).state == journal.ACCEPTED

    # Step 2: a verified backup to a chosen folder, the facts beside it.
    folder = tmp_path / "U盘"
    bad = browser_client.post("/api/handover/backup", json={"folder": "相对路径"},
                              headers={"X-CSRF-Token": csrf_of(browser_client)})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "folder"
    made = post_job(browser_client, "/api/handover/backup", {"folder": str(folder)})
    backup = Path(made["backup"]["path"])
    assert backup.parent == folder and made["checks"]
    json_file = Path(made["json_path"])
    assert json_file == handover.json_path(backup)
    old = handover.load(json_file)
    assert old.backup is not None and old.backup.size == backup.stat().st_size
    assert old.backup.database_sha256 and old.open_entries == ()
    (me,) = [u for u in old.units if u.unit_id == unit.unit_id]
    assert me.counts["employees"] == unit.employees and me.counts["wage_base"] == 1 and me.counts["journal"] == 2
    headers = {"X-CSRF-Token": csrf_of(browser_client)}
    printed = browser_client.post("/api/handover/print", json={"id": made["id"]}, headers=headers).json()
    pdf = Path(printed["pdf_path"])
    assert pdf.parent == folder and handover.parse(pdf.read_bytes()) == old

    # The new PC: install (an empty data directory), the backup copied into its backup folder, restore.
    new_home = tmp_path / "new-pc"
    new = build_services(new_home)
    try:
        received = backup_service.backup_folder(new.home, new.settings)
        received.mkdir(parents=True, exist_ok=True)
        copied = received / f"{backup.stem}-2.sfbak"  # as the upload names a file already there
        copied.write_bytes(backup.read_bytes())
        backup_service.restore(new, copied)
        server = start_server(new)
        try:
            with httpx.Client(base_url=server.base_url, follow_redirects=True, timeout=10) as other:
                assert other.get(server.launch_url).status_code == 200
                for source in (json_file, pdf):  # the JSON beside the backup, or the printed sheet
                    result = post_job(other, "/api/handover/compare",
                                      files={"file": (source.name, source.read_bytes())})
                    rows = result["comparison"]["rows"]
                    assert result["comparison"]["all_same"], [r for r in rows if not r["same"]]
                    assert {r["result"] for r in rows} == {"一致"}
                    assert any(r["item"].startswith("备份文件校验值") for r in rows)
                receipt = other.post("/api/handover/receipt", json={"id": result["id"]},
                                     headers={"X-CSRF-Token": csrf_of(other)}).json()
                assert handover.parse(Path(receipt["pdf_path"]).read_bytes()).side == "new"

                # A tampered count (one employee more on the old sheet) is 不一致, by name.
                data = json.loads(json_file.read_text(encoding="utf-8"))
                for u in data["units"]:
                    if u["unit_id"] == unit.unit_id:
                        u["counts"]["employees"] += 1
                tampered = post_job(other, "/api/handover/compare",
                                    files={"file": ("x.handover.json", json.dumps(data).encode())})
                wrong = [r for r in tampered["comparison"]["rows"] if not r["same"]]
                assert [(r["item"], r["old"], r["new"], r["result"]) for r in wrong] == [
                    ("职工参保信息", str(unit.employees + 1), str(unit.employees), "不一致")]
                receiving = Path(receipt["pdf_path"]).read_bytes()
                wrong_side = other.post("/api/handover/compare", files={"file": ("new.pdf", receiving)},
                                        headers={"X-CSRF-Token": csrf_of(other)})
                assert wrong_side.status_code == 400 and "新电脑打印的交接单" in wrong_side.text
                refused = other.post("/api/handover/compare", files={"file": ("x.json", b"{}")},
                                     headers={"X-CSRF-Token": csrf_of(other)})
                assert refused.status_code == 400 and "交接文件无法读取" in refused.json()["error"]["message"]
        finally:
            server.stop()
    finally:
        new.close()


def test_offline_settle_lists_what_stays_open(services, ui, browser_client, taxside_factory, tmp_path) -> None:
    live = taxside_factory(units=3, employees=20)
    unit = log_in(services, live)
    entry = queued_wage_base(services, unit)
    with services.store.write() as db:  # a second unit on this PC, not the one entered
        other = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES ('91110000X', 'OTHER-1', '北京乙商贸有限公司', '110000', '2025-03-15 08:00:00') RETURNING id"
        ).fetchone()[0]
        journal.create(db, other, "fee_declaration", {"summary_ids": []}, summary="乙公司 2025年03月 社保费",
                       row_count=1, operator="tester")
    # No connection at all (the address answers nothing), entered offline as the manual allows.
    services.settings.update({"taxside_url": "http://127.0.0.1:9"})
    services.session.enter_offline(unit.unit_id, NEW_PASSWORD)
    report = post_job(browser_client, "/api/handover/settle", {})
    assert not report["done"] and not report["settled"]
    assert "无法连接税务端" in report["problem"]
    mine, elsewhere = sorted(report["still_open"], key=lambda e: e["unit_id"] == "OTHER-1")
    assert (mine["kind_label"], mine["state_label"]) == ("日常缴费工资申报", "待提交")
    assert "无法连接税务端" in mine["reason"]
    assert elsewhere["reason"] == "属于单位「北京乙商贸有限公司」：请登录该单位后再办理交接"
    assert journal.get(services.store, entry).state == journal.QUEUED
    # Going on anyway: the sheet lists both, each with its reason.
    made = post_job(browser_client, "/api/handover/backup", {"folder": str(tmp_path / "usb"), "password": "换机密码2025"})
    assert made["backup"]["encrypted"]
    facts = handover.load(Path(made["json_path"]))
    assert facts.backup is not None and handover.SHA256.fullmatch(facts.backup.database_sha256)
    listed = {e.summary: e.reason for e in facts.open_entries}
    assert listed["乙公司 2025年03月 社保费"] == elsewhere["reason"]
    assert "无法连接税务端" in listed[mine["summary"]]


def test_settle_waits_for_an_unknown_bank_result_then_takes_it(services, ui, browser_client, taxside_factory) -> None:
    """原交易状态不明: settle lists the debit as waiting for the bank (never sends it again);
    once the bank's result is known the next settle takes it."""
    live = start_live(services, taxside_factory)
    svc = refreshed_service(services)
    uid = svc._unit()[1]
    live.sim("PUT", "/settings", {"unknown_resolve_seconds": 600})  # the bank holds its answer
    live.sim("POST", f"/units/{uid}/bank-answers", {"answer": "unknown", "count": 1, "resolve_to": "paid"})
    chosen = [i.arrear.arrear_id for i in svc.arrears_view().items[:1]]
    result = pay(svc, chosen)
    assert result.entry.state == journal.AWAITING
    report = post_job(browser_client, "/api/handover/settle", {})
    (left,) = report["still_open"]
    assert left["kind_label"] == "三方协议缴款" and left["reason"] == "银行扣款结果尚未返回，请稍后再办理"
    live.sim("PUT", "/settings", {"unknown_resolve_seconds": 0})  # the bank's result is known now
    report = post_job(browser_client, "/api/handover/settle", {})
    assert report["done"] and [(r["before"], r["after"]) for r in report["settled"]] == [("待反馈", "扣款完成")]
    assert debits_per_arrear(live) == dict.fromkeys(chosen, 1)
