"""多人使用 in chromium: the first start's choice, operators of each role, a 人事专员 who
cannot pay, a frozen operator, the lock after wrong passwords, the log filtered by operator."""

from __future__ import annotations

import re

import pytest

from client.core import operators, permissions
from client.core.operators_roles import role_by_key
from tests.conftest import NEW_PASSWORD
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e

PASSWORD = "Caozuo2025"
OPERATORS = [("李人事", "hr", "人事专员"), ("赵财务", "fin", "财务"), ("钱只读", "ro", "只读")]


def operator_login(page, login: str, password: str = PASSWORD) -> None:
    page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + "/operator-login")
    page.fill("#operator-login-name", login)
    page.fill("#operator-password", password)
    page.click("#operator-login-submit")


def login_error(page) -> str:
    slot = page.locator('#operator-login-form .field-error:not(:empty)')
    slot.first.wait_for()
    return slot.first.inner_text()


def logout(page) -> None:
    page.click("#operator-logout")
    page.wait_for_url("**/operator-login")


def test_multi_person_use_end_to_end(app_page) -> None:
    page, problems = app_page
    # First start: the login page asks how the client is used.
    page.wait_for_selector("#operator-setup")
    screenshot(page, "operators_first_start")
    page.check('#operator-setup input[value="multi"]')
    page.fill("#setup-name", "王管理")
    page.fill("#setup-login", "admin")
    page.fill("#setup-password", "weak")
    page.fill("#setup-confirm", "weak")
    page.click("#setup-go")
    weak = page.locator('#setup-admin [data-error-for="password"]:not(:empty)')
    weak.wait_for()
    assert "长度应为8-32位" in weak.inner_text()
    page.fill("#setup-password", PASSWORD)
    page.fill("#setup-confirm", PASSWORD)
    page.click("#setup-go")
    page.wait_for_url("**/settings/operators")
    assert "操作员：王管理（管理员）" in page.inner_text("#operator-indicator")

    for name, login, role in OPERATORS:
        page.fill("#op-name", name)
        page.fill("#op-login", login)
        page.fill("#op-password", PASSWORD)
        page.fill("#op-confirm", PASSWORD)
        page.select_option("#op-role", label=role)
        page.click("#op-add")
        page.wait_for_selector(f'#operator-table tr[data-login="{login}"]')
    rows = page.locator("#operator-table tbody tr")
    assert rows.count() == 4
    assert "人事专员" in page.inner_text('#operator-table tr[data-login="hr"]')
    screenshot(page, "operators_list")
    # 内置 is a neutral tag, not text coloured like a link.
    tag = page.locator("#role-table .badge.builtin").first
    assert tag.inner_text() == "内置"
    link_blue = page.evaluate("getComputedStyle(document.querySelector('a')).color")
    assert tag.evaluate("e => getComputedStyle(e).color") != link_blue

    # A role of one's own, ticked on the function tree (submitting implies seeing the module).
    page.fill("#role-name", "社保复核")
    page.check('#role-tree input[value="fee_declaration.submit"]')
    page.check('#role-tree input[value="queries.view"]')
    page.click("#role-save")
    row = page.locator("#role-table tbody tr", has_text="社保复核")
    row.wait_for()
    assert row.locator("td").nth(2).inner_text() == "3"
    assert page.locator("#op-role option", has_text="社保复核").count() == 1

    # 人事专员: no 费款缴纳 in the menu, and the page and its calls are refused.
    logout(page)
    operator_login(page, "hr")
    page.wait_for_url("**/login**")
    page.goto(page.url.split("/login")[0] + "/settings")
    nav = page.locator("nav.sidenav")
    assert nav.locator('[data-nav="wage_base"]').count() == 1
    assert nav.locator('[data-nav="payment"]').count() == 0
    assert nav.locator('[data-nav="fee_declaration"]').count() == 0
    assert page.locator("#operators-link").count() == 0
    assert page.locator("#backup-now").is_hidden()  # 备份 is not the role's
    screenshot(page, "operators_hr_settings")
    refused = page.evaluate(
        "fetch('/api/payment/arrears').then(async r => [r.status, (await r.json()).message])"
    )
    assert refused == [403, "当前操作员无权执行此操作：费款缴纳-查看"]
    page.goto(page.url.split("/settings")[0] + "/payment")
    assert "当前操作员无权执行此操作：费款缴纳-查看" in page.inner_text("[data-testid=error-page]")
    screenshot(page, "operators_hr_payment_refused")
    # Any operator changes their own password (the name in the top bar).
    page.click("#operator-indicator a")
    page.wait_for_url("**/operator-password")
    page.fill("#own-old", PASSWORD)
    page.fill("#own-new", "Xinmima2025")
    page.fill("#own-confirm", "Xinmima2025")
    page.click("#own-password-form button[type=submit]")
    page.locator(".toast", has_text="密码已修改").wait_for()

    # The administrator freezes 赵财务: told so at login.
    logout(page)
    operator_login(page, "admin")
    page.wait_for_url("**/login**")
    page.goto(page.url.split("/login")[0] + "/settings/operators")
    page.wait_for_selector('#operator-table tr[data-login="fin"]')
    page.locator('#operator-table tr[data-login="fin"] button', has_text="冻结").click()
    page.wait_for_function(
        "document.querySelector('#operator-table tr[data-login=\"fin\"]').textContent.includes('已冻结')"
    )
    logout(page)
    operator_login(page, "fin")
    assert login_error(page) == "该操作员已被冻结，请联系管理员"
    screenshot(page, "operators_frozen")

    # Five wrong passwords: 钱只读 is locked, the right password waits too.
    for _ in range(5):
        operator_login(page, "ro", "Wrong12345")
        login_error(page)
    assert "已锁定 15 分钟" in login_error(page)
    operator_login(page, "ro")
    assert "该操作员已锁定" in login_error(page)
    screenshot(page, "operators_locked")

    # The operation log filtered by operator.
    operator_login(page, "admin")
    page.wait_for_url("**/login**")
    page.goto(page.url.split("/login")[0] + "/settings")
    page.select_option("#audit-operator", "李人事")
    page.wait_for_function(
        "[...document.querySelectorAll('#audit-table tbody tr')].length > 0 && "
        "[...document.querySelectorAll('#audit-table tbody tr')].every(r => r.textContent.includes('李人事'))"
    )
    log_text = page.inner_text("#audit-table")
    assert "操作员登录" in log_text and "修改操作员密码" in log_text and "王管理" not in log_text
    page.locator("#audit-table").scroll_into_view_if_needed()
    screenshot(page, "operators_audit_by_operator")
    assert problems.unexpected(400, 401, 403) == []


