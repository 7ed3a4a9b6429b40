"""Entering 缴款 as from the menu, in chromium against the live reference tax side: the second
entry fetches no static file (the hashed URLs are kept), the refresh on entry answers ended
with the list then stored, so no job is polled and the list is not asked again, and the
header and the table show it; with a slow tax side the page shows the running job, polls it
and asks for the list after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from client.api import payment as payment_api
from client.core import payment as core
from tests.e2e.conftest import PageProblems, screenshot
from tests.e2e.test_payment import live  # noqa: F401  (the fixture: a unit with arrears of two periods)

pytestmark = pytest.mark.e2e


class Served:
    """What the UI server was asked (method, path), recorded in front of the app."""

    def __init__(self, ui: Any) -> None:
        self.requests: list[tuple[str, str]] = []
        inner = ui.app.wsgi_app

        def record(environ: dict[str, Any], start_response: Any) -> Any:
            self.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
            return inner(environ, start_response)

        ui.app.wsgi_app = record

    def clear(self) -> None:
        self.requests.clear()

    def paths(self, prefix: str) -> list[str]:
        return [path for _method, path in self.requests if path.startswith(prefix)]


@pytest.fixture
def served(ui: Any) -> Iterator[Served]:
    yield Served(ui)


def enter_payment(page: Any, ui: Any) -> None:
    page.goto(f"{ui.base_url}/about")
    page.wait_for_load_state("networkidle")
    page.click("nav a[data-nav='payment']")
    page.wait_for_load_state("networkidle")


def test_second_entry_fetches_no_static_file_and_polls_no_job(
    browser: Any, ui: Any, live: Any, services: Any, served: Served,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(payment_api, "REFRESH_WAIT_SECONDS", 60.0)  # no machine is that slow
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    enter_payment(page, ui)  # the first entry fills the browser's cache
    served.clear()
    enter_payment(page, ui)
    assert served.paths("/static/") == []  # every style sheet and module from the cache
    assert ("POST", "/api/payment/arrears/refresh") in served.requests  # still asked on entry
    assert [p for p in served.paths("/api/jobs/") if p.count("/") == 3] == []  # no poll
    # The list comes with the refresh's answer: asked once, on entry, for what was here before.
    assert served.requests.count(("GET", "/api/payment/arrears")) == 1
    stored = core.arrears(services.store, services.session.view().unit.local_id)
    assert stored
    page.locator("#count-total", has_text=str(len(stored))).wait_for()
    rows = page.locator("#arrears tbody tr")
    assert rows.count() == min(len(stored), 50)
    shown = set(rows.evaluate_all("(trs) => trs.map((tr) => tr.dataset.key)"))
    assert shown <= {a.arrear_id for a in stored}
    assert page.locator("#refresh-progress").is_hidden() and page.locator("#refresh").is_enabled()
    screenshot(page, "payment_entry_cached")
    context.close()
    assert problems.unexpected() == []


def test_a_slow_refresh_is_polled_and_the_list_follows(
    browser: Any, ui: Any, live: Any, services: Any, served: Served,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(payment_api, "REFRESH_WAIT_SECONDS", 0.05)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    page.goto(f"{ui.base_url}/about")
    page.wait_for_load_state("networkidle")
    live.fault(f"/v1/units/{live.unit_id}/arrears", "latency", latency_ms=1500, count=1)
    served.clear()
    page.click("nav a[data-nav='payment']")
    page.locator("#refresh-progress .job-label", has_text="刷新欠费信息").wait_for()
    stored_before = core.arrears(services.store, services.session.view().unit.local_id)
    page.locator("#refresh-progress").wait_for(state="hidden", timeout=30000)
    stored = core.arrears(services.store, services.session.view().unit.local_id)
    assert stored and not stored_before  # the list came with the refresh, not before it
    page.locator("#count-total", has_text=str(len(stored))).wait_for()
    assert page.locator("#arrears tbody tr").count() == min(len(stored), 50)
    assert [p for p in served.paths("/api/jobs/") if p.count("/") == 3]  # the running job was polled
    assert served.requests.count(("GET", "/api/payment/arrears")) == 2  # on entry, and after the job
    context.close()
    assert problems.unexpected() == []


def test_a_query_typed_while_the_refresh_runs_wins_over_its_list(
    browser: Any, ui: Any, live: Any, services: Any, served: Served,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The refresh's answer carries the whole list, but the operator asked for one period
    meanwhile: that query is newer, so the page shows that period, refreshed."""
    monkeypatch.setattr(payment_api, "REFRESH_WAIT_SECONDS", 60.0)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    enter_payment(page, ui)  # the list is stored here now
    stored = core.arrears(services.store, services.session.view().unit.local_id)
    period = max(a.period_from for a in stored)
    of_period = [a for a in stored if a.period_from <= period <= a.period_to]
    assert 0 < len(of_period) < len(stored)
    live.fault(f"/v1/units/{live.unit_id}/arrears", "latency", latency_ms=2000, count=1)
    page.click("#refresh")  # answered in 2 s, with the whole list
    page.fill("input[name=period]", f"{period[:4]}-{period[4:]}")
    page.click("#query button[type=submit]")
    page.locator("#count-total", has_text=str(len(of_period))).wait_for()
    page.locator(".toast", has_text="欠费信息").wait_for(timeout=30000)  # the refresh ended
    page.locator("#refresh").wait_for(state="visible")
    page.wait_for_function("!document.getElementById('refresh').disabled")
    page.wait_for_load_state("networkidle")
    assert page.locator("#count-total").inner_text() == str(len(of_period))
    keys = set(page.locator("#arrears tbody tr").evaluate_all("(trs) => trs.map((tr) => tr.dataset.key)"))
    assert keys == {a.arrear_id for a in of_period}
    context.close()
    assert problems.unexpected() == []
