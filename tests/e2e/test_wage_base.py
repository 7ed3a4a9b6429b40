"""缴费工资申报 in the browser: import with errors, fix, batch +5%, submit, feedback, copy back."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from rules.codes import check_id_number, id_check_char
from tests.conftest import NEW_PASSWORD, log_in
from tests.e2e.conftest import PageProblems, screenshot

pytestmark = pytest.mark.e2e

HEADER = ["姓名", "证件类型", "证件号码", "新缴费工资", "生效年月"]
ERROR_FILL = "FFC7CE"  # client/core/wage_import.py ERROR_FILL


def downloaded_rows(download: Any) -> list[tuple[Any, ...]]:
    with open(download.path(), "rb") as fh:
        return list(load_workbook(io.BytesIO(fh.read())).active.iter_rows(values_only=True))


def save_book(rows: list[list[Any]], path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def wrong_check_digit(number: str) -> str:
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong


def log_in_again(services: Any, unit_id: str) -> None:
    """A second login after the first one changed the password (the business date comes anew)."""
    services.session.login(unit_id, NEW_PASSWORD)
    services.session.registration()
    services.session.confirm()
    deadline = time.monotonic() + 20
    while services.jobs.find(active_only=True) and time.monotonic() < deadline:
        time.sleep(0.02)
    services.session.popups_shown = True


def open_add_menu(page: Any, item: str) -> None:
    page.click("#add-menu > summary")
    page.locator("#add-menu .menu-items button", has_text=item).click()


def draft_total(page: Any) -> str:
    return page.inner_text("#rows .pager-info")


def test_import_fix_batch_submit_feedback(browser, ui, services, taxside_factory, tmp_path) -> None:
    started = time.monotonic()
    live = taxside_factory(units=1, employees=300, seed=5)  # one 北京 unit, 税务自主征收
    live.sim(
        "PUT", "/settings", {"decision_delay_seconds": 3600}
    )  # nothing decided until we say so
    unit = log_in(services, live, index=0)  # the login's own update downloads every employee
    services.session.popups_shown = True
    context = browser.new_context(
        accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 820}
    )
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)

    page.click('[data-nav="wage_base"]')
    page.wait_for_url("**/wage-base/daily")
    page.locator("#rows .pager-info", has_text="共 0 条").wait_for()
    assert (
        page.is_disabled("#submit") and page.is_disabled("#batch") and page.is_disabled("#delete")
    )

    # 下载参保职工: every 正常缴费 employee, the ID column as text.
    with page.expect_download() as info:
        page.click("#download-insured")
    insured = downloaded_rows(info.value)
    assert list(insured[0][:5]) == HEADER
    people = insured[1:]
    normal = services.store.db.execute_sql(
        "SELECT count(*) FROM enrollment_employee WHERE status = '正常缴费' AND removed = 0"
    ).fetchone()[0]
    assert len(people) == normal > 200
    assert all(isinstance(p[2], str) and check_id_number(p[2]) is None for p in people)

    # A file with 6 good rows and 5 bad ones.
    good = [[p[0], "居民身份证", p[2], 9000, "202504"] for p in people[:6]]
    unknown_first = "11010519800101999"
    bad = [
        [people[6][0], "居民身份证", wrong_check_digit(people[6][2]), 9000, "202504"],  # row 8
        [
            people[7][0],
            "居民身份证",
            int(people[7][2][:17] + "0"),
            9000,
            "202504",
        ],  # row 9: a number
        [
            "查无此人",
            "居民身份证",
            unknown_first + id_check_char(unknown_first),
            9000,
            "202504",
        ],  # row 10
        [people[8][0], "居民身份证", people[8][2], "abc", "202504"],  # row 11
        list(good[0]),  # row 12: the same employee as row 2
    ]
    first_file = save_book(good + bad, tmp_path / "工资调整.xlsx")
    open_add_menu(page, "导入外部文件")
    page.set_input_files("dialog input[type=file]", str(first_file))
    page.locator(
        "#import-result .warn", has_text="共 11 行：导入 6 行，5 行有错误未导入"
    ).wait_for()
    page.locator("#rows .pager-info", has_text="共 6 条").wait_for()
    listed = {
        int(r.locator("td").nth(0).inner_text()): r.locator("td").nth(3).inner_text()
        for r in page.locator("#import-result tbody tr").all()
    }
    assert sorted(listed) == [8, 9, 10, 11, 12]
    assert "校验位" in listed[8]
    assert "被保存为数字" in listed[9]
    assert "不在本单位参保" in listed[10]
    assert listed[11] == "新缴费工资不是数字"
    assert listed[12] == "与第 2 行重复"
    screenshot(page, "wage-base-import-errors")

    # 错误报告: the original rows, a reason column, the bad cells filled.
    with page.expect_download() as info:
        page.click("#download-report")
    with open(info.value.path(), "rb") as fh:
        sheet = load_workbook(io.BytesIO(fh.read())).active
    assert [c.value for c in sheet[2]] == [*HEADER, "错误原因"]
    report = {r[2].value: r for r in sheet.iter_rows(min_row=3)}
    assert len(report) == 5
    for row in sheet.iter_rows(min_row=3):
        filled = [
            c.column_letter
            for c in row
            if c.fill.fgColor.rgb and c.fill.fgColor.rgb.endswith(ERROR_FILL)
        ]
        reason = row[5].value
        if "新缴费工资" in reason:
            assert filled == ["D"], reason
        else:
            assert filled == ["C"], reason
    assert any(r[3].value == "abc" for r in sheet.iter_rows(min_row=3))

    # Fixed as the screen says (only the bad rows, as in the error report: the check digit, the
    # ID as text, the base; the unknown and duplicate rows gone) and imported again with 合并:
    # the 6 good rows already in the list stay.
    assert "选择「合并」" in page.inner_text("#import-result")
    fixed = [
        [people[6][0], "居民身份证", people[6][2], 9000, "202504"],
        [people[7][0], "居民身份证", people[7][2], 9000, "202504"],
        [people[8][0], "居民身份证", people[8][2], 9000, "202504"],
    ]
    second_file = save_book(fixed, tmp_path / "导入错误报告（已修改）.xlsx")
    open_add_menu(page, "导入外部文件")
    choice = page.locator("dialog", has_text="合并：")
    assert "已有 6 条数据" in choice.inner_text()
    screenshot(page, "wage-base-import-merge-or-replace")
    choice.locator("button", has_text="合并").click()
    page.set_input_files("dialog input[type=file]", str(second_file))
    page.locator("#import-result .hint", has_text="共 3 行：导入 3 行").wait_for()
    page.locator("#rows .pager-info", has_text="共 9 条").wait_for()

    # 批量修改: select all, +5% on the new bases just imported.
    page.check('#rows th.select input[type="checkbox"]')
    assert page.is_enabled("#batch")
    page.click("#batch")
    dialog = page.locator("dialog", has_text="批量修改")
    dialog.locator('select[name="mode"]').select_option("ratio")
    dialog.locator('input[name="ratio_percent"]').fill("5")
    dialog.locator('select[name="basis"]').select_option("new")
    screenshot(page, "wage-base-batch")
    dialog.locator("button", has_text="确定").click()
    page.locator(".toast.success", has_text="已修改 9 行").wait_for()
    page.wait_for_function(
        "[...document.querySelectorAll('#rows tbody tr')].every(tr => tr.textContent.includes('9,450.00'))"
    )

    # 导出 the selected rows: the import format, the new bases.
    page.click("#export-menu > summary")
    with page.expect_download() as info:
        page.click('[data-export="selected"]')
    exported = downloaded_rows(info.value)
    assert list(exported[0][:5]) == HEADER and len(exported) == 10
    assert {r[3] for r in exported[1:]} == {9450.0} and {r[2] for r in exported[1:]} == {
        r[2] for r in good + fixed
    }

    # 查询 by a person element, then 重置.
    page.fill('#query input[name="id_number"]', people[3][2])
    page.click("#query >> text=查询")
    page.locator("#rows .pager-info", has_text="共 1 条").wait_for()
    assert people[3][0] in page.inner_text("#rows tbody")
    page.click("#query >> text=重置")
    page.locator("#rows .pager-info", has_text="共 9 条").wait_for()

    # 提交申报: the draft empties, the sender reports.
    page.click("#submit")
    page.locator(".toast", has_text="申报已保存，正在发送到税务端").wait_for()
    page.locator(".toast.success", has_text="已发送 1 笔申报").wait_for(timeout=15000)
    page.locator("#rows .pager-info", has_text="共 0 条").wait_for()

    # A second declaration the tax side will reject: a base below the floor.
    open_add_menu(page, "单个录入职工")
    one = page.locator("dialog", has_text="单个录入职工")
    one.locator('input[type="search"]').fill(people[20][2])
    one.locator("button", has_text="查找").click()
    one.locator(".pick", has_text=people[20][0]).click()
    one.locator('input[name="new_base"]').fill("3000")
    one.locator('input[name="effective_month"]').fill("2025-04")
    screenshot(page, "wage-base-single-entry")
    one.locator("button", has_text="添加").click()
    page.locator(".toast.success", has_text=f"已添加 {people[20][0]}").wait_for()
    page.locator("#rows tbody tr .warn-text", has_text="低于").wait_for()
    assert "1 人有提示" in page.inner_text("#draft-summary")

    # Another employee, then 删除 with confirmation.
    open_add_menu(page, "单个录入职工")
    one = page.locator("dialog", has_text="单个录入职工")
    one.locator('input[type="search"]').fill(people[21][0])
    one.locator('input[type="search"]').press("Enter")
    one.locator(".pick", has_text=people[21][2]).click()
    one.locator('input[name="new_base"]').fill("8000")
    one.locator('input[name="effective_month"]').fill("2025-04")
    one.locator("button", has_text="添加").click()
    page.locator("#rows .pager-info", has_text="共 2 条").wait_for()
    page.locator("#rows tbody tr", has_text=people[21][2]).locator('input[type="checkbox"]').check()
    page.click("#delete")
    ask = page.locator("dialog", has_text="确定删除选中的 1 行吗？")
    ask.locator("button", has_text="删除").click()
    page.locator("#rows .pager-info", has_text="共 1 条").wait_for()

    page.click("#submit")
    ask = page.locator("dialog", has_text="超出缴费基数上下限")
    ask.locator("button", has_text="确定提交").click()
    page.locator(".toast.success", has_text="已发送 1 笔申报").wait_for(timeout=15000)
    page.locator("#rows .pager-info", has_text="共 0 条").wait_for()

    # The list fills behind the page's back (another window): the import still asks first.
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    behind = page.request.post(
        ui.base_url + "/api/wage-base/daily/add",
        data={"mode": "normal"},
        headers={"X-CSRF-Token": token},
    )
    assert behind.ok
    open_add_menu(page, "导入外部文件")
    page.set_input_files("dialog input[type=file]", str(second_file))
    page.locator("dialog", has_text=f"已有 {normal} 条数据").locator(
        "button", has_text="覆盖"
    ).click()
    page.locator("#import-result .hint", has_text="共 3 行：导入 3 行").wait_for()
    page.locator("#rows .pager-info", has_text="共 3 条").wait_for()

    # 申报记录: entering asks for feedback (still processing), then 获取反馈 with no delay.
    page.click("nav.tabs >> text=申报记录")
    page.wait_for_url("**/wage-base/records")
    page.locator("#open-summary", has_text="2 笔待反馈").wait_for()
    page.wait_for_load_state(
        "networkidle"
    )  # the quiet feedback request on entering: both still processing
    assert page.locator(".toast", has_text="反馈").count() == 0
    live.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    page.click("#feedback")
    page.locator(
        ".toast", has_text="已获取 2 笔申报的反馈，申报成功 1 笔，申报失败 1 笔"
    ).wait_for()
    table = page.locator("#record-table tbody")
    table.locator("tr", has_text="申报成功").wait_for()
    failed = table.locator("tr", has_text="申报失败")
    assert "1 条失败原因" in failed.inner_text()
    screenshot(page, "wage-base-records")
    page.click("#feedback")
    page.locator(".toast.success", has_text="无需获取反馈").wait_for()

    failed.locator("button", has_text="申报失败").click()
    reasons = page.locator("dialog", has_text="申报失败原因")
    reasons.locator("tbody tr", has_text="下限").wait_for()
    assert people[20][2] in reasons.inner_text()
    screenshot(page, "wage-base-reasons")
    reasons.locator("button", has_text="复制回申报列表修改").click()
    page.wait_for_url("**/wage-base/daily")
    back = page.locator("#rows tbody tr", has_text=people[20][2])
    assert "上次申报失败" in back.inner_text() and "3,000.00" in back.inner_text()
    page.locator(".toast.success", has_text="已复制 1 行到申报列表").wait_for()
    screenshot(page, "wage-base-copied-back")

    # 年度: closed on 2025-03-15 ...
    page.click("nav.tabs >> text=年度缴费工资申报")
    page.locator("#window-closed").wait_for()
    assert "07-01" in page.inner_text("#window-closed") or "7月1日" in page.inner_text(
        "#window-closed"
    )
    page.click("#add-menu > summary")
    assert page.is_disabled('[data-add="import"]') and page.is_disabled('[data-add="normal"]')
    assert page.is_enabled('[data-add="template"]') and page.is_disabled("#submit")
    screenshot(page, "wage-base-annual-closed")
    page.click("#add-menu > summary")

    # ... and open on 2025-08-01 (the business date comes with the next login).
    live.sim("PUT", "/settings", {"today": "2025-08-01"})
    log_in_again(services, unit.unit_id)
    page.reload()
    assert page.locator("#window-closed").count() == 0
    assert "本次为 202507" in page.inner_text(".tips")
    open_add_menu(page, "添加所有正常缴费的职工")
    page.locator(".toast.success", has_text=f"已添加 {normal} 名职工").wait_for()
    page.locator("#rows .pager-info", has_text=f"共 {normal} 条").wait_for()
    assert "生效年月" not in page.inner_text("#rows thead")
    screenshot(page, "wage-base-annual-open")

    assert problems.unexpected(409) == []
    context.close()
    assert time.monotonic() - started < 60


def test_government_unit_declares_per_insurance_item(browser, ui, services, taxside_factory) -> None:
    """按险种申报缴费工资: a 山西 government unit (the 140000 pack allows it) gives each item its
    own base; the tax side accepts it."""
    live = taxside_factory(units=6, employees=30, seed=11)  # U000006: 140000, a government unit
    live.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, live, index=5)
    services.session.popups_shown = True
    (name,) = services.store.db.execute_sql(
        "SELECT name FROM enrollment_employee WHERE status = '正常缴费' ORDER BY id LIMIT 1"
    ).fetchone()
    page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 820})
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    page.goto(ui.base_url + "/wage-base/daily")
    assert unit.region == "140000"
    page.check("#per-item")
    open_add_menu(page, "单个录入职工")
    one = page.locator("dialog", has_text="单个录入职工")
    one.locator('input[type="search"]').fill(name)
    one.locator("button", has_text="查找").click()
    one.locator(".pick", has_text=name).first.click()
    one.locator('input[name="item_pension"]').fill("9000")
    one.locator('input[name="item_medical"]').fill("8500")
    for item in ("unemployment", "injury", "maternity"):
        one.locator(f'input[name="item_{item}"]').fill("")
    one.locator('input[name="effective_month"]').fill("2025-03")
    screenshot(page, "wage-base-per-item")
    one.locator("button", has_text="添加").click()
    page.locator("#rows tbody tr", has_text="养老 9,000.00，医疗 8,500.00").wait_for()
    page.click("#submit")
    page.locator(".toast.success", has_text="已发送 1 笔申报").wait_for(timeout=15000)
    page.click("text=申报记录")
    page.locator("#record-table tbody tr", has_text="申报成功").wait_for(timeout=15000)
    assert problems.unexpected() == []
    page.close()
