"""Today's new pages as a new payroll clerk sees them at 1280 px: the 申报明细 table of a
synced range stays inside the window (its own horizontal scroll, not the page's), and the
职工缴费证明 page's 最近打印 says what it is for when nothing was printed yet."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import log_in
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def test_details_table_fits_1280(app_page: Any, ui: Any, services: Any, taxside_factory: Any) -> None:
    page, problems = app_page
    live = taxside_factory(units=1, employees=40, seed=5)
    live.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, live, index=0)
    services.session.popups_shown = True
    live.sim("POST", f"/units/{unit.unit_id}/declaration-history", {"from": "202501", "to": "202502"})
    page.goto(ui.base_url + "/queries/details")
    page.locator("#local-ranges", has_text="本机还没有下载申报明细").wait_for()
    page.fill('input[name="period_from"]', "2025-01")
    page.fill('input[name="period_to"]', "2025-02")
    page.click("#query-button")
    page.locator("#local-ranges", has_text="本机已下载").wait_for()
    page.wait_for_function("document.querySelectorAll('#detail-table tbody tr').length >= 20")
    screenshot(page, "clerk_details_1280")
    # 13 columns with long 社保经办机构 names: the table scrolls in its box, the page does not.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    box = page.locator("#detail-table").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1280
    assert problems.unexpected() == [], problems.items


def test_certificate_without_prints_says_so(app_page: Any, ui: Any, services: Any, taxside_factory: Any) -> None:
    page, problems = app_page
    live = taxside_factory(units=3, employees=0, seed=7)
    log_in(services, live, index=2)
    services.session.popups_shown = True
    page.goto(ui.base_url + "/certificate")
    empty = page.locator("#records tbody tr#records-empty")
    empty.wait_for()
    assert "还没有打印过" in empty.inner_text()
    assert empty.locator("td").get_attribute("colspan") == "9"
    page.fill("#search input", "张三")
    page.click("#search button")
    page.locator("#search-state", has_text="没有匹配的职工").wait_for()
    page.fill("#verify input", "abc")
    page.click("#verify button")
    page.locator("#verify-result", has_text="64 位核验码").wait_for()
    screenshot(page, "clerk_certificate_empty")
    assert problems.unexpected(400) == [], problems.items
