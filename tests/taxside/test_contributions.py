"""Contribution records (职工缴费证明, 年金) on the reference tax side: derived from the
declarations and payments it holds, per person and per month; bounded; clear errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rules.engine import calculate
from rules.packs import load_pack
from rules.periods import Period
from taxside.app import create_app
from taxside.db import Store
from taxside.generate import generate
from tests.taxside.test_payments import Clock, Env, assert_error


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    db = tmp_path / "t.db"
    creds = generate(db, units=4, employees=60, seed=11)
    clock = Clock()
    app = create_app(Store(db, now=clock), simulation=True)
    yield Env(app.test_client(), creds, db, clock)


def _person(env: Env, index: int = 0) -> dict[str, Any]:
    con = sqlite3.connect(env.db)
    try:
        rows = con.execute(
            "SELECT e.id, e.name, e.id_type, e.id_number, e.bases, e.items FROM employee e JOIN unit u"
            " ON u.id = e.unit_pk WHERE u.unit_id = ? AND e.status = '正常缴费' AND e.deleted = 0 ORDER BY e.id",
            (env.unit.unit_id,),
        ).fetchall()
        region, risk = con.execute("SELECT region, industry_risk_class FROM unit WHERE unit_id = ?",
                                   (env.unit.unit_id,)).fetchone()
    finally:
        con.close()
    pk, name, id_type, id_number, bases, items = rows[index]
    import json

    return {"pk": pk, "name": name, "id_type": id_type, "id_number": id_number, "bases": json.loads(bases),
            "items": json.loads(items), "region": region, "risk": risk}


def _query(p: dict[str, Any], start: str, end: str) -> str:
    return f"/contributions?id_type={p['id_type']}&id_number={p['id_number']}&period_from={start}&period_to={end}"


def test_months_and_items_from_declarations_and_payments(env: Env) -> None:
    p = _person(env)
    first = env.declare()  # 202503, accepted at once
    # pay the first month by debit; the second month stays unpaid
    ids = [a["arrear_id"] for a in env.arrears()]
    assert env.debit(ids).status_code == 201
    env.sim("POST", "/advance-month")
    second = env.declare()
    assert first["declaration_id"] != second["declaration_id"]
    body = env.ok(_query(p, "202501", "202506"))
    assert body["person"]["name"] == p["name"] and body["person"]["id_number"] == p["id_number"]
    assert body["period_from"] == "202501" and body["period_to"] == "202506"
    months = sorted({r["period"] for r in body["items"]})
    assert months == ["202503", "202504"]  # nothing declared before or after
    pack = load_pack(p["region"])
    expected_er = expected_ee = Decimal("0.00")
    for r in body["items"]:
        fee = next(f for f in calculate(pack, Period(int(r["period"][:4]), int(r["period"][4:])),
                                        Decimal(p["bases"][r["item"]]), risk_class=p["risk"]).items
                   if f.code == r["item"])
        assert Decimal(r["base"]) == fee.base
        assert r["employer_amount"] == (str(fee.employer.amount) if fee.employer else None)
        assert r["employee_amount"] == (str(fee.employee.amount) if fee.employee else None)
        assert Decimal(r["total"]) == Decimal(r["employer_amount"] or 0) + Decimal(r["employee_amount"] or 0)
        assert r["kind"] == "daily" and r["kind_label"] == "正常"
        if r["period"] == "202503":
            assert (r["state"], r["paid"]) == ("paid", True) and r["paid_at"].startswith("2025-03-15")
            assert r["declaration_id"] == first["declaration_id"]
        else:
            assert (r["state"], r["paid"], r["paid_at"]) == ("unpaid", False, None)
        expected_er += Decimal(r["employer_amount"] or 0)
        expected_ee += Decimal(r["employee_amount"] or 0)
    assert {r["item"] for r in body["items"]} == {c for c in p["items"] if c in p["bases"]} - {"maternity"}
    assert body["totals"] == {"employer": str(expected_er), "employee": str(expected_ee),
                              "total": str(expected_er + expected_ee)}
    assert body["count"] == len(body["items"])
    # ordered by month, then item
    assert [r["period"] for r in body["items"]] == sorted(r["period"] for r in body["items"])
    # a range without declarations is empty, not an error
    empty = env.ok(_query(p, "202401", "202412"))
    assert empty["items"] == [] and empty["totals"]["total"] == "0.00"


def test_a_partly_paid_item_and_a_voided_declaration(env: Env) -> None:
    p = _person(env)
    env.declare()
    employer_ids = [a["arrear_id"] for a in env.arrears() if a["part"] == "employer"]
    assert env.debit(employer_ids).status_code == 201
    rows = env.ok(_query(p, "202503", "202503"))["items"]
    both = [r for r in rows if r["employee_amount"] is not None]
    assert both and all(r["state"] == "partial" and not r["paid"] and r["paid_at"] is None for r in both)
    # a declaration declared on the 电子税务局 and voided there drops out
    env.sim("POST", "/advance-month")
    decl = env.declare()
    assert {r["period"] for r in env.ok(_query(p, "202504", "202504"))["items"]} == {"202504"}
    resp = env.post(f"/fee-declarations/{decl['declaration_id']}/voids", {"reason": "测试作废"})
    assert resp.status_code in (201, 202), resp.get_json()
    env.clock.tick(3600)
    assert env.ok(_query(p, "202504", "202504"))["items"] == []


def test_errors_are_clear(env: Env) -> None:
    p = _person(env)
    assert_error(env.get(_query({**p, "id_number": "110105194912310021"}, "202501", "202503")), 404,
                 "person_not_found")
    assert_error(env.get(_query(p, "202504", "202503")), 400, "bad_period")
    assert_error(env.get(_query(p, "2025-13", "202603")), 400, "bad_period")
    assert_error(env.get(_query(p, "201501", "202503")), 400, "range_too_long")
    assert env.get(_query(p, "201504", "202503")).status_code == 200  # exactly 10 years
    assert_error(env.get(f"/contributions?id_type=999&id_number={p['id_number']}"), 400, "bad_request")
    assert_error(env.get("/contributions?id_type=201"), 400, "bad_request")
    # another unit's person is not found through this unit
    other = env.cl.get(f"/v1/units/{env.creds[1].unit_id}{_query(p, '202503', '202503')}",
                       headers=env.login(env.creds[1]))
    assert other.status_code == 404
    # a token of one unit cannot read another unit
    wrong = env.cl.get(f"/v1/units/{env.creds[1].unit_id}{_query(p, '202503', '202503')}",
                       headers=env.login(env.unit))
    assert_error(wrong, 403, "unit_forbidden")
    assert env.cl.get(f"/v1/units/{env.unit.unit_id}{_query(p, '202503', '202503')}").status_code == 401


def test_one_period_for_every_person_paged(env: Env) -> None:
    env.declare()
    con = sqlite3.connect(env.db)
    try:
        expected = {r[0] for r in con.execute(
            "SELECT e.id_number FROM employee e JOIN unit u ON u.id = e.unit_pk WHERE u.unit_id = ?"
            " AND e.status = '正常缴费' AND e.deleted = 0 AND json_extract(e.bases, '$.pension') IS NOT NULL"
            " AND json_extract(e.items, '$') LIKE '%pension%'", (env.unit.unit_id,))}
    finally:
        con.close()
    seen: list[dict[str, Any]] = []
    page = env.ok("/contributions/period?period=202503&item=pension&limit=7")
    seen += page["items"]
    while page["has_more"]:
        page = env.ok(f"/contributions/period?period=202503&item=pension&limit=7&cursor={page['next_cursor']}")
        seen += page["items"]
    assert [r["id_number"] for r in seen if r["id_number"] in expected] and len(seen) == len(expected)
    assert {r["id_number"] for r in seen} == expected
    assert all(r["item"] == "pension" and r["period"] == "202503" and r["name"] for r in seen)
    assert env.ok("/contributions/period?period=202502&item=pension")["items"] == []
    assert_error(env.get("/contributions/period?period=202503&item=annuity"), 400, "bad_request")
    assert_error(env.get("/contributions/period?period=202503&cursor=abc"), 400, "bad_cursor")


def test_a_back_payment_gives_its_own_records(env: Env) -> None:
    p = _person(env)
    made = env.sim("POST", f"/units/{env.unit.unit_id}/special-summaries",
                   {"special_type": "补缴", "from": "202501", "to": "202502", "employee_ids": [f"E{p['pk']:09d}"],
                    "items": ["pension"]})["items"]
    assert made
    env.sim("POST", f"/units/{env.unit.unit_id}/fee-declarations", {"summary_ids": [s["summary_id"] for s in made]})
    env.declare()  # and the normal 202503
    rows = env.ok(_query(p, "202501", "202503"))["items"]
    special = [r for r in rows if r["kind"] == "special"]
    assert [(r["period"], r["item"], r["kind_label"]) for r in special] == [
        ("202501", "pension", "补缴"), ("202502", "pension", "补缴")]
    assert all(r["employer_amount"] and r["employee_amount"] and r["state"] == "unpaid" for r in special)
    assert {r["period"] for r in rows if r["kind"] == "daily"} == {"202503"}
    assert Decimal(env.ok(_query(p, "202501", "202503"))["totals"]["total"]) == sum(Decimal(r["total"]) for r in rows)
