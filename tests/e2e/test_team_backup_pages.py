"""Browser: the first-use wizard's data location choice and 备份恢复 in team mode, on a real
PostgreSQL server; screenshots in artifacts/ (team_wizard_choice, team_backup_page)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.app import start_server
from client.backup import service
from client.core import db_location, team_state
from client.services import Services
from tests import pg_cluster
from tests.backup.test_team_backup import add_data, team_services
from tests.e2e.conftest import ARTIFACTS, PageProblems, screenshot

TEAM_NOTE = ("团队模式：本客户端的备份是团队数据库中本软件数据的逻辑备份，可恢复到单机或团队数据库；"
             "数据库服务器本身的备份（pg_dump、基础备份）仍由数据库管理员负责。")


def test_wizard_offers_single_or_team_and_tests_the_connection(
    app_page: tuple[Any, PageProblems], pg_url: str,
) -> None:
    page, problems = app_page
    page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + "/login")
    panel = page.locator("#data-location-setup")
    panel.wait_for()
    assert "单机使用（本机数据库，默认）" in panel.inner_text()
    assert page.locator('input[name="data-mode"][value="sqlite"]').is_checked()
    assert page.locator("#data-team").is_hidden()

    page.locator('input[name="data-mode"][value="team"]').check()
    assert page.locator("#data-team").is_visible()
    bare, _ = db_location.parse(pg_url)
    page.fill("#data-url", bare)
    page.fill("#data-password", "wrong-pw-1")
    page.click("#data-test")
    result = page.locator("#data-result")
    result.wait_for()
    page.wait_for_function("document.getElementById('data-result').textContent.includes('密码')")
    assert "error-text" in (result.get_attribute("class") or "")

    page.fill("#data-password", pg_cluster.PASSWORD)
    page.click("#data-test")
    page.wait_for_function("document.getElementById('data-result').textContent.includes('连接成功')")
    assert "ok-text" in (result.get_attribute("class") or "")
    assert pg_cluster.PASSWORD not in page.content().replace(
        page.locator("#data-password").input_value(), "")
    screenshot(page, "team_wizard_choice")
    assert not problems.unexpected(401, 403), problems.items


@pytest.fixture
def team_ui(tmp_path: Path, pg_url: str) -> Iterator[tuple[Services, Any]]:
    svc = team_services(tmp_path / "desk", pg_url)
    add_data(svc.store, units=2, entries=1)
    service.create_backup(svc.home, service.backup_folder(svc.home, svc.settings), store=svc.store)
    server = start_server(svc)
    yield svc, server
    server.stop()
    svc.close()


def test_backup_page_in_team_mode(browser: Any, team_ui: tuple[Services, Any]) -> None:
    svc, server = team_ui
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 820})
    try:
        page = context.new_page()
        problems = PageProblems(page)
        page.goto(server.launch_url)
        page.goto(f"{server.base_url}/settings#backup-panel")
        note = page.locator("#backup-team-note")
        note.wait_for(state="visible")
        assert TEAM_NOTE in note.inner_text()
        assert page.locator("#backup-single-note").is_hidden()
        assert svc.store.location in page.locator("#backup-location").inner_text()
        restore = page.locator('#backup-table button[data-action="restore"]')
        restore.first.wait_for()
        assert restore.first.inner_text() == "恢复（管理员）"
        page.wait_for_function("document.getElementById('data-location-current').textContent.length > 0")
        assert page.locator("#data-location-mode").inner_text() == "团队使用（PostgreSQL 服务器）"
        assert page.locator("#data-location-current").inner_text() == svc.store.location
        assert page.locator("#data-location-restart").is_hidden()  # the settings name this database
        assert pg_cluster.PASSWORD not in page.content()
        page.locator("#backup-panel").scroll_into_view_if_needed()
        screenshot(page, "team_backup_page")

        # A restore whose desk went away before its commit: every sender stays paused until
        # someone lifts it here.
        team_state.set_flag(svc.store, team_state.SENDERS_PAUSED, {"reason": "x"}, "李四")
        page.reload()
        box = page.locator("#backup-paused")
        box.wait_for(state="visible")
        assert "恢复没有完成" in box.inner_text() and "李四" in box.inner_text()
        screenshot(page, "team_backup_interrupted")
        box.locator("button").click()
        box.wait_for(state="hidden")
        assert team_state.senders_paused(svc.store) is None

        # The docs link of 数据位置 serves docs/team.md; 关于 names the server, not the password.
        docs = page.request.get(f"{server.base_url}{page.locator('#data-location-docs').get_attribute('href')}")
        assert docs.ok and "pg_dump" in docs.text()
        page.goto(f"{server.base_url}/about")
        about = page.locator('[data-field="database_path"]')
        assert about.inner_text() == svc.store.location
        assert pg_cluster.PASSWORD not in page.content()
        assert not problems.unexpected(), problems.items
    finally:
        context.close()


def test_team_restore_through_the_page(browser: Any, team_ui: tuple[Services, Any], tmp_path: Path) -> None:
    """An administrator restores the team data from 备份恢复: the confirmation says every
    desk is concerned; afterwards another desk is paused until 已查看 here."""
    svc, server = team_ui
    add_data(svc.store, units=1, entries=0, tag="B")  # after the backup: gone by the restore
    other = team_services(tmp_path / "desk2", svc.store.url or "")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 820})
    try:
        page = context.new_page()
        problems = PageProblems(page)
        page.goto(server.launch_url)
        page.goto(f"{server.base_url}/settings#backup-panel")
        page.locator('#backup-table button[data-action="restore"]').first.click()
        summary = page.locator("#restore-summary")
        summary.wait_for()
        assert "所有电脑共用" in summary.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("dialog.dialog").screenshot(path=str(ARTIFACTS / "team_restore_confirm.png"))
        page.click("dialog.dialog >> button.danger")
        page.locator("dialog.dialog >> text=恢复完成").wait_for()
        assert "各电脑的自动同步与发送已暂停" in page.locator("dialog.dialog").inner_text()
        with page.expect_navigation():
            page.click("dialog.dialog >> text=关闭")
        page.locator("#backup-paused").wait_for()
        assert [r[0] for r in svc.store.db.execute_sql("SELECT name FROM unit ORDER BY id")] == ["单位A0", "单位A1"]
        assert "核对" in (team_state.senders_paused(other.store) or "")
        page.click("#backup-paused >> text=我已核对")
        page.wait_for_selector("#backup-paused", state="hidden")
        assert team_state.senders_paused(other.store) is None
        assert not problems.unexpected(), problems.items
    finally:
        context.close()
        other.close()
