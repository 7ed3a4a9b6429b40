"""The progress banner of 职工参保信息更新 on every page (issue 5)."""

from __future__ import annotations

import pytest

from tests.conftest import log_in
from tests.e2e.conftest import PageProblems, screenshot

pytestmark = pytest.mark.e2e


def test_banner_follows_a_full_update_from_another_page(browser, ui, services, taxside_factory) -> None:
    live = taxside_factory(units=1, employees=6000, seed=7)
    unit = log_in(services, live, index=0)  # the login's own update downloads everything
    services.session.popups_shown = True
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 820})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)

    # Nothing runs: the page asks once and shows nothing.
    page.goto(ui.base_url + "/settings")
    page.wait_for_load_state("networkidle")
    assert page.locator("#sync-banner").is_hidden()

    # Each page of the feed held 2.5 s, so the banner can be seen between pages (5,000 a page).
    live.fault(f"/v1/units/{unit.unit_id}/enrollment", "latency", latency_ms=2500, count=2)
    services.session.start_enrollment_sync("full")
    page.goto(ui.base_url + "/")  # opened mid-run
    banner = page.locator("#sync-banner")
    banner.wait_for()
    page.wait_for_function(
        "document.querySelector('#sync-banner .sync-banner-text').textContent.includes('5,000 / 6,000')"
    )
    assert banner.inner_text().startswith("正在更新职工参保信息…")
    assert banner.locator("a", has_text="查看职工参保信息").get_attribute("href") == "/enrollment"
    assert page.eval_on_selector("#sync-banner progress", "p => [p.value, p.max]") == [5000, 6000]
    screenshot(page, "sync-banner-progress")

    # The end: the result for a moment, then the banner goes.
    page.wait_for_function(
        "document.querySelector('#sync-banner .sync-banner-text').textContent"
        ".startsWith('职工参保信息更新完成：共下载 6000 名职工的参保信息，与本机数据一致')"
    )
    assert "done" in banner.get_attribute("class")
    screenshot(page, "sync-banner-done")
    banner.wait_for(state="hidden", timeout=10000)

    # 职工参保信息 has its own progress bar: no banner there.
    live.fault(f"/v1/units/{unit.unit_id}/enrollment", "latency", latency_ms=1500, count=2)
    services.session.start_enrollment_sync("full")
    page.goto(ui.base_url + "/enrollment")
    page.locator("#sync-progress").wait_for()
    assert banner.is_hidden()
    page.locator(".toast.success", has_text="共下载 6000 名职工").wait_for(timeout=20000)

    # A failed update: the tax side's message stays until closed (or 20 s).
    live.fault(f"/v1/units/{unit.unit_id}/enrollment", "latency", latency_ms=2500, count=1)
    live.fault(f"/v1/units/{unit.unit_id}/enrollment", "error", status=500)
    services.session.start_enrollment_sync("full")
    page.goto(ui.base_url + "/settings")
    page.wait_for_function(
        "document.querySelector('#sync-banner .sync-banner-text').textContent"
        ".startsWith('职工参保信息更新失败：')",
        timeout=30000,
    )
    assert "failed" in banner.get_attribute("class") and banner.locator("progress").is_hidden()
    screenshot(page, "sync-banner-failed")
    banner.locator(".sync-banner-close").click()
    assert banner.is_hidden()
    live.clear_faults()
    assert problems.unexpected() == []
    context.close()


def test_no_banner_and_no_requests_without_a_unit(app_page, ui) -> None:
    page, problems = app_page
    asked: list[str] = []
    page.on("request", lambda r: "enrollment_sync" in r.url and asked.append(r.url))
    for path in ("/", "/settings", "/login"):
        page.goto(ui.base_url + path)
        page.wait_for_load_state("networkidle")
        assert page.locator("#sync-banner").count() == 0
    assert asked == [] and problems.unexpected() == []
