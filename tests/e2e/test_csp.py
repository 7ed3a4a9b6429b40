"""Every page under the Content-Security-Policy: chromium reports no violation."""

from __future__ import annotations

import pytest

from client.api.pages import NAV
from tests.e2e.conftest import PageProblems

pytestmark = pytest.mark.e2e

# Recorded before any page script runs; console errors alone can be missed for attributes.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""
PAGES = (
    "/",
    "/enrollment",
    "/wage-base/daily",
    "/wage-base/annual",
    "/wage-base/records",
    "/notices",
    "/settings",
    "/settings/unit",
    "/settings/rules",
    "/settings/declaration-password",
    "/settings/login-password",
    "/about",
    "/login",
    "/no-such-page",
    *(e.path for e in NAV),  # every page the menu leads to, new ones too
)


def _violations(page: object) -> list[str]:
    return page.evaluate("window.__csp")


def test_no_page_breaks_the_policy(browser, ui, logged_in) -> None:
    context = browser.new_context(locale="zh-CN")
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    seen: dict[str, list[str]] = {}
    for path in dict.fromkeys(PAGES):
        page.goto(ui.base_url + path)
        page.wait_for_load_state("networkidle")
        seen[path] = _violations(page)
    # The backup panel builds its form in script (a checkbox that once had style="").
    page.goto(ui.base_url + "/settings")
    page.wait_for_load_state("networkidle")
    tab = page.locator("text=备份恢复")
    if tab.count():
        tab.first.click()
        page.wait_for_load_state("networkidle")
    seen["/settings (backup)"] = _violations(page)
    context.close()
    assert {p: v for p, v in seen.items() if v} == {}
    csp_lines = [p for p in problems.items if "Content Security Policy" in p]
    assert csp_lines == []
    assert problems.unexpected(404) == []


def test_refusal_page_keeps_its_style_under_the_policy(browser, ui) -> None:
    context = browser.new_context(locale="zh-CN")
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.base_url + "/")  # no launch key: the Chinese refusal page
    assert "请从 socialfee 程序打开" in page.inner_text("body")
    padding = page.evaluate("getComputedStyle(document.body).paddingTop")
    assert padding != "0px"  # its <style> ran (by nonce)
    assert _violations(page) == []
    context.close()
    assert [p for p in problems.items if "Content Security Policy" in p] == []
