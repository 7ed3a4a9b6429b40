"""The permission table against the real app: every endpoint has an entry, and walking every
endpoint with every built-in role is refused (403 forbidden) exactly where the role lacks
the permission the table names."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from flask import Flask

from client.api.server import UIServer
from client.core import operators, permissions
from client.core.operators_roles import role_by_key
from client.services import Services

PASSWORD = "Caozuo2025"
SAMPLES = {"int": "999"}


def concrete(rule: str) -> str:
    """A path the rule matches: ``<int:id>`` -> 999, ``<any(a, b):kind>`` -> a, others -> x."""

    def one(match: re.Match[str]) -> str:
        converter = match.group(1) or ""
        if converter.startswith("any("):
            return converter[4:].split(",")[0].strip(" )")
        return SAMPLES.get(converter, "x")

    return re.sub(r"<(?:([^:>]+):)?[^>]+>", one, rule)


def routes(app: Flask) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((concrete(rule.rule), method, rule.endpoint))
    return sorted(found)


def test_every_endpoint_has_an_entry(ui: UIServer) -> None:
    missing = [
        f"{method} {path} ({endpoint})"
        for path, method, endpoint in routes(ui.app)
        if path not in permissions.EXACT and permissions.find_rule(path) is None
        and endpoint not in permissions.FALLBACK_ENDPOINTS
    ]
    assert not missing, "endpoints without a permission entry (only 管理员 may use them):\n" + "\n".join(missing)


def test_an_unmapped_endpoint_is_for_the_administrator_only() -> None:
    needed = permissions.required_permission("/api/brand-new/thing", "GET")
    assert needed == permissions.ADMIN_ONLY
    assert permissions.allowed(permissions.ALL_PERMISSIONS, True, needed)
    for role in permissions.BUILTIN_ROLES[1:]:
        assert not permissions.allowed(role.permissions, False, needed)


def test_table_reads_and_writes() -> None:
    need = permissions.required_permission
    assert need("/api/payment/debits", "POST") == "payment.pay"
    assert need("/api/payment/debits/7", "GET") == "payment.view"
    assert need("/api/payment/vouchers/v1/void", "POST") == "payment.void"
    assert need("/api/fee-declaration/records/d1/void", "POST") == "fee_declaration.void"
    assert need("/api/wage-base/daily/submit", "POST") == "wage_base.submit"
    assert need("/api/backup/restore", "POST") == "system.restore"
    assert need("/settings/operators", "GET") == "system.operators"
    assert need("/api/queries/anything", "GET") == "queries.view"
    assert need("/api/agency/batch", "POST") == "agency.batch"
    assert need("/", "GET") == permissions.PUBLIC
    assert need("/paymentx", "GET") == permissions.ADMIN_ONLY  # a prefix is whole segments


@pytest.fixture
def multi(services: Services) -> dict[str, str]:
    """多人使用 with one operator per built-in role (login names: the role keys)."""
    operators.start_multi(services.store, "管理员甲", "admin", PASSWORD, PASSWORD)
    for role in permissions.BUILTIN_ROLES[1:]:
        operators.add_operator(services.store, f"{role.name}乙", role.key, PASSWORD, PASSWORD,
                               role_by_key(services.store, role.key).id, [])
    return {r.key: r.key for r in permissions.BUILTIN_ROLES}


@pytest.fixture
def client(ui: UIServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui.base_url, timeout=30, headers={"X-CSRF-Token": ui.csrf_token}) as c:
        assert c.get(ui.launch_url).status_code == 303
        yield c


def _login(client: httpx.Client, login_name: str) -> None:
    answer = client.post("/api/operator/login", json={"login_name": login_name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text


def _forbidden(response: httpx.Response) -> bool:
    if response.status_code != 403:
        return False
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()["error"]["code"] == "forbidden"
    return "当前操作员无权执行此操作" in response.text


@pytest.mark.parametrize("role_key", [r.key for r in permissions.BUILTIN_ROLES])
def test_walk_every_endpoint_with_each_builtin_role(
    ui: UIServer, client: httpx.Client, multi: dict[str, str], role_key: str
) -> None:
    role = permissions.BUILTIN_BY_KEY[role_key]
    _login(client, role_key)
    wrong = []
    checked = 0
    for path, method, endpoint in routes(ui.app):
        if path.startswith("/api/operator/login") or path == "/api/operators/mode":
            continue  # the login itself; switching the mode ends the walk
        needed = permissions.required_permission(path, method, endpoint)
        expected = permissions.allowed(role.permissions, role_key == permissions.ADMIN, needed)
        # No body: a view that runs stops at its own input check instead of changing data.
        response = client.request(method, path, follow_redirects=False)
        checked += 1
        if expected == _forbidden(response):
            wrong.append(f"{method} {path}: needs {needed}, got {response.status_code}")
        if path in ("/api/operator/logout",) or response.status_code == 401:
            _login(client, role_key)  # walked out (or the account was reloaded): back in
    assert checked > 100
    assert not wrong, "\n".join(wrong)


def test_refusal_names_the_function_in_chinese(client: httpx.Client, multi: dict[str, str]) -> None:
    _login(client, "hr")
    api = client.post("/api/payment/debits", json={})
    assert api.status_code == 403
    assert api.json()["message"] == "当前操作员无权执行此操作：费款缴纳-缴款"
    assert api.json()["error"]["code"] == "forbidden"
    page = client.get("/payment")
    assert page.status_code == 403
    assert "当前操作员无权执行此操作：费款缴纳-查看" in page.text
    assert "data-testid=\"error-page\"" in page.text


def test_hidden_navigation_follows_the_role(client: httpx.Client, multi: dict[str, str]) -> None:
    _login(client, "hr")
    html = client.get("/settings").text
    assert 'data-nav="wage_base"' in html and 'data-nav="enrollment"' in html
    assert 'data-nav="payment"' not in html and 'data-nav="fee_declaration"' not in html
    assert 'id="operators-link"' not in html
    assert "操作员：人事专员乙（人事专员）" in html
    body_perms = re.search(r'data-perms="([^"]*)"', html).group(1).split()
    assert "wage_base.submit" in body_perms and "payment.pay" not in body_perms
    _login(client, "admin")
    admin_html = client.get("/settings").text
    assert 'data-nav="payment"' in admin_html and 'id="operators-link"' in admin_html
    assert 'data-perms="*"' in admin_html


def test_without_an_operator_only_the_login_is_open(client: httpx.Client, multi: dict[str, str]) -> None:
    assert client.get("/api/system/audit").json()["error"]["code"] == "operator_login_required"
    page = client.get("/settings", follow_redirects=False)
    assert page.status_code == 302 and page.headers["location"].startswith("/operator-login")
    assert client.get("/operator-login").status_code == 200


def test_single_mode_refuses_nothing(client: httpx.Client, services: Services) -> None:
    operators.choose_single(services.store)
    assert client.get("/api/system/audit").status_code == 200
    assert client.get("/settings").status_code == 200
    assert 'data-perms="*"' in client.get("/settings").text
