"""Queries (查询统计, manual 3.1.8) on the reference tax side: unit insurance registrations,
payroll bases (paged, consistent with accepted payroll-base declarations), payables per
fee period and item from the arrears, payment arrivals, and the /sim controls that make
arrivals differ from a client's records."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from taxside.app import create_app
from taxside.db import Store
from taxside.generate import generate
from tests.taxside.test_payments import Clock, Env, assert_error


@pytest.fixture(name="env")
def env_fixture(tmp_path: Path) -> Iterator[Env]:
    db = tmp_path / "t.db"
    creds = generate(db, units=4, employees=200, seed=11)
    clock = Clock()
    yield Env(create_app(Store(db, now=clock), simulation=True).test_client(), creds, db, clock)


def _bases_feed(env: Env, limit: int = 7, since: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Every page of a full (``since`` None) or incremental feed, and the cursor to keep."""
    items, cursor, first = [], since, None
    while True:
        body = env.ok(f"/payroll-bases?limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        first = first or body
        assert body["mode"] == ("incremental" if since else "full") and body["next_cursor"]
        items += body["items"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
        assert "total" not in body or body is first
    if since is None:
        assert first["total"] == len(items)
    return items, cursor


def _bases_all(env: Env, limit: int = 7) -> list[dict[str, Any]]:
    return _bases_feed(env, limit)[0]


def test_registrations_follow_the_unit_numbers_and_its_employees(env: Env) -> None:
    body = env.ok("/insurance-registrations")
    rows = body["items"]
    unit = env.ok("")
    numbers = unit["insurance_registration"]["unit_numbers"]
    assert len(rows) == sum(len(n["items"]) for n in numbers) > 0
    for row in rows:
        number = next(n for n in numbers if n["number"] == row["unit_number"])
        assert row["item"] in number["items"] and row["agency"] == number["agency"]
        assert row["tax_authority"] == unit["tax_registration"]["tax_authority"]
        assert row["status"] in ("正常参保", "暂停缴费") and len(row["registered_on"]) == 10
        assert "保险" in row["item_name"]  # the pack's name: 基本医疗保险（含生育保险）
    assert env.ok("/insurance-registrations")["items"] == rows  # the same every call
    one = rows[0]
    only = env.ok(f"/insurance-registrations?unit_number={one['unit_number']}")["items"]
    assert only and all(r["unit_number"] == one["unit_number"] for r in only)
    assert env.ok("/insurance-registrations?agency=nowhere")["items"] == []
    assert env.ok(f"/insurance-registrations?tax_authority={one['tax_authority']}")["items"] == rows

    # Nobody pays any more: every registration of the unit reads 暂停缴费.
    con = sqlite3.connect(env.db)
    con.execute("UPDATE employee SET status = '停止缴费' WHERE unit_pk = 1")
    con.commit()
    con.close()
    assert {r["status"] for r in env.ok("/insurance-registrations")["items"]} == {"暂停缴费"}


def test_payroll_bases_paged_and_after_a_declaration(env: Env) -> None:
    items = _bases_all(env)
    assert len({i["employee_id"] for i in items}) == len(items) > 7  # more than one page
    con = sqlite3.connect(env.db)
    stored = {f"E{pk:09d}": json.loads(b) for pk, b in con.execute(
        "SELECT id, bases FROM employee WHERE unit_pk = 1 AND deleted = 0")}
    people = {f"E{pk:09d}": (n, t, i) for pk, n, t, i in con.execute(
        "SELECT id, name, id_type, id_number FROM employee WHERE unit_pk = 1")}
    con.close()
    assert {i["employee_id"]: i["bases"] for i in items} == stored

    env.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    target = next(i for i in items if i["status"] == "正常缴费")
    name, id_type, id_number = people[target["employee_id"]]
    resp = env.post("/wage-base-declarations", {"kind": "daily", "rows": [
        {"employee_id": target["employee_id"], "name": name, "id_type": id_type, "id_number": id_number,
         "base": "12345.00", "effective_month": "202503"}]})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    decided = env.ok(f"/wage-base-declarations/{resp.get_json()['declaration_id']}")
    assert decided["status"] == "accepted", [r["message"] for r in decided["rejections"]]
    after = {i["employee_id"]: i for i in _bases_all(env, 5000)}[target["employee_id"]]
    assert set(after["bases"].values()) == {"12345.00"}

    assert_error(env.get("/payroll-bases?cursor=garbage"), 400, "bad_cursor")
    assert_error(env.get("/payroll-bases?limit=0"), 400, "bad_limit")
    other = env.ok("/payroll-bases?limit=1", env.creds[1])["next_cursor"]
    assert_error(env.get(f"/payroll-bases?cursor={other}"), 400, "bad_cursor")


def test_payroll_bases_since_a_version_serve_only_the_changes(env: Env) -> None:
    items, version = _bases_feed(env)
    assert not any(i["deleted"] for i in items)
    assert _bases_feed(env, since=version) == ([], version)  # nothing changed: nothing served

    unit_id = env.unit.unit_id
    env.sim("POST", f"/units/{unit_id}/base-changes", {"count": 3})
    env.sim("POST", f"/units/{unit_id}/leavers", {"count": 2})
    env.sim("POST", f"/units/{unit_id}/removals", {"count": 1})
    env.sim("POST", f"/units/{unit_id}/hires", {"count": 4})
    changed, newer = _bases_feed(env, limit=2, since=version)
    con = sqlite3.connect(env.db)
    now = {f"E{pk:09d}": (json.loads(b), status, bool(deleted)) for pk, b, status, deleted in con.execute(
        "SELECT id, bases, status, deleted FROM employee WHERE unit_pk = 1")}
    con.close()
    # Each changed employee once, as he is now; a removed one as a tombstone without bases.
    assert len({c["employee_id"] for c in changed}) == len(changed)
    assert 4 < len(changed) <= 10
    for c in changed:
        bases, status, deleted = now[c["employee_id"]]
        assert c["deleted"] == deleted and c["bases"] == ({} if deleted else bases) and c["status"] == status
    assert sum(c["deleted"] for c in changed) == 1
    before = {i["employee_id"] for i in items}
    assert sum(c["employee_id"] not in before for c in changed) == 4  # the hires
    # Applying the changes to the first answer gives what a full answer says now.
    merged = {i["employee_id"]: i["bases"] for i in items}
    for c in changed:
        merged.pop(c["employee_id"], None) if c["deleted"] else merged.__setitem__(c["employee_id"], c["bases"])
    assert merged == {i["employee_id"]: i["bases"] for i in _bases_all(env, 50)}
    assert _bases_feed(env, since=newer) == ([], newer)


def test_payables_from_arrears_and_payments(env: Env) -> None:
    assert env.ok("/payables")["items"] == []
    decl = env.declare()
    body = env.ok("/payables?from=202503&to=202503")
    rows = body["items"]
    assert rows and Decimal(body["payable_total"]) == Decimal(decl["total_amount"])
    assert all(r["state"] == "未缴" and r["paid"] == "0.00" and r["payable"] == r["unpaid"] for r in rows)
    assert all(r["deadline"] == "2025-03-31" for r in rows)
    item = rows[0]["item"]
    arrears = [a for a in env.arrears() if a["item"] == item]
    paid = env.debit([arrears[0]["arrear_id"]])
    assert paid.status_code == 201, paid.get_data(as_text=True)
    row = next(r for r in env.ok(f"/payables?item={item}")["items"] if r["item"] == item)
    assert Decimal(row["paid"]) == Decimal(arrears[0]["amount"])
    assert Decimal(row["paid"]) + Decimal(row["unpaid"]) == Decimal(row["payable"])
    assert row["state"] == ("已缴清" if len(arrears) == 1 else "部分缴纳")
    assert env.ok("/payables?from=202501&to=202502")["items"] == []
    assert_error(env.get("/payables?from=202504&to=202503"), 400, "bad_period_range")
    assert_error(env.get("/payables?from=2025-03"), 400, "bad_period")
    assert_error(env.get("/payables?item=pensions"), 400, "bad_request")


def test_arrivals_and_the_sim_controls(env: Env) -> None:
    env.sim("PUT", "/settings", {"arrival_delay_seconds": 5})
    env.declare()
    ids = [a["arrear_id"] for a in env.arrears()[:3]]
    assert env.debit(ids).status_code == 201
    items = env.ok("/payment-arrivals")["items"]
    assert len(items) == 3 and {i["arrival"] for i in items} == {"已缴款未入库"}
    assert all(i["stored_at"] is None and len(i["tax_ticket"]) == 18 for i in items)
    env.clock.tick(6)
    items = env.ok("/payment-arrivals?from=202503&to=202503&limit=2")
    assert len(items["items"]) == 2 and items["has_more"]
    rest = env.ok(f"/payment-arrivals?from=202503&to=202503&cursor={items['next_cursor']}")
    every = items["items"] + rest["items"]
    assert [i["payment_id"] for i in every] == sorted(i["payment_id"] for i in every)
    assert {i["arrival"] for i in every} == {"已入库"} and all(i["stored_at"] for i in every)
    assert env.ok("/payment-arrivals?from=202501&to=202502")["items"] == []
    assert_error(env.get("/payment-arrivals?from=202504&to=202503"), 400, "bad_period_range")
    assert_error(env.get("/payment-arrivals?from=2025-03-15"), 400, "bad_period")

    first, second = every[0], every[1]
    changed = env.sim("PUT", f"/units/{env.unit.unit_id}/payments/{second['payment_id']}", {"total": "1.00"})
    assert changed["total"] == "1.00"
    reversed_ = env.sim("POST", f"/units/{env.unit.unit_id}/payments/{first['payment_id']}/reversal")
    assert reversed_["arrear_id"] == first["arrear_id"]
    now = {i["payment_id"]: i for i in env.ok("/payment-arrivals")["items"]}
    assert first["payment_id"] not in now and now[second["payment_id"]]["total"] == "1.00"
    assert next(a for a in env.arrears() if a["arrear_id"] == first["arrear_id"])["state"] == "unpaid"
    resp = env.cl.post(f"/sim/units/{env.unit.unit_id}/payments/PM99999999/reversal", json={})
    assert_error(resp, 404, "payment_not_found")


def test_arrivals_by_the_business_date_of_the_payment(env: Env) -> None:
    env.declare()
    arrears = [a["arrear_id"] for a in env.arrears()]
    assert env.debit(arrears[:2]).status_code == 201
    day = env.ok("/payment-arrivals")["items"][0]["paid_on"]
    later = (dt.date.fromisoformat(day) + dt.timedelta(days=3)).isoformat()
    env.sim("PUT", "/settings", {"today": later})  # the business date moves, the clock does not
    assert env.debit(arrears[2:3]).status_code == 201
    every = env.ok("/payment-arrivals")["items"]
    assert [i["paid_on"] for i in every] == [day, day, later] and day == "2025-03-15"
    assert {i["paid_at"][:10] for i in every} == {every[0]["paid_at"][:10]}  # the clock's date is one
    on_later = env.ok(f"/payment-arrivals?paid_from={later}&paid_to={later}")
    assert [i["payment_id"] for i in on_later["items"]] == [every[2]["payment_id"]]
    assert on_later["from"] is None and on_later["paid_from"] == later  # no fee period limit then
    assert len(env.ok(f"/payment-arrivals?paid_to={day}")["items"]) == 2
    period = every[0]["period_from"]
    both = env.ok(f"/payment-arrivals?paid_from={day}&from={period}&to={period}")["items"]
    assert both and all(i["period_from"] == period for i in both)
    assert env.ok(f"/payment-arrivals?paid_from={later}&from=202001&to=202001")["items"] == []
    assert_error(env.get("/payment-arrivals?paid_from=2025-02-30"), 400, "bad_date")
    assert_error(env.get("/payment-arrivals?paid_from=20250301"), 400, "bad_date")
    assert_error(env.get(f"/payment-arrivals?paid_from={later}&paid_to={day}"), 400, "bad_date_range")


def test_one_name_per_item_as_the_fee_summaries_carry(env: Env) -> None:
    env.declare()
    names = {r["item"]: r["item_name"] for r in env.ok("/insurance-registrations")["items"]}
    payables = env.ok("/payables")["items"]
    assert payables and all(names[p["item"]] == p["item_name"] for p in payables)
    assert names["pension"] == "基本养老保险"  # the pack's name, as 社保费申报 and 缴款 show it


def test_queries_need_a_token(env: Env) -> None:
    for path in ("/insurance-registrations", "/payroll-bases", "/payables", "/payment-arrivals"):
        resp = env.cl.get(f"/v1/units/{env.unit.unit_id}{path}")
        assert_error(resp, 401, "token_missing")
