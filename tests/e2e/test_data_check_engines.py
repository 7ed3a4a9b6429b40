"""系统设置 > 数据检查 in the browser on each engine: the team database's check says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from client import logs
from client.app import build_services
from client.core.jobs import JobRunner
from client.core.store import Store
from client.services import Services
from client.settings import Settings, prepare_home
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture
def services(home: Path, store_url: str | None) -> Iterator[Services]:
    """The app on each engine (the ``ui`` and ``app_page`` fixtures take it from here)."""
    if store_url is None:
        svc = build_services(home)
    else:
        folder = prepare_home(home)
        store = Store(folder, store_url)
        svc = Services(folder, Settings(folder), store, JobRunner(on_finish=store.db.close),
                       logs.setup_logging(folder))
    yield svc
    svc.close()


def test_the_data_check_names_the_data_it_checked(app_page, ui, services, engine) -> None:
    page, problems = app_page
    page.goto(ui.base_url + "/settings")
    team = engine == "postgres"
    heading = "数据检查" if team else "本地数据检查"
    panel = page.locator("section.panel", has=page.locator("#check-start"))
    assert panel.locator("h2").inner_text() == heading
    assert ("团队数据库中的数据是否完整" if team else "本机保存的数据是否完整") in panel.inner_text()
    page.click("#check-start")
    page.locator("#check-progress .job-label", has_text="检查团队数据" if team else "检查本地数据").wait_for()
    verdict = "检查通过：团队数据库中的数据完整。" if team else "检查通过：本地数据完整。"
    page.locator(f"text={verdict}").wait_for()
    assert page.locator("#check-result table td", has_text="操作员").count() >= 1
    assert page.locator("#check-result table td", has_text="audit_log").count() == 0
    screenshot(page, f"data-check-{engine}")
    assert problems.items == []