def test_readonly_sees_the_pages_without_their_buttons(logged_in, app_page, services, ui) -> None:
    page, problems = app_page
    unit = logged_in.unit(2)
    operators.start_multi(services.store, "王管理", "admin", PASSWORD, PASSWORD)
    operators.add_operator(services.store, "钱只读", "ro", PASSWORD, PASSWORD,
                           role_by_key(services.store, permissions.READONLY).id, [unit.unit_id])
    page.goto(ui.base_url + "/operator-login")
    page.fill("#operator-login-name", "ro")
    page.fill("#operator-password", PASSWORD)
    page.click("#operator-login-submit")
    page.wait_for_url("**/login**")
    # The unit again (an operator login starts without one), as the wizard would.
    services.session.login(unit.unit_id, NEW_PASSWORD)
    services.session.registration()
    services.session.confirm()
    services.session.popups_shown = True
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    for path, hidden in (("/payment", ["#pay"]), ("/wage-base/daily", ["#submit", "#delete", "#batch", "#add-menu"]),
                         ("/fee-declaration/daily", ["#submit"])):
        page.goto(ui.base_url + path)
        page.wait_for_load_state("networkidle")
        assert page.locator("h1.page-title").is_visible()
        for selector in hidden:
            assert page.locator(selector).count() == 1 and page.locator(selector).is_hidden(), (path, selector)
        # What the page asks on entry (the tax side's current figures) is viewing: no refusal.
        assert page.locator(".toast.error").count() == 0, page.locator(".toast.error").all_inner_texts()
        screenshot(page, "operators_readonly" + path.replace("/", "_"))
    refused = page.evaluate(
        "(csrf) => fetch('/api/payment/debits', {method: 'POST', headers: {'X-CSRF-Token': csrf, "
        "'Content-Type': 'application/json'}, body: '{}'}).then(async r => [r.status, (await r.json()).message])",
        csrf,
    )
    assert refused == [403, "当前操作员无权执行此操作：费款缴纳-缴款"]
    assert problems.unexpected(401, 403) == []


