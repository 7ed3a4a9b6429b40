"""多人使用 against a live tax side: an operator sees and enters only the units assigned to
them, and what they declare carries their name (the journal entry, the audit rows)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from client.api.server import UIServer
from client.core import operators, permissions
from client.core.operators_roles import role_by_key
from client.services import Services
from tests.conftest import NEW_PASSWORD, log_in

PASSWORD = "Caozuo2025"


@pytest.fixture
def two_units(services: Services, taxside_factory: Any) -> Any:
    """Units 2 and 0 registered on this PC (single use), then 多人使用 with 李人事 on unit 2
    (税务自主征收: it has the payroll-base module)."""
    live = taxside_factory(units=3, employees=20)
    log_in(services, live, index=0)
    log_in(services, live, index=2)
    services.session.logout()
    operators.start_multi(services.store, "王管理", "admin", PASSWORD, PASSWORD)
    operators.add_operator(services.store, "李人事", "hr", PASSWORD, PASSWORD,
                           role_by_key(services.store, permissions.HR).id, [live.unit(2).unit_id])
    return live


@pytest.fixture
def client(ui: UIServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui.base_url, timeout=30, headers={"X-CSRF-Token": ui.csrf_token}) as c:
        assert c.get(ui.launch_url).status_code == 303
        yield c


def _login(client: httpx.Client, login_name: str) -> None:
    assert client.post("/api/operator/login", json={"login_name": login_name, "password": PASSWORD}).status_code == 200


def _enter(client: httpx.Client, unit_id: str) -> httpx.Response:
    return client.post("/api/session/login", json={"unit_id": unit_id, "password": NEW_PASSWORD})


def _wait_for_jobs(services: Services) -> None:
    deadline = time.monotonic() + 20
    while services.jobs.find(active_only=True) and time.monotonic() < deadline:
        time.sleep(0.02)


def test_only_assigned_units_are_listed_and_entered(client: httpx.Client, two_units: Any) -> None:
    mine, other = two_units.unit(2), two_units.unit(0)
    _login(client, "hr")
    assert [u["unit_id"] for u in client.get("/api/units").json()["units"]] == [mine.unit_id]
    assert other.unit_id not in client.get("/login").text
    found = client.post("/api/session/taxpayer", json={"taxpayer_id": other.taxpayer_id}).json()
    assert found["units"] == []
    refused = _enter(client, other.unit_id)
    assert refused.status_code == 403
    assert refused.json()["error"] == {"code": "unit_not_assigned", "message": "当前操作员未被分配该单位，请联系管理员",
                                       "field": "unit_id", "row": None}
    assert client.post("/api/session/offline", json={"unit_id": other.unit_id, "password": NEW_PASSWORD}).status_code == 403
    assert _enter(client, mine.unit_id).status_code == 200
    # The administrator sees every unit.
    _login(client, "admin")
    listed = {u["unit_id"] for u in client.get("/api/units").json()["units"]}
    assert listed == {mine.unit_id, other.unit_id}


def test_a_unit_taken_away_ends_its_session(client: httpx.Client, two_units: Any, services: Services) -> None:
    mine = two_units.unit(2)
    _login(client, "hr")
    assert _enter(client, mine.unit_id).status_code == 200
    client.post("/api/session/confirm", json={"confirmed": True})
    assert services.session.view().entered
    hr = next(o for o in operators.list_operators(services.store) if o.login_name == "hr")
    operators.update_operator(services.store, hr.id, name=hr.name, role_id=hr.role_id, unit_ids=[])
    assert client.get("/api/wage-base/records").json()["error"]["code"] == "not_logged_in"
    assert not services.session.view().entered


def test_declarations_and_jobs_carry_the_operator(client: httpx.Client, two_units: Any, services: Services) -> None:
    mine = two_units.unit(2)
    _login(client, "hr")
    assert _enter(client, mine.unit_id).status_code == 200
    assert client.post("/api/session/confirm", json={"confirmed": True}).status_code == 200
    _wait_for_jobs(services)
    (employee,) = services.store.db.execute_sql(
        "SELECT e.employee_id FROM enrollment_employee e JOIN unit u ON u.id = e.unit_id "
        "WHERE u.taxside_unit_id = ? AND e.status = '正常缴费' AND e.removed = 0 ORDER BY e.id LIMIT 1",
        (mine.unit_id,),
    ).fetchone()
    added = client.post("/api/wage-base/daily/rows",
                        json={"employee_id": employee, "new_base": "9000", "effective_month": "202504"})
    assert added.status_code == 201, added.text
    sent = client.post("/api/wage-base/daily/submit", json={})
    assert sent.status_code == 201, sent.text
    _wait_for_jobs(services)
    rows = services.store.db.execute_sql("SELECT operator, state FROM submission").fetchall()
    assert [r[0] for r in rows] == ["李人事"]
    assert rows[0][1] == "awaiting"  # sent by the job the submit started
    log = client.get("/api/system/audit", params={"operator": "李人事", "size": 100}).json()["rows"]
    actions = {r["action"] for r in log}
    assert "操作员登录" in actions and len(actions) > 1
    assert all(r["operator"] == "李人事" for r in log)
    exported = client.post("/api/system/audit/export", json={"filters": {"operator": "李人事", "unit": ""}})
    sheet = load_workbook(io.BytesIO(exported.content)).active
    table = list(sheet.iter_rows(values_only=True))
    assert table[0] == ("时间", "操作员", "操作", "内容", "单位")
    assert len(table) == len(log) + 1 and {r[1] for r in table[1:]} == {"李人事"}
    bad = client.get("/api/system/audit", params={"date_from": "2026-13-01"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "date_from"
    # 只读 sees the log but refused the submit, with the function named.
    operators.add_operator(services.store, "钱只读", "ro", PASSWORD, PASSWORD,
                           role_by_key(services.store, permissions.READONLY).id, [mine.unit_id])
    _login(client, "ro")
    refused = client.post("/api/wage-base/daily/submit", json={})
    assert refused.status_code == 403 and refused.json()["message"].endswith("缴费工资申报-提交申报")
