"""Payroll-base declarations (manual 3.1.5) on the reference tax side."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from taxside.app import create_app
from taxside.db import Store
from taxside.generate import UnitCredentials, generate
from taxside.server import start
from tests.taxside_fixtures import LiveTaxSide

CHINESE = re.compile(r"[\u4e00-\u9fff]")
PASSWORD = "secret2025"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2025, 3, 15, 9, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now


class Env:
    def __init__(self, cl: FlaskClient, creds: list[UnitCredentials], db: Path, clock: Clock) -> None:
        self.cl, self.creds, self.db, self.clock = cl, creds, db, clock
        self.auth: dict[str, dict[str, str]] = {}
        self.keys = 0

    def con(self) -> sqlite3.Connection:
        return sqlite3.connect(self.db)

    def login(self, unit: UnitCredentials) -> dict[str, str]:
        if unit.unit_id not in self.auth:
            resp = self.cl.post(f"/v1/units/{unit.unit_id}/session", json={"password": unit.initial_password})
            auth = {"Authorization": "Bearer " + resp.get_json()["token"]}
            resp = self.cl.put(
                f"/v1/units/{unit.unit_id}/password", headers={**auth, "Idempotency-Key": f"pw-{unit.unit_id}"},
                json={"old_password": unit.initial_password, "new_password": PASSWORD},
            )
            assert resp.status_code == 200, resp.get_json()
            self.auth[unit.unit_id] = auth
        return self.auth[unit.unit_id]

    def submit(self, unit: UnitCredentials, body: Any, key: str | None = None) -> Any:
        self.keys += 1
        headers = {**self.login(unit), "Idempotency-Key": key or f"wb-{self.keys}"}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.cl.post(f"/v1/units/{unit.unit_id}/wage-base-declarations", headers=headers,
                            data=data, content_type="application/json")

    def get(self, unit: UnitCredentials, declaration_id: str) -> Any:
        return self.cl.get(f"/v1/units/{unit.unit_id}/wage-base-declarations/{declaration_id}",
                           headers=self.login(unit))

    def decided(self, unit: UnitCredentials, declaration_id: str) -> dict[str, Any]:
        self.clock.now += dt.timedelta(seconds=3)
        body = self.get(unit, declaration_id).get_json()
        assert body["status"] != "processing"
        return body

    def employees(self, unit: UnitCredentials, where: str = "") -> list[dict[str, Any]]:
        con = self.con()
        rows = con.execute(
            "SELECT e.id, e.id_type, e.id_number, e.name, e.status, e.bases, e.seq FROM employee e"
            f" JOIN unit u ON u.id = e.unit_pk WHERE u.unit_id = ? AND e.deleted = 0 {where} ORDER BY e.id",
            (unit.unit_id,),
        ).fetchall()
        con.close()
        return [
            {"employee_id": f"E{r[0]:09d}", "id_type": r[1], "id_number": r[2], "name": r[3],
             "status": r[4], "bases": json.loads(r[5]), "seq": r[6]}
            for r in rows
        ]


def row(emp: dict[str, Any], base: str | None = "9000.00", month: str | None = "202503", **extra: Any) -> dict[str, Any]:
    return {"employee_id": emp["employee_id"], "id_type": emp["id_type"], "id_number": emp["id_number"],
            "name": emp["name"], "base": base, "bases": None, "effective_month": month, **extra}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    db = tmp_path / "t.db"
    creds = generate(db, units=6, employees=600, seed=11)
    clock = Clock()
    app = create_app(Store(db, now=clock), simulation=True)
    yield Env(app.test_client(), creds, db, clock)


def by_region(env: Env, region: str, government: bool = False) -> UnitCredentials:
    con = env.con()
    ids = {r[0] for r in con.execute(
        "SELECT unit_id FROM unit WHERE region = ? AND is_government = ?",
        (region, int(government)),
    )}
    con.close()
    return max((c for c in env.creds if c.unit_id in ids), key=lambda c: c.employees)


def assert_error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == code and CHINESE.search(body["message"])
    return body


def test_session_answer_has_the_business_date(env: Env) -> None:
    unit = env.creds[0]
    resp = env.cl.post(f"/v1/units/{unit.unit_id}/session", json={"password": unit.initial_password})
    assert resp.get_json()["today"] == "2025-03-15"


def test_daily_accepted_after_the_delay_and_fed_back(env: Env) -> None:
    unit = by_region(env, "110000")
    auth = env.login(unit)
    feed = f"/v1/units/{unit.unit_id}/enrollment"
    cursor = env.cl.get(f"{feed}?limit=5000", headers=auth).get_json()["next_cursor"]
    emps = env.employees(unit, "AND e.status = '正常缴费'")[:3]
    resp = env.submit(unit, {"kind": "daily", "rows": [row(e) for e in emps]})
    assert resp.status_code == 202
    receipt = resp.get_json()
    assert receipt == {"declaration_id": receipt["declaration_id"], "kind": "daily", "status": "processing",
                       "received_at": "2025-03-15T09:00:00", "row_count": 3, "effective_month": None}
    assert re.fullmatch(r"WB\d{8}", receipt["declaration_id"])
    first = env.get(unit, receipt["declaration_id"]).get_json()
    assert first["status"] == "processing" and first["decided_at"] is None and first["rejections"] == []
    env.clock.now += dt.timedelta(seconds=2)
    assert env.get(unit, receipt["declaration_id"]).get_json()["status"] == "processing"
    env.clock.now += dt.timedelta(seconds=1)
    page = env.cl.get(f"{feed}?cursor={cursor}", headers=auth).get_json()  # the feed decides, too
    assert {e["employee_id"] for e in page["items"]} == {e["employee_id"] for e in emps}
    for item in page["items"]:
        assert set(item["bases"].values()) == {"9000.00"}
        assert item["updated_at"] == "2025-03-15T09:00:03"
    done = env.get(unit, receipt["declaration_id"]).get_json()
    assert done["status"] == "accepted" and done["decided_at"] == "2025-03-15T09:00:03"
    assert done["rejections"] == [] and done["row_count"] == 3
    con = env.con()
    assert con.execute("SELECT COUNT(*) FROM change_log WHERE op = 'wage_base'").fetchone()[0] == 1


def test_rejected_lists_every_failing_row_and_applies_nothing(env: Env) -> None:
    unit = by_region(env, "110000")
    normal = env.employees(unit, "AND e.status = '正常缴费'")
    stopped = env.employees(unit, "AND e.status = '停止缴费'")
    other = env.employees(by_region(env, "310000"))[0]
    assert stopped, "the demo data has employees who stopped paying"
    before = {e["employee_id"]: e["bases"] for e in env.employees(unit)}
    rows = [
        row(normal[0]),  # 1: fine on its own
        row(other),  # 2: another unit's employee
        {**row(normal[1]), "name": "某某某"},  # 3
        row(stopped[0]),  # 4
        row(normal[0]),  # 5: duplicate of row 1
        row(normal[2], month="202601"),  # 6
        row(normal[3], base="5000"),  # 7: below the floor
        row(normal[4], base="八千"),  # 8
        row(normal[5], month=None),  # 9
        {"employee_id": None, "id_type": "201", "id_number": normal[6]["id_number"].lower(),
         "name": normal[6]["name"], "base": "8,000.50", "effective_month": "2025-04"},  # 10: fine, by ID
        row(normal[7], base="50000"),  # 11: above the cap
        row(normal[8], base=None),  # 12
    ]
    resp = env.submit(unit, {"kind": "daily", "rows": rows})
    body = env.decided(unit, resp.get_json()["declaration_id"])
    assert body["status"] == "rejected"
    got = {(r["row"], r["field"]): r["message"] for r in body["rejections"]}
    assert got == {
        (2, "employee"): "该职工不在本单位参保",
        (3, "name"): "姓名与证件号码不符",
        (4, "employee"): "该职工已停止缴费",
        (5, "employee"): "同一职工在本次申报中重复（已在第1行申报）",
        (6, "effective_month"): "生效年月 202601 超出允许范围（202407-202504）",
        (7, "base"): "新缴费工资 5,000.00 低于 2024年07月-2025年06月 缴费基数下限 6,821.00",
        (8, "base"): got[(8, "base")],
        (9, "effective_month"): "请填写生效年月",
        (11, "base"): "新缴费工资 50,000.00 高于 2024年07月-2025年06月 缴费基数上限 35,283.00",
        (12, "base"): "请填写新缴费工资",
    }
    assert "不是有效的金额" in got[(8, "base")]
    two = next(r for r in body["rejections"] if r["row"] == 2)
    assert (two["employee_id"], two["id_number"], two["name"]) == (other["employee_id"], other["id_number"], other["name"])
    assert {e["employee_id"]: e["bases"] for e in env.employees(unit)} == before


def test_shape_errors_are_400(env: Env) -> None:
    unit = env.creds[0]
    assert_error(env.submit(unit, b"{oops"), 400, "bad_json")
    assert_error(env.submit(unit, [1, 2]), 400, "bad_request")
    assert_error(env.submit(unit, {"kind": "weekly", "rows": [{}]}), 400, "bad_request")
    assert_error(env.submit(unit, {"kind": ["daily"], "rows": [{}]}), 400, "bad_request")
    assert_error(env.submit(unit, {"kind": "daily", "rows": []}), 400, "bad_request")
    assert_error(env.submit(unit, {"kind": "daily", "rows": {"a": 1}}), 400, "bad_request")
    body = assert_error(env.submit(unit, {"kind": "daily", "rows": [{}, "x"]}), 400, "bad_request")
    assert "第2行" in body["message"]
    body = assert_error(env.submit(unit, {"kind": "daily", "rows": [{}] * 200_001}), 400, "bad_request")
    assert "200000" in body["message"]
    resp = env.cl.post(f"/v1/units/{unit.unit_id}/wage-base-declarations", headers=env.login(unit),
                       json={"kind": "daily", "rows": [{}]})
    assert_error(resp, 400, "idempotency_key_required")
    assert env.con().execute("SELECT COUNT(*) FROM wage_base_declaration").fetchone()[0] == 0


def test_annual_window_and_effective_month(env: Env) -> None:
    unit = by_region(env, "310000")
    emps = env.employees(unit, "AND e.status = '正常缴费'")
    rows = [row(emps[0], month=None), row(emps[1], base="8000", month="202507")]
    body = assert_error(env.submit(unit, {"kind": "annual", "rows": rows}), 422, "annual_window_closed")
    assert body["message"] == "年度缴费工资申报开放时间为7月1日至9月30日，当前不在开放时间内"
    assert env.cl.put("/sim/settings", json={"today": "2025-07-15"}).get_json()["today"] == "2025-07-15"
    resp = env.submit(unit, {"kind": "annual", "rows": rows})
    assert resp.status_code == 202 and resp.get_json()["effective_month"] == "202507"
    done = env.decided(unit, resp.get_json()["declaration_id"])
    assert done["status"] == "accepted" and done["effective_month"] == "202507", done
    assert set(env.employees(unit, f"AND e.id = {int(emps[1]['employee_id'][1:])}")[0]["bases"].values()) == {"8000.00"}
    # 2025-07 .. 2026-06 in Shanghai: floor 7460; a wrong month is named
    bad = env.submit(unit, {"kind": "annual", "rows": [row(emps[2], base="7400", month="202508")]})
    done = env.decided(unit, bad.get_json()["declaration_id"])
    assert {(r["field"], r["message"]) for r in done["rejections"]} == {
        ("effective_month", "年度缴费工资申报的生效年月应为 202507"),
        ("base", "新缴费工资 7,400.00 低于 2025年07月-2026年06月 缴费基数下限 7,460.00"),
    }


def test_per_item_bases_only_for_government_units_where_allowed(env: Env) -> None:
    company = by_region(env, "140000")
    emp = env.employees(company, "AND e.status = '正常缴费'")[0]
    per_item = {**row(emp, base=None), "bases": {"pension": "9000.00"}}
    assert_error(env.submit(company, {"kind": "daily", "rows": [per_item]}), 422, "per_item_not_allowed")
    beijing = by_region(env, "110000")
    emp_bj = env.employees(beijing, "AND e.status = '正常缴费'")[0]
    body = assert_error(env.submit(beijing, {"kind": "daily", "rows": [{**row(emp_bj, base=None),
                        "bases": {"pension": "9000.00"}}]}), 422, "per_item_not_allowed")
    assert "北京市" in body["message"]
    gov = by_region(env, "140000", government=True)
    emps = env.employees(gov, "AND e.status = '正常缴费'")
    rows = [{**row(emps[0], base=None), "bases": {"pension": "9000.00", "unemployment": "9,500"}}]
    resp = env.submit(gov, {"kind": "daily", "rows": rows})
    assert env.decided(gov, resp.get_json()["declaration_id"])["status"] == "accepted"
    after = env.employees(gov, f"AND e.id = {int(emps[0]['employee_id'][1:])}")[0]["bases"]
    assert after == {**emps[0]["bases"], "pension": "9000.00", "unemployment": "9500.00"}
    bad = [{**row(emps[1], base=None), "bases": {"pension": "100", "annuity": "9000"}},
           {**row(emps[2]), "bases": {"pension": "9000"}}]
    done = env.decided(gov, env.submit(gov, {"kind": "daily", "rows": bad}).get_json()["declaration_id"])
    assert {(r["row"], r["field"]) for r in done["rejections"]} == {
        (1, "bases.pension"), (1, "bases.annuity"), (2, "base")}
    assert next(r["message"] for r in done["rejections"] if r["field"] == "bases.pension").startswith("基本养老保险：")


def test_replay_unknown_and_foreign_declarations(env: Env) -> None:
    unit = by_region(env, "110000")
    emp = env.employees(unit, "AND e.status = '正常缴费'")[0]
    body = {"kind": "daily", "rows": [row(emp)]}
    first = env.submit(unit, body, key="same")
    again = env.submit(unit, body, key="same")
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert_error(env.submit(unit, {**body, "kind": "annual"}, key="same"), 409, "idempotency_conflict")
    assert env.con().execute("SELECT COUNT(*) FROM wage_base_declaration").fetchone()[0] == 1
    declaration = first.get_json()["declaration_id"]
    other = env.creds[3]
    assert_error(env.get(other, declaration), 404, "declaration_not_found")
    assert_error(env.get(unit, "WB99999999"), 404, "declaration_not_found")
    assert_error(env.get(unit, "garbage"), 404, "declaration_not_found")


def test_sim_settings_and_sim_calls_decide(env: Env) -> None:
    settings = env.cl.get("/sim/settings").get_json()  # payment adds its delays
    assert {k: settings[k] for k in ("decision_delay_seconds", "today")} == {
        "decision_delay_seconds": 3.0, "today": "2025-03-15"}
    assert_error(env.cl.put("/sim/settings", json={"decision_delay_seconds": -1}), 400, "bad_settings")
    assert_error(env.cl.put("/sim/settings", json={"decision_delay_seconds": True}), 400, "bad_settings")
    assert_error(env.cl.put("/sim/settings", json={"today": "2025-02-30"}), 400, "bad_settings")
    unit = by_region(env, "110000")
    emp = env.employees(unit, "AND e.status = '正常缴费'")[0]
    declaration = env.submit(unit, {"kind": "daily", "rows": [row(emp)]}).get_json()["declaration_id"]
    env.clock.now += dt.timedelta(seconds=5)
    env.cl.get("/sim/units")  # any /sim call decides what is due
    con = env.con()
    assert con.execute("SELECT status FROM wage_base_declaration").fetchone()[0] == "accepted"
    assert env.get(unit, declaration).get_json()["status"] == "accepted"
    # delay 0: decided at the next point after receipt
    assert env.cl.put("/sim/settings", json={"decision_delay_seconds": 0}).get_json()["decision_delay_seconds"] == 0
    emp2 = env.employees(unit, "AND e.status = '正常缴费'")[1]
    second = env.submit(unit, {"kind": "daily", "rows": [row(emp2)]}).get_json()["declaration_id"]
    assert env.get(unit, second).get_json()["status"] == "accepted"


def _http_login(http: httpx.Client, ts: LiveTaxSide, unit: UnitCredentials) -> dict[str, str]:
    token = http.post(f"{ts.url}/v1/units/{unit.unit_id}/session",
                      json={"password": unit.initial_password}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    http.put(f"{ts.url}/v1/units/{unit.unit_id}/password", headers={**auth, "Idempotency-Key": "pw"},
             json={"old_password": unit.initial_password, "new_password": PASSWORD})
    return auth


def test_faults_on_the_declaration_post(taxside: LiveTaxSide) -> None:
    unit = taxside.unit(2)
    con = sqlite3.connect(taxside.db_path)
    emp_id, id_type, id_number, name = con.execute(
        "SELECT e.id, e.id_type, e.id_number, e.name FROM employee e JOIN unit u ON u.id = e.unit_pk"
        " WHERE u.unit_id = ? ORDER BY e.id LIMIT 1", (unit.unit_id,)).fetchone()
    body = {"kind": "daily", "rows": [{"employee_id": f"E{emp_id:09d}", "id_type": id_type,
                                       "id_number": id_number, "name": name, "base": "8000",
                                       "effective_month": "202503"}]}
    path = f"/v1/units/{unit.unit_id}/wage-base-declarations"
    count = "SELECT COUNT(*) FROM wage_base_declaration"
    with httpx.Client(timeout=30, trust_env=False) as http:
        auth = _http_login(http, taxside, unit)

        def submit(key: str) -> httpx.Response:
            return http.post(f"{taxside.url}{path}", headers={**auth, "Idempotency-Key": key}, json=body)

        taxside.fault(path, "error", status=503, count=1)
        assert submit("k-err").status_code == 503
        assert con.execute(count).fetchone()[0] == 0  # an error fault processes nothing
        taxside.fault(path, "drop_after_commit", count=1)
        with pytest.raises(httpx.RemoteProtocolError):
            submit("k-drop")
        assert con.execute(count).fetchone()[0] == 1
        assert con.execute("SELECT status FROM idempotency WHERE key = 'k-drop'").fetchone()[0] == 202
        again = submit("k-drop")
        assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
        taxside.fault(path, "malformed_json", count=1)
        with pytest.raises(ValueError):
            submit("k-bad").json()
        assert con.execute(count).fetchone()[0] == 2
        taxside.fault(path, "timeout", hold_s=1, count=1)
        with pytest.raises(httpx.ReadTimeout):
            http.post(f"{taxside.url}{path}", headers={**auth, "Idempotency-Key": "k-late"}, json=body,
                      timeout=0.3)
        assert con.execute(count).fetchone()[0] == 2  # a time-out fault processes nothing


def test_serve_decision_delay_option(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    generate(db, units=1, employees=1, seed=1)
    with start(db, simulation=True, decision_delay=0) as running:
        settings = httpx.get(f"{running.url}/sim/settings", trust_env=False).json()
    assert settings["decision_delay_seconds"] == 0


def test_fifty_thousand_rows_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    creds = generate(db, units=1, employees=50_000, seed=4)
    con = sqlite3.connect(db)
    rows = [
        {"employee_id": f"E{r[0]:09d}", "id_type": r[1], "id_number": r[2], "name": r[3],
         "base": "9000.00", "bases": None, "effective_month": "202503"}
        for r in con.execute("SELECT id, id_type, id_number, name FROM employee WHERE status = '正常缴费'")
    ]
    assert len(rows) > 45_000
    with start(db, simulation=True, decision_delay=0) as running, \
            httpx.Client(base_url=running.url, timeout=60, trust_env=False) as http:
        unit = creds[0]
        token = http.post(f"/v1/units/{unit.unit_id}/session", json={"password": unit.initial_password}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        http.put(f"/v1/units/{unit.unit_id}/password", headers={**auth, "Idempotency-Key": "pw"},
                 json={"old_password": unit.initial_password, "new_password": PASSWORD})
        started = time.perf_counter()
        resp = http.post(f"/v1/units/{unit.unit_id}/wage-base-declarations",
                         headers={**auth, "Idempotency-Key": "big"}, json={"kind": "daily", "rows": rows})
        submitted = time.perf_counter() - started
        assert resp.status_code == 202, resp.text
        decision = http.get(f"/v1/units/{unit.unit_id}/wage-base-declarations/{resp.json()['declaration_id']}",
                            headers=auth).json()
        total = time.perf_counter() - started
    assert decision["status"] == "accepted" and decision["row_count"] == len(rows)
    print(f"50k rows: submit {submitted:.2f}s, with decision {total:.2f}s")
    assert total < 10  # a few seconds on a slow machine; the point is no row-by-row work
    changed = con.execute("SELECT COUNT(*) FROM employee WHERE bases LIKE '%9000.00%'").fetchone()[0]
    assert changed >= len(rows)


@pytest.mark.parametrize(("units", "seed"), [(3, 1), (6, 11), (10, 1)])
def test_generated_data_has_a_shanxi_government_unit(tmp_path: Path, units: int, seed: int) -> None:
    db = tmp_path / "g.db"
    generate(db, units=units, employees=100, seed=seed)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT taxpayer_id, registration_type, collection_mode FROM unit"
                       " WHERE region = '140000' AND is_government = 1").fetchall()
    assert rows and all(t.startswith("11") and r == "机关单位" for t, r, _ in rows)
    assert any(m == "税务自主征收" for _, _, m in rows)
