"""数据位置 over HTTP: 测试连接 and 保存 of the first-use wizard against a real PostgreSQL
server; clear Chinese refusals; the password never in an answer nor in settings.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx

from client.api.server import UIServer
from client.core import db_location, operators, permissions
from client.core.operators_roles import role_by_key, save_role
from client.services import Services
from tests import pg_cluster
from tests.conftest import csrf_of

PASSWORD = "Caozuo2025"


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    # Saving migrates a new database: more than the fixture's 10 s on a busy machine.
    return client.post(path, json=body, headers={"X-CSRF-Token": csrf_of(client)}, timeout=60)


def _split(url: str) -> tuple[str, str]:
    bare, password = db_location.parse(url)
    assert password
    return bare, password


def test_default_is_the_local_file(browser_client: httpx.Client, services: Services) -> None:
    state = browser_client.get("/api/system/data-location").json()
    assert state["team"] is False and state["engine"] == "sqlite"
    assert state["location"] == str(services.store.path)
    assert state["configured"] == "" and state["restart_needed"] is False
    # The wizard's choice is on the first start's page.
    page = browser_client.get("/login").text
    assert "单机使用（本机数据库，默认）" in page and "团队使用（PostgreSQL 服务器）" in page


def test_test_connection_says_why_not(browser_client: httpx.Client, pg_url: str) -> None:
    bare, _password = _split(pg_url)
    wrong = _post(browser_client, "/api/system/data-location/test", {"url": bare, "password": "wrong-pw-1"})
    assert wrong.status_code in (401, 403), wrong.text
    error = wrong.json()["error"]
    assert error["code"] == "database_password" and "密码" in error["message"]
    assert "wrong-pw-1" not in wrong.text

    port = urlsplit(bare).port
    closed = bare.replace(f":{port}/", ":1/")
    unreachable = _post(browser_client, "/api/system/data-location/test", {"url": closed, "password": "x"})
    assert unreachable.json()["error"]["code"] == "database_unreachable"
    assert "无法连接" in unreachable.json()["error"]["message"]

    bad = _post(browser_client, "/api/system/data-location/test", {"url": "mysql://x@h/db", "password": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "url"

    ok = _post(browser_client, "/api/system/data-location/test", {"url": bare, "password": pg_cluster.PASSWORD})
    assert ok.status_code == 200, ok.text
    assert ok.json()["schema_version"] == 0 and "新的空数据库" in ok.json()["message"]


def test_save_keeps_the_url_without_password_and_asks_for_a_restart(
    browser_client: httpx.Client, services: Services, pg_url: str, memory_keyring: Any,
) -> None:
    bare, password = _split(pg_url)
    saved = _post(browser_client, "/api/system/data-location/use", {"mode": "team", "url": bare, "password": password})
    assert saved.status_code == 200, saved.text
    answer = saved.json()
    assert password not in saved.text
    assert answer["configured"] == bare and answer["restart_needed"] is True
    assert "重新启动" in answer["message"]
    assert answer["report"]["schema_version"] > 0  # opened and migrated
    stored = json.loads((services.home / "settings.json").read_text(encoding="utf-8"))
    assert stored["database_url"] == bare and password not in json.dumps(stored)
    assert memory_keyring.entries[(db_location.KEYRING_SERVICE, bare)] == password
    # This run keeps its open store; back to 单机使用 clears the pending change.
    assert browser_client.get("/api/system/data-location").json()["engine"] == "sqlite"
    back = _post(browser_client, "/api/system/data-location/use", {"mode": "sqlite"})
    assert back.status_code == 200 and back.json()["restart_needed"] is False


def test_the_docs_link_serves_the_team_text(browser_client: httpx.Client) -> None:
    docs = browser_client.get("/api/system/data-location/docs")
    assert docs.status_code == 200
    assert "pg_dump" in docs.text and docs.headers["content-type"].startswith("text/plain")


def test_only_the_administrator_changes_the_location_in_multi_mode(
    services: Services, ui: UIServer, pg_url: str, memory_keyring: Any,
) -> None:
    operators.start_multi(services.store, "管理员甲", "admin", PASSWORD, PASSWORD)
    for role in permissions.BUILTIN_ROLES[1:]:
        operators.add_operator(services.store, f"{role.name}乙", role.key, PASSWORD, PASSWORD,
                               role_by_key(services.store, role.key).id, [])
    # A custom role that may change settings: still not the data location.
    settings_role = save_role(services.store, None, "设置管理", ["system.view", "system.settings"])
    operators.add_operator(services.store, "设置员丙", "setter", PASSWORD, PASSWORD, settings_role.id, [])
    bare, password = _split(pg_url)
    body = {"mode": "team", "url": bare, "password": password}
    for login in [r.key for r in permissions.BUILTIN_ROLES[1:]] + ["setter"]:
        with _signed_in(ui, login) as c:
            refused = c.post("/api/system/data-location/use", json=body, timeout=60)
            assert refused.status_code == 403, (login, refused.text)
            assert refused.json()["error"]["code"] == "forbidden"
            probe = c.post("/api/system/data-location/test", json=body, timeout=60)
            assert probe.status_code == 403 and "连接成功" not in probe.text
    assert db_location.configured(services.settings) == ""
    with _signed_in(ui, "admin") as c:
        assert c.post("/api/system/data-location/use", json=body, timeout=60).status_code == 200
    assert db_location.configured(services.settings) == bare


@contextmanager
def _signed_in(ui: UIServer, login_name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui.base_url, timeout=30, headers={"X-CSRF-Token": ui.csrf_token}) as c:
        assert c.get(ui.launch_url).status_code == 303
        answer = c.post("/api/operator/login", json={"login_name": login_name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        yield c
