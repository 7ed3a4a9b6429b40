"""单位总览 in the browser against the live reference tax side: the overview of four units,
sorting, filtering, a batch over ticked units with one line per unit (a password typed,
one left empty and skipped), the current unit unchanged, then switching to a unit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import NEW_PASSWORD, log_in
from tests.e2e.conftest import PageProblems, screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture
def four(services: Any, taxside_factory: Any) -> Any:
    live = taxside_factory(units=4, employees=40)
    for n in range(4):
        log_in(services, live, n)
    services.session.popups_shown = True
    return live


def open_agency(browser: Any, ui: Any) -> tuple[Any, Any, PageProblems]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    page.click("[data-nav=agency]")
    page.wait_for_selector("#agency-units tbody tr")
    return context, page, problems


def names(page: Any) -> list[str]:
    return page.locator("#agency-units tbody tr .unit-switch").all_inner_texts()


def test_overview_sort_batch_and_switch(browser: Any, ui: Any, services: Any, four: Any) -> None:
    units = [four.unit(n) for n in range(4)]
    current = services.session.view().unit
    four.sim("POST", f"/units/{units[0].unit_id}/hires", {"count": 4})
    context, page, problems = open_agency(browser, ui)
    try:
        assert page.locator("[data-total=units]").inner_text() == "4"
        assert sorted(names(page)) == sorted(u.name for u in units)
        current_row = page.locator("#agency-units tbody tr", has=page.locator(".badge", has_text="当前单位"))
        assert current_row.locator(".unit-switch").inner_text() == current.name
        screenshot(page, "agency-overview")

        # Sorting by 在册职工 both ways, checked against the local counts.
        page.click("#agency-units th[data-sort=employees]")
        page.wait_for_selector("#agency-units th.sorted-asc")
        up = [int(t) for t in page.locator("#agency-units tbody td:nth-child(4)").all_inner_texts()]
        assert up == sorted(up)
        page.click("#agency-units th[data-sort=employees]")
        page.wait_for_selector("#agency-units th.sorted-desc")
        down = [int(t) for t in page.locator("#agency-units tbody td:nth-child(4)").all_inner_texts()]
        assert down == sorted(up, reverse=True)

        # Filter by name.
        page.fill("input[name=q]", units[3].name)  # units 0 and 1 share a taxpayer and its name
        page.click("#agency-query button[type=submit]")
        page.wait_for_function("document.querySelectorAll('#agency-units tbody tr').length === 1")
        assert names(page) == [units[3].name]
        page.click("#agency-query button[type=reset]")
        page.wait_for_function("document.querySelectorAll('#agency-units tbody tr').length === 4")

        # Tick units 0, 1 and 2: 0 and 1 get their password typed, 2 is left empty (skipped);
        # the tax side answers unit 1's enrollment slowly, so the lines show the batch going.
        four.fault(f"/v1/units/{units[1].unit_id}/enrollment", "latency", latency_ms=2500, count=1)
        for unit in (units[0], units[1], units[2]):
            row = page.locator("#agency-units tbody tr", has=page.locator(f".unit-switch[data-unit-id='{unit.unit_id}']"))
            row.locator("td.select input").check()
        page.click("[data-batch=enrollment]")
        dialog = page.locator("#batch-dialog")
        for unit in (units[0], units[1]):
            dialog.locator(f"tr[data-unit-id='{unit.unit_id}'] input[type=password]").fill(NEW_PASSWORD)
        screenshot(page, "agency-batch-dialog")
        dialog.locator("button", has_text="开始").click()
        page.wait_for_selector("#batch-panel:not([hidden])")
        slow = f"#batch-lines tr[data-unit-id='{units[1].unit_id}']"
        page.wait_for_function(f"document.querySelector(\"{slow}\")?.innerText.includes('进行中')")
        assert "等待" in page.locator(f"#batch-lines tr[data-unit-id='{units[2].unit_id}']").inner_text()
        assert page.locator("#batch-bar").get_attribute("max") == "3"
        screenshot(page, "agency-batch-running")
        page.wait_for_function("document.querySelector('#batch-cancel').disabled")
        lines = page.locator("#batch-lines tbody tr")
        assert lines.count() == 3
        assert "完成" in page.locator(slow).inner_text()
        done = page.locator(f"#batch-lines tr[data-unit-id='{units[0].unit_id}']")
        skipped = page.locator(f"#batch-lines tr[data-unit-id='{units[2].unit_id}']")
        assert "完成" in done.inner_text() and "新增 4 人" in done.inner_text()
        assert "失败" in skipped.inner_text() and "需要输入申报密码" in skipped.inner_text()
        assert "完成 2 个，失败 1 个" in page.locator("#batch-label").inner_text()
        screenshot(page, "agency-batch-done")
        # The UI's unit did not change; the overview shows the new employees.
        assert page.locator(".unit-name").inner_text() == current.name
        page.wait_for_function(
            "[...document.querySelectorAll('#agency-units tbody tr')].some(tr => tr.innerText.includes('当前单位'))")

        # Switch to unit 1: its password passed earlier in this start, so no question.
        page.locator(f".unit-switch[data-unit-id='{units[1].unit_id}']").click()
        page.wait_for_url(f"{ui.base_url}/")
        assert page.locator(".unit-name").inner_text() == units[1].name
        assert services.session.view().unit.unit_id == units[1].unit_id
        assert problems.unexpected() == []
    finally:
        context.close()


def test_first_use_in_a_start_goes_through_the_security_check(browser: Any, ui: Any, services: Any,
                                                                four: Any) -> None:
    services.session.checked.clear()  # as after a restart
    target = four.unit(0)
    context, page, problems = open_agency(browser, ui)
    try:
        page.locator(f".unit-switch[data-unit-id='{target.unit_id}']").click()
        page.locator("dialog.dialog button", has_text="确定").click()
        page.wait_for_selector("#step-password:not([hidden])")
        assert target.name in page.locator("#password-unit").inner_text()
        page.fill("#password", NEW_PASSWORD)
        page.click("#password-next")
        page.wait_for_selector("#step-confirm:not([hidden])")
        page.check("#confirm-check")
        page.click("#confirm-next")
        page.wait_for_url(f"{ui.base_url}/")
        assert services.session.view().unit.unit_id == target.unit_id
        assert problems.unexpected() == []
    finally:
        context.close()
