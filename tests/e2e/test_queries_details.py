"""社保费申报明细查询 in the browser against the live reference tax side: the page on entry
(nothing local yet), 查询 with a 费款所属期 range downloading it, filters by item and person,
totals, and 导出 opened with openpyxl (ID columns text and complete)."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.conftest import log_in
from tests.e2e.conftest import PageProblems, screenshot
from tests.e2e.test_fee_declaration import assert_readable

pytestmark = pytest.mark.e2e


def test_query_filter_and_export(browser: Any, ui: Any, services: Any, taxside_factory: Any) -> None:
    live = taxside_factory(units=1, employees=40, seed=5)
    live.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, live, index=0)
    services.session.popups_shown = True
    live.sim("POST", f"/units/{unit.unit_id}/declaration-history", {"from": "202501", "to": "202502"})
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    page.goto(ui.base_url + "/queries/details")
    page.locator("#local-ranges", has_text="本机还没有下载申报明细").wait_for()
    assert page.locator("#detail-table tbody tr", has_text="暂无").count() <= 1
    assert page.locator("#export").is_disabled()
    assert page.locator("nav.tabs a.active").inner_text() == "申报明细"

    # 查询 with a range: downloaded from the tax side, then shown with totals.
    page.fill('input[name="period_from"]', "2025-01")
    page.fill('input[name="period_to"]', "2025-02")
    page.click("#query-button")
    page.locator(".toast", has_text="下载申报明细").first.wait_for()
    page.locator("#local-ranges", has_text="本机已下载").wait_for()
    page.locator("#totals", has_text="单位缴纳合计").wait_for()
    page.wait_for_function("document.querySelectorAll('#detail-table tbody tr').length >= 20")
    totals = page.locator("#totals").inner_text()
    all_rows = int(totals.split("共 ")[1].split(" 条")[0].replace(",", ""))
    assert all_rows > 100

    # Filter by item and part, then by one person.
    page.select_option('select[name="item"]', "pension")
    page.select_option('select[name="part"]', "employee")
    page.fill('input[name="period_from"]', "")
    page.fill('input[name="period_to"]', "")
    page.click("#query-button")
    page.wait_for_function(
        "[...document.querySelectorAll('#detail-table tbody tr')].every(r => r.innerText.includes('个人缴纳部分'))")
    first = page.locator("#detail-table tbody tr").first
    cells = first.locator("td").all_inner_texts()
    id_number, name = cells[7], cells[8]
    page.fill('input[name="id_number"]', id_number)
    page.click("#query-button")
    page.wait_for_function("document.querySelectorAll('#detail-table tbody tr').length === 2")
    rows_text = [r.inner_text() for r in page.locator("#detail-table tbody tr").all()]
    assert all(id_number in t and name in t and "基本养老保险" in t for t in rows_text)
    assert_readable(page.locator("main").inner_text())
    screenshot(page, "queries_details")

    # 导出 the filtered rows: a job, then the file.
    with page.expect_download() as info:
        page.click("#export")
    assert info.value.suggested_filename.startswith("社保费申报明细")
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    header = [c.value for c in sheet[1]]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    assert len(rows) == 2
    assert all(r[header.index("证件号码")] == id_number for r in rows)
    assert all(isinstance(r[header.index("费款所属期")], str) for r in rows)
    assert all(isinstance(r[header.index("个人缴纳金额")], float) for r in rows)
    shown = sum(Decimal(t.split()[-1].replace(",", "")) for t in rows_text)
    assert shown == sum(Decimal(str(r[header.index("个人缴纳金额")])) for r in rows)
    assert problems.unexpected() == [], problems.items
    context.close()
