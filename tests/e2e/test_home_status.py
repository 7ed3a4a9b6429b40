"""首页 本月待办 in the browser against the live reference tax side, a month worked through:
the month advanced (/sim), the enrollment updated, the summaries declared and their feedback
fetched, the arrears paid and a backup made; after each step the home page's lines say so.
Beside them the 12-period charts draw (Chart.js under the page's Content-Security-Policy)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import log_in
from tests.e2e.conftest import PageProblems, screenshot
from tests.e2e.test_fee_declaration import assert_readable
from tests.e2e.test_wage_base import log_in_again
from tests.sync.test_payment import declared_elsewhere

pytestmark = pytest.mark.e2e


def open_home(page: Any, ui: Any) -> None:
    page.goto(ui.base_url + "/")
    page.locator("#home-status").wait_for()


def state_of(page: Any, key: str) -> str:
    return page.locator(f"#status-{key}").get_attribute("data-state")


def text_of(page: Any, key: str) -> str:
    return page.locator(f"#status-{key} .status-text").inner_text()


def wait_charts(page: Any) -> None:
    page.wait_for_function("['drawn', 'failed', 'unavailable'].includes(document.querySelector('#home-charts').dataset.state)")
    assert page.locator("#home-charts").get_attribute("data-state") == "drawn"


def canvas_painted(page: Any, canvas_id: str) -> bool:
    """Chart.js drew something: the canvas has a size and pixels that are not blank."""
    return bool(page.evaluate(
        """(id) => { const c = document.getElementById(id); if (!c || !c.width || !c.height) return false;
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
           for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false; }""",
        canvas_id,
    ))


def chart_values(page: Any, canvas_id: str) -> list[list[float]]:
    """The datasets Chart.js holds for a canvas (through its public registry)."""
    return page.evaluate(
        "(id) => Chart.getChart(document.getElementById(id)).data.datasets.map(d => d.data)", canvas_id
    )


def test_a_month_worked_through_on_the_home_page(browser: Any, ui: Any, services: Any, taxside_factory: Any) -> None:
    live = taxside_factory(units=1, employees=40, seed=5)  # one 北京 unit
    live.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, live, index=0)
    services.session.popups_shown = True  # pop-ups have their own test
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)

    # Just logged in: the login updated the enrollment; nothing queried or declared yet, no backup.
    open_home(page, ui)
    assert state_of(page, "enrollment") == "ok" and "名职工" in text_of(page, "enrollment")
    assert state_of(page, "summaries") == "todo" and "尚未查询本期（2025年03月）" in text_of(page, "summaries")
    assert state_of(page, "arrears") == "todo" and "尚未查询欠费信息" in text_of(page, "arrears")
    assert state_of(page, "backup") == "warn" and "还没有备份" in text_of(page, "backup")
    assert state_of(page, "declarations") == "ok" and state_of(page, "vouchers") == "ok"
    # 本月待办 opens the page (the old 登录提示 panel is gone); the pop-ups were shown, so no prompt.
    assert page.evaluate("document.querySelector('#main .panel').id") == "home-status"
    assert page.locator("#home-alerts").count() == 0 and page.locator("#login-prompt-tag").count() == 0
    assert page.locator("#nearest-arrears").count() == 0
    wait_charts(page)
    assert page.locator("#charts-empty").is_visible()
    assert_readable(page.inner_text("#home-status"))
    screenshot(page, "home-status-start")

    # March is declared on the 电子税务局 and left unpaid; the month advances on the tax side
    # and the next login brings the new business date.
    declared_elsewhere(live, unit.unit_id)
    assert live.sim("POST", "/advance-month")["period"] == "2025-04"
    log_in_again(services, unit.unit_id)
    # This PC's enrollment update was long ago: the line warns and leads to the page that updates.
    with services.store.write() as db:
        db.execute_sql("UPDATE feed_cursor SET updated_at = datetime(updated_at, '-9 days')")
    open_home(page, ui)
    assert state_of(page, "enrollment") == "warn" and "9 天前" in text_of(page, "enrollment")
    page.locator("#status-enrollment a").click()
    page.wait_for_url("**/enrollment")
    page.click("#sync-incremental")
    page.locator(".toast.success", has_text="本机数据已是最新").wait_for()
    open_home(page, ui)
    assert state_of(page, "enrollment") == "ok"

    # 社保费申报: entering fetches the summaries of the new period.
    page.locator("#status-summaries a").click()
    page.wait_for_url("**/fee-declaration**")
    page.locator("#summaries tbody tr", has_text="2025年04月").first.wait_for()
    open_home(page, ui)
    text = text_of(page, "summaries")
    assert state_of(page, "summaries") == "todo", text
    assert "本期（2025年04月）有 7 条汇总待申报，应缴" in text and "往期" not in text, text
    screenshot(page, "home-status-to-declare")

    # Declare them all (the tax side decides when we say so); the feedback comes with the records page.
    live.sim("PUT", "/settings", {"decision_delay_seconds": 3600})
    page.goto(ui.base_url + "/fee-declaration/daily")
    page.locator("#summaries tbody tr").first.wait_for()
    page.check('#summaries thead input[type="checkbox"]')
    page.click("#submit")
    page.locator("dialog", has_text="确定提交吗").locator("button", has_text="提交申报").click()
    page.locator(".toast", has_text="已发送 1 笔申报").wait_for()
    open_home(page, ui)
    assert state_of(page, "summaries") == "ok" and "已提交申报，待税务端反馈" in text_of(page, "summaries")
    assert state_of(page, "declarations") == "todo" and "1 笔待反馈" in text_of(page, "declarations")
    assert page.locator("#status-declarations a").get_attribute("href") == "/fee-declaration/records"
    screenshot(page, "home-status-awaiting")
    live.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    page.locator("#status-declarations a").click()
    page.locator("#success-note", has_text="申报成功").wait_for()
    open_home(page, ui)
    assert state_of(page, "declarations") == "ok" and state_of(page, "summaries") == "ok"
    assert "本期（2025年04月）汇总已申报" in text_of(page, "summaries")
    # The charts now hold the declared months: seven items stacked, the headcount, payable.
    wait_charts(page)
    assert not page.locator("#charts-empty").is_visible()
    items = chart_values(page, "chart-items")
    assert len(items) >= 4 and all(len(series) == 12 for series in items)
    assert sum(s[-1] for s in items) > 0 and sum(s[-2] for s in items) > 0  # 202504 and 202503
    heads = chart_values(page, "chart-headcount")[0]
    assert heads[-1] and heads[-1] > 0 and heads[0] is None
    payable, paid = chart_values(page, "chart-paid")
    assert payable[-1] > 0 and paid[-1] == 0

    # 费款缴纳: entering fetches the arrears; last month's are overdue (red, late fee per day).
    page.goto(ui.base_url + "/payment")
    page.locator("#arrears tbody tr").first.wait_for()
    open_home(page, ui)
    text = text_of(page, "arrears")
    assert state_of(page, "arrears") == "warn", text
    assert "14 条欠费未缴" in text and "已逾期" in text and "逾期欠费每天新增滞纳金约" in text, text
    # Under the line, the arrears nearest their deadline (what the 登录提示 listed), said once.
    nearest = page.locator("#status-arrears #nearest-arrears tbody tr")
    assert nearest.count() == 5 and "已逾期" in nearest.first.inner_text()
    assert "仅列出限缴日期最近的 5 条" in page.inner_text("#status-arrears")
    assert page.inner_text("body").count("最近的限缴日期为") == 1
    assert_readable(page.inner_text("#home-status"))
    screenshot(page, "home-status-arrears")

    # Pay every arrear by 三方协议.
    page.locator("#status-arrears a").click()
    page.wait_for_url("**/payment")
    page.locator("#arrears tbody tr").first.wait_for()
    page.wait_for_function("!document.querySelector('#refresh').disabled")
    page.check('#arrears thead input[type="checkbox"]')
    page.click("#pay")
    page.locator("dialog", has_text="选择缴款方式").locator("button", has_text="三方协议缴款").click()
    dialog = page.locator("dialog.pay-dialog")
    dialog.locator("[data-agreement] input:not([disabled])").first.check()
    dialog.locator("#agreement-next").click()
    dialog.locator("#confirm-debit").click()
    dialog.locator("h2", has_text="缴款结果").wait_for()
    assert "扣款成功 14 条" in dialog.inner_text()
    dialog.locator("#close-result").click()
    page.wait_for_function("document.querySelectorAll('#arrears tbody tr').length === 0 || "
                           "document.querySelector('#arrears .table-status') !== null")

    # A backup from 设置 > 备份恢复.
    page.goto(ui.base_url + "/settings#backup-panel")
    page.click("#backup-now")
    page.click("dialog.dialog >> text=开始备份")
    page.locator("#backup-result").wait_for()

    open_home(page, ui)
    assert state_of(page, "arrears") == "ok", text_of(page, "arrears")
    assert page.locator("#nearest-arrears").count() == 0  # paid: no table left under the line
    assert state_of(page, "backup") == "ok" and "刚刚" in text_of(page, "backup")
    wait_charts(page)
    payable, paid = chart_values(page, "chart-paid")
    assert paid[-1] == payable[-1] and paid[-2] == payable[-2]
    for canvas in ("chart-items", "chart-headcount", "chart-paid"):
        assert canvas_painted(page, canvas), canvas
    assert_readable(page.inner_text("#home-status"))
    screenshot(page, "home-status-done")
    assert problems.unexpected() == [], problems.items
    context.close()
