from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from client.api.pages import NAV, visible_nav
from client.core import audit
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def test_walk_every_navigation_entry(logged_in, app_page, services) -> None:
    page, problems = app_page
    page.wait_for_load_state("networkidle")
    assert page.title().startswith("首页")
    screenshot(page, "home")
    shown = visible_nav(services)
    # One unit: 单位总览 is the only entry held back (it appears from the second unit on).
    assert {e.key for e in NAV} - {e.key for e in shown} == {"agency"}
    assert page.locator("nav a[data-nav]").evaluate_all("els => els.map(e => e.dataset.nav)") == [e.key for e in shown]
    for entry in shown:
        page.click(f'nav a[data-nav="{entry.key}"]')
        page.wait_for_load_state("networkidle")
        assert page.locator("h1.page-title").inner_text() == entry.label
        assert page.locator(f'nav a[data-nav="{entry.key}"]').get_attribute("class") == "active"
        if not entry.ready:
            assert page.get_by_test_id("coming-soon").is_visible()
            assert "即将推出" in page.locator("main").inner_text()
        screenshot(page, f"nav-{entry.key}")
    assert problems.items == []


def test_settings_save_errors_and_reset_with_confirmation(app_page, ui) -> None:
    page, problems = app_page
    page.goto(ui.base_url + "/settings")
    page.fill("#setting-page_size", "5")
    page.click("text=保存设置")
    error = page.locator('[data-error-for="page_size"]')
    error.wait_for()
    assert error.inner_text() == "「每页行数」不能小于 10"
    page.fill("#setting-page_size", "20")
    page.click("text=保存设置")
    page.locator(".toast.success").wait_for()
    page.reload()
    assert page.input_value("#setting-page_size") == "20"
    # Reset asks first; cancelling keeps the value.
    page.click("#settings-reset")
    page.locator("dialog.dialog").wait_for()
    screenshot(page, "settings-confirm")
    page.click("dialog.dialog >> text=取消")
    assert page.input_value("#setting-page_size") == "20"
    page.click("#settings-reset")
    page.click("dialog.dialog >> text=恢复默认")
    page.locator("text=已恢复默认设置").wait_for()
    assert page.input_value("#setting-page_size") == "50"
    assert problems.unexpected(400) == []


def test_data_check_job_progress_survives_a_reload(app_page, ui, services, monkeypatch) -> None:
    page, problems = app_page
    import threading

    from client.core import system

    release = threading.Event()
    real_check = system.check_data

    def slow_check(store, ctx):
        ctx.progress(1, 3, "正在检查数据库完整性…")
        release.wait(20)
        return real_check(store, ctx)

    monkeypatch.setattr(system, "check_data", slow_check)
    page.goto(ui.base_url + "/settings")
    page.click("#check-start")
    label = page.locator("#check-progress .job-label")
    label.wait_for()
    page.wait_for_function("document.querySelector('#check-progress .job-label').textContent.includes('33%')")
    page.reload()  # the page re-attaches to the running job
    page.wait_for_function("document.querySelector('#check-progress .job-label')?.textContent.includes('检查本地数据')")
    assert page.locator("#check-start").is_disabled()
    screenshot(page, "settings-job-running")
    release.set()
    page.locator("text=检查通过：本地数据完整。").wait_for()
    assert page.locator("#check-result table td", has_text="操作日志").count() == 1
    assert page.locator("#check-result table td", has_text="audit_log").count() == 0
    assert problems.items == []


def test_audit_table_pages_sorts_selects_and_exports(app_page, ui, services) -> None:
    page, problems = app_page
    for i in range(75):
        audit.record(services.store, "导入" if i % 3 == 0 else "导出", f"记录{i:03d}")
    page.goto(ui.base_url + "/settings")
    assert page.locator("#check-progress").is_hidden()  # no job, no progress bar
    table = page.locator("#audit-table")
    table.locator("tbody tr").first.wait_for()
    assert table.locator("tbody tr").count() == 50
    assert "共 75 条" in table.locator(".pager-info").inner_text()
    table.locator("text=下一页").click()
    page.wait_for_function("document.querySelector('#audit-table .pager input.page-number').value === '2'")
    assert table.locator('.pager-of').inner_text() == '/ 2 页'
    assert table.locator("tbody tr").count() == 25
    page.select_option("#audit-action", "导入")
    page.wait_for_function("document.querySelector('#audit-table .pager-info').textContent.includes('共 25 条')")
    table.locator("th", has_text="时间").click()
    page.wait_for_selector("#audit-table th.sorted-asc")
    assert table.locator("tbody tr").first.locator("td").nth(4).inner_text() == "记录000"
    page.fill("#audit-q", "记录003")
    page.click("#audit-search")
    page.wait_for_function("document.querySelector('#audit-table .pager-info').textContent.includes('共 1 条')")
    assert page.locator("#audit-export").is_disabled()
    table.locator("tbody input[type=checkbox]").first.check()
    assert page.locator("#audit-export").is_enabled()
    assert "已选 1 条" in table.locator(".pager-info").inner_text()
    with page.expect_download() as info:
        page.click("#audit-export")
    download = info.value
    assert download.suggested_filename == "操作日志.xlsx"
    with open(download.path(), "rb") as fh:  # the saved download has no .xlsx suffix
        rows = list(load_workbook(io.BytesIO(fh.read())).active.iter_rows(values_only=True))
    assert rows[1][3] == "记录003"
    screenshot(page, "settings-audit")
    assert problems.items == []


def test_pages_refuse_a_browser_without_the_launch_key(browser, ui) -> None:
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(ui.base_url + "/settings")
    assert response.status == 403
    assert "请从 socialfee 程序打开此页面" in page.inner_text("body")
    context.close()
