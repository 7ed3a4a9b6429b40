from __future__ import annotations

import pytest

from client.backup import service
from tests.backup.helpers import add_unit, unit_names
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def test_backup_list_verify_and_restore_from_the_settings_page(app_page, ui, services) -> None:
    page, problems = app_page
    add_unit(services.home, "甲公司", "U1")
    page.goto(ui.base_url + "/settings")
    page.locator("#backup-panel").scroll_into_view_if_needed()
    page.wait_for_selector("#backup-list >> text=还没有备份")
    screenshot(page, "backup-panel-empty")

    # Back up now: asked first, then told what was written.
    page.click("#backup-now")
    page.locator("dialog.dialog >> text=将把数据库、设置和规则文件备份到").wait_for()
    screenshot(page, "backup-confirm")
    page.click("dialog.dialog >> text=开始备份")
    result = page.locator("#backup-result")
    result.wait_for()
    assert "甲公司" in result.inner_text()
    screenshot(page, "backup-result")
    page.click("dialog.dialog >> text=关闭")
    rows = page.locator("#backup-table tbody tr")
    rows.first.wait_for()
    assert rows.count() == 1 and "手动" in rows.first.inner_text()

    # Verify it.
    rows.first.locator('[data-action="verify"]').click()
    page.locator("dialog.dialog >> text=校验通过").wait_for()
    screenshot(page, "backup-verified")
    page.click("dialog.dialog >> text=关闭")

    # Change the data and two settings, then restore: the summary compares backup and
    # current data, and lists the settings; the proxy is never taken from a backup.
    add_unit(services.home, "乙公司", "U2")
    services.settings.update({"page_size": 30, "proxy_host": "127.0.0.1"})
    rows.first.locator('[data-action="restore"]').click()
    summary = page.locator("#restore-summary")
    summary.wait_for()
    assert "当前的单位：甲公司、乙公司" in summary.inner_text()
    changes = page.locator("#restore-settings tbody tr")
    assert changes.count() == 2
    assert [c.inner_text().split("\t")[0] for c in changes.all()] == ["代理服务器地址", "每页行数"]
    assert "保留当前值" in changes.nth(0).inner_text() and "50" in changes.nth(1).inner_text()
    screenshot(page, "backup-restore-confirm")
    page.click("dialog.dialog >> button.danger")
    page.wait_for_selector("dialog.dialog h2", state="visible")
    done = page.locator("dialog.dialog")
    done.locator("text=恢复完成").wait_for()
    screenshot(page, "backup-restored")
    with page.expect_navigation():
        page.click("dialog.dialog >> text=关闭")
    page.locator("#backup-paused").wait_for()
    assert "自动同步与发送已暂停" in page.locator("#backup-paused").inner_text()
    assert unit_names(services.home) == ["甲公司"]
    assert services.settings.get("page_size") == 50
    assert services.settings.get("proxy_host") == "127.0.0.1"
    # The list now also holds the safety backup made before the restore.
    page.wait_for_function("document.querySelectorAll('#backup-table tbody tr').length === 2")
    screenshot(page, "backup-panel-after-restore")
    page.click("#backup-paused >> text=我已核对")
    page.wait_for_selector("#backup-paused", state="hidden")
    assert service.pause_state(services.home) is None
    assert problems.unexpected(400) == []


def test_encrypted_backup_wrong_password_and_upload(app_page, ui, services, tmp_path) -> None:
    page, problems = app_page
    add_unit(services.home, "甲公司", "U1")
    elsewhere = service.create_backup(services.home, tmp_path / "usb", password="对的密码")
    page.goto(ui.base_url + "/settings")
    page.set_input_files("#backup-upload input[type=file]", elsewhere.path)
    page.locator(".toast.success >> text=已加入列表").wait_for()
    row = page.locator("#backup-table tbody tr").first
    row.wait_for()
    assert "加密" in row.inner_text()
    row.locator('[data-action="verify"]').click()
    page.fill("#backup-password-input", "错的密码")
    page.click("dialog.dialog >> text=确定")
    page.locator("dialog.dialog >> text=备份密码不正确").wait_for()
    screenshot(page, "backup-wrong-password")
    page.click("dialog.dialog >> text=关闭")
    # Automatic-backup settings are saved from the same panel.
    page.fill("#setting-backup_keep", "0")
    page.click("text=保存自动备份设置")
    page.locator('[data-error-for="backup_keep"]').wait_for()
    page.fill("#setting-backup_keep", "5")
    page.uncheck("#setting-backup_on_exit")
    page.click("text=保存自动备份设置")
    page.locator(".toast.success >> text=自动备份设置已保存").wait_for()
    assert services.settings.get("backup_keep") == 5
    assert services.settings.get("backup_on_exit") == 0
    assert problems.unexpected(400, 403) == []
