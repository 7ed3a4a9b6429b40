"""Two clerks (two browser tabs) editing the same 缴费工资申报 draft row over HTTP, on SQLite and
on PostgreSQL: the second save, based on the version its page loaded, gets 409 and the
message; the first clerk's save stays; after reloading the row the second save goes through."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from client import logs
from client.api.server import UIServer
from client.core.jobs import JobRunner
from client.core.store import Store
from client.services import Services
from client.settings import Settings, prepare_home
from tests.api.test_wage_base_api import Api, error_of
from tests.conftest import log_in

STALE = "该记录已被其他操作员修改，请刷新后再试"


@pytest.fixture
def services(home: Path, store_url: str | None) -> Iterator[Services]:
    """The app on each engine (store_url None: the SQLite file in the data folder)."""
    folder = prepare_home(home)
    store = Store(folder, store_url)
    svc = Services(folder, Settings(folder), store, JobRunner(on_finish=store.db.close), logs.setup_logging(folder))
    yield svc
    svc.close()


@pytest.fixture
def tabs(services: Services, ui: UIServer, taxside_factory: Any) -> Iterator[tuple[Api, Api]]:
    live = taxside_factory(units=1, employees=20, seed=5)
    log_in(services, live, index=0)
    services.session.popups_shown = True
    clients = [httpx.Client(base_url=ui.base_url, follow_redirects=True, timeout=10) for _ in range(2)]
    for client in clients:
        assert client.get(ui.launch_url, follow_redirects=False).status_code == 303  # the launch cookie
    yield TabApi(clients[0]), TabApi(clients[1])
    for client in clients:
        client.close()


class TabApi(Api):
    """A tab open on the wage-base page (its CSRF token is read there, not from 首页)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        html = client.get("/wage-base/daily").text
        marker = 'name="csrf-token" content="'
        start = html.index(marker) + len(marker)
        self.headers = {"X-CSRF-Token": html[start : html.index('"', start)]}


def draft_row(services: Services) -> int:
    """One employee of the unit in the daily draft, as 单个录入 leaves it."""
    store = services.store
    with store.write() as db:
        return int(db.execute_sql(
            "INSERT INTO wage_base_draft (unit_id, kind, employee_id, name, id_type, id_number, unit_number, "
            "current_base, added_at) SELECT unit_id, 'daily', employee_id, name, id_type, id_number, unit_number, "
            "'8000.00', '2025-03-15 08:00:00' FROM enrollment_employee WHERE status = '正常缴费' AND removed = 0 "
            "ORDER BY employee_id LIMIT 1 RETURNING id"
        ).fetchone()[0])


def test_the_second_clerks_stale_save_is_refused_and_the_first_save_stays(
    services: Services, tabs: tuple[Api, Api]
) -> None:
    a, b = tabs
    row_id = draft_row(services)
    loaded_a, loaded_b = (next(r for r in t.rows()["rows"] if r["id"] == row_id) for t in (a, b))
    assert loaded_a["row_version"] == loaded_b["row_version"] == 1
    path = f"/api/wage-base/daily/rows/{row_id}"
    saved = a.put(path, {"new_base": "9000", "effective_month": "202503", "row_version": 1,
                         "employee_id": loaded_a["employee_id"]})
    assert saved.status_code == 200 and saved.json()["row"]["row_version"] == 2

    refused = error_of(b.put(path, {"new_base": "7000", "effective_month": "202504", "row_version": 1,
                                    "employee_id": loaded_b["employee_id"]}), 409)
    assert refused == {"code": "row_version_conflict", "message": STALE, "field": "row_version", "row": None}
    fresh = b.get(path).json()["row"]  # what the page reloads
    assert (fresh["new_base"], fresh["effective_month"], fresh["row_version"]) == ("9000.00", "202503", 2)

    again = b.put(path, {"new_base": "7000", "effective_month": "202504", "row_version": 2,
                         "employee_id": fresh["employee_id"]})
    assert again.status_code == 200
    assert (again.json()["row"]["new_base"], again.json()["row"]["row_version"]) == ("7000.00", 3)
    # The first tab, still on version 2, is refused in turn; nothing of the second save is lost.
    assert error_of(a.put(path, {"new_base": "1", "row_version": 2}), 409)["message"] == STALE
    assert b.get(path).json()["row"]["new_base"] == "7000.00"


def test_a_save_without_the_loaded_version_is_refused(services: Services, tabs: tuple[Api, Api]) -> None:
    a, _ = tabs
    row_id = draft_row(services)
    path = f"/api/wage-base/daily/rows/{row_id}"
    for body in ({"new_base": "9000"}, {"new_base": "9000", "row_version": "1"}, {"new_base": "9000", "row_version": True}):
        missing = error_of(a.put(path, body), 400)
        assert missing["field"] == "row_version" and "刷新" in missing["message"]
    assert a.get(path).json()["row"]["new_base"] == ""
    gone = error_of(a.get("/api/wage-base/daily/rows/999999"), 404)
    assert gone["code"] == "draft_row_not_found"
