"""费款缴纳 in the browser against the live reference tax side: arrears queried on entry with
the selection's totals and overdue deadlines, 三方协议缴款 with partial success (a small
balance), a double click that pays once, a bank voucher issued, opened, reprinted and voided
in its print records, payment records queried and exported, and the home page's login alerts
linking to the pages that fix them."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from client.api import payment as payment_api
from client.core import payment as core
from client.sync.payment import PaymentService
from tests.conftest import log_in
from tests.e2e.conftest import PageProblems, screenshot
from tests.e2e.test_fee_declaration import assert_readable
from tests.e2e.test_wage_base import log_in_again
from tests.sync.test_payment import debits_per_arrear, declared_elsewhere, pay, payments_per_arrear

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

    # The tax side does not answer: 刷新 says so in Chinese and the last list stays, with its time.
    live.fault(f"/v1/units/{live.unit_id}/arrears", "error", status=503, method="GET", count=50)
    page.click("#refresh")
    page.locator("#refresh-error").wait_for()
    text = page.inner_text("#refresh-error")
    assert "查询欠费信息失败" in text and "查询到的欠费信息" in text and "可点击「刷新」重试" in text, text
    assert rows.count() == count and not page.locator("#refresh").is_disabled()
    screenshot(page, "payment-refresh-failed")
    live.clear_faults()
    page.click("#refresh")
    page.locator("#refresh-error").wait_for(state="hidden")

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

    # 原交易状态不明: 结果待确认, held (not selectable, said in words) until 刷新 finds it paid.
    live.sim("PUT", "/settings", {"unknown_resolve_seconds": 3600})  # the bank answers when we say so
    live.sim("POST", f"/units/{live.unit_id}/bank-answers", {"answer": "unknown", "count": 1, "resolve_to": "paid"})
    unsure = next(a for a in local_arrears(services) if a.item_name == "失业保险" and a.period_from == "202503"
                  and a.part_name == "个人缴纳部分")
    tick(page, unsure.arrear_id)
    page.click("#pay")
    page.locator("dialog", has_text="选择缴款方式").locator("button", has_text="三方协议缴款").click()
    dialog.locator(f'[data-agreement="{usable["agreement_id"]}"] input').check()
    dialog.locator("#agreement-next").click()
    dialog.locator("#confirm-debit").click()
    dialog.locator("h2", has_text="缴款结果").wait_for()
    result = dialog.locator(f'tr[data-arrear="{unsure.arrear_id}"]')
    assert "结果待确认" in result.inner_text() and "请勿重复缴款" in result.inner_text()
    assert "不会重复扣款" in dialog.inner_text()
    screenshot(page, "payment-debit-unknown")
    dialog.locator("#close-result").click()
    held = page.locator(f'#arrears tbody tr[data-key="{unsure.arrear_id}"]')
    held.filter(has_text="扣款待确认").wait_for()
    assert held.locator("input[type=checkbox]").is_disabled()
    screenshot(page, "payment-arrear-held")
    live.sim("PUT", "/settings", {"unknown_resolve_seconds": 0})  # the bank's answer is in
    page.click("#refresh")
    page.locator(".toast", has_text="已获取 11 条欠费信息").wait_for()
    page.wait_for_function("document.querySelectorAll('#arrears tbody tr').length === 11")
    assert held.count() == 0 and payments_per_arrear(live)[unsure.arrear_id] == 1
    assert debits_per_arrear(live)[unsure.arrear_id] == 1
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


def test_voucher_issued_reprinted_voided_and_payment_records_exported(browser: Any, ui: Any, services: Any,
                                                                        live: Any, monkeypatch: Any) -> None:
    launched: list[tuple[Path, str]] = []
    monkeypatch.setattr(payment_api, "_launch", lambda path, action: launched.append((path, action)))
    context, page, problems = open_page(browser, ui)
    enter_payment(page)
    chosen = [a for a in local_arrears(services) if a.period_from == "202504" and a.item_name == "基本养老保险"]
    tick(page, *(a.arrear_id for a in chosen))
    page.click("#pay")
    page.locator("dialog", has_text="选择缴款方式").locator("button", has_text="银行端缴款凭证").click()
    dialog = page.locator("dialog.pay-dialog")
    dialog.locator("#issue-voucher").wait_for()
    assert "2 条" in dialog.inner_text() and "缴款合计" in dialog.inner_text()
    screenshot(page, "payment-voucher-confirm")
    dialog.locator("#issue-voucher").click()
    dialog.locator("h2", has_text="缴款凭证已开具").wait_for()
    text = dialog.inner_text()
    voucher_no = re.search(r"\b\d{18}\b", text).group(0)
    assert str(services.home / "vouchers" / f"{voucher_no}.pdf") in text
    assert_readable(text)
    screenshot(page, "payment-voucher-issued")
    # 打开凭证 / 打印 hand the saved PDF to the system's viewer and printer (recorded here: no
    # viewer is started by a test); when the system has none, the message says where the file is.
    saved = services.home / "vouchers" / f"{voucher_no}.pdf"
    assert saved.read_bytes().startswith(b"%PDF")
    dialog.locator("button[data-open]").click()
    page.locator(".toast", has_text="已用系统的 PDF 阅读器打开").wait_for()
    dialog.locator("button[data-print]").click()
    page.locator(".toast", has_text="已发送到系统默认打印机").wait_for()
    assert launched == [(saved, "open"), (saved, "print")]

    def no_viewer(path: Path, action: str) -> None:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(payment_api, "_launch", no_viewer)
    dialog.locator("button[data-open]").click()
    page.locator(".toast.error", has_text=str(saved)).wait_for()
    monkeypatch.setattr(payment_api, "_launch", lambda path, action: launched.append((path, action)))
    dialog.locator("button", has_text="关闭").click()
    # Held by the voucher: shown in words, not selectable.
    for a in chosen:
        row = page.locator(f'#arrears tbody tr[data-key="{a.arrear_id}"]')
        row.filter(has_text="已开具缴款凭证").wait_for()
        assert row.locator("input[type=checkbox]").is_disabled()

    # 缴款凭证打印记录: the voucher with its arrears; 重新打印 counts a print; 开具日期 query.
    page.click('.tabs a:has-text("缴款凭证打印记录")')
    page.wait_for_url("**/payment/vouchers")
    page.locator("#sync-state", has_text="缴款凭证的状态").wait_for()  # the sync on entry ended
    row = page.locator("#voucher-table tbody tr", has_text=voucher_no)
    assert "未缴款" in row.inner_text()
    screenshot(page, "payment-vouchers")
    row.locator('[data-action="details"]').click()
    details = page.locator("dialog", has_text=f"缴款凭证 {voucher_no}")
    assert details.locator("tbody tr").count() == 2 and "基本养老保险" in details.inner_text()
    assert_readable(details.inner_text())
    screenshot(page, "payment-voucher-details")
    details.locator("button", has_text="关闭").click()
    row.locator('[data-action="reprint"]').click()
    reprinted = page.locator("dialog", has_text="已重新生成")
    reprinted.wait_for()
    screenshot(page, "payment-voucher-reprint")
    reprinted.locator("button[data-open]").click()
    page.locator(".toast", has_text="已用系统的 PDF 阅读器打开").last.wait_for()
    reprinted.locator("button", has_text="关闭").click()
    page.locator("#voucher-table tbody tr", has_text=voucher_no).locator("td.num").nth(2).filter(has_text="2").wait_for()
    issued_on = row.locator("td").nth(1).inner_text()
    page.fill('#query input[name="date_from"]', "2000-01-01")
    page.fill('#query input[name="date_to"]', "2000-01-31")
    page.click("#query button[type=submit]")
    page.locator("#voucher-table .table-status", has_text="暂无数据").wait_for()
    page.fill('#query input[name="date_from"]', issued_on)
    page.fill('#query input[name="date_to"]', issued_on)
    page.click("#query button[type=submit]")
    row.wait_for()

    # 作废 (confirmed): 已作废, no more reprints or voids.
    row.locator('[data-action="void"]').click()
    sure = page.locator("dialog", has_text="作废缴款凭证")
    screenshot(page, "payment-voucher-void")
    sure.locator("button", has_text="确定作废").click()
    row.filter(has_text="已作废").wait_for()
    assert row.locator('[data-action="void"]').count() == 0 and row.locator('[data-action="reprint"]').count() == 0

    # Two payments: one by debit, one by a voucher paid at the bank.
    service = PaymentService(services.session)
    service.refresh()
    debited = next(a for a in local_arrears(services) if a.period_from == "202503" and a.item_name == "工伤保险")
    assert pay(service, [debited.arrear_id]).ok
    at_bank = next(a for a in local_arrears(services) if a.period_from == "202503" and a.item_name == "失业保险")
    issued = service.issue_voucher([at_bank.arrear_id], "财务")
    assert issued.voucher is not None
    page.reload()
    paid_row = page.locator("#voucher-table tbody tr", has_text=issued.voucher.voucher_no)
    paid_row.filter(has_text="未缴款").wait_for()
    # Paid at the bank after this page looked: 作废 is refused with the tax side's reason and the
    # record turns 已缴款.
    live.sim("POST", f"/units/{live.unit_id}/vouchers/{issued.voucher.voucher_id}/pay", {})
    paid_row.locator('[data-action="void"]').click()
    page.locator("dialog", has_text="作废缴款凭证").locator("button", has_text="确定作废").click()
    page.locator(".toast.error", has_text="不能作废").wait_for()
    paid_row.filter(has_text="已缴款").wait_for()
    assert paid_row.locator('[data-action="reprint"]').count() == 0

    # 缴款记录: synced on entry, queried by 费款所属期, exported only with rows.
    page.click('.tabs a:has-text("缴款记录")')
    page.wait_for_url("**/payment/records")
    page.locator("#sync-state", has_text="已同步").wait_for()
    # Only the 三方协议 payment (manual 3.1.7.3); the one at the bank is on its voucher's record.
    page.wait_for_function("document.querySelectorAll('#record-table tbody tr').length === 1")
    text = page.inner_text("#payment-records")
    assert "三方协议" in text and issued.voucher.voucher_no not in text and not page.locator("#export").is_disabled()
    assert_readable(text)
    screenshot(page, "payment-records")
    page.fill('#query input[name="period"]', "2099-01")
    page.click("#query button[type=submit]")
    page.locator("#record-table .table-status", has_text="暂无数据").wait_for()
    assert page.locator("#export").is_disabled()
    page.fill('#query input[name="period"]', "2025-03")
    page.click("#query button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#record-table tbody tr').length === 1 && "
                           "!document.querySelector('#export').disabled")
    with page.expect_download() as info:
        page.click("#export")
    assert info.value.suggested_filename.startswith("缴款记录")
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    header = [c.value for c in sheet[1]]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    assert len(rows) == 1
    assert all(isinstance(r[header.index("电子税票号码")], str) and len(r[header.index("电子税票号码")]) == 18
               for r in rows)
    assert all(isinstance(r[header.index("实缴金额")], float) for r in rows)
    assert problems.unexpected() == [], problems.items
    context.close()


def close_notice_popups(page: Any) -> None:
    """The login's notice pop-ups (通知公告) come first: acknowledge them."""
    page.wait_for_timeout(300)
    while page.locator("dialog button", has_text="我知道了").count():
        page.locator("dialog button", has_text="我知道了").first.click()
        page.wait_for_timeout(200)


