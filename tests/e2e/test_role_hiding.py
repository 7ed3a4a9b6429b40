"""Role-based hiding, walked in chromium: as 只读 and as 人事专员, every page reachable from the
menu and the pages' own links, the 单位管理 dialog, and the rows the pages build (申报记录
with a declaration that may be voided, 缴款凭证 with an unpaid voucher). No visible action
element may need a permission the role lacks; an action element without data-perm fails
the walk, and so does a visible link to a page the server refuses."""

from __future__ import annotations

from typing import Any

import pytest

from client.core import operators, payment, permissions
from client.core.operators_roles import role_by_key
from client.sync.payment import PaymentService
from tests.conftest import NEW_PASSWORD, log_in
from tests.e2e.conftest import screenshot
from tests.e2e.test_wage_base import log_in_again
from tests.sync.test_payment import declared_elsewhere, settle

pytestmark = pytest.mark.e2e

PASSWORD = "Caozuo2025"
MAX_PAGES = 60

# Controls that only look (filters, paging, closing, exporting or printing what is shown):
# no permission beyond the page's own. Everything else that can be clicked needs data-perm.
NEUTRAL = (r"^(温馨提示|查询|重置|关闭|取消|详情|预览|核验|查找|查找职工|选择|已选|移除|打开 PDF|下载 PDF|下载错误报告|"
           r"首页|上一页|下一页|末页|取消全部选择|选中全部 \d+ 条|导出.*|打印.*)$")

CHECK = """([granted, neutral]) => {
  const mine = new Set(granted);
  const pattern = new RegExp(neutral);
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  const bad = [];
  const actions = "button, a.btn, [role=button], input[type=submit], summary";
  for (const e of document.querySelectorAll(`#main :is(${actions}), dialog[open] :is(${actions})`)) {
    if (!shown(e) || e.closest(".pager, .dialog-buttons")) continue;
    const label = (e.textContent || e.title || e.value || "").trim().replace(/\\s+/g, " ");
    const holder = e.closest("[data-perm]");
    if (!holder) {
      if (!pattern.test(label)) bad.push(`action without data-perm: 「${label}」 ${e.id ? "#" + e.id : e.className}`);
      continue;
    }
    const perm = holder.dataset.perm;
    if (!perm.split(" ").some((p) => mine.has(p))) bad.push(`visible though the role lacks ${perm}: 「${label}」`);
  }
  return bad;
}"""

LINKS = """() => {
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  return [...document.querySelectorAll("nav.sidenav a[href], #main a[href]")]
    .filter((a) => shown(a) && !a.hasAttribute("download") && a.origin === location.origin)
    .map((a) => a.pathname);
}"""


def _skip(path: str) -> bool:
    return path.startswith(("/api/", "/static/", "/login", "/operator-", "/lock"))


def walk(page: Any, base: str, granted: list[str], name: str) -> tuple[list[str], list[str]]:
    """Every page the role reaches by what it sees, from the home page; what is wrong on each."""
    todo, seen, wrong = [("/", "")], set(), []
    while todo and len(seen) < MAX_PAGES:
        path, origin = todo.pop(0)
        if path in seen or _skip(path):
            continue
        seen.add(path)
        response = page.goto(base + path)
        if response is not None and response.status == 403:
            wrong.append(f"{path}: a visible link on {origin} leads to a refused page")
            continue
        page.wait_for_load_state("networkidle")
        wrong += [f"{path}: {w}" for w in page.evaluate(CHECK, [granted, NEUTRAL])]
        screenshot(page, f"role_hiding_{name}{path.replace('/', '_') or '_home'}")
        todo += [(p, path) for p in page.evaluate(LINKS) if p not in seen]
    return sorted(seen), wrong


def enter_as(page: Any, ui: Any, services: Any, login: str, unit_id: str) -> None:
    page.goto(ui.base_url + "/operator-login")
    page.fill("#operator-login-name", login)
    page.fill("#operator-password", PASSWORD)
    page.click("#operator-login-submit")
    page.wait_for_url("**/login**")
    # The unit again (an operator login starts without one), as the wizard would.
    services.session.login(unit_id, NEW_PASSWORD)
    services.session.registration()
    services.session.confirm()
    services.session.popups_shown = True
    settle(services)


@pytest.fixture
def prepared(services: Any, taxside_factory: Any) -> Any:
    """One unit with a declaration that can be voided, its arrears, and an unpaid voucher;
    an administrator, a 只读 and a 人事专员 with that unit."""
    taxside = taxside_factory(units=1, employees=20, seed=5)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, taxside, index=0)
    declared_elsewhere(taxside, unit.unit_id)  # last month: its arrears get a voucher
    taxside.sim("POST", "/advance-month")
    declared_elsewhere(taxside, unit.unit_id)  # this month: no voucher, so it may be voided
    log_in_again(services, unit.unit_id)
    service = PaymentService(services.session)
    service.refresh()
    settle(services)
    arrears = payment.arrears(services.store, services.session.view().unit.local_id)
    oldest = min(a.period_from for a in arrears)
    issued = service.issue_voucher([next(a.arrear_id for a in arrears if a.period_from == oldest)], "王管理")
    assert issued.voucher is not None
    operators.start_multi(services.store, "王管理", "admin", PASSWORD, PASSWORD)
    for name, login, key in (("钱只读", "ro", permissions.READONLY), ("李人事", "hr", permissions.HR)):
        operators.add_operator(services.store, name, login, PASSWORD, PASSWORD,
                               role_by_key(services.store, key).id, [unit.unit_id])
    return unit


