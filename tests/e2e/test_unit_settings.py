"""单位信息, 规则信息, 申报密码设置 and 登录密码设置 in chromium."""

from __future__ import annotations

import pytest

from tests.conftest import NEW_PASSWORD
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def test_unit_and_rule_pages_update_and_keep_the_last_good_data(logged_in, app_page, ui) -> None:
    page, problems = app_page
    page.goto(ui.base_url + "/settings")
    page.click("#unit-settings >> text=单位信息")
    page.locator("#unit-numbers tbody tr").first.wait_for()
    assert logged_in.unit(2).taxpayer_id in page.inner_text("#unit-registration")
    page.click("#refresh-button")
    page.locator(".toast.success", has_text="单位信息已更新").wait_for()
    screenshot(page, "settings-unit")
    page.goto(ui.base_url + "/settings/rules")
    assert page.inner_text('[data-testid="rules-version"]') == "2025.07.2"  # the 山西 pack of unit 2
    assert page.locator(".rule-period").count() >= 1
    screenshot(page, "settings-rules")
    # The tax side fails: the page says so and still shows the pack it had.
    logged_in.fault("/v1/rule-packs", "error", status=503)
    page.click("#refresh-button")
    page.locator(".toast.error", has_text="更新失败").wait_for()
    page.locator('[data-testid="refresh-error"]').wait_for()
    assert page.inner_text('[data-testid="rules-version"]') == "2025.07.2"  # the 山西 pack of unit 2
    screenshot(page, "settings-rules-failed")
    assert problems.unexpected() == []


def test_declaration_password_change_is_checked_by_the_taxside(logged_in, app_page, ui, services) -> None:
    page, problems = app_page
    page.goto(ui.base_url + "/settings/declaration-password")
    page.fill("#old-password", "Wrong2025x")
    page.fill("#new-password", "Neuer2026pw")
    page.fill("#confirm-password", "Neuer2026pw")
    page.click("text=确定修改")
    page.locator('[data-error-for="old_password"], .toast.error', has_text="原申报密码错误，还可尝试4次").first.wait_for()
    page.fill("#old-password", NEW_PASSWORD)
    page.click("text=确定修改")
    page.locator(".toast.success", has_text="申报密码已修改").wait_for()
    screenshot(page, "settings-declaration-password")
    services.session.logout()
    assert services.session.login(logged_in.unit(2).unit_id, "Neuer2026pw").state == "confirm"
    assert problems.unexpected(403) == []


def test_login_password_locks_the_client(app_page, ui, services) -> None:
    page, problems = app_page
    page.goto(ui.base_url + "/settings/login-password")
    assert page.inner_text("#login-password-state") == "未设置登录密码"
    page.fill("#new-password", "short1")
    page.fill("#confirm-password", "short1")
    page.click("text=保存登录密码")
    page.locator('[data-error-for="new_password"]', has_text="长度应为8-32位").wait_for()
    page.fill("#new-password", "Local2025pw")
    page.fill("#confirm-password", "Local2025pw")
    page.click("text=保存登录密码")
    page.wait_for_function("document.querySelector('#login-password-state')?.textContent === '已设置登录密码'")
    screenshot(page, "settings-login-password")
    services.session.client_unlocked = False  # as after a restart
    page.goto(ui.base_url + "/settings")
    assert page.url.endswith("/lock")
    page.fill("#lock-password", "Local2025px")
    page.click("text=进入")
    page.locator('[data-error-for="password"]', has_text="登录密码不正确").wait_for()
    screenshot(page, "lock")
    page.fill("#lock-password", "Local2025pw")
    page.click("text=进入")
    page.wait_for_url("**/login?next=%2F")
    assert problems.unexpected(400, 403) == []