def test_login_alerts_link_to_the_pages_that_fix_them(browser: Any, ui: Any, services: Any,
                                                      taxside_factory: Any) -> None:
    """Manual 3.1.2's login prompt is the 本月待办 panel, first on the page: at login it is
    marked 登录提示 when arrears are outstanding or employees lack a payroll base; the 欠费缴纳
    line carries the arrears nearest their deadline; no sentence is said twice."""
    live = taxside_factory(units=1, employees=40, seed=5)
    live.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, live, index=0)
    services.session.popups_shown = False
    context, page, problems = open_page(browser, ui)
    # Nothing outstanding: the login's arrears query finds none, and nothing is prompted.
    close_notice_popups(page)
    page.locator("#status-arrears[data-state='ok']").wait_for()
    assert "没有未缴的欠费" in page.inner_text("#status-arrears")
    assert page.locator("#home-status").get_attribute("data-login-prompt") is None
    assert page.locator("#login-prompt-tag").count() == 0 and page.locator("#nearest-arrears").count() == 0
    assert page.locator("#home-alerts").count() == 0  # the old separate panel is gone

    # Declared on the 电子税务局 and a month later unpaid; three employees lack a base. The
    # first page after the next login asks the tax side for the arrears, then prompts.
    declared_elsewhere(live, unit.unit_id)
    live.sim("POST", "/advance-month")
    declared_elsewhere(live, unit.unit_id)
    log_in_again(services, unit.unit_id)
    pk = services.session.view().unit.local_id
    with services.store.write() as db:
        db.execute_sql("UPDATE enrollment_employee SET bases = '{}' WHERE unit_id = ? AND id IN "
                       "(SELECT id FROM enrollment_employee WHERE unit_id = ? AND status = '正常缴费' LIMIT 3)",
                       (pk, pk))
    services.session.popups_shown = False
    page.goto(ui.base_url + "/")
    close_notice_popups(page)
    nearest = page.locator("#status-arrears #nearest-arrears tbody tr")
    nearest.first.wait_for()
    panel = page.locator("#home-status")
    # 本月待办 opens the page: the first panel of the content, the charts beside it.
    first_panel = page.evaluate("document.querySelector('#main .panel').id")
    assert first_panel == "home-status"
    assert panel.get_attribute("data-login-prompt") == "1" and "login-prompt" in panel.get_attribute("class")
    assert page.inner_text("#login-prompt-tag") == "登录提示"
    assert panel.get_attribute("data-prompts") == "arrears wage_base"
    alert = page.locator("#status-arrears")
    text = page.inner_text("#status-arrears .status-text")
    assert "14 条欠费未缴" in text and re.search(r"合计 \d{1,3}(,\d{3})*\.\d{2} 元", text), text
    assert "最近的限缴日期为 2025-03-31（已逾期 15 天）" in text
    assert alert.get_attribute("data-state") == "warn"  # overdue: red
    assert "prompted" in alert.get_attribute("class")
    assert nearest.count() == 5 and "2025-03-31" in nearest.first.inner_text()
    assert "error-text" in nearest.first.locator("td").last.get_attribute("class")
    assert "仅列出限缴日期最近的 5 条" in alert.inner_text()
    wage = page.locator("#status-wage_base")
    assert "3 名正常缴费的职工缴费工资为空" in wage.inner_text() and "prompted" in wage.get_attribute("class")
    assert wage.get_attribute("data-state") == "todo"
    # Said once: the whole page names the arrears and the missing bases one time each.
    whole = page.inner_text("body")
    assert whole.count("最近的限缴日期为") == 1 and whole.count("缴费工资为空") == 1, whole
    assert page.locator("#home-alerts").count() == 0
    assert_readable(page.inner_text("#home-status"))
    screenshot(page, "home-login-prompt")
    # Each prompted line leads to the page that fixes it.
    alert.locator("a.status-action", has_text="去缴款").click()
    page.wait_for_url("**/payment")
    page.locator("#arrears tbody tr").first.wait_for()
    page.go_back()
    page.locator("#status-wage_base a.status-action", has_text="去申报").click()
    page.wait_for_url("**/wage-base**")
    assert page.locator("h1.page-title").inner_text() == "缴费工资申报"
    assert problems.unexpected() == [], problems.items
    context.close()
