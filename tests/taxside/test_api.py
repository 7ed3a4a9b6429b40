"""The protocol through the Flask test client: auth, errors, idempotency, feeds."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from taxside.app import create_app
from taxside.db import Store
from taxside.generate import UnitCredentials, generate

CHINESE = re.compile(r"[\u4e00-\u9fff]")


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2025, 3, 15, 9, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def env(tmp_path: Path, clock: Clock) -> Iterator[tuple[FlaskClient, list[UnitCredentials], Path]]:
    db = tmp_path / "t.db"
    creds = generate(db, units=5, employees=400, seed=3)
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "110000.toml").write_text(
        'region = "110000"\nname = "北京"\nversion = "2025.07.1"\n\n[pension]\nversion = "x"\n',
        encoding="utf-8",
    )
    app = create_app(Store(db, now=clock), simulation=True, packs_dir=packs)
    yield app.test_client(), creds, db


def assert_error(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and CHINESE.search(body["message"])
    if code:
        assert body["code"] == code
    return body


def login(cl: FlaskClient, unit: UnitCredentials, password: str | None = None) -> dict[str, str]:
    resp = cl.post(f"/v1/units/{unit.unit_id}/session", json={"password": password or unit.initial_password})
    assert resp.status_code == 201, resp.get_json()
    return {"Authorization": "Bearer " + resp.get_json()["token"]}


def full_login(cl: FlaskClient, unit: UnitCredentials, new: str = "secret2025") -> dict[str, str]:
    auth = login(cl, unit)
    resp = cl.put(
        f"/v1/units/{unit.unit_id}/password",
        headers={**auth, "Idempotency-Key": f"pw-{unit.unit_id}"},
        json={"old_password": unit.initial_password, "new_password": new},
    )
    assert resp.status_code == 200, resp.get_json()
    return auth


def test_units_by_taxpayer(env: Any) -> None:
    cl, creds, _ = env
    resp = cl.get(f"/v1/taxpayers/{creds[0].taxpayer_id}/units")
    items = resp.get_json()["items"]
    assert [u["unit_id"] for u in items] == [creds[0].unit_id, creds[1].unit_id]  # 报验户
    assert all(u["password_is_initial"] for u in items)
    assert items[0]["initial_password_kinds"]
    assert_error(cl.get("/v1/taxpayers/91110000000000000X/units"), 400, "bad_taxpayer_id")
    other = "911101010000000009"[:17]
    from rules.codes import uscc_check_char

    assert_error(cl.get(f"/v1/taxpayers/{other + uscc_check_char(other)}/units"), 404, "taxpayer_not_found")


def test_initial_password_restricts_until_changed(env: Any) -> None:
    cl, creds, _ = env
    unit = creds[2]
    resp = cl.post(f"/v1/units/{unit.unit_id}/session", json={"password": unit.initial_password})
    body = resp.get_json()
    assert body["scope"] == "change_password" and body["must_change_password"] is True
    auth = {"Authorization": "Bearer " + body["token"]}
    assert_error(cl.get(f"/v1/units/{unit.unit_id}", headers=auth), 403, "password_change_required")
    put = lambda new, key: cl.put(  # noqa: E731
        f"/v1/units/{unit.unit_id}/password", headers={**auth, "Idempotency-Key": key},
        json={"old_password": unit.initial_password, "new_password": new},
    )
    assert_error(put("short1", "a"), 400, "weak_password")
    assert_error(put("onlyletters", "b"), 400, "weak_password")
    assert_error(put("1234567890", "c"), 400, "weak_password")
    assert put("goodpass1", "d").status_code == 200
    reg = cl.get(f"/v1/units/{unit.unit_id}", headers=auth).get_json()
    assert reg["tax_registration"]["taxpayer_id"] == unit.taxpayer_id
    assert reg["insurance_registration"]["collection_mode"] in ("税务自主征收", "税务代征")
    assert 1 <= reg["insurance_registration"]["industry_risk_class"] <= 8
    # the initial password no longer works; the new one gives a full token
    assert_error(cl.post(f"/v1/units/{unit.unit_id}/session", json={"password": unit.initial_password}), 401)
    resp = cl.post(f"/v1/units/{unit.unit_id}/session", json={"password": "goodpass1"})
    assert resp.get_json()["scope"] == "full"


def test_lockout_after_five_failures_and_unlock(env: Any, clock: Clock) -> None:
    cl, creds, _ = env
    unit = creds[0]
    url = f"/v1/units/{unit.unit_id}/session"
    for left in (4, 3, 2, 1):
        body = assert_error(cl.post(url, json={"password": "wrong!"}), 401, "wrong_password")
        assert body["attempts_left"] == left
        assert f"还可尝试{left}次" in body["message"]
    body = assert_error(cl.post(url, json={"password": "wrong!"}), 423, "password_locked")
    assert body["attempts_left"] == 0
    assert "2025-03-15 09:30" in body["message"] and "锁定" in body["message"]
    # locked: even the right password is refused
    assert_error(cl.post(url, json={"password": unit.initial_password}), 423, "password_locked")
    clock.now += dt.timedelta(minutes=31)
    assert cl.post(url, json={"password": unit.initial_password}).status_code == 201
    body = assert_error(cl.post(url, json={"password": "wrong!"}), 401)
    assert body["attempts_left"] == 4  # a success resets the counter


def test_token_errors(env: Any, clock: Clock) -> None:
    cl, creds, _ = env
    unit = creds[0]
    assert_error(cl.get(f"/v1/units/{unit.unit_id}"), 401, "token_missing")
    assert_error(cl.get(f"/v1/units/{unit.unit_id}", headers={"Authorization": "Bearer nope"}), 401, "token_invalid")
    auth = full_login(cl, unit)
    assert_error(cl.get(f"/v1/units/{creds[3].unit_id}", headers=auth), 403, "unit_forbidden")
    clock.now += dt.timedelta(hours=3)
    assert_error(cl.get(f"/v1/units/{unit.unit_id}", headers=auth), 401, "token_expired")


def test_idempotent_replay_conflict_and_lookup(env: Any) -> None:
    cl, creds, db = env
    unit = creds[0]
    auth = login(cl, unit)
    url = f"/v1/units/{unit.unit_id}/password"
    body = {"old_password": unit.initial_password, "new_password": "first2025"}
    assert_error(cl.put(url, headers=auth, json=body), 400, "idempotency_key_required")
    first = cl.put(url, headers={**auth, "Idempotency-Key": "k-1"}, json=body)
    again = cl.put(url, headers={**auth, "Idempotency-Key": "k-1"}, json=body)
    assert (first.status_code, first.get_data()) == (again.status_code, again.get_data())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_error(
        cl.put(url, headers={**auth, "Idempotency-Key": "k-1"}, json={**body, "new_password": "other2025"}),
        409, "idempotency_conflict",
    )
    # a rejected write is replayed as rejected, too
    bad = {"old_password": "first2025", "new_password": "x"}
    r1 = cl.put(url, headers={**auth, "Idempotency-Key": "k-2"}, json=bad)
    r2 = cl.put(url, headers={**auth, "Idempotency-Key": "k-2"}, json=bad)
    assert r1.status_code == r2.status_code == 400 and r1.get_data() == r2.get_data()
    out = cl.get("/v1/idempotency/k-1", headers=auth).get_json()
    assert out["status"] == 200 and out["response"] == first.get_json() and out["method"] == "PUT"
    assert_error(cl.get("/v1/idempotency/never-sent", headers=auth), 404, "idempotency_key_not_found")
    import sqlite3

    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM change_log WHERE op = 'password_changed'").fetchone()[0] == 1


def test_generic_errors_have_the_one_shape(env: Any) -> None:
    cl, creds, _ = env
    assert_error(cl.get("/v1/nothing-here"), 404, "not_found")
    assert_error(cl.delete("/v1/notices?region=110000"), 405, "method_not_allowed")
    assert_error(cl.post(f"/v1/units/{creds[0].unit_id}/session", data=b"{oops",
                         content_type="application/json"), 400, "bad_json")
    assert_error(cl.post(f"/v1/units/{creds[0].unit_id}/session", json={}), 400, "password_required")
    assert_error(cl.post("/v1/units/U999999/session", json={"password": "x"}), 404, "unit_not_found")
    assert_error(cl.get("/v1/notices?region=abc"), 400, "bad_region")
    assert_error(cl.get("/v1/rule-packs/310000"), 404, "rule_pack_not_found")
    assert_error(cl.get("/v1/rule-packs/110000?version=1999"), 404, "rule_pack_version_not_found")
    auth = full_login(cl, creds[0])
    base = f"/v1/units/{creds[0].unit_id}/enrollment"
    assert_error(cl.get(base + "?limit=5001", headers=auth), 400, "bad_limit")
    assert_error(cl.get(base + "?limit=0", headers=auth), 400, "bad_limit")
    assert_error(cl.get(base + "?cursor=garbage!", headers=auth), 400, "bad_cursor")
    other = full_login(cl, creds[3])
    foreign = cl.get(f"/v1/units/{creds[3].unit_id}/enrollment?limit=1", headers=other).get_json()
    assert_error(cl.get(base + "?cursor=" + foreign["next_cursor"], headers=auth), 400, "bad_cursor")
    assert_error(cl.post("/sim/faults", json={"kind": "nonsense"}), 400, "bad_fault")


def test_rule_packs_notices_release(env: Any) -> None:
    cl, _, _ = env
    packs = cl.get("/v1/rule-packs").get_json()["items"]
    assert packs == [{"region": "110000", "version": "2025.07.1", "sha256": packs[0]["sha256"]}]
    pack = cl.get("/v1/rule-packs/110000?version=2025.07.1").get_json()
    assert pack["content"].startswith('region = "110000"')
    notices = cl.get("/v1/notices?region=310000").get_json()
    titles = [n["title"] for n in notices["items"]]
    assert any("上海" in t for t in titles) and not any("北京" in t for t in titles)
    assert not any("已过期" in t for t in titles)
    assert all(n["published_on"] <= notices["today"] <= n["valid_until"] for n in notices["items"])
    cl.post("/sim/notices", json={"title": "测试公告", "body": "内容", "popup": True, "importance": "重要"})
    assert "测试公告" in [n["title"] for n in cl.get("/v1/notices?region=140000").get_json()["items"]]
    cl.post("/sim/advance-month")
    cl.post("/sim/advance-month")
    assert "测试公告" not in [n["title"] for n in cl.get("/v1/notices?region=140000").get_json()["items"]]
    page = cl.get("/v1/notices?region=110000&limit=1").get_json()
    assert len(page["items"]) == 1
    rel = cl.get("/v1/client/latest").get_json()
    assert rel["version"] == "0.1.0"
    import base64

    cl.put("/sim/client-release", json={"version": "0.2.0", "notes": "修复",
                                         "content_base64": base64.b64encode(b"pkg").decode()})
    rel = cl.get("/v1/client/latest").get_json()
    assert rel["version"] == "0.2.0"
    import hashlib

    assert rel["sha256"] == hashlib.sha256(b"pkg").hexdigest()
    assert cl.get("/v1/client/download/0.2.0").data == b"pkg"


def _drain(cl: FlaskClient, url: str, auth: dict[str, str], cursor: str | None, limit: int,
           between: Any = None) -> tuple[list[dict[str, Any]], str, list[str]]:
    items: list[dict[str, Any]] = []
    modes = []
    while True:
        q = f"{url}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = cl.get(q, headers=auth).get_json()
        items.extend(page["items"])
        modes.append(page["mode"])
        cursor = page["next_cursor"]
        if between:
            between()
        if not page["has_more"]:
            return items, cursor, modes


def test_enrollment_feed_full_then_incremental_under_changes(env: Any) -> None:
    cl, creds, _ = env
    unit = max(creds, key=lambda c: c.employees)
    auth = full_login(cl, unit)
    url = f"/v1/units/{unit.unit_id}/enrollment"
    first = cl.get(url + "?limit=7", headers=auth).get_json()
    assert first["total"] == unit.employees
    # changes land while the full update pages through
    calls = iter(range(1000))

    def churn() -> None:
        n = next(calls)
        if n % 3 == 0:
            cl.post(f"/sim/units/{unit.unit_id}/hires", json={"count": 2})
        elif n % 3 == 1:
            cl.post(f"/sim/units/{unit.unit_id}/base-changes", json={"count": 3, "ratio": "1.10"})
        else:
            cl.post(f"/sim/units/{unit.unit_id}/removals", json={"count": 1})
            cl.post(f"/sim/units/{unit.unit_id}/leavers", json={"count": 1})

    items, cursor, modes = _drain(cl, url, auth, None, 7, churn)
    assert set(modes) == {"full"}
    ids = [e["employee_id"] for e in items]
    assert len(ids) == len(set(ids)), "no duplicates inside the full update"
    assert ids == sorted(ids)
    local = {e["employee_id"]: e for e in items}
    inc, cursor, modes = _drain(cl, url, auth, cursor, 5, churn)
    assert set(modes) == {"incremental"}
    inc2, cursor, _ = _drain(cl, url, auth, cursor, 5)  # catch the last churn
    for e in inc + inc2:
        if e["deleted"]:
            local.pop(e["employee_id"], None)
        else:
            local[e["employee_id"]] = e
    # the replica equals the tax side's current state: no gaps
    truth, _, _ = _drain(cl, url, auth, None, 5000)
    assert local == {e["employee_id"]: e for e in truth}
    assert any(e["deleted"] for e in inc + inc2), "removals arrive as tombstones"
    # nothing new: an empty page keeps the cursor
    page = cl.get(f"{url}?cursor={cursor}", headers=auth).get_json()
    assert page == {"mode": "incremental", "items": [], "next_cursor": cursor, "has_more": False}


def test_sim_is_404_without_simulation(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    generate(db, units=1, employees=1, seed=1)
    cl = create_app(db).test_client()
    assert_error(cl.get("/sim/units"), 404, "not_found")
    assert_error(cl.post("/sim/faults", json={"kind": "error"}), 404, "not_found")
