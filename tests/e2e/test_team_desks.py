"""Team mode in the browser: two clerks on one draft row, and an enrollment update while
another desk runs one (issue 18). Screenshots: artifacts/team-row-conflict.png,
artifacts/team-enrollment-other-desk.png, artifacts/team-enrollment-other-desk-done.png."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client import logs
from client.core.jobs import JobRunner
from client.core.store import Store
from client.services import Services
from client.settings import Settings, prepare_home
from tests.conftest import NEW_PASSWORD, log_in
from tests.e2e.conftest import PageProblems, screenshot

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
STALE = "该记录已被其他操作员修改，请刷新后再试"


@pytest.fixture
def services(home: Path, store_url: str | None) -> Iterator[Services]:
    """The app on each engine (store_url None: the SQLite file in the data folder)."""
    folder = prepare_home(home)
    store = Store(folder, store_url)
    svc = Services(folder, Settings(folder), store, JobRunner(on_finish=store.db.close), logs.setup_logging(folder))
    yield svc
    svc.close()


def new_tab(context: Any, url: str) -> tuple[Any, PageProblems]:
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(url)
    return page, problems


def edit(page: Any, name: str, base: str) -> None:
    page.locator("#rows tbody tr", has_text=name).locator("button", has_text="修改").click()
    page.fill("dialog input[name=new_base]", base)
    page.fill("dialog input[name=effective_month]", "2025-03")
    page.locator("dialog .dialog-buttons button", has_text="保存").click()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_two_tabs_save_the_same_row(browser: Any, ui: Any, services: Services, taxside_factory: Any) -> None:
    live = taxside_factory(units=1, employees=20, seed=5)
    log_in(services, live, index=0)
    services.session.popups_shown = True
    with services.store.write() as db:
        (name,) = db.execute_sql(
            "INSERT INTO wage_base_draft (unit_id, kind, employee_id, name, id_type, id_number, unit_number, "
            "current_base, added_at) SELECT unit_id, 'daily', employee_id, name, id_type, id_number, unit_number, "
            "'8000.00', '2025-03-15 08:00:00' FROM enrollment_employee WHERE status = '正常缴费' AND removed = 0 "
            "ORDER BY employee_id LIMIT 1 RETURNING name"
        ).fetchone()
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 820})
    page_a, problems_a = new_tab(context, ui.launch_url)
    page_a.goto(f"{ui.base_url}/wage-base/daily")
    page_b, problems_b = new_tab(context, f"{ui.base_url}/wage-base/daily")
    for page in (page_a, page_b):
        page.locator("#rows tbody tr", has_text=name).wait_for()

    edit(page_a, name, "9000")  # clerk A saves first
    page_a.locator("#rows tbody tr", has_text="9,000.00").wait_for()
    edit(page_b, name, "7000")  # clerk B's page still holds the version before A's save
    page_b.locator("dialog .field-error", has_text=STALE).wait_for()
    page_b.locator("#row-saved-by-other", has_text="其他操作员保存的是：新缴费工资 9,000.00").wait_for()
    page_b.locator("#rows tbody tr", has_text="9,000.00").wait_for()  # the list behind reloaded
    assert page_b.locator("dialog input[name=new_base]").input_value() == "7000"  # B's typing kept
    shot = screenshot(page_b, "team-row-conflict")
    (saved,) = services.store.db.execute_sql("SELECT new_base FROM wage_base_draft").fetchone()
    assert saved == "9000.00"  # A's save stays

    # B has seen A's value and saves deliberately on the reloaded version.
    page_b.locator("dialog .dialog-buttons button", has_text="保存").click()
    page_b.locator("#rows tbody tr", has_text="7,000.00").wait_for()
    assert services.store.db.execute_sql("SELECT new_base, row_version FROM wage_base_draft").fetchone() == (
        "7000.00", 3)
    assert shot.exists()
    assert problems_a.unexpected() == [] and problems_b.unexpected(409) == []
    context.close()


class OtherDesk:
    """Another desk's full update, in its own process on the same database."""

    def __init__(self, home: Path, pg_url: str, unit_pk: int, live: Any, unit_id: str, name: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.sync.team_enrollment_desk", str(home), pg_url, str(unit_pk), unit_id,
             live.url, NEW_PASSWORD, name],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ},
        )

    def wait_for(self, wanted: Any) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            line = json.loads(text)
            if wanted(line):
                return line
        raise AssertionError(f"the other desk ended early: {self.proc.wait(30)} {self.proc.stderr.read()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_enrollment_update_while_another_desk_runs_one(
    browser: Any, ui: Any, services: Services, taxside_factory: Any, tmp_path: Path, store_url: str
) -> None:
    live = taxside_factory(units=1, employees=3000, seed=5)
    unit = log_in(services, live, index=0)  # the login's own update downloads every employee
    services.session.popups_shown = True
    unit_pk = services.session.require_entered().local_id
    feed = f"/v1/units/{unit.unit_id}/enrollment"
    live.fault(feed, "latency", latency_ms=100)
    other = OtherDesk(tmp_path / "desk-2", store_url, unit_pk, live, unit.unit_id, "财务室-2")
    try:
        other.wait_for(lambda line: line["event"] == "progress" and line["done"] >= 200)
        live.clear_faults()  # the other desk's next page then waits until the faults are cleared
        live.fault(feed, "latency", latency_ms=120_000)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 820})
        page, problems = new_tab(context, f"{ui.base_url}/enrollment?key={ui.secret}")
        page.locator("#employees tbody tr").first.wait_for()
        page.click("#sync-full")
        label = page.locator("#sync-progress .job-label", has_text="另一台电脑正在更新职工参保信息（电脑 财务室-2")
        label.wait_for()
        page.locator("#sync-progress .job-label", has_text="/ 3,000 条").wait_for()
        assert page.locator("#sync-full").is_disabled()
        screenshot(page, "team-enrollment-other-desk")
        live.clear_faults()
        other.wait_for(lambda line: line["event"] == "outcome")
        done = page.locator(".toast", has_text="另一台电脑（财务室-2）已完成更新职工参保信息")
        done.wait_for()
        assert page.locator("#sync-progress").is_hidden() and not page.locator("#sync-full").is_disabled()
        screenshot(page, "team-enrollment-other-desk-done")
        (generation,) = services.store.db.execute_sql(
            "SELECT generation FROM feed_cursor WHERE unit_id = ? AND feed = 'enrollment'", (unit_pk,)
        ).fetchone()
        assert generation == 2  # the login's first download and the other desk's; this desk ran none
        assert problems.unexpected() == []
        context.close()
    finally:
        other.stop()
