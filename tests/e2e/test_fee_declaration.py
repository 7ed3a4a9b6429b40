"""社保费申报 in the browser, a whole month: the new period's summaries, person details, the
local check finding a base changed on the tax side, submit, feedback, records merged with a
declaration made on the 电子税务局, a void, and the way on to payment."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import log_in
from tests.e2e.conftest import PageProblems, screenshot
from tests.e2e.test_wage_base import log_in_again

pytestmark = pytest.mark.e2e

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}")
RAW_MONEY = re.compile(r"(?<![\d,.])\d{4,}\.\d{2}(?!\d)")  # 13274.40 instead of 13,274.40


def assert_readable(text: str) -> None:
    """No ISO times, no ungrouped amounts, no English status words on screen."""
    assert not ISO_TIME.search(text), ISO_TIME.search(text)
    assert not RAW_MONEY.search(text), RAW_MONEY.search(text)
    for word in ("accepted", "voided", "pending", "rejected", "awaiting", "daily", "special", "None", "null",
                 "undefined"):
        assert not re.search(rf"\b{word}\b", text), word


def rows_text(page: Any, table: str) -> list[str]:
    return [r.inner_text() for r in page.locator(f"{table} tbody tr").all()]


def test_a_month_of_fee_declarations(browser, ui, services, taxside_factory) -> None:
    live = taxside_factory(units=1, employees=60, seed=5)  # one 北京 unit
    unit = log_in(services, live, index=0)
    live.sim("PUT", "/settings", {"decision_delay_seconds": 3600})  # decided when we say so
    assert live.sim("POST", "/advance-month")["period"] == "2025-04"
    log_in_again(services, unit.unit_id)  # the new business date; the login updates the enrollment
    # After this PC's last update (a while ago: stored times have one-second steps), one
    # employee's base changes on the tax side.
    with services.store.write() as db:
        db.execute_sql("UPDATE feed_cursor SET updated_at = datetime(updated_at, '-1 minute')")
    (changed,) = live.sim("POST", f"/units/{unit.unit_id}/base-changes", {"count": 1, "ratio": "1.5"})[
        "employee_ids"]
    name = services.store.db.execute_sql(
        "SELECT name FROM enrollment_employee WHERE employee_id = ?", (changed,)).fetchone()[0]

    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 820})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)

    # 日常申报: entering queries the tax side; the new period's summaries, money formatted.
    page.click('[data-nav="fee_declaration"]')
    page.wait_for_url("**/fee-declaration/daily")
    page.locator(".toast", has_text="待申报的日常申报预处理汇总数据").wait_for()
    page.locator("#summaries tbody tr", has_text="2025年04月").first.wait_for()
    assert "上次查询" in page.inner_text("#fetched")
    # Last month's summaries, not declared, are still pending beside the new period's.
    everything = rows_text(page, "#summaries")
    assert any("2025年03月" in r for r in everything)
    assert_readable(page.inner_text("#fee-summaries"))
    screenshot(page, "fee-daily")

    # 查询 by 费款所属期 (typed as 2025-04) and by 单位编号.
    page.fill('#query input[name="period"]', "2099-01")
    page.click("#query button[type=submit]")
    page.locator("#summaries .table-status", has_text="暂无数据").wait_for()
    page.fill('#query input[name="period"]', "2025-04")
    page.click("#query button[type=submit]")
    page.wait_for_function("[...document.querySelectorAll('#summaries tbody tr')].length > 0 && "
                           "[...document.querySelectorAll('#summaries tbody tr')].every(r => r.innerText.includes('2025年04月'))")
    listed = rows_text(page, "#summaries")
    assert all("待申报" in r for r in listed) and len(listed) == sum("2025年04月" in r for r in everything)
    assert page.locator("#totals").inner_text().startswith(f"共 {len(listed)} 条预处理汇总")

    # 人员明细: the headcount opens the persons, paged.
    first = page.locator("#summaries tbody tr").first
    headcount = int(first.locator("[data-details]").inner_text())
    first.locator("[data-details]").click()
    dialog = page.locator("dialog", has_text="人员明细")
    dialog.locator(".pager-info", has_text=f"共 {headcount} 条").wait_for()
    assert dialog.locator("tbody tr").count() == min(20, headcount)
    assert "居民身份证" in dialog.inner_text() and "2025年04月" in dialog.inner_text()
    assert_readable(dialog.inner_text())
    screenshot(page, "fee-person-details")
    if headcount > 20:
        dialog.locator("button", has_text="下一页").click()
        page.wait_for_function("document.querySelector('dialog input[aria-label=\"页码\"]').value === '2'")
        assert dialog.locator("tbody tr").count() == min(20, headcount - 20)
    dialog.locator(".dialog-buttons button", has_text="关闭").click()

    # 本地核对 of every summary: the changed base shows, local data are older than the tax side's.
    page.check('#summaries thead input[type="checkbox"]')
    page.click("#check")
    result = page.locator("#check-result")
    result.locator("h3", has_text="本地核对结果").wait_for()
    text = result.inner_text()
    assert "本机参保数据较旧" in text and "不一致" in text and name in text, text
    assert "一致" in text
    assert_readable(text)
    screenshot(page, "fee-check")
    with page.expect_download() as info:
        page.click("#export-differences")
    with open(info.value.path(), "rb") as fh:
        diffs = list(load_workbook(io.BytesIO(fh.read()))["职工差异"].iter_rows(values_only=True))
    assert {row[5] for row in diffs[1:]} == {changed} and all(isinstance(r[8], str) for r in diffs[1:])

    # 提交申报 anyway: confirmed, saved, sent; the rows read 已提交申报.
    page.click("#submit")
    confirm = page.locator("dialog", has_text="确定提交吗")
    assert "应缴合计" in confirm.inner_text()
    confirm.locator("button", has_text="提交申报").click()
    page.locator(".toast", has_text="已发送 1 笔申报").wait_for()
    page.locator("#summaries tbody tr", has_text="已提交申报").first.wait_for()

    # 特殊缴费申报: a 补缴 made by the tax side, with the 温馨提示; then declared elsewhere.
    special = live.sim("POST", f"/units/{unit.unit_id}/special-summaries",
                       {"special_type": "补缴", "from": "202501", "to": "202502", "count": 2})["items"]
    page.click('.tabs a:has-text("特殊缴费申报")')
    page.wait_for_url("**/fee-declaration/special")
    page.locator("#summaries tbody tr", has_text="2025年01月至2025年02月").first.wait_for()
    tips = page.inner_text(".tips")
    assert "补缴" in tips and "退休补收" in tips
    assert all("补缴" in r for r in rows_text(page, "#summaries"))
    assert_readable(page.inner_text("#fee-summaries"))
    screenshot(page, "fee-special")
    live.sim("POST", f"/units/{unit.unit_id}/fee-declarations", {"summary_ids": [s["summary_id"] for s in special]})

    # 申报记录: entering syncs the last two months and fetches feedback: ours and the
    # 电子税务局's, both 申报成功, with the way on to payment.
    live.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    page.click('.tabs a:has-text("申报记录")')
    page.wait_for_url("**/fee-declaration/records")
    page.locator("#success-note", has_text="1 笔申报成功").wait_for()
    page.locator("#record-table tbody tr", has_text="电子税务局").wait_for()
    records = rows_text(page, "#record-table")
    assert len(records) == 2 and all("申报成功" in r for r in records), records
    ours = page.locator("#record-table tbody tr", has_text="本客户端")
    assert "作废" in ours.inner_text() and "去缴款" in ours.inner_text()
    assert "去缴款" in page.inner_text("#success-note")
    assert_readable(page.inner_text("#fee-records"))
    screenshot(page, "fee-records")

    # 查询 by status.
    page.select_option('#query select[name="status"]', "voided")
    page.click("#query button[type=submit]")
    page.locator("#record-table .table-status", has_text="暂无数据").wait_for()
    page.click("#query button[type=reset]")
    page.locator("#record-table tbody tr").nth(1).wait_for()

    # 作废 ours: a reason is required; the result comes with 获取反馈.
    ours.locator("[data-void]").click()
    void = page.locator("dialog", has_text="作废原因")
    void.locator("button", has_text="确定作废").click()
    void.locator(".field-error", has_text="请填写作废原因").wait_for()
    void.locator("textarea").fill("申报数据有误，重新申报")
    screenshot(page, "fee-void-dialog")
    void.locator("button", has_text="确定作废").click()
    page.locator(".toast", has_text="作废申请已保存").wait_for()
    page.locator("#open-summary", has_text="1 笔待反馈").wait_for()
    # On a busy machine the void may still be on its way when 获取反馈 is first clicked:
    # ask again, as a clerk would, until the tax side's answer is in.
    for _ in range(6):
        page.click("#feedback")
        try:
            page.locator("#record-table tbody tr", has_text="已作废").wait_for(timeout=5000)
            break
        except PlaywrightTimeoutError:
            continue
    page.locator("#record-table tbody tr", has_text="已作废").wait_for()
    assert "作废" not in page.locator("#record-table tbody tr", has_text="已作废").locator(".row-actions").inner_text()
    assert_readable(page.inner_text("#fee-records"))
    screenshot(page, "fee-records-voided")

    # 去缴款 leads to payment: the arrears of the declaration made on the 电子税务局.
    page.locator("#record-table tbody tr", has_text="电子税务局").locator("a", has_text="去缴款").click()
    page.wait_for_url("**/payment")
    page.locator("#arrears tbody tr").first.wait_for()
    assert problems.unexpected(400) == []
    context.close()
