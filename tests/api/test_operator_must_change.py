"""After an administrator's 重置密码 the operator must change the password at the next
login: the login says so, and until it is changed the server opens nothing but the change
form (and logging out)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from client.api.server import UIServer
from client.core import audit, operators
from client.core.operators_roles import role_by_key
from client.services import Services

PASSWORD = "Caozuo2025"
RESET = "Chongzhi2025"


@pytest.fixture
def client(ui: UIServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui.base_url, timeout=30, headers={"X-CSRF-Token": ui.csrf_token}) as c:
        assert c.get(ui.launch_url).status_code == 303
        yield c


@pytest.fixture
def hr_id(services: Services) -> int:
    operators.start_multi(services.store, "王管理", "admin", PASSWORD, PASSWORD)
    return operators.add_operator(services.store, "李人事", "hr", PASSWORD, PASSWORD,
                                  role_by_key(services.store, "hr").id, [])


def _login(client: httpx.Client, login_name: str, password: str) -> httpx.Response:
    answer = client.post("/api/operator/login", json={"login_name": login_name, "password": password})
    assert answer.status_code == 200, answer.text
    return answer


def test_reset_password_must_be_changed_before_anything_else(client: httpx.Client, services: Services,
                                                              hr_id: int) -> None:
    assert _login(client, "hr", PASSWORD).json()["must_change"] is False  # an ordinary login
    _login(client, "admin", PASSWORD)
    assert client.post(f"/api/operators/{hr_id}/password",
                       json={"password": RESET, "confirm_password": RESET}).status_code == 200
    listed = {o["login_name"]: o for o in client.get("/api/operators").json()["operators"]}
    assert listed["hr"]["must_change"] is True and listed["hr"]["state"] == "待修改密码"

    login = _login(client, "hr", RESET).json()
    assert login["must_change"] is True and login["next"] == "/operator-password"
    # Everything else is refused on the server, pages and API calls alike, even what the role may do.
    for path in ("/api/system/audit", "/api/home/status", "/api/session", "/api/wage-base/daily"):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert refused.json()["error"]["code"] == "password_change_required"
        assert refused.json()["message"] == operators.MUST_CHANGE_MESSAGE
    assert client.post("/api/session/taxpayer", json={"taxpayer_id": "x"}).status_code == 403
    page = client.get("/wage-base", follow_redirects=False)
    assert page.status_code == 302 and page.headers["location"].startswith("/operator-password?next=")
    form = client.get("/operator-password")
    assert form.status_code == 200 and 'id="must-change-note"' in form.text and 'data-forced="1"' in form.text
    assert 'class="sidenav"' not in form.text  # the bare page: no menu to wander off into
    assert client.get("/api/operator/me").json()["operator"]["must_change"] is True

    # Today's strength rule, and not the reset password again.
    for new, field in (("short1", "new_password"), ("abcdefghij", "new_password"), (RESET, "new_password")):
        weak = client.post("/api/operator/password",
                           json={"old_password": RESET, "new_password": new, "confirm_password": new})
        assert weak.status_code == 400 and weak.json()["error"]["field"] == field, new
    wrong_old = client.post("/api/operator/password",
                            json={"old_password": PASSWORD, "new_password": "Ziji2025ok", "confirm_password": "Ziji2025ok"})
    assert wrong_old.status_code == 403 and wrong_old.json()["error"]["field"] == "old_password"
    assert client.get("/api/system/audit").status_code == 403  # still nothing else

    changed = client.post("/api/operator/password",
                          json={"old_password": RESET, "new_password": "Ziji2025ok", "confirm_password": "Ziji2025ok"})
    assert changed.status_code == 200, changed.text
    assert client.get("/api/system/audit").status_code == 200
    after = client.get("/wage-base", follow_redirects=False)  # on to the unit login, as usual
    assert after.status_code == 302 and after.headers["location"].startswith("/login")
    assert operators.get_operator(services.store, hr_id).must_change is False
    assert _login(client, "hr", "Ziji2025ok").json()["must_change"] is False
    actions = [(e.operator, e.action) for e in audit.entries_matching(audit.AuditFilter(operator="李人事"))]
    assert ("李人事", "修改操作员密码") in actions


def test_logging_out_is_open_and_the_flag_survives_it(client: httpx.Client, hr_id: int) -> None:
    _login(client, "admin", PASSWORD)
    client.post(f"/api/operators/{hr_id}/password", json={"password": RESET, "confirm_password": RESET})
    _login(client, "hr", RESET)
    assert client.post("/api/operator/logout", json={}).status_code == 200
    again = _login(client, "hr", RESET).json()
    assert again["must_change"] is True  # logging out does not skip the change
    assert client.get("/api/system/audit").status_code == 403


def test_an_administrator_resetting_their_own_password_is_not_forced(client: httpx.Client,
                                                                      services: Services, hr_id: int) -> None:
    _login(client, "admin", PASSWORD)
    admin_id = client.get("/api/operator/me").json()["operator"]["id"]
    assert client.post(f"/api/operators/{admin_id}/password",
                       json={"password": RESET, "confirm_password": RESET}).status_code == 200
    assert _login(client, "admin", RESET).json()["must_change"] is False
    assert client.get("/api/system/audit").status_code == 200


def test_the_reset_also_lifts_a_lock(services: Services, hr_id: int) -> None:
    for _ in range(operators.MAX_ATTEMPTS):
        with pytest.raises(Exception):  # noqa: B017 - wrong, then locked
            operators.authenticate(services.store, "hr", "Wrong-2025")
    operators.reset_password(services.store, hr_id, RESET, RESET)
    found = operators.authenticate(services.store, "hr", RESET)
    assert found.must_change is True
