"""职工参保信息 in the browser: a 2,000-employee unit synced from the reference tax side."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from rules.codes import check_id_number
from tests.conftest import log_in
from tests.e2e.conftest import PageProblems, screenshot

pytestmark = pytest.mark.e2e


def count_of(page, key: str) -> int:
    return int(page.inner_text(f'[data-count="{key}"]'))


def test_sync_query_detail_export(browser, ui, services, taxside_factory) -> None:
    live = taxside_factory(units=1, employees=2000, seed=5)
    unit = log_in(services, live, index=0)  # the login's own update downloads everything
    context = browser.new_context(accept_downloads=True, viewport={"width": 1360, "height": 900})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    page.goto(ui.base_url + "/enrollment")
    page.wait_for_function("document.querySelector('[data-count=total]').textContent === '2000'")
    assert count_of(page, "normal") + count_of(page, "stopped") == 2000
    assert "共 2,000 条" in page.inner_text("#employees .pager-info")
    screenshot(page, "enrollment-list")

    # Changes on the tax side, then 增量更新 from the page (runs in the background).
    live.sim("POST", f"/units/{unit.unit_id}/hires", {"count": 5})
    live.sim("POST", f"/units/{unit.unit_id}/leavers", {"count": 4})
    page.click("#sync-incremental")
    page.locator(".toast.success", has_text="本次共更新 9 条").wait_for()
    page.wait_for_function("document.querySelector('[data-count=total]').textContent === '2005'")
    assert count_of(page, "stopped") >= 4

    # Query by a name prefix and by a complete ID number.
    first_name = page.locator("#employees tbody tr").first.locator("td").nth(1).inner_text()
    page.fill('#query input[name="name"]', first_name[:1])
    page.click("#query >> text=查询")
    page.wait_for_function(
        "document.querySelector('#employees .pager-info').textContent.indexOf('共 2,005 条') < 0"
    )
    names = page.locator("#employees tbody tr td:nth-child(2)").all_inner_texts()
    assert names and all(n.startswith(first_name[:1]) for n in names)
    some_id = page.locator("#employees tbody tr").first.locator("td").nth(3).inner_text()
    page.click("#query >> text=重置")
    page.fill('#query input[name="id_number"]', some_id)
    page.click("#query >> text=查询")
    page.wait_for_function("document.querySelector('#employees .pager-info').textContent.includes('共 1 条')")

    # Detail: every field and the history.
    page.locator("#employees tbody .link-button").first.click()
    dialog = page.locator("dialog.dialog")
    dialog.wait_for()
    assert some_id in dialog.inner_text() and "参保险种" in dialog.inner_text()
    screenshot(page, "enrollment-detail")
    dialog.locator("text=关闭").click()

    # 更新数据导出: the change log of the incremental update.
    page.click("#changes-open")
    page.wait_for_function("document.querySelector('#changes-table .pager-info')?.textContent.includes('共 9 条')")
    screenshot(page, "enrollment-changes")
    page.locator("dialog.dialog >> text=关闭").click()

    # 导出全部职工: the ID column is text and complete.
    page.click("#query >> text=重置")
    with page.expect_download() as info:
        page.click("#export-all")
    with open(info.value.path(), "rb") as fh:
        rows = list(load_workbook(io.BytesIO(fh.read())).active.iter_rows(values_only=True))
    assert rows[0][2] == "证件号码"
    ids = [r[2] for r in rows[1:]]
    assert len(ids) == 2005
    assert all(isinstance(i, str) and check_id_number(i) is None for i in ids)
    local = {r[0] for r in services.store.db.execute_sql("SELECT id_number FROM enrollment_employee WHERE removed = 0")}
    assert set(ids) == local
    assert problems.unexpected() == []
    context.close()
