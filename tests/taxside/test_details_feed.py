"""The declaration-details feed (社保费申报明细查询, manual 3.1.8.3) on the reference tax side:
paging, cursor stability under concurrent declarations and voids, only 申报成功, bounds."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from taxside.app import create_app
from taxside.db import Store
from taxside.generate import UnitCredentials, generate

CHINESE = re.compile(r"[\u4e00-\u9fff]")
PASSWORD = "secret2025"
FEED = "/declaration-details"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2025, 3, 15, 9, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now


class Env:
    def __init__(self, cl: FlaskClient, creds: list[UnitCredentials], clock: Clock) -> None:
        self.cl, self.creds, self.clock = cl, creds, clock
        self.auth: dict[str, dict[str, str]] = {}
        self.keys = 0

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

    def post(self, unit: UnitCredentials, path: str, body: Any) -> Any:
        self.keys += 1
        headers = {**self.login(unit), "Idempotency-Key": f"k-{self.keys}"}
        return self.cl.post(f"/v1/units/{unit.unit_id}{path}", headers=headers, data=json.dumps(body),
                            content_type="application/json")

    def sim(self, path: str, body: Any = None) -> Any:
        resp = self.cl.post(f"/sim{path}", json=body or {})
        assert resp.status_code in (200, 201), resp.get_data(as_text=True)
        return resp.get_json()

    def page(self, unit: UnitCredentials, lo: str, hi: str, cursor: str | None = None, limit: int = 50) -> Any:
        query = f"{FEED}?from={lo}&to={hi}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        resp = self.get(unit, query)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    def drain(self, unit: UnitCredentials, lo: str, hi: str, limit: int = 50) -> tuple[dict, dict, int]:
        """Every page: (rows by natural key, summaries, pages)."""
        rows: dict[tuple[str, str, str, str], list[Any]] = {}
        summaries: dict[str, dict[str, Any]] = {}
        cursor, pages = None, 0
        while True:
            page = self.page(unit, lo, hi, cursor, limit)
            pages += 1
            assert len(page["items"]) <= limit
            summaries.update(page["summaries"])
            for gone in page["removed"]:
                rows = {k: v for k, v in rows.items() if (k[0], k[1]) != (gone["summary_id"], gone["declaration_id"])}
            for row in page["items"]:
                s = page["summaries"][row[0]]
                key = (row[0], s["declaration_id"], row[1], row[5])
                assert key not in rows, f"served twice: {key}"
                rows[key] = row
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return rows, summaries, pages


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    db = tmp_path / "t.db"
    creds = generate(db, units=3, employees=90, seed=11)
    clock = Clock()
    app = create_app(Store(db, now=clock), simulation=True)
    yield Env(app.test_client(), creds, clock)


def assert_error(resp: Any, status: int, code: str) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == code and CHINESE.search(body["message"]), body


def test_pages_are_the_declared_summaries_person_rows(env: Env) -> None:
    unit = env.creds[0]
    made = env.sim(f"/units/{unit.unit_id}/declaration-history", {"from": "202412", "to": "202502"})
    assert len(made["declarations"]) == 3
    rows, summaries, pages = env.drain(unit, "202412", "202502", limit=37)
    assert pages > 3 and rows
    assert {r[5] for r in rows.values()} == {"202412", "202501", "202502"}
    # Per summary the rows add up to what the tax side declared, person by person.
    for sid, s in summaries.items():
        assert s["declaration_id"] in made["declarations"]
        assert s["subitem"] == "正常缴费" and s["part_name"] in ("单位缴纳部分", "个人缴纳部分")
        mine = [r for k, r in rows.items() if k[0] == sid]
        summary = env.get(unit, f"/fee-summaries/{sid}").get_json()
        assert summary["state"] == "declared"
        assert len(mine) == summary["headcount"]
        assert sum(Decimal(r[8]) for r in mine) == Decimal(summary["amount"])
        assert sum(Decimal(r[6]) for r in mine) == Decimal(summary["base_total"])
        assert all(isinstance(r[3], str) and isinstance(r[8], str) for r in mine)
    # A narrower range serves only its months; a wider one the same rows again.
    only_jan, _, _ = env.drain(unit, "202501", "202501", limit=1000)
    assert set(only_jan) == {k for k in rows if k[3] == "202501"}
    again, _, _ = env.drain(unit, "202401", "202512", limit=10000)
    assert set(again) == set(rows)


def test_only_successful_declarations(env: Env) -> None:
    unit = env.creds[0]
    env.sim(f"/units/{unit.unit_id}/declaration-history", {"from": "202501", "to": "202502", "paid": False})
    # The current period declared through the protocol: processing, so not yet a detail.
    pending = [s for s in env.get(unit, "/fee-summaries").get_json()["items"]]
    assert pending
    resp = env.post(unit, "/fee-declarations", {"summaries": [
        {"summary_id": s["summary_id"], "version": s["version"]} for s in pending]})
    assert resp.status_code == 202
    declaration = resp.get_json()["declaration_id"]
    rows, _, _ = env.drain(unit, "202501", "202503")
    assert {k[3] for k in rows} == {"202501", "202502"}
    env.clock.now += dt.timedelta(seconds=5)  # decided at the next read: now it counts
    rows, summaries, _ = env.drain(unit, "202501", "202503")
    assert {k[3] for k in rows} == {"202501", "202502", "202503"}
    # Voided: gone from the feed.
    resp = env.post(unit, f"/fee-declarations/{declaration}/voids", {"reason": "申报有误"})
    assert resp.status_code == 202
    env.clock.now += dt.timedelta(seconds=5)
    rows, summaries, _ = env.drain(unit, "202501", "202503")
    assert {k[3] for k in rows} == {"202501", "202502"}
    assert declaration not in {s["declaration_id"] for s in summaries.values()}
    # Another unit's declarations are never in this unit's feed.
    other = env.creds[1]
    env.sim(f"/units/{other.unit_id}/declaration-history", {"from": "202501", "to": "202501"})
    again, _, _ = env.drain(unit, "202501", "202503")
    assert set(again) == set(rows)


def test_cursor_is_stable_under_new_declarations_and_voids(env: Env) -> None:
    unit = env.creds[0]
    env.sim(f"/units/{unit.unit_id}/declaration-history", {"from": "202501", "to": "202502"})
    truth_before, _, _ = env.drain(unit, "202501", "202503", limit=10000)
    # Read half, then the current period is declared and decided, then read on.
    rows: dict[tuple[str, ...], Any] = {}
    first = env.page(unit, "202501", "202503", limit=len(truth_before) // 2)
    for row in first["items"]:
        rows[(row[0], first["summaries"][row[0]]["declaration_id"], row[1], row[5])] = row
    pending = env.get(unit, "/fee-summaries").get_json()["items"]
    resp = env.post(unit, "/fee-declarations", {"summaries": [
        {"summary_id": s["summary_id"], "version": s["version"]} for s in pending]})
    declaration = resp.get_json()["declaration_id"]
    env.clock.now += dt.timedelta(seconds=5)
    cursor, more = first["next_cursor"], first["has_more"]
    while more:
        page = env.page(unit, "202501", "202503", cursor, limit=100)
        assert not page["removed"]
        for row in page["items"]:
            key = (row[0], page["summaries"][row[0]]["declaration_id"], row[1], row[5])
            assert key not in rows
            rows[key] = row
        cursor, more = page["next_cursor"], page["has_more"]
    truth, _, _ = env.drain(unit, "202501", "202503", limit=10000)
    assert set(rows) == set(truth) and len(truth) > len(truth_before)
    # A void after the reader passed the declaration: a tombstone on the next page.
    env.post(unit, f"/fee-declarations/{declaration}/voids", {"reason": "申报有误"})
    env.clock.now += dt.timedelta(seconds=5)
    page = env.page(unit, "202501", "202503", cursor, limit=100)
    assert page["items"] == [] and not page["has_more"]
    assert page["removed"] and {g["declaration_id"] for g in page["removed"]} == {declaration}
    # ... and only once.
    assert env.page(unit, "202501", "202503", page["next_cursor"])["removed"] == []


def test_bounds(env: Env) -> None:
    unit, other = env.creds[0], env.creds[1]
    env.sim(f"/units/{unit.unit_id}/declaration-history", {"from": "202501", "to": "202501"})
    for query, code in [
        ("?from=202501&to=202501&limit=0", "bad_limit"),
        ("?from=202501&to=202501&limit=10001", "bad_limit"),
        ("?from=202501&to=202501&limit=²", "bad_limit"),
        ("?from=２０２５01&to=202501", "bad_period"),
        ("?from=2025-01&to=202501", "bad_period"),
        ("?to=202501", "bad_period"),
        ("?from=202513&to=202501", "bad_period"),
        ("?from=202502&to=202501", "bad_period_range"),
        ("?from=202001&to=202501", "bad_period_range"),
        ("?from=202501&to=202501&cursor=xyz", "bad_cursor"),
    ]:
        assert_error(env.get(unit, FEED + query), 400, code)
    assert env.page(unit, "202501", "202501", limit=10000)["items"]
    cursor = env.page(unit, "202501", "202501", limit=5)["next_cursor"]
    # A cursor belongs to its unit and its range.
    assert_error(env.get(unit, f"{FEED}?from=202501&to=202502&cursor={cursor}"), 400, "bad_cursor")
    assert_error(env.get(other, f"{FEED}?from=202501&to=202501&cursor={cursor}"), 400, "bad_cursor")
    assert_error(env.cl.get(f"/v1/units/{unit.unit_id}{FEED}?from=202501&to=202501"), 401, "token_missing")
    assert_error(env.cl.get(f"/v1/units/{unit.unit_id}{FEED}?from=202501&to=202501",
                            headers=env.login(other)), 403, "unit_forbidden")
    # The history call refuses months after the current period and months without rules.
    assert env.cl.post(f"/sim/units/{unit.unit_id}/declaration-history",
                       json={"from": "202504", "to": "202504"}).status_code == 400
    assert env.cl.post(f"/sim/units/{unit.unit_id}/declaration-history",
                       json={"from": "202301", "to": "202301"}).status_code == 422
