"""Fee declarations (manual 3.1.6) on the reference tax side: summaries, details,
declarations, records, voids. A fixed clock makes the decision delay deterministic."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from rules.engine import calculate
from rules.packs import load_pack
from taxside.app import create_app
from taxside.db import Store
from taxside.generate import UnitCredentials, generate

CHINESE = re.compile(r"[\u4e00-\u9fff]")
MONEY = re.compile(r"^\d+\.\d{2}$")
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

    def unit(self, unit_id: str) -> UnitCredentials:
        return next(c for c in self.creds if c.unit_id == unit_id)

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

    def get(self, unit: UnitCredentials, path: str) -> Any:
        return self.cl.get(f"/v1/units/{unit.unit_id}{path}", headers=self.login(unit))

    def post(self, unit: UnitCredentials, path: str, body: Any, key: str | None = None) -> Any:
        self.keys += 1
        headers = {**self.login(unit), "Idempotency-Key": key or f"k-{self.keys}"}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.cl.post(f"/v1/units/{unit.unit_id}{path}", headers=headers, data=data,
                            content_type="application/json")

    def summaries(self, unit: UnitCredentials, query: str = "") -> list[dict[str, Any]]:
        resp = self.get(unit, f"/fee-summaries{query}")
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["items"]

    def declare(self, unit: UnitCredentials, items: list[dict[str, Any]], key: str | None = None) -> Any:
        refs = [{"summary_id": s["summary_id"], "version": s["version"]} for s in items]
        return self.post(unit, "/fee-declarations", {"summaries": refs}, key)

    def decided(self, unit: UnitCredentials, path: str) -> dict[str, Any]:
        self.clock.now += dt.timedelta(seconds=3)
        body = self.get(unit, path).get_json()
        assert body["status"] != "processing", body
        return body

    def details(self, unit: UnitCredentials, summary: dict[str, Any], limit: int = 7) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        url = f"/fee-summaries/{summary['summary_id']}/details?limit={limit}"
        page = self.get(unit, url).get_json()
        rows += page["items"]
        while page["has_more"]:
            page = self.get(unit, f"{url}&cursor={page['next_cursor']}").get_json()
            rows += page["items"]
        return rows

    def sim(self, path: str, body: Any = None) -> Any:
        return self.cl.post(f"/sim{path}", json=body or {})


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    db = tmp_path / "t.db"
    creds = generate(db, units=6, employees=300, seed=11)
    clock = Clock()
    app = create_app(Store(db, now=clock), simulation=True)
    yield Env(app.test_client(), creds, db, clock)


def assert_error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == code and CHINESE.search(body["message"]), body
    return body


def employees(env: Env, unit_id: str) -> dict[str, dict[str, Any]]:
    con = env.con()
    rows = con.execute(
        "SELECT e.id, e.name, e.id_number, e.status, e.bases FROM employee e JOIN unit u ON u.id = e.unit_pk"
        " WHERE u.unit_id = ? AND e.deleted = 0", (unit_id,),
    ).fetchall()
    con.close()
    return {f"E{r[0]:09d}": {"name": r[1], "id_number": r[2], "status": r[3], "bases": json.loads(r[4])}
            for r in rows}


def unit_row(env: Env, unit_id: str) -> tuple[Any, ...]:
    con = env.con()
    row = con.execute("SELECT id, region, industry_risk_class, collection_mode FROM unit WHERE unit_id = ?",
                      (unit_id,)).fetchone()
    con.close()
    return row


# -- summaries and details ---------------------------------------------------------------------
@pytest.mark.parametrize("unit_id", ["U000001", "U000003", "U000006"])
def test_summaries_are_the_engine_per_person(env: Env, unit_id: str) -> None:
    """U000001 is 税务代征, U000003 has three unit numbers, U000006 a government unit whose
    medical bases differ from the others."""
    unit = env.unit(unit_id)
    _pk, region, risk, _mode = unit_row(env, unit_id)
    pack = load_pack(region)
    emps = employees(env, unit_id)
    normal = {k for k, e in emps.items() if e["status"] == "正常缴费"}
    assert len(normal) < len(emps)  # some 停止缴费 employees exist and are left out
    items = env.summaries(unit)
    rules = pack.period_for("202503")
    expected = {(i.code, p) for i in rules.items for p in ("employer", "employee") if i.payer(p)}
    assert {(s["item"], s["part"]) for s in items} == expected
    con = env.con()
    numbers = {n: (json.loads(i), a) for n, i, a in con.execute(
        "SELECT number, items, agency FROM unit_number WHERE unit_pk = ?", (_pk,))}
    for s in items:
        assert s["kind"] == "daily" and s["period_from"] == s["period_to"] == "202503"
        assert s["state"] == "pending" and s["version"] == 1 and s["has_details"]
        assert s["part_name"] in ("单位缴纳部分", "个人缴纳部分") and s["item_name"] == rules.item(s["item"]).name
        assert MONEY.match(s["amount"]) and MONEY.match(s["base_total"])
        covers, agency = numbers[s["unit_number"]]
        assert agency == s["agency"] and (s["item"] in covers or len(numbers) == 1)
        rows = env.details(unit, s)
        assert {r["employee_id"] for r in rows} == normal and len(rows) == s["headcount"]
        assert [r["employee_id"] for r in rows] == sorted(r["employee_id"] for r in rows)
        for r in rows:
            fee = calculate(pack, "202503", Decimal(emps[r["employee_id"]]["bases"][s["item"]]),
                            risk_class=risk).item(s["item"])
            share = fee.employer if s["part"] == "employer" else fee.employee
            assert (r["base"], r["amount"], r["rate"]) == (str(fee.base.quantize(Decimal("0.01"))),
                                                           str(share.amount), str(share.rate))
            assert r["fixed"] == str(share.fixed.quantize(Decimal("0.01")))
            assert (r["name"], r["id_number"]) == (emps[r["employee_id"]]["name"], emps[r["employee_id"]]["id_number"])
        assert sum(Decimal(r["amount"]) for r in rows) == Decimal(s["amount"])
        assert sum(Decimal(r["base"]) for r in rows) == Decimal(s["base_total"])


def test_details_paged_by_offset_cursor_and_version(env: Env) -> None:
    unit = env.unit("U000003")
    s = env.summaries(unit)[0]
    url = f"/fee-summaries/{s['summary_id']}/details"
    by_cursor = env.details(unit, s, limit=10)
    by_offset: list[dict[str, Any]] = []
    for offset in range(0, s["headcount"], 25):
        page = env.get(unit, f"{url}?offset={offset}&limit=25").get_json()
        assert page["total"] == s["headcount"] and page["offset"] == offset
        by_offset += page["items"]
    assert by_offset == by_cursor and len(by_cursor) == s["headcount"]
    assert env.get(unit, f"{url}?limit=5000").get_json()["has_more"] is False
    assert_error(env.get(unit, f"{url}?limit=5001"), 400, "bad_limit")
    assert_error(env.get(unit, f"{url}?offset=-1"), 400, "bad_offset")
    assert_error(env.get(unit, f"{url}?offset=abc"), 400, "bad_offset")
    assert_error(env.get(unit, f"{url}?version=9"), 409, "summary_recomputed")
    assert_error(env.get(unit, f"{url}?cursor=xyz"), 400, "bad_cursor")
    assert_error(env.get(unit, "/fee-summaries/FS99999999/details"), 404, "summary_not_found")
    cursor = env.get(unit, f"{url}?limit=5").get_json()["next_cursor"]
    env.sim(f"/units/{unit.unit_id}/base-changes", {"count": 200, "ratio": "1.10"})
    body = assert_error(env.get(unit, f"{url}?cursor={cursor}"), 409, "summary_recomputed")
    assert body["version"] == 2
    other = env.summaries(unit)[1]
    foreign = env.get(unit, f"/fee-summaries/{other['summary_id']}/details?limit=1").get_json()
    assert_error(env.get(unit, f"{url}?cursor={foreign['next_cursor']}"), 400, "bad_cursor")


def test_recomputed_when_enrollment_changes(env: Env) -> None:
    unit = env.unit("U000004")
    before = {s["summary_id"]: s for s in env.summaries(unit)}
    assert env.summaries(unit) == list(before.values())  # nothing changed: same answer
    env.sim(f"/units/{unit.unit_id}/base-changes", {"count": 26, "ratio": "1"})  # same bases, new seq
    same = {s["summary_id"]: s for s in env.summaries(unit)}
    assert {k: v["version"] for k, v in same.items()} == {k: 1 for k in before}
    env.clock.now += dt.timedelta(minutes=1)
    env.sim(f"/units/{unit.unit_id}/leavers", {"count": 2})
    after = {s["summary_id"]: s for s in env.summaries(unit)}
    assert after.keys() == before.keys()
    for sid, s in after.items():
        assert s["version"] == 2 and s["headcount"] == before[sid]["headcount"] - 2
        assert s["computed_at"] == "2025-03-15T09:01:00"
        assert Decimal(s["amount"]) < Decimal(before[sid]["amount"])
    stale = env.declare(unit, list(before.values()))
    decision = env.decided(unit, f"/fee-declarations/{stale.get_json()['declaration_id']}")
    assert decision["status"] == "rejected" and decision["arrears"] == []
    assert {r["code"] for r in decision["rejections"]} == {"summary_stale"}
    assert decision["rejections"][0]["message"] == "汇总已重新计算，请刷新后重新申报"
    assert all(s["state"] == "pending" for s in env.summaries(unit))


def test_declared_after_the_delay_into_arrears(env: Env) -> None:
    unit = env.unit("U000002")
    items = env.summaries(unit)
    resp = env.declare(unit, items, key="fd-1")
    assert resp.status_code == 202
    receipt = resp.get_json()
    assert receipt["status"] == "processing" and receipt["channel"] == "本客户端"
    assert receipt["summary_count"] == len(items)
    path = f"/fee-declarations/{receipt['declaration_id']}"
    pending = env.get(unit, path).get_json()
    assert pending["status"] == "processing" and pending["total_amount"] is None
    assert pending["summaries"][0] == {"summary_id": items[0]["summary_id"], "version": 1}
    again = env.declare(unit, items, key="fd-1")
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == receipt
    assert_error(env.declare(unit, items[:1], key="fd-1"), 409, "idempotency_conflict")
    outcome = env.cl.get("/v1/idempotency/fd-1", headers=env.login(unit)).get_json()
    assert outcome["status"] == 202 and outcome["response"] == receipt
    body = env.decided(unit, path)
    assert body["status"] == "accepted" and body["declared_on"] == "2025-03-15"
    assert body["total_amount"] == str(sum(Decimal(s["amount"]) for s in items))
    assert [s["amount"] for s in body["summaries"]] == [s["amount"] for s in items]
    assert [(a["summary_id"], a["amount"], a["deadline"], a["state"]) for a in body["arrears"]] == [
        (s["summary_id"], s["amount"], "2025-03-31", "unpaid") for s in items
    ]
    assert env.summaries(unit) == []  # nothing left to declare
    declared = env.summaries(unit, "?state=declared")
    assert {s["declaration_id"] for s in declared} == {receipt["declaration_id"]}
    con = env.con()
    assert con.execute("SELECT COUNT(*), SUM(amount) FROM arrear WHERE state = 'unpaid'").fetchone()[0] == len(items)
    again = env.decided(unit, path)
    assert again == body  # decided once
    twice = env.declare(unit, items)
    rejected = env.decided(unit, f"/fee-declarations/{twice.get_json()['declaration_id']}")
    assert [r["code"] for r in rejected["rejections"]] == ["summary_declared"] * len(items)
    assert receipt["declaration_id"] in rejected["rejections"][0]["message"]


def test_rejected_as_a_whole_with_a_reason_per_summary(env: Env) -> None:
    unit = env.unit("U000004")
    items = env.summaries(unit)
    other = env.summaries(env.unit("U000002"))[0]
    refs = [{"summary_id": items[0]["summary_id"], "version": 1},
            {"summary_id": "FS99999999", "version": 1},
            {"summary_id": other["summary_id"], "version": 1},
            {"summary_id": items[1]["summary_id"], "version": 5}]
    resp = env.post(unit, "/fee-declarations", {"summaries": refs})
    body = env.decided(unit, f"/fee-declarations/{resp.get_json()['declaration_id']}")
    assert body["status"] == "rejected"
    assert [(r["summary_id"], r["code"]) for r in body["rejections"]] == [
        ("FS99999999", "summary_not_found"), (other["summary_id"], "summary_not_found"),
        (items[1]["summary_id"], "summary_stale"),
    ]
    assert all(CHINESE.search(r["message"]) for r in body["rejections"])
    assert len(env.summaries(unit)) == len(items)  # nothing declared


def test_request_shape_errors(env: Env) -> None:
    unit = env.unit("U000004")
    s = env.summaries(unit)[0]
    ref = {"summary_id": s["summary_id"], "version": 1}
    assert_error(env.post(unit, "/fee-declarations", b"{nope"), 400, "bad_json")
    for body in ({}, {"summaries": []}, {"summaries": [ref, ref]}, {"summaries": [{"summary_id": "x"}]},
                 {"summaries": [{"summary_id": "x", "version": True}]}, {"summaries": [ref] * 1001}, [1]):
        assert_error(env.post(unit, "/fee-declarations", body), 400, "bad_request")
    dup = env.post(unit, "/fee-declarations", {"summaries": [ref, ref]}).get_json()
    assert dup["message"] == f"同一预处理汇总在本次申报中重复：{s['summary_id']}"
    resp = env.cl.post(f"/v1/units/{unit.unit_id}/fee-declarations", json={"summaries": [ref]},
                       headers=env.login(unit))
    assert_error(resp, 400, "idempotency_key_required")
    assert_error(env.cl.get(f"/v1/units/{unit.unit_id}/fee-summaries"), 401, "token_missing")
    assert_error(env.cl.get("/v1/units/U000002/fee-summaries", headers=env.login(unit)), 403, "unit_forbidden")
    assert_error(env.get(unit, "/fee-declarations/FD99999999"), 404, "fee_declaration_not_found")
    assert_error(env.get(unit, "/fee-declaration-voids/FV1"), 404, "void_not_found")
    assert_error(env.get(unit, "/fee-summaries/FS00000001"), 404, "summary_not_found")  # U000001's
    assert env.get(unit, f"/fee-summaries/{s['summary_id']}").get_json() == s


def test_filters(env: Env) -> None:
    unit = env.unit("U000003")
    items = env.summaries(unit)
    numbers = {s["unit_number"] for s in items}
    assert len(numbers) == 3
    for number in numbers:
        assert {s["unit_number"] for s in env.summaries(unit, f"?unit_number={number}")} == {number}
    agency = items[0]["agency"]
    assert all(s["agency"] == agency for s in env.summaries(unit, f"?agency={agency}"))
    assert env.summaries(unit, "?period=202503") == items and env.summaries(unit, "?period=202502") == []
    assert env.summaries(unit, "?kind=special") == []
    assert env.summaries(unit, "?state=all") == items
    paged = env.get(unit, "/fee-summaries?limit=2").get_json()
    assert paged["has_more"] and paged["items"] == items[:2] and paged["current_period"] == "202503"
    nxt = env.get(unit, f"/fee-summaries?limit=2&cursor={paged['next_cursor']}").get_json()
    assert nxt["items"] == items[2:4]
    assert_error(env.get(unit, "/fee-summaries?kind=x"), 400, "bad_request")
    assert_error(env.get(unit, "/fee-summaries?state=x"), 400, "bad_request")
    assert_error(env.get(unit, "/fee-summaries?period=2025-3"), 400, "bad_period")
    assert_error(env.get(unit, "/fee-summaries?period=202513"), 400, "bad_period")
    foreign = env.get(env.unit("U000004"), f"/fee-summaries?cursor={paged['next_cursor']}")
    assert_error(foreign, 400, "bad_cursor")


def test_special_summaries(env: Env) -> None:
    unit = env.unit("U000004")
    emps = employees(env, unit.unit_id)
    normal = sorted(k for k, e in emps.items() if e["status"] == "正常缴费")[:2]
    resp = env.sim(f"/units/{unit.unit_id}/special-summaries",
                   {"special_type": "补缴", "from": "202410", "to": "202412", "employee_ids": normal})
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()["items"]
    assert {(s["kind"], s["special_type"], s["period_from"], s["period_to"], s["headcount"]) for s in created} == {
        ("special", "补缴", "202410", "202412", 2)}
    assert env.summaries(unit, "?kind=special") == created
    assert env.summaries(unit, "?kind=special&period=202411") == created
    pack = load_pack("110000")
    s = next(x for x in created if x["item"] == "medical" and x["part"] == "employee")
    rows = env.details(unit, s, limit=4)
    assert [(r["employee_id"], r["period"]) for r in rows] == [
        (e, p) for e in normal for p in ("202410", "202411", "202412")]
    for r in rows:
        fee = calculate(pack, r["period"], Decimal(emps[r["employee_id"]]["bases"]["medical"]),
                        risk_class=unit_row(env, unit.unit_id)[2]).item("medical")
        assert r["amount"] == str(fee.employee.amount) and r["fixed"] == "3.00"
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal(s["amount"])
    retire = env.sim(f"/units/{unit.unit_id}/special-summaries",
                     {"special_type": "退休补收", "from": "202501", "to": "202502", "count": 1}).get_json()["items"]
    assert {s["item"] for s in retire} == {"medical"} and retire[0]["headcount"] == 1
    assert env.sim(f"/units/{unit.unit_id}/special-summaries",
                   {"special_type": "补缴", "from": "202503", "to": "202504"}).status_code == 400
    uncovered = env.sim(f"/units/{unit.unit_id}/special-summaries",
                        {"special_type": "补缴", "from": "202401", "to": "202402"})
    assert uncovered.status_code == 422 and uncovered.get_json()["code"] == "rules_unavailable"
    assert env.sim(f"/units/{unit.unit_id}/special-summaries", {"special_type": "x"}).status_code == 400
    for items in (["foo"], [], "pension"):
        bad = env.sim(f"/units/{unit.unit_id}/special-summaries",
                      {"special_type": "补缴", "from": "202410", "to": "202410", "items": items})
        assert bad.status_code == 400, bad.get_json()
    only = env.sim(f"/units/{unit.unit_id}/special-summaries",
                   {"special_type": "补缴", "from": "202410", "to": "202410", "items": ["injury"]})
    assert [(s["item"], s["part"]) for s in only.get_json()["items"]] == [("injury", "employer")]
    env.sim(f"/units/{unit.unit_id}/fee-declarations", {"summary_ids": [only.get_json()["items"][0]["summary_id"]]})
    resp = env.declare(unit, created)
    body = env.decided(unit, f"/fee-declarations/{resp.get_json()['declaration_id']}")
    assert body["status"] == "accepted" and body["summaries"][0]["period_to"] == "202412"
    assert env.summaries(unit, "?kind=special") == retire


def test_records_of_every_channel_by_date_range(env: Env) -> None:
    unit = env.unit("U000002")
    daily = env.summaries(unit)
    ours = env.declare(unit, daily[:2]).get_json()["declaration_id"]
    env.decided(unit, f"/fee-declarations/{ours}")
    etax = env.sim(f"/units/{unit.unit_id}/fee-declarations").get_json()
    assert etax["channel"] == "电子税务局" and etax["status"] == "accepted"
    assert len(etax["summaries"]) == len(daily) - 2
    assert env.summaries(unit) == []
    records = env.get(unit, "/fee-declaration-records").get_json()
    assert (records["from"], records["to"]) == ("2025-02-01", "2025-03-15")
    assert [(r["declaration_id"], r["channel"], r["record_status"]) for r in records["items"]] == [
        (ours, "本客户端", "申报成功"), (etax["declaration_id"], "电子税务局", "申报成功")]
    page = env.get(unit, "/fee-declaration-records?limit=1").get_json()
    assert page["has_more"] and page["items"][0]["declaration_id"] == ours
    rest = env.get(unit, f"/fee-declaration-records?limit=1&cursor={page['next_cursor']}").get_json()
    assert [r["declaration_id"] for r in rest["items"]] == [etax["declaration_id"]] and not rest["has_more"]
    assert env.get(unit, "/fee-declaration-records?from=2025-03-16&to=2025-03-31").get_json()["items"] == []
    assert_error(env.get(unit, "/fee-declaration-records?from=2025-03-20&to=2025-03-01"), 400, "bad_date_range")
    assert_error(env.get(unit, "/fee-declaration-records?from=2024-01-01&to=2025-03-01"), 400, "bad_date_range")
    assert_error(env.get(unit, "/fee-declaration-records?from=nope"), 400, "bad_date_range")
    assert env.get(env.unit("U000004"), "/fee-declaration-records").get_json()["items"] == []
    env.sim("/advance-month")
    env.sim("/advance-month")  # 2025-05-15: March is beyond the default two months
    assert env.get(unit, "/fee-declaration-records").get_json()["items"] == []
    assert len(env.get(unit, "/fee-declaration-records?from=2025-03-01").get_json()["items"]) == 2


def test_void_accepted_and_refused(env: Env) -> None:
    unit = env.unit("U000002")
    items = env.summaries(unit)
    bad = env.post(unit, "/fee-declarations", {"summaries": [{"summary_id": "FS99999999", "version": 1}]})
    bad_id = bad.get_json()["declaration_id"]
    assert env.decided(unit, f"/fee-declarations/{bad_id}")["status"] == "rejected"
    early = env.post(unit, f"/fee-declarations/{bad_id}/voids", {"reason": "申报有误"}).get_json()
    assert early["status"] == "processing" and early["reason"] == "申报有误"
    refused = env.decided(unit, f"/fee-declaration-voids/{early['void_id']}")
    assert refused["status"] == "rejected"
    assert refused["rejection"] == {"code": "declaration_not_accepted", "message": "该申报尚未申报成功，不能作废"}
    did = env.declare(unit, items).get_json()["declaration_id"]
    void_path = f"/fee-declarations/{did}/voids"
    assert env.decided(unit, f"/fee-declarations/{did}")["status"] == "accepted"
    for body in ({}, {"reason": "  "}, {"reason": "错" * 101}, {"reason": 5}):
        assert_error(env.post(unit, void_path, body), 400, "bad_reason")
    assert_error(env.post(unit, "/fee-declarations/FD99999999/voids", {"reason": "x"}), 404,
                 "fee_declaration_not_found")
    resp = env.post(unit, void_path, {"reason": "错" * 100}, key="void-1")
    assert resp.status_code == 202
    replay = env.post(unit, void_path, {"reason": "错" * 100}, key="void-1")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json() == resp.get_json()
    vid = resp.get_json()["void_id"]
    decided = env.decided(unit, f"/fee-declaration-voids/{vid}")
    assert decided["status"] == "accepted" and decided["rejection"] is None
    body = env.get(unit, f"/fee-declarations/{did}").get_json()
    assert body["status"] == "voided" and body["void_id"] == vid and body["voided_at"]
    assert {a["state"] for a in body["arrears"]} == {"voided"}
    records = env.get(unit, "/fee-declaration-records").get_json()["items"]
    assert [(r["declaration_id"], r["record_status"]) for r in records] == [(did, "已作废")]
    again = env.summaries(unit)
    assert [s["summary_id"] for s in again] == [s["summary_id"] for s in items]
    twice = env.post(unit, void_path, {"reason": "再次作废"}).get_json()
    assert env.decided(unit, f"/fee-declaration-voids/{twice['void_id']}")["rejection"]["code"] == "already_voided"
    # Declared again, then paid / on a voucher / in another month: refused.
    for who, mark, code in (("U000002", "paid", "paid"), ("U000003", "voucher", "voucher_open")):
        payer = env.unit(who)
        redo = env.declare(payer, env.summaries(payer)).get_json()["declaration_id"]
        env.decided(payer, f"/fee-declarations/{redo}")
        marked = env.sim(f"/units/{who}/fee-declarations/{redo}/{mark}").get_json()
        assert {a["state"] for a in marked["arrears"]} == {"paid" if mark == "paid" else "unpaid"}
        v = env.post(payer, f"/fee-declarations/{redo}/voids", {"reason": "x"}).get_json()
        rejection = env.decided(payer, f"/fee-declaration-voids/{v['void_id']}")["rejection"]
        assert rejection["code"] == code and CHINESE.search(rejection["message"])
        assert env.get(payer, f"/fee-declarations/{redo}").get_json()["status"] == "accepted"
    other = env.unit("U000004")
    late = env.declare(other, env.summaries(other)).get_json()["declaration_id"]
    env.decided(other, f"/fee-declarations/{late}")
    env.sim("/advance-month")
    v = env.post(other, f"/fee-declarations/{late}/voids", {"reason": "x"}).get_json()
    rejection = env.decided(other, f"/fee-declaration-voids/{v['void_id']}")["rejection"]
    assert rejection == {"code": "other_month",
                         "message": "只能作废申报当月的申报：该申报于2025年03月申报，当前为2025年04月"}


def test_advance_month_and_first_business_day(env: Env) -> None:
    con = env.con()
    periods = con.execute("SELECT COUNT(DISTINCT unit_pk), MIN(period_from) FROM fee_summary").fetchone()
    assert periods == (6, "202503")  # the demo data has the current period for every unit
    assert env.sim("/advance-month").get_json()["period"] == "2025-04"
    assert con.execute("SELECT COUNT(DISTINCT unit_pk) FROM fee_summary WHERE period_from = '202504'"
                       ).fetchone()[0] == 6  # computed at month start, before any client asks
    unit = env.unit("U000004")
    assert {s["period_from"] for s in env.summaries(unit)} == {"202503", "202504"}  # March not declared
    env.cl.put("/sim/settings", json={"today": "2025-03-01"})  # a Saturday: March not open yet
    body = env.get(unit, "/fee-summaries?period=202503").get_json()
    assert body["current_period"] == "202502"
    env.cl.put("/sim/settings", json={"today": "2025-03-03"})  # Monday: the first business day
    assert env.get(unit, "/fee-summaries").get_json()["current_period"] == "202503"


def test_no_rules_for_the_period(env: Env) -> None:
    unit = env.unit("U000004")
    sid = env.summaries(unit)[0]["summary_id"]
    env.cl.put("/sim/settings", json={"today": "2027-03-15"})
    assert_error(env.get(unit, "/fee-summaries"), 422, "rules_unavailable")
    assert env.summaries(unit, "?kind=special") == []  # specials and stored summaries stay readable
    assert env.get(unit, f"/fee-summaries/{sid}").get_json()["period_from"] == "202503"
    assert env.get(unit, f"/fee-summaries/{sid}/details").status_code == 200


def test_decision_sees_changes_made_while_it_waited(env: Env) -> None:
    unit = env.unit("U000004")
    items = env.summaries(unit)
    did = env.declare(unit, items).get_json()["declaration_id"]
    env.sim(f"/units/{unit.unit_id}/hires", {"count": 1})  # before the delay has passed
    body = env.decided(unit, f"/fee-declarations/{did}")
    assert body["status"] == "rejected" and {r["code"] for r in body["rejections"]} == {"summary_stale"}
    fresh = env.summaries(unit)
    assert [s["headcount"] for s in fresh] == [s["headcount"] + 1 for s in items]
    accepted = env.decided(unit, f"/fee-declarations/{env.declare(unit, fresh).get_json()['declaration_id']}")
    assert accepted["status"] == "accepted"
    # Voided after more changes: the summaries come back re-computed, with a new version.
    env.sim(f"/units/{unit.unit_id}/leavers", {"count": 3})
    assert env.summaries(unit) == []  # declared summaries are frozen
    void = env.post(unit, f"/fee-declarations/{accepted['declaration_id']}/voids", {"reason": "人数有误"})
    assert env.decided(unit, f"/fee-declaration-voids/{void.get_json()['void_id']}")["status"] == "accepted"
    back = env.summaries(unit)
    assert [s["summary_id"] for s in back] == [s["summary_id"] for s in fresh]
    assert all(b["version"] == f["version"] + 1 and b["headcount"] == f["headcount"] - 3
               for b, f in zip(back, fresh, strict=True))
    assert accepted["summaries"][0]["headcount"] == fresh[0]["headcount"]  # the record keeps what was declared
    record = env.get(unit, f"/fee-declarations/{accepted['declaration_id']}").get_json()
    assert record["summaries"] == accepted["summaries"] and record["status"] == "voided"
