"""What a new payroll clerk sees at 1280 px: the navigation on a 404, query bars on one
line, toasts off the table, money and change-log text as people read them."""

from __future__ import annotations

import pytest

from tests.conftest import log_in
from tests.e2e.conftest import PageProblems, screenshot

pytestmark = pytest.mark.e2e


def _box(page, selector: str) -> dict[str, float]:
    return page.locator(selector).first.bounding_box()


def test_pages_as_a_clerk_sees_them(browser, ui, services, taxside_factory) -> None:
    live = taxside_factory(units=1, employees=120, seed=7)
    unit = log_in(services, live, index=0)
    services.session.popups_shown = True
    live.sim("POST", f"/units/{unit.unit_id}/base-changes", {"count": 3, "ratio": "1.05"})
    services.session.start_enrollment_sync("incremental")
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 820})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)

    # A page that does not exist keeps the navigation and says so in Chinese.
    page.goto(ui.base_url + "/no-such-page")
    assert page.locator("nav.sidenav a", has_text="职工参保信息").count() == 1
    assert "找不到该页面" in page.inner_text("[data-testid=error-page]")
    screenshot(page, "clerk-404")

    # 职工参保信息: the query bar's buttons stay on the line of its fields.
    page.goto(ui.base_url + "/enrollment")
    page.wait_for_function("document.querySelector('[data-count=total]').textContent === '120'")
    buttons = page.locator("#query button")
    tops = {round(buttons.nth(i).bounding_box()["y"]) for i in range(buttons.count())}
    first_field = round(_box(page, "#query input")["y"])
    assert len(tops) == 1 and abs(tops.pop() - first_field) < 12, "query buttons wrapped"
    # Money with thousands separators, right-aligned.
    cell = page.locator("#employees tbody td.num").first
    assert "," in cell.inner_text() or float(cell.inner_text().replace(",", "")) < 1000
    # 更新数据 says per item what changed: no JSON on screen.
    page.click("#changes-open")
    table = page.locator("#changes-table tbody")
    table.locator("tr", has_text="变更").first.wait_for()
    text = table.inner_text()
    assert "养老保险" in text and "→" in text and "{" not in text and "pension" not in text
    screenshot(page, "clerk-enrollment-changes")
    page.keyboard.press("Escape")

    # 缴费工资申报: query bar on one line at 1280 px; a toast never covers the table.
    page.goto(ui.base_url + "/wage-base/daily")
    page.locator("#rows .pager-info").wait_for()
    buttons = page.locator("#query button")
    tops = {round(buttons.nth(i).bounding_box()["y"]) for i in range(buttons.count())}
    assert len(tops) == 1, "query buttons wrapped"
    page.click("#add-menu > summary")
    page.click("[data-add=normal]")
    toast = page.locator(".toast.success", has_text="已添加")
    toast.wait_for()
    content = _box(page, "main.content")
    assert toast.bounding_box()["x"] + toast.bounding_box()["width"] <= content["x"] + 1
    # Page size and page number for large units.
    page.select_option("#rows .pager select", "20")
    page.wait_for_function("document.querySelectorAll('#rows tbody tr').length === 20")
    page.fill("#rows .pager input.page-number", "2")
    page.dispatch_event("#rows .pager input.page-number", "change")
    page.wait_for_function("document.querySelector('#rows .pager input.page-number').value === '2'")
    page.check('#rows th.select input[type="checkbox"]')
    page.click("#rows .select-all-matching")
    assert "已选" in page.inner_text("#rows .pager-info") and page.is_enabled("#batch")
    screenshot(page, "clerk-wage-base-select-all")
    assert problems.unexpected(404) == []
    context.close()
