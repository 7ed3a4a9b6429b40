"""换机向导 in chromium: the old PC's path (settle, backup to a chosen folder, 交接单) against
the live tax side, then a second app on a restored data directory compares side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.app import build_services, start_server
from client.backup import service as backup_service
from client.core import handover, journal
from tests.conftest import NEW_PASSWORD
from tests.e2e.conftest import screenshot
from tests.sync.test_handover import queued_wage_base

pytestmark = pytest.mark.e2e


def test_old_pc_handover_then_new_pc_comparison(app_page, ui, services, logged_in, browser, tmp_path) -> None:
    page, problems = app_page
    entry = queued_wage_base(services, logged_in.unit(2))
    logged_in.sim("PUT", "/settings", {"decision_delay_seconds": 0})

    page.goto(ui.base_url + "/settings")
    with page.expect_navigation():
        page.click("#handover-link")
    page.locator("#settle-unit >> text=本机未办结的申报 1 笔").wait_for()
    screenshot(page, "handover-old-start")

    # Step 1: the queued declaration is sent and its feedback fetched.
    page.click("#settle-run")
    page.locator("#settle-done").wait_for()
    assert "待提交" in page.locator("#settled-table").inner_text()
    assert "申报成功" in page.locator("#settled-table").inner_text()
    assert journal.get(services.store, entry).state == journal.ACCEPTED
    screenshot(page, "handover-old-settled")

    # Step 2: a folder that is not a full path is refused on the spot; then a real one.
    page.fill("#handover-folder", "U盘")
    page.click("#backup-run")
    assert "完整的文件夹路径" in page.locator("#handover-folder-error").inner_text()
    folder = tmp_path / "换机备份"
    page.fill("#handover-folder", str(folder))
    page.click("#backup-run")
    facts = page.locator("#backup-facts")
    facts.wait_for()
    assert "已校验" in facts.inner_text() and "SHA-256" in facts.inner_text()
    screenshot(page, "handover-old-backup")

    # Step 3: the 交接单 is saved beside the backup (and handed to the system viewer).
    page.click("#print-run")
    page.locator("#print-result >> text=交接单").first.wait_for()
    (backup,) = folder.glob("*.sfbak")
    pdf = backup.with_name(backup.name + ".交接单.pdf")
    assert pdf.is_file() and handover.parse(pdf.read_bytes()).backup.name == backup.name
    screenshot(page, "handover-old-printed")

    # The new PC: installed, the backup restored from the USB disk into its backup folder.
    new = build_services(tmp_path / "new-pc")
    server = start_server(new)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 820})
    try:
        received = backup_service.backup_folder(new.home, new.settings)
        received.mkdir(parents=True, exist_ok=True)
        (received / backup.name).write_bytes(backup.read_bytes())
        backup_service.restore(new, received / backup.name)
        other = context.new_page()
        other.goto(server.launch_url)
        other.goto(server.base_url + "/handover#new")
        other.set_input_files("#compare-upload input[type=file]", str(handover.json_path(backup)))
        verdict = other.locator("#compare-verdict")
        verdict.wait_for()
        assert "全部一致" in verdict.inner_text()
        assert other.locator("#compare-table tr.different").count() == 0
        assert other.locator("#compare-table tr.same").count() >= 8
        screenshot(other, "handover-new-all-same")
        other.click("#receipt-run")
        other.locator("#receipt-result >> text=交接单").first.wait_for()

        # A sheet whose count differs from the restored data: the row says 不一致 in red.
        data = json.loads(handover.json_path(backup).read_text(encoding="utf-8"))
        data["units"][-1]["counts"]["employees"] += 1
        tampered = tmp_path / "tampered.handover.json"
        tampered.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        other.set_input_files("#compare-upload input[type=file]", str(tampered))
        other.locator("#compare-verdict >> text=有 1 项不一致").wait_for()
        bad = other.locator("#compare-table tr.different")
        assert bad.count() == 1 and "职工参保信息" in bad.inner_text()
        assert bad.locator(".error-text").first.inner_text()
        screenshot(other, "handover-new-different")
    finally:
        context.close()
        server.stop()
        new.close()
    assert problems.unexpected() == []
    assert Path(pdf).stat().st_size > 0


def test_offline_settle_lists_open_entries_and_asks_to_go_on(app_page, ui, services, logged_in, tmp_path) -> None:
    page, problems = app_page
    queued_wage_base(services, logged_in.unit(2))
    services.settings.update({"taxside_url": "http://127.0.0.1:9"})  # nothing answers there
    services.session.enter_offline(logged_in.unit(2).unit_id, NEW_PASSWORD)
    page.goto(ui.base_url + "/handover")
    page.locator("#settle-unit >> text=（离线）").wait_for()
    page.click("#settle-run")
    dialog = page.locator("dialog.dialog >> text=还有 1 笔申报未办结")
    dialog.wait_for()
    assert "待提交" in page.locator("#still-open").inner_text()
    assert "无法连接税务端" in page.locator("#still-open").inner_text()
    screenshot(page, "handover-offline-confirm")
    assert page.locator("#backup-run").is_disabled()
    page.click("dialog.dialog .dialog-buttons >> text=继续备份")
    page.locator("#settle-result >> text=已确认继续").wait_for()
    page.fill("#handover-folder", str(tmp_path / "usb"))
    page.click("#backup-run")
    page.locator("#backup-facts").wait_for()
    page.click("#print-run")
    page.locator("#print-result >> text=交接单").first.wait_for()
    (pdf,) = (tmp_path / "usb").glob("*.交接单.pdf")
    (left,) = handover.parse(pdf.read_bytes()).open_entries
    assert left.state_label == "待提交" and "无法连接税务端" in left.reason
    screenshot(page, "handover-offline-printed")
    assert problems.unexpected() == []
