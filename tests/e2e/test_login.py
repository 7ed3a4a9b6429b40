"""Registration and login in chromium against the real app and the reference tax side."""

from __future__ import annotations

import pytest

from tests.conftest import NEW_PASSWORD, log_in
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture
def live(services, taxside_factory):
    """A small tax side the client points at (units 0 and 1 share one taxpayer ID)."""
    ts = taxside_factory(units=3, employees=20)
    services.settings.update({"taxside_url": ts.url})
    return ts


def close_popups(page, *, expect: bool = True) -> list[str]:
    """Close every notice that pops up after login (``expect``: at least one, as the
    sandbox publishes an important one for all regions); their titles in order shown."""
    titles = []
    heading = page.locator("dialog.dialog[open] h2")
    if expect:
        heading.wait_for()
    else:
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)
    while heading.count():
        title = heading.inner_text()
        titles.append(title)
        page.click("dialog.dialog[open] >> text=我知道了")
        # The next pop-up may open at once: wait for this one to go, not for all of them.
        page.locator("dialog.dialog[open] h2", has_text=title).wait_for(state="detached")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)  # the next pop-up, if any, opens now
    return titles


def test_first_use_two_units_wrong_password_forced_change(live, app_page) -> None:
    page, problems = app_page
    unit = live.unit(1)  # the second unit of a 报验户
    page.wait_for_selector("#step-taxpayer:not([hidden])")
    assert page.title().startswith("注册登录")
    # 从备份恢复 for a new PC leads to the backup panel (restore needs no login).
    assert page.get_attribute("#restore-link", "href") == "/settings#backup-panel"
    page.fill("#taxpayer-id", "91110112UJ65RGFLK1")
    page.click("#taxpayer-next")
    error = page.locator('[data-error-for="taxpayer_id"]')
    error.wait_for()
    assert "校验位错误" in error.inner_text()
    page.fill("#taxpayer-id", unit.taxpayer_id.lower())  # lower case is accepted
    page.click("#taxpayer-next")
    page.wait_for_selector("#step-choose:not([hidden])")
    assert page.locator("#taxside-units li").count() == 2
    screenshot(page, "login-choose-unit")
    page.check(f'input[name="taxside-unit"][value="{unit.unit_id}"]')
    page.click("#choose-next")
    page.wait_for_selector("#step-password:not([hidden])")
    assert "后6位" in page.inner_text("#password-hint")
    assert page.locator("#remember").is_disabled()  # no keyring here
    assert "不会以明文保存" in page.inner_text("#remember-help")
    page.fill("#password", "000000")
    page.click("#password-next")
    wrong = page.locator('#step-password [data-error-for="password"]')
    wrong.wait_for()
    assert wrong.inner_text() == "申报密码错误，还可尝试4次"
    screenshot(page, "login-wrong-password")
    page.fill("#password", unit.initial_password)
    page.click("#password-next")
    page.wait_for_selector("#step-change:not([hidden])")
    page.fill("#new-password", "abcdefgh")
    page.fill("#confirm-password", "abcdefgh")
    page.click("#change-next")
    page.locator('[data-error-for="new_password"]', has_text="必须同时包含字母和数字").wait_for()
    page.fill("#new-password", unit.initial_password)
    page.click("#change-next")
    page.locator('[data-error-for="new_password"]', has_text="长度应为8-32位").wait_for()
    page.fill("#new-password", NEW_PASSWORD)
    page.fill("#confirm-password", NEW_PASSWORD + "x")
    page.click("#change-next")
    page.locator('[data-error-for="confirm_password"]', has_text="两次输入的新密码不一致").wait_for()
    screenshot(page, "login-forced-change")
    page.fill("#confirm-password", NEW_PASSWORD)
    page.click("#change-next")
    page.wait_for_selector("#step-confirm:not([hidden])")
    assert "税务登记信息" in page.inner_text("#registration")
    assert "参保登记信息" in page.inner_text("#registration")
    assert "上海市" in page.inner_text("#registration")
    screenshot(page, "login-confirm")
    page.click("#confirm-next")
    page.locator('[data-error-for="confirmed"]', has_text="请先勾选").wait_for()
    page.check("#confirm-check")
    page.click("#confirm-next")
    page.wait_for_url("**/")
    titles = close_popups(page)
    assert "关于做好2025年度社会保险费缴费工资申报工作的通知" in titles
    assert page.title().startswith("首页")
    assert unit.name in page.inner_text("#unit-indicator")
    assert page.locator("#home-functions .module-card").count() >= 5
    screenshot(page, "login-home")
    assert problems.unexpected(400, 403) == []