def test_a_reset_password_is_changed_at_the_next_login(app_page, services, ui) -> None:
    """The administrator's 重置密码, then the operator's next login: the change form first,
    nothing else until changed (a page typed in the address bar comes back to it)."""
    page, problems = app_page
    operators.start_multi(services.store, "王管理", "admin", PASSWORD, PASSWORD)
    operators.add_operator(services.store, "李人事", "hr", PASSWORD, PASSWORD,
                           role_by_key(services.store, permissions.HR).id, [])
    operator_login(page, "admin")
    page.wait_for_url("**/login**")
    page.goto(ui.base_url + "/settings/operators")
    page.locator('#operator-table tr[data-login="hr"] button', has_text="重置密码").click()
    dialog = page.locator("dialog[open]")
    dialog.locator('input[type="password"]').nth(0).fill("Chongzhi2025")
    dialog.locator('input[type="password"]').nth(1).fill("Chongzhi2025")
    dialog.locator("button", has_text="重置密码").click()
    page.locator(".toast", has_text="下次登录时须先修改密码").wait_for()
    assert "待修改密码" in page.inner_text('#operator-table tr[data-login="hr"]')
    logout(page)

    operator_login(page, "hr", "Chongzhi2025")
    page.wait_for_url("**/operator-password**")
    assert "管理员已重置您的密码" in page.inner_text("#must-change-note")
    assert page.locator("nav.sidenav").count() == 0
    screenshot(page, "operators_must_change")
    page.goto(ui.base_url + "/wage-base/daily")
    page.wait_for_url("**/operator-password?next=**")  # nothing else until changed
    page.fill("#own-old", "Chongzhi2025")
    page.fill("#own-new", "short")
    page.fill("#own-confirm", "short")
    page.click("#own-password-form button[type=submit]")
    weak = page.locator('#own-password-form .field-error:not(:empty)')
    weak.first.wait_for()
    assert "长度应为8-32位" in weak.first.inner_text()
    page.fill("#own-old", "Chongzhi2025")
    page.fill("#own-new", "Ziji2025ok")
    page.fill("#own-confirm", "Ziji2025ok")
    page.click("#own-password-form button[type=submit]")
    page.wait_for_url(re.compile(r"/login\?next=%2Fwage-base%2Fdaily$"))  # where they were going (its unit first)
    assert operators.get_operator(services.store, 2).must_change is False
    screenshot(page, "operators_must_change_done")
    assert problems.unexpected(400, 401, 403) == []


def test_single_person_use_shows_the_switch_and_what_multi_gives(app_page, ui) -> None:
    """单人使用 has no operators: no 新增操作员 nor role editor, only the switch and the
    built-in roles that 多人使用 would bring."""
    page, problems = app_page
    page.wait_for_selector("#operator-setup")
    page.check('#operator-setup input[value="single"]')
    page.click("#setup-go")
    page.wait_for_url("**/login**")
    page.goto(ui.base_url + "/settings/operators")
    page.wait_for_selector("#role-table tbody tr")
    assert page.locator("#operator-form").count() == 0 and page.locator("#role-form").count() == 0
    assert page.locator("#operator-list").count() == 0
    assert page.locator("#mode-form #mode-multi").is_visible()
    assert "切换为多人使用后" in page.inner_text("#multi-preview")
    roles = page.locator("#role-table tbody tr")
    assert roles.count() == 4 and "人事专员" in page.inner_text("#role-table")
    screenshot(page, "operators_single")
    assert problems.unexpected() == []