@pytest.mark.parametrize("login,key", [("ro", permissions.READONLY), ("hr", permissions.HR)])
def test_no_visible_action_the_role_may_not_use(app_page: Any, ui: Any, services: Any, prepared: Any,
                                                login: str, key: str) -> None:
    page, problems = app_page
    refused: list[str] = []
    page.on("response", lambda r: r.status == 403 and refused.append(r.url))
    enter_as(page, ui, services, login, prepared.unit_id)
    granted = sorted(permissions.BUILTIN_BY_KEY[key].permissions)
    seen, wrong = walk(page, ui.base_url, granted, login)

    # The pages were walked: the menu's modules and their tabs.
    must = {"/", "/enrollment", "/wage-base/records", "/settings", "/notices"}
    if key == permissions.READONLY:
        must |= {"/fee-declaration/records", "/payment", "/payment/vouchers", "/queries", "/certificate"}
    assert must <= set(seen), sorted(must - set(seen))

    # Rows the pages build: a declaration that may be voided, an unpaid voucher (只读 sees the lists).
    if key == permissions.READONLY:
        page.goto(ui.base_url + "/fee-declaration/records")
        page.locator("#record-table tbody tr", has_text="申报成功").first.wait_for()
        assert page.locator("#record-table .pay-link").first.is_visible()  # 只读 may look at 费款缴纳
        assert page.locator("#record-table [data-void]").count() >= 1  # built for the row, and hidden
        assert page.locator("#record-table [data-void]").first.is_hidden()
        wrong += [f"申报记录 rows: {w}" for w in page.evaluate(CHECK, [granted, NEUTRAL])]
        page.goto(ui.base_url + "/payment/vouchers")
        page.locator('#voucher-table [data-action="details"]').first.wait_for()
        assert page.locator('#voucher-table [data-action="void"]').count() >= 1
        assert page.locator('#voucher-table [data-action="void"]').first.is_hidden()
        assert page.locator('#voucher-table [data-action="reprint"]').first.is_hidden()
        wrong += [f"缴款凭证 rows: {w}" for w in page.evaluate(CHECK, [granted, NEUTRAL])]
        screenshot(page, f"role_hiding_{login}_voucher_rows")
        page.locator('#voucher-table [data-action="details"]').first.click()
        page.locator("dialog[open]").wait_for()
        wrong += [f"缴款凭证 详情: {w}" for w in page.evaluate(CHECK, [granted, NEUTRAL])]
        screenshot(page, f"role_hiding_{login}_voucher_details")

    # 单位管理 (the top bar's dialog): 删除 is 单位信息-编辑.
    page.goto(ui.base_url + "/")
    page.click("#unit-manager-open")
    dialog = page.locator("dialog[open]")
    dialog.locator("tr:has(td)").first.wait_for()
    assert dialog.locator("button", has_text="删除").count() == 1
    assert dialog.locator("button", has_text="删除").is_hidden()
    wrong += [f"单位管理: {w}" for w in page.evaluate(CHECK, [granted, NEUTRAL])]
    screenshot(page, f"role_hiding_{login}_unit_manager")

    assert not wrong, "\n".join(wrong)
    assert refused == [], refused  # nothing a page asks on its own is refused
    assert problems.unexpected(401) == []  # 401: the pages asked before the operator logged in


def test_an_action_without_data_perm_fails_the_check(app_page: Any, ui: Any, services: Any, prepared: Any) -> None:
    """The check itself can fail: a button nobody marked, and one marked for another role."""
    page, _problems = app_page
    enter_as(page, ui, services, "ro", prepared.unit_id)
    page.goto(ui.base_url + "/notices")
    page.wait_for_load_state("networkidle")
    granted = sorted(permissions.BUILTIN_BY_KEY[permissions.READONLY].permissions)
    assert page.evaluate(CHECK, [granted, NEUTRAL]) == []
    page.evaluate("""() => {
      const b = document.createElement("button"); b.textContent = "立即缴款"; document.getElementById("main").append(b);
    }""")
    assert page.evaluate(CHECK, [granted, NEUTRAL]) == ["action without data-perm: 「立即缴款」 "]
    # One added later with a permission the role lacks is hidden by operator_bar.js as it arrives.
    page.evaluate("""() => {
      const b = document.createElement("button"); b.id = "later"; b.textContent = "作废"; b.dataset.perm = "payment.void";
      document.getElementById("main").append(b);
    }""")
    page.locator("#later").wait_for(state="hidden")
    page.evaluate("() => { document.getElementById('later').dataset.perm = 'notices.view'; }")
    page.locator("#later").wait_for(state="visible")  # hidden only while the role lacks it
