"""查询统计 in the browser against the live reference tax side: /queries opens 单位参保信息;
each of 单位参保信息, 职工缴费基数, 应缴信息 and 到账信息 updates from the tax side on entry,
filters, and exports (opened with openpyxl: ID columns complete and text); 到账信息 flags a
payment the tax side reversed and one whose amount it holds differently."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.conftest import log_in
from tests.e2e.conftest import PageProblems, screenshot
from tests.sync.test_payment import declared_elsewhere, pay, refreshed_service

pytestmark = pytest.mark.e2e


@pytest.fixture
def live(services: Any, taxside_factory: Any) -> Any:
    """One unit, this month declared and three of its arrears paid; the tax side then
    reverses one payment and holds another amount for a second."""
    taxside = taxside_factory(units=1, employees=40, seed=5)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0, "arrival_delay_seconds": 0})
    unit = log_in(services, taxside, index=0)
    services.session.popups_shown = True
    declared = declared_elsewhere(taxside, unit.unit_id)
    payment = refreshed_service(services)
    arrears = [a.arrear.arrear_id for a in payment.arrears_view().items]
    result = pay(payment, arrears[:3])
    assert result.ok
    paid = [r["payment_id"] for r in result.to_dict()["debit"]["results"] if r["payment_id"]]
    taxside.sim("POST", f"/units/{unit.unit_id}/payments/{paid[0]}/reversal")
    taxside.sim("PUT", f"/units/{unit.unit_id}/payments/{paid[1]}", {"total": "3.00"})
    taxside.unit_id = unit.unit_id
    taxside.period = declared["summaries"][0]["period_from"]
    return taxside


def wait_updated(page: Any) -> None:
    page.wait_for_function(
        "() => document.querySelector('#sync-state').textContent.includes('上次从税务端更新')"
        " && document.querySelector('#sync-progress').hidden")


def export(page: Any, prefix: str) -> tuple[list[str], list[list[Any]]]:
    page.wait_for_selector("#export:not([disabled])")
    with page.expect_download() as info:
        page.click("#export")
    assert info.value.suggested_filename.startswith(prefix)
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert all(c.data_type != "f" for r in sheet.iter_rows() for c in r)
    return rows[0], rows[1:]


def body_rows(page: Any) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#result-table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")


def test_every_query_filters_and_exports(app_page: tuple[Any, PageProblems], live: Any, ui: Any,
                                         services: Any) -> None:
    page, problems = app_page
    page.goto(f"{ui.base_url}/queries")
    page.wait_for_url("**/queries/unit")
    assert page.locator("nav.tabs a").all_inner_texts() == ["单位参保信息", "职工缴费基数", "申报明细", "应缴信息",
                                                           "到账信息"]

    # 单位参保信息: updated on entry; 查询 by 单位编号; 导出 what the query shows.
    wait_updated(page)
    every = body_rows(page)
    assert every and all(r[2] in ("正常参保", "暂停缴费") for r in every)
    number = every[-1][0]
    page.select_option("select[name=unit_number]", number)
    page.click("#query button[type=submit]")
    page.wait_for_function(f"() => [...document.querySelectorAll('#result-table tbody tr')].every("
                           f"r => r.cells[0].textContent === '{number}')")
    shown = body_rows(page)
    header, rows = export(page, "单位参保信息")
    assert [r[header.index("单位编号")] for r in rows] == [r[0] for r in shown]
    # 社保经办机构 / 主管税务机关 on one line at 1280 px, the whole name as the title.
    cell = page.locator("#result-table tbody tr").first.locator("td").nth(4)
    clip = cell.locator(".cell-clip")
    assert clip.get_attribute("title") == clip.inner_text() and "社会保险" in clip.inner_text()
    heights = page.eval_on_selector_all(
        "#result-table tbody tr:first-child td", "cells => cells.map(c => c.getBoundingClientRect().height)")
    line = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#result-table td')).lineHeight)"
                         " || 20")
    assert page.evaluate("() => window.innerWidth") == 1280
    assert max(heights) < 2 * line + 16, heights  # one line plus the cell's padding
    screenshot(page, "queries_unit")

    # 职工缴费基数: the person elements from this PC's enrollment; 查询 by 证件号码.
    page.click("nav.tabs >> text=职工缴费基数")
    page.wait_for_url("**/queries/bases")
    wait_updated(page)
    first = body_rows(page)[0]
    name, id_number = first[0], first[2]
    assert name and len(id_number) >= 15
    page.fill("input[name=id_number]", id_number)
    page.click("#query button[type=submit]")
    page.wait_for_function("n => [...document.querySelectorAll('#result-table tbody tr')].every("
                           "r => r.cells[2].textContent === n)", arg=id_number)
    found = body_rows(page)
    assert len(found) >= 3 and {r[0] for r in found} == {name}
    header, rows = export(page, "职工缴费基数")
    assert [r[header.index("证件号码")] for r in rows] == [id_number] * len(found)
    assert all(isinstance(r[header.index("缴费基数")], int | float) for r in rows)
    screenshot(page, "queries_bases")
    # Entered again: only the changes come (none); 全部重新下载 reads every base again.
    page.reload()
    page.wait_for_function("() => (document.querySelector('#sync-state').dataset.result || '').includes('无需更新')")
    page.click("#full-refresh")
    page.wait_for_function("() => (document.querySelector('#sync-state').dataset.result || '')"
                           ".includes('已从税务端下载全部 40 名职工')")
    assert not page.is_disabled("#full-refresh")

    # 应缴信息: a 费款所属期 range queried from the tax side.
    page.click("nav.tabs >> text=应缴信息")
    page.wait_for_url("**/queries/payable")
    wait_updated(page)
    month = f"{live.period[:4]}-{live.period[4:]}"
    page.fill("input[name=from]", month)
    page.fill("input[name=to]", month)
    page.select_option("select[name=item]", "pension")
    page.click("#query button[type=submit]")
    page.wait_for_function("() => document.querySelector('#totals').textContent.includes('应缴合计')"
                           " && [...document.querySelectorAll('#result-table tbody tr')].every("
                           "r => r.cells[2].textContent.includes('养老'))")
    header, rows = export(page, "社保费应缴信息")
    assert rows and all(r[header.index("费款所属期起")] == live.period for r in rows)
    assert all(isinstance(r[header.index("单位编号")], str) for r in rows)
    screenshot(page, "queries_payable")

    # 到账信息: the reversed payment and the changed amount are flagged and counted.
    page.click("nav.tabs >> text=到账信息")
    page.wait_for_url("**/queries/arrival")
    wait_updated(page)
    page.wait_for_selector("#result-table tbody tr .error-text")
    summary = page.inner_text("#totals")
    assert "不一致 2 笔" in summary and "税务端未查到 1 笔" in summary and "金额不一致 1 笔" in summary
    flagged = page.locator("#result-table tbody .error-text").all_inner_texts()
    assert sorted(flagged) == ["税务端未查到", "金额不一致"]
    different = next(r for r in body_rows(page) if r[6] == "金额不一致")
    assert different[4] == "3.00" and different[5] != "3.00"  # the tax side's amount beside this PC's
    title = page.get_attribute("#result-table tbody .error-text >> nth=0", "title")
    assert "税务端" in title
    header, rows = export(page, "社保费到账信息")
    assert len(rows) == 3 and all(isinstance(r[header.index("电子税票号码")], str)
                                  and len(r[header.index("电子税票号码")]) == 18 for r in rows)
    # 缴款日期 of a payment the tax side shows: its business date (a record only here: its clock's date).
    day = next(r[header.index("缴款日期")] for r in rows if r[header.index("核对结果")] == "一致")
    assert len(day) == 10 and any(r[7].startswith(day) for r in body_rows(page))
    screenshot(page, "queries_arrival")
    # By 缴款日期 alone: the tax side asked for that day, not limited by 费款所属期.
    page.fill("input[name=from]", "")
    page.fill("input[name=to]", "")
    page.fill("input[name=paid_from]", day)
    page.fill("input[name=paid_to]", day)
    page.click("#query button[type=submit]")
    page.wait_for_function("d => (document.querySelector('#sync-state').dataset.result || '').includes('缴款日期 ' + d)",
                           arg=day)
    assert body_rows(page) and all(r[7].startswith(day) for r in body_rows(page))
    assert "一致" in [r[6] for r in body_rows(page)]
    page.fill("input[name=paid_from]", "2000-01-01")
    page.fill("input[name=paid_to]", "2000-01-02")
    page.click("#query button[type=submit]")
    page.wait_for_selector("text=没有符合条件的到账信息")

    # Offline: the page says so and shows what this PC holds.
    services.session._offline = True  # the session's offline mode after a lost connection
    page.goto(f"{ui.base_url}/queries/unit")
    page.wait_for_function("() => document.querySelector('#sync-state').textContent.includes('离线模式')"
                           " && document.querySelectorAll('#result-table tbody tr').length > 0")
    assert "上次从税务端更新" in page.inner_text("#sync-state")
    screenshot(page, "queries_offline")
    assert problems.unexpected() == [], problems.items


def test_offline_with_nothing_downloaded_says_so(app_page: tuple[Any, PageProblems], ui: Any, services: Any,
                                                 taxside_factory: Any) -> None:
    """Offline before any update: each page says nothing was downloaded yet and how it will
    be, not "没有符合条件的…"."""
    page, problems = app_page
    taxside = taxside_factory(units=1, employees=5, seed=5)
    log_in(services, taxside, index=0)
    services.session.popups_shown = True
    services.session._offline = True
    for tab, what, how in (("unit", "本单位的参保信息", "【更新】"), ("bases", "职工缴费基数", "【全部重新下载】"),
                           ("payable", "应缴信息", "【查询】"), ("arrival", "到账信息", "【查询】")):
        page.goto(f"{ui.base_url}/queries/{tab}")
        page.wait_for_function("() => document.querySelector('#sync-state').textContent.includes('离线模式')")
        said = page.locator("#result-table", has_text="本机还没有从税务端下载过")
        said.wait_for()
        text = said.inner_text()
        assert what in text and "联网后进入本页会自动下载" in text and how in text, text
        assert "没有符合条件" not in text and "暂无数据" not in text
        screenshot(page, f"queries_offline_nothing_{tab}")
    assert problems.unexpected() == [], problems.items