def test_every_start_checks_the_password_and_units_can_be_switched_and_removed(
    live, services, app_page, ui
) -> None:
    page, problems = app_page
    first, second = live.unit(0), live.unit(2)
    log_in(services, live, 0)
    log_in(services, live, 2)  # unit 2 is now the current one
    page.goto(ui.base_url + "/")
    close_popups(page)
    assert second.name in page.inner_text("#unit-indicator")
    page.click("#unit-manager-open")
    manager = page.locator("#unit-manager")
    manager.locator(f'tr[data-unit-id="{first.unit_id}"]').wait_for()  # rows load after the dialog
    assert manager.locator("tr[data-unit-id]").count() == 2
    screenshot(page, "unit-manager")
    manager.locator(f'tr[data-unit-id="{first.unit_id}"] >> text=切换').click()
    page.click("dialog.dialog button:text-is('确定')")
    page.wait_for_selector("#step-password:not([hidden])")
    assert first.name in page.inner_text("#password-unit")
    page.fill("#password", NEW_PASSWORD)
    page.click("#password-next")
    page.wait_for_selector("#step-confirm:not([hidden])")
    page.check("#confirm-check")
    page.click("#confirm-next")
    page.wait_for_url("**/")
    assert close_popups(page, expect=False) == []  # read on this PC already: no second pop-up
    assert first.name in page.inner_text("#unit-indicator")
    # Remove the other unit but keep its data: it disappears from the list.
    page.click("#unit-manager-open")
    manager.locator(f'tr[data-unit-id="{second.unit_id}"] >> text=删除').click()
    page.click("dialog.dialog button:text-is('删除，保留本地数据')")
    page.locator(".toast.success", has_text="已删除单位").wait_for()
    # The list re-renders after the toast: wait for the row to go rather than count at once.
    manager.locator(f'tr[data-unit-id="{second.unit_id}"]').wait_for(state="detached")
    assert manager.locator("tr[data-unit-id]").count() == 1
    assert problems.unexpected() == []
    # Logging out goes back to the unit list of the login page.
    page.click("#unit-manager button:text-is('关闭')")
    page.click("#logout")
    page.wait_for_selector("#step-units:not([hidden])")
    page.locator("#local-units li").first.wait_for()
    assert page.locator("#local-units li").count() == 1


def test_important_notice_pops_up_once_and_detail_marks_read(live, services, app_page, ui) -> None:
    page, problems = app_page
    live.sim("POST", "/notices", {"title": "关于系统升级维护的紧急通知", "body": "本周六停机维护。",
                                  "importance": "重要", "popup": True})
    live.sim("POST", "/notices", {"title": "一般性提示", "body": "请及时申报。", "importance": "一般"})
    log_in(services, live, 2)
    page.goto(ui.base_url + "/")
    page.locator("dialog.dialog h2").first.wait_for()
    screenshot(page, "notice-popup")
    titles = close_popups(page)
    assert "关于系统升级维护的紧急通知" in titles and "一般性提示" not in titles
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.locator("dialog.dialog").count() == 0  # once per login
    page.click('nav a[data-nav="notices"]')
    row = page.locator("#notices-table tr", has_text="一般性提示")
    row.wait_for()
    assert row.get_attribute("class") == "unread"
    row.locator(".notice-title").click()
    page.locator("dialog.dialog .notice-body", has_text="请及时申报。").wait_for()
    screenshot(page, "notice-detail")
    page.click("dialog.dialog >> text=我知道了")
    page.wait_for_function(
        "[...document.querySelectorAll('#notices-table tr')].some(r => r.textContent.includes('一般性提示') && r.className === 'read')"
    )
    assert problems.unexpected() == []


def test_offline_entry_when_the_taxside_is_stopped(live, services, app_page, ui) -> None:
    page, problems = app_page
    unit = live.unit(2)
    log_in(services, live, 2)
    services.session.logout()
    live.running.stop()
    page.goto(ui.base_url + "/login")
    page.wait_for_selector("#step-units:not([hidden])")
    page.click("#units-next")
    page.fill("#password", NEW_PASSWORD)
    page.click("#password-next")
    page.wait_for_selector("#offline-enter:not([hidden])")
    assert "可以选择「离线进入」" in page.inner_text("#offline-offer")
    page.fill("#password", "Wrong2025")
    page.click("#offline-enter")
    page.locator('#step-password [data-error-for="password"]', has_text="不一致").wait_for()
    page.fill("#password", NEW_PASSWORD)
    page.click("#offline-enter")
    page.wait_for_url("**/")
    assert "离线模式" in page.inner_text("#offline-banner")
    assert unit.name in page.inner_text("#unit-indicator")
    page.click('nav a[data-nav="notices"]')  # local data stays readable
    page.locator("#notices-table tr", has_text="缴费工资申报").first.wait_for()
    screenshot(page, "offline-mode")
    assert [p for p in problems.unexpected(403, 502) if "/api/session/login" not in p] == []


def test_offline_mode_reconnects_by_itself(live, services, app_page, ui) -> None:
    page, problems = app_page
    unit = live.unit(2)
    log_in(services, live, 2)
    services.session.logout()
    services.session.reconnect_interval = 0.5
    live.fault(f"/v1/units/{unit.unit_id}/session", "error", status=503)
    page.goto(ui.base_url + f"/login?unit={unit.unit_id}")
    page.fill("#password", NEW_PASSWORD)
    page.click("#password-next")
    page.click("#offline-enter")
    page.wait_for_url("**/")
    page.locator("#offline-banner").wait_for()
    live.clear_faults()
    page.locator(".toast.success", has_text="已重新连接税务端").wait_for(timeout=15000)
    assert page.locator("#offline-banner").count() == 0
    assert services.session.view().offline is False
    assert [p for p in problems.unexpected(502) if "/api/session/login" not in p] == []
