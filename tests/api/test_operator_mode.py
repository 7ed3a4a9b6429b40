"""单人使用 <-> 多人使用 over HTTP: the first start's choice once, the switch in 系统设置 an
administrator's action either way, and the operator administration calls."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from client.api.server import UIServer
from client.core import audit, operators
from client.services import Services

PASSWORD = "Caozuo2025"
ADMIN = {"name": "王管理", "login_name": "admin", "password": PASSWORD, "confirm_password": PASSWORD}


@pytest.fixture
def client(ui: UIServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui.base_url, timeout=30, headers={"X-CSRF-Token": ui.csrf_token}) as c:
        assert c.get(ui.launch_url).status_code == 303
        yield c


def test_first_start_single_is_one_click_and_asked_once(client: httpx.Client, services: Services) -> None:
    assert 'id="operator-setup"' in client.get("/login").text
    assert client.post("/api/operator/setup", json={"mode": "single"}).json()["mode"] == "single"
    assert 'id="operator-setup"' not in client.get("/login").text
    again = client.post("/api/operator/setup", json={"mode": "multi", **ADMIN})
    assert again.status_code == 409 and again.json()["error"]["code"] == "mode_chosen"
    assert operators.mode(services.store) == operators.SINGLE
    assert client.get("/api/system/audit").status_code == 200  # no operator login


def test_switching_in_settings(client: httpx.Client, services: Services) -> None:
    client.post("/api/operator/setup", json={"mode": "single"})
    weak = client.post("/api/operators/mode", json={"mode": "multi", **ADMIN, "password": "abc"})
    assert weak.status_code == 400 and weak.json()["error"]["field"] == "password"
    roles = {r["key"]: r["id"] for r in client.get("/api/operators").json()["roles"]}
    solo = client.post("/api/operators", json={"name": "李人事", "login_name": "hr", "password": PASSWORD,
                                               "confirm_password": PASSWORD, "role_id": roles["hr"], "units": []})
    assert solo.status_code == 409 and solo.json()["error"]["code"] == "single_mode"  # no operators in 单人使用
    page = client.get("/settings/operators").text
    assert 'id="multi-preview"' in page and 'id="operator-form"' not in page and 'id="role-form"' not in page
    switched = client.post("/api/operators/mode", json={"mode": "multi", **ADMIN})
    assert switched.status_code == 200, switched.text
    me = client.get("/api/operator/me").json()
    assert me["mode"] == "multi" and me["operator"]["name"] == "王管理" and me["all"] is True
    roles = {r["key"]: r["id"] for r in client.get("/api/operators").json()["roles"]}
    added = client.post("/api/operators", json={"name": "李人事", "login_name": "hr", "password": PASSWORD,
                                                "confirm_password": PASSWORD, "role_id": roles["hr"], "units": []})
    hr_id = added.json()["added"]["id"]
    page = client.get("/settings/operators").text
    assert 'id="operator-form"' in page and 'id="multi-preview"' not in page
    # 人事专员 may not switch back nor manage operators.
    assert client.post("/api/operator/login", json={"login_name": "hr", "password": PASSWORD}).status_code == 200
    refused = client.post("/api/operators/mode", json={"mode": "single"})
    assert refused.status_code == 403 and refused.json()["message"].endswith("系统设置-操作员与角色")
    assert client.get("/settings/operators").status_code == 403
    # The administrator switches back; the accounts stay, and only an administrator resumes.
    assert client.post("/api/operator/login", json={"login_name": "admin", "password": PASSWORD}).status_code == 200
    assert client.post("/api/operators/mode", json={"mode": "single"}).json()["mode"] == "single"
    assert client.get("/api/operator/me").json()["operator"] is None
    not_admin = client.post("/api/operators/mode", json={"mode": "multi", "login_name": "hr", "password": PASSWORD})
    assert not_admin.status_code == 403 and not_admin.json()["error"]["code"] == "not_admin"
    resumed = client.post("/api/operators/mode", json={"mode": "multi", "login_name": "admin", "password": PASSWORD})
    assert resumed.status_code == 200
    assert [o["login_name"] for o in client.get("/api/operators").json()["operators"]] == ["admin", "hr"]
    # Administration: reset, freeze (not oneself), delete; each in the log under the administrator.
    assert client.post(f"/api/operators/{hr_id}/password",
                       json={"password": "Xinmima2025", "confirm_password": "Xinmima2025"}).status_code == 200
    me_id = client.get("/api/operator/me").json()["operator"]["id"]
    assert client.post(f"/api/operators/{me_id}/freeze", json={"frozen": True}).json()["error"]["code"] == "freeze_self"
    assert client.post(f"/api/operators/{hr_id}/freeze", json={"frozen": True}).status_code == 200
    frozen = client.post("/api/operator/login", json={"login_name": "hr", "password": "Xinmima2025"})
    assert frozen.json()["error"]["message"] == "该操作员已被冻结，请联系管理员"
    assert client.post(f"/api/operators/{hr_id}/delete", json={}).status_code == 200
    actions = [(e.operator, e.action) for e in audit.entries_matching(audit.AuditFilter(operator="王管理"))]
    for action in ("重置操作员密码", "冻结操作员", "删除操作员", "切换使用方式", "新增操作员"):
        assert ("王管理", action) in actions, action
