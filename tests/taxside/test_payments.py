"""Payment (manual 3.1.7) on the reference tax side: arrears with late fee, agreements,
debits (partial success, every failure code, unknown results), vouchers, payment records.
A fixed clock makes the delays deterministic; the business date is set through /sim."""

from __future__ import annotations

import base64
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

from rules.latefee import late_days, late_fee
from rules.packs import load_pack, parse_pack
from taxside.app import create_app
from taxside.db import Store
from taxside.generate import UnitCredentials, generate

CHINESE = re.compile(r"[\u4e00-\u9fff]")
TICKET = re.compile(r"^\d{18}$")
PASSWORD = "secret2025"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2025, 3, 15, 9, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class Env:
    def __init__(self, cl: FlaskClient, creds: list[UnitCredentials], db: Path, clock: Clock) -> None:
        self.cl, self.creds, self.db, self.clock = cl, creds, db, clock
        self.auth: dict[str, dict[str, str]] = {}
        self.keys = 0
        self.unit = creds[0]

    def con(self) -> sqlite3.Connection:
        return sqlite3.connect(self.db)

    def count(self, table: str, where: str = "1") -> int:
        con = self.con()
        try:
            return con.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0]
        finally:
            con.close()

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

    def get(self, path: str, unit: UnitCredentials | None = None) -> Any:
        unit = unit or self.unit
        return self.cl.get(f"/v1/units/{unit.unit_id}{path}", headers=self.login(unit))

    def ok(self, path: str, unit: UnitCredentials | None = None) -> Any:
        resp = self.get(path, unit)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    def post(self, path: str, body: Any, key: str | None = None, unit: UnitCredentials | None = None) -> Any:
        unit = unit or self.unit
        self.keys += 1
        headers = {**self.login(unit), "Idempotency-Key": key or f"k-{self.keys}"}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.cl.post(f"/v1/units/{unit.unit_id}{path}", headers=headers, data=data,
                            content_type="application/json")

    def sim(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.cl.open(f"/sim{path}", method=method, json=body if body is not None else {})
        assert resp.status_code < 300, resp.get_data(as_text=True)
        return resp.get_json()

    def declare(self, unit: UnitCredentials | None = None) -> dict[str, Any]:
        """A declaration accepted at once (电子税务局): arrears of every pending summary."""
        return self.sim("POST", f"/units/{(unit or self.unit).unit_id}/fee-declarations")

    def arrears(self, query: str = "", unit: UnitCredentials | None = None) -> list[dict[str, Any]]:
        return self.ok(f"/arrears{query}", unit)["items"]

    def agreement(self, index: int = 0, unit: UnitCredentials | None = None) -> dict[str, Any]:
        return self.ok("/agreements", unit)["items"][index]

    def set_agreement(self, agreement_id: str, unit: UnitCredentials | None = None, **fields: Any) -> Any:
        return self.sim("PUT", f"/units/{(unit or self.unit).unit_id}/agreements/{agreement_id}", fields)

    def debit(self, ids: list[str], agreement_id: str | None = None, key: str | None = None) -> Any:
        agreement_id = agreement_id or self.agreement()["agreement_id"]
        return self.post("/debits", {"agreement_id": agreement_id, "arrear_ids": ids}, key)

    def today(self, day: str) -> None:
        self.sim("PUT", "/settings", {"today": day})


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    db = tmp_path / "t.db"
    creds = generate(db, units=4, employees=200, seed=11)
    clock = Clock()
    app = create_app(Store(db, now=clock), simulation=True)
    yield Env(app.test_client(), creds, db, clock)


def assert_error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == code and CHINESE.search(body["message"]), body
    return body


def money(text: str) -> Decimal:
    return Decimal(text)


# -- agreements ------------------------------------------------------------------------------------
def test_every_unit_has_agreements_first_valid_for_fees(env: Env) -> None:
    for unit in env.creds:
        items = env.ok("/agreements", unit)["items"]
        assert 1 <= len(items) <= 3
        first = items[0]
        assert first["state"] == "有效" and first["scope"] == "费批扣" and first["can_debit_fees"]
        assert first["reason"] is None
        for item in items:
            assert re.fullmatch(r"\d{4}\*{4}\d{4}", item["account_masked"]), item
            assert "balance" not in item and item["agreement_no"].isdigit()
            assert item["can_debit_fees"] == (item["state"] == "有效" and item["scope"] != "所有非批扣")
            if not item["can_debit_fees"]:
                assert CHINESE.search(item["reason"])
        sim = env.sim("GET", f"/units/{unit.unit_id}/agreements")["items"]
        assert sim[0]["balance"] == "10000000.00"


def test_a_unit_without_agreements_gets_the_generated_ones(env: Env) -> None:
    before = env.ok("/agreements")["items"]
    con = env.con()
    con.execute("DELETE FROM agreement WHERE unit_pk = 1")  # as a unit written by other code
    con.commit()
    con.close()
    after = env.ok("/agreements")["items"]
    assert [{k: v for k, v in a.items() if k != "agreement_id"} for a in after] == [
        {k: v for k, v in a.items() if k != "agreement_id"} for a in before
    ]


def test_agreement_reasons(env: Env) -> None:
    first = env.agreement()["agreement_id"]
    env.set_agreement(first, scope="所有非批扣")
    item = env.agreement()
    assert not item["can_debit_fees"] and item["reason"] == "该协议的扣款范围为所有非批扣，不能缴纳社保费"
    env.set_agreement(first, scope="所有批扣", state="已失效")
    item = env.agreement()
    assert not item["can_debit_fees"] and item["reason"] == "该协议已失效"
    env.set_agreement(first, state="有效")
    assert env.agreement()["can_debit_fees"]
    resp = env.cl.put(f"/sim/units/{env.unit.unit_id}/agreements/{first}", json={"balance": "-1"})
    assert_error(resp, 400, "bad_request")
    resp = env.cl.put(f"/sim/units/{env.unit.unit_id}/agreements/TA09999999", json={})
    assert_error(resp, 404, "agreement_not_found")


# -- arrears ---------------------------------------------------------------------------------------
def test_arrears_from_an_accepted_declaration(env: Env) -> None:
    assert env.ok("/arrears")["count"] == 0
    decl = env.declare()
    body = env.ok("/arrears")
    items = body["items"]
    assert body["count"] == len(items) == len(decl["arrears"]) > 0
    assert body["today"] == "2025-03-15" and body["late_fee_total"] == "0.00"
    assert money(body["amount_total"]) == money(decl["total_amount"])
    by_summary = {s["summary_id"]: s for s in decl["summaries"]}
    for item in items:
        s = by_summary[item["summary_id"]]
        assert item["declaration_id"] == decl["declaration_id"]
        assert (item["amount"], item["item"], item["item_name"], item["part"], item["unit_number"]) == (
            s["amount"], s["item"], s["item_name"], s["part"], s["unit_number"])
        assert item["deadline"] == "2025-03-31" and item["state"] == "unpaid" and item["hold"] is None
        assert item["late_days"] == 0 and item["total"] == item["amount"]
        assert item["part_name"] in ("单位缴纳部分", "个人缴纳部分")
    assert [(i["deadline"], i["arrear_id"]) for i in items] == sorted((i["deadline"], i["arrear_id"]) for i in items)
    assert env.arrears("?state=paid") == [] and len(env.arrears("?state=all")) == len(items)
    assert len(env.arrears("?period=202503")) == len(items) and env.arrears("?period=202502") == []
    # paging: every item once, totals over the whole query on every page
    seen, url = [], "/arrears?limit=3"
    page = env.ok(url)
    seen += page["items"]
    while page["has_more"]:
        page = env.ok(f"{url}&cursor={page['next_cursor']}")
        assert page["count"] == len(items)
        seen += page["items"]
    assert seen == items
    assert_error(env.get("/arrears?state=open"), 400, "bad_request")
    assert_error(env.get("/arrears?period=2025-03"), 400, "bad_period")
    assert_error(env.get("/arrears?limit=0"), 400, "bad_limit")
    assert_error(env.get("/arrears?cursor=xyz"), 400, "bad_cursor")
    assert_error(env.get(f"/arrears?cursor={page['next_cursor']}", env.creds[2]), 400, "bad_cursor")


def test_late_fee_by_the_region_pack(env: Env) -> None:
    env.declare()
    env.today("2025-04-10")
    body = env.ok("/arrears")
    pack = load_pack(env.unit.region)
    due, day = dt.date(2025, 3, 31), dt.date(2025, 4, 10)
    for item in body["items"]:
        fee = late_fee(pack, money(item["amount"]), due, day)
        assert item["late_fee"] == f"{fee:.2f}" and item["late_days"] == late_days(pack, due, day) == 10
        assert money(item["total"]) == money(item["amount"]) + fee
    assert money(body["late_fee_total"]) == sum(money(i["late_fee"]) for i in body["items"])
    big = max(body["items"], key=lambda i: money(i["amount"]))
    assert money(big["late_fee"]) == (money(big["amount"]) * Decimal("0.005")).quantize(Decimal("0.01"))
    # the debit takes the late fee of its own business date
    result = env.debit([big["arrear_id"]]).get_json()["results"][0]
    assert (result["late_fee"], result["total"]) == (big["late_fee"], big["total"])
    env.today("2025-04-20")
    paid = env.arrears("?state=paid")[0]
    assert (paid["late_fee"], paid["late_days"]) == (big["late_fee"], 10)  # as paid, not as of today


def test_late_fee_follows_a_pack_where_the_first_day_does_not_count(tmp_path: Path) -> None:
    import rules

    text = (Path(rules.__file__).parent / "packs" / "110000.toml").read_text(encoding="utf-8")
    text = text.replace("first_day_counts = true", "first_day_counts = false")
    text = text.replace("cap_at_amount = false", "cap_at_amount = true")
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "110000.toml").write_text(text, encoding="utf-8")
    pack = parse_pack(text)
    db = tmp_path / "p.db"
    creds = generate(db, units=1, employees=30, seed=5)
    env = Env(create_app(Store(db, now=Clock()), simulation=True, packs_dir=packs).test_client(),
              creds, db, Clock())
    env.declare()
    env.today("2025-04-10")
    for item in env.arrears():
        due, day = dt.date.fromisoformat(item["deadline"]), dt.date(2025, 4, 10)
        assert item["late_days"] == late_days(pack, due, day) == 9
        assert item["late_fee"] == f"{late_fee(pack, money(item['amount']), due, day):.2f}"
    env.today("2031-04-10")  # 2,200 days: capped at the amount owed by this pack
    capped = env.arrears()
    assert capped and all(i["late_fee"] == i["amount"] for i in capped)


# -- debits ----------------------------------------------------------------------------------------
def test_debit_pays_arrear_by_arrear(env: Env) -> None:
    env.declare()
    items = env.arrears()
    agreement = env.agreement()
    ids = [i["arrear_id"] for i in items]
    resp = env.debit(ids, agreement["agreement_id"], key="pay-1")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["debit_id"].startswith("DB") and body["status"] == "done"
    assert body["agreement_no"] == agreement["agreement_no"] and body["debited_on"] == "2025-03-15"
    assert body["paid_count"] == len(ids) and body["failed_count"] == body["unknown_count"] == 0
    assert [r["arrear_id"] for r in body["results"]] == ids
    tickets = [r["tax_ticket"] for r in body["results"]]
    assert all(TICKET.match(t) for t in tickets) and len(set(tickets)) == len(tickets)
    assert money(body["paid_total"]) == sum(money(i["total"]) for i in items)
    balance = env.sim("GET", f"/units/{env.unit.unit_id}/agreements")["items"][0]["balance"]
    assert money(balance) == Decimal("10000000.00") - money(body["paid_total"])
    assert env.arrears() == [] and env.count("payment") == len(ids)
    paid = {p["arrear_id"]: p for p in env.arrears("?state=paid")}
    for r in body["results"]:
        assert paid[r["arrear_id"]]["tax_ticket"] == r["tax_ticket"] and paid[r["arrear_id"]]["state"] == "paid"
        assert paid[r["arrear_id"]]["debit_id"] == body["debit_id"] and paid[r["arrear_id"]]["paid_at"]
    assert env.ok(f"/debits/{body['debit_id']}") == body
    # paid is refused whatever the client thinks, under another key
    refused = assert_error(env.debit([ids[0]]), 409, "arrear_paid")
    assert refused["arrear_id"] == ids[0] and refused["message"] == f"欠费 {ids[0]} 已缴款，请勿重复缴款"
    assert env.count("debit") == 1
    assert_error(env.get("/debits/DB09999999"), 404, "debit_not_found")
    assert_error(env.get(f"/debits/{body['debit_id']}", env.creds[2]), 404, "debit_not_found")


def test_partial_success_when_the_balance_runs_out(env: Env) -> None:
    env.declare()
    items = sorted(env.arrears(), key=lambda i: money(i["total"]), reverse=True)
    big, small = items[0], items[-1]
    first = env.agreement()["agreement_id"]
    left = money(small["total"]) + Decimal("0.01")
    env.set_agreement(first, balance=str(left))
    body = env.debit([big["arrear_id"], small["arrear_id"]]).get_json()
    assert [r["status"] for r in body["results"]] == ["failed", "paid"]
    failed = body["results"][0]
    assert (failed["code"], failed["message"], failed["tax_ticket"], failed["payment_id"]) == (
        "insufficient_balance", "余额不足", None, None)
    assert body["paid_count"] == body["failed_count"] == 1 and body["paid_total"] == small["total"]
    assert env.sim("GET", f"/units/{env.unit.unit_id}/agreements")["items"][0]["balance"] == "0.01"
    still = {i["arrear_id"] for i in env.arrears()}
    assert big["arrear_id"] in still and small["arrear_id"] not in still
    env.set_agreement(first, balance="100000000.00")  # money put in: pay again
    assert env.debit([big["arrear_id"]]).get_json()["results"][0]["status"] == "paid"


@pytest.mark.parametrize(("change", "code", "message"), [
    ({"state": "已失效"}, "agreement_invalid", "协议未生效或已失效"),
    ({"scope": "所有非批扣"}, "not_allowed", "不允许扣款"),
    ({"account_name_ok": False}, "account_name_mismatch", "账号户名不符"),
    ({"budget_ok": False}, "budget_subject", "预算科目错误"),
    ({"balance": "0.00"}, "insufficient_balance", "余额不足"),
    (None, "bank_timeout", "银行或国库超时"),
])
def test_every_failure_code(env: Env, change: dict[str, Any] | None, code: str, message: str) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()][:2]
    first = env.agreement()["agreement_id"]
    if change is None:
        env.sim("POST", f"/units/{env.unit.unit_id}/bank-answers", {"answer": "bank_timeout", "count": 2})
    else:
        env.set_agreement(first, **change)
    body = env.debit(ids, first).get_json()
    assert body["status"] == "done" and body["failed_count"] == 2 and body["paid_count"] == 0
    assert {(r["status"], r["code"], r["message"]) for r in body["results"]} == {("failed", code, message)}
    assert env.count("payment") == 0 and len(env.arrears()) >= 2
    assert all(i["hold"] is None for i in env.arrears())  # nothing taken: free to pay again


def test_debit_refusals(env: Env) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()]
    first = env.agreement()["agreement_id"]
    assert_error(env.post("/debits", b"{no", "bad-json"), 400, "bad_json")
    for body in ({"agreement_id": first}, {"agreement_id": first, "arrear_ids": []},
                 {"agreement_id": first, "arrear_ids": [ids[0], ids[0]]},
                 {"agreement_id": first, "arrear_ids": [1]},
                 {"agreement_id": first, "arrear_ids": [f"AR{n:08d}" for n in range(1001)]},
                 {"arrear_ids": ids}):
        assert_error(env.post("/debits", body), 400, "bad_request")
    assert_error(env.debit(ids, "TA09999999"), 404, "agreement_not_found")
    other = env.agreement(0, env.creds[2])["agreement_id"]
    assert_error(env.debit(ids, other), 404, "agreement_not_found")
    missing = assert_error(env.debit([ids[0], "AR09999999"], first), 404, "arrear_not_found")
    assert missing["arrear_id"] == "AR09999999"
    env.declare(env.creds[2])
    foreign = env.arrears(unit=env.creds[2])[0]["arrear_id"]
    assert_error(env.debit([foreign], first), 404, "arrear_not_found")
    headers = env.login(env.unit)
    resp = env.cl.post(f"/v1/units/{env.unit.unit_id}/debits", headers=headers,
                       json={"agreement_id": first, "arrear_ids": ids})
    assert_error(resp, 400, "idempotency_key_required")
    assert env.count("debit") == 0 and env.count("payment") == 0  # refused as a whole


def test_voided_arrears_cannot_be_debited(env: Env) -> None:
    decl = env.declare()
    env.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    resp = env.post(f"/fee-declarations/{decl['declaration_id']}/voids", {"reason": "申报有误"})
    assert resp.status_code == 202
    env.ok(f"/fee-declaration-voids/{resp.get_json()['void_id']}")
    all_ = env.arrears("?state=all")
    assert all_ and {i["state"] for i in all_} == {"voided"} and env.arrears() == []
    assert_error(env.debit([all_[0]["arrear_id"]]), 404, "arrear_not_found")


def test_same_key_is_one_debit(env: Env) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()][:2]
    first = env.debit(ids, key="same")
    again = env.debit(ids, key="same")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    assert env.count("debit") == 1 and env.count("payment") == 2
    assert_error(env.debit(ids[:1], key="same"), 409, "idempotency_conflict")
    resp = env.cl.get("/v1/idempotency/same", headers=env.login(env.unit))
    assert resp.get_json()["status"] == 201 and resp.get_json()["response"] == first.get_json()
    # a refusal is stored under its key too
    refused = env.debit(ids, key="again")
    assert_error(refused, 409, "arrear_paid")
    assert env.debit(ids, key="again").headers["Idempotent-Replayed"] == "true"


def test_a_confirmed_total_that_is_no_longer_todays_is_refused(env: Env) -> None:
    """The payer confirmed the total of an earlier day: the late fee has grown, so the debit
    is refused as a whole (stored under its key) and the bank is not asked."""
    env.declare()
    env.today("2025-03-20")
    item = env.arrears()[0]
    confirmed = item["total"]
    agreement_id = env.agreement()["agreement_id"]
    env.today("2025-04-05")
    body = {"agreement_id": agreement_id, "arrear_ids": [item["arrear_id"]], "confirmed_total": confirmed}
    refused = assert_error(env.post("/debits", body, key="late"), 409, "amount_changed")
    now = env.arrears()[0]
    assert refused["confirmed_total"] == confirmed and refused["total"] == now["total"] != confirmed
    assert f"{money(now['total']):,.2f}" in refused["message"]
    assert env.post("/debits", body, key="late").headers["Idempotent-Replayed"] == "true"
    assert env.count("debit") == 0
    ok = env.post("/debits", {**body, "confirmed_total": now["total"]})
    assert ok.status_code == 201 and ok.get_json()["results"][0]["total"] == now["total"]
    for bad in ("12.345", "abc", 12.5, "-1", "NaN"):
        assert_error(env.post("/debits", {**body, "confirmed_total": bad}), 400, "bad_request")


def test_unknown_result_resolved_later_as_paid(env: Env) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()][:3]
    env.sim("POST", f"/units/{env.unit.unit_id}/bank-answers", {"answer": "unknown", "count": 1})
    body = env.debit(ids).get_json()
    assert body["status"] == "processing" and body["unknown_count"] == 1 and body["paid_count"] == 2
    unknown = body["results"][0]
    assert unknown["status"] == "unknown" and unknown["tax_ticket"] is None and CHINESE.search(unknown["message"])
    held = next(i for i in env.arrears() if i["arrear_id"] == ids[0])
    assert (held["hold"], held["debit_id"]) == ("debit", body["debit_id"])
    refused = assert_error(env.debit([ids[0]]), 409, "arrear_in_debit")
    assert (refused["arrear_id"], refused["debit_id"]) == (ids[0], body["debit_id"])
    assert_error(env.post("/vouchers", {"arrear_ids": [ids[0]]}), 409, "arrear_in_debit")
    env.clock.tick(1)
    assert env.ok(f"/debits/{body['debit_id']}")["status"] == "processing"  # not yet known
    env.clock.tick(1)
    now = env.ok(f"/debits/{body['debit_id']}")
    assert now["status"] == "done" and now["paid_count"] == 3 and now["unknown_count"] == 0
    assert TICKET.match(now["results"][0]["tax_ticket"]) and now["results"][0]["payment_id"]
    assert now["results"][1:] == body["results"][1:]
    assert env.arrears() == [] or ids[0] not in {i["arrear_id"] for i in env.arrears()}
    assert env.count("payment") == 3
    # the money was taken at the debit: the balance counts all three
    balance = env.sim("GET", f"/units/{env.unit.unit_id}/agreements")["items"][0]["balance"]
    assert money(balance) == Decimal("10000000.00") - money(now["paid_total"])


def test_unknown_result_resolved_as_failed_frees_the_arrear(env: Env) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()][:2]
    env.sim("PUT", "/settings", {"unknown_resolve_seconds": 10})
    assert env.sim("GET", "/settings")["unknown_resolve_seconds"] == 10
    env.sim("POST", f"/units/{env.unit.unit_id}/bank-answers",
            {"answer": "unknown", "count": 2, "resolve_to": "failed"})
    body = env.debit(ids).get_json()
    assert body["unknown_count"] == 2 and env.count("payment") == 0
    env.clock.tick(10)
    assert env.arrears()  # the arrears query settles it too
    now = env.ok(f"/debits/{body['debit_id']}")
    assert now["status"] == "done" and now["failed_count"] == 2
    assert {(r["code"], r["message"]) for r in now["results"]} == {("bank_timeout", "银行或国库超时")}
    assert all(i["hold"] is None for i in env.arrears())
    assert env.debit(ids).get_json()["paid_count"] == 2  # the answers were used up


def test_a_debit_of_two_hundred_arrears_is_one_change(env: Env) -> None:
    env.declare()
    template = env.arrears()[0]
    con = env.con()
    row = con.execute("SELECT * FROM arrear WHERE id = ?", (int(template["arrear_id"][2:]),)).fetchone()
    cols = [d[1] for d in con.execute("PRAGMA table_info(arrear)")]
    copies = [dict(zip(cols, row, strict=True)) | {"id": None, "amount": "100.00"} for _ in range(200)]
    con.executemany(f"INSERT INTO arrear({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                    [tuple(c.values()) for c in copies])
    con.commit()
    ids = [f"AR{r[0]:08d}" for r in con.execute("SELECT id FROM arrear ORDER BY id DESC LIMIT 200")]
    (before,) = con.execute("SELECT MAX(seq) FROM change_log").fetchone()
    con.close()
    body = env.debit(ids).get_json()
    assert body["paid_count"] == 200 and body["paid_total"] == "20000.00"
    assert env.count("change_log", f"seq > {before}") == 1  # one transaction, one change number
    assert env.count("payment", "method = '三方协议'") == 200


# -- vouchers --------------------------------------------------------------------------------------
def test_voucher_holds_lists_voids(env: Env) -> None:
    env.declare()
    items = env.arrears()
    ids = [i["arrear_id"] for i in items[:2]]
    resp = env.post("/vouchers", {"arrear_ids": ids})
    assert resp.status_code == 201, resp.get_json()
    v = resp.get_json()
    assert v["voucher_id"].startswith("BV") and TICKET.match(v["voucher_no"]) and v["state"] == "open"
    assert (v["issued_on"], v["deadline"], v["count"]) == ("2025-03-15", "2025-03-31", 2)
    assert v["taxpayer_id"] == env.unit.taxpayer_id and v["unit_name"] == env.unit.name
    assert v["tax_office"].startswith("国家税务总局") and v["paid_at"] is v["voided_at"] is None
    assert [a["arrear_id"] for a in v["arrears"]] == ids
    assert money(v["total"]) == sum(money(i["total"]) for i in items[:2]) == money(v["amount_total"])
    held = {i["arrear_id"]: i for i in env.arrears()}
    assert all((held[i]["hold"], held[i]["voucher_id"]) == ("voucher", v["voucher_id"]) for i in ids)
    for path, body in (("/debits", {"agreement_id": env.agreement()["agreement_id"], "arrear_ids": ids}),
                       ("/vouchers", {"arrear_ids": ids[1:]})):
        refused = assert_error(env.post(path, body), 409, "arrear_on_voucher")
        assert (refused["arrear_id"], refused["voucher_id"]) == (ids[0] if path == "/debits" else ids[1],
                                                                 v["voucher_id"])
    assert env.ok(f"/vouchers/{v['voucher_id']}") == v
    assert env.ok("/vouchers")["items"] == [v]
    assert env.ok("/vouchers?from=2025-03-16&to=2025-04-01")["items"] == []
    assert_error(env.get("/vouchers?from=2024-01-01&to=2025-03-15"), 400, "bad_date_range")
    assert_error(env.get("/vouchers?from=2025-03-16&to=2025-03-15"), 400, "bad_date_range")
    assert_error(env.get("/vouchers?from=15.03.2025"), 400, "bad_date_range")
    assert_error(env.get("/vouchers/BV09999999"), 404, "voucher_not_found")
    assert_error(env.get(f"/vouchers/{v['voucher_id']}", env.creds[2]), 404, "voucher_not_found")
    voided = env.post(f"/vouchers/{v['voucher_id']}/voids", {})
    assert voided.status_code == 200 and voided.get_json()["state"] == "voided"
    assert voided.get_json()["voided_at"]
    assert all(i["hold"] is None and i["voucher_id"] is None for i in env.arrears())
    assert_error(env.post(f"/vouchers/{v['voucher_id']}/voids", {}), 409, "voucher_not_open")
    assert_error(env.post("/vouchers/BV09999999/voids", {}), 404, "voucher_not_found")
    assert env.debit(ids).get_json()["paid_count"] == 2  # free again


def test_voucher_refusals_and_paging(env: Env) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()]
    assert_error(env.post("/vouchers", {"arrear_ids": []}), 400, "bad_request")
    assert_error(env.post("/vouchers", {"arrear_ids": [ids[0], ids[0]]}), 400, "bad_request")
    assert_error(env.post("/vouchers", {"arrear_ids": ["AR09999999"]}), 404, "arrear_not_found")
    env.debit(ids[:1])
    assert_error(env.post("/vouchers", {"arrear_ids": ids[:1]}), 409, "arrear_paid")
    made = [env.post("/vouchers", {"arrear_ids": [i]}).get_json()["voucher_id"] for i in ids[1:4]]
    seen, page = [], env.ok("/vouchers?limit=2")
    seen += page["items"]
    while page["has_more"]:
        page = env.ok(f"/vouchers?limit=2&cursor={page['next_cursor']}")
        seen += page["items"]
    assert [v["voucher_id"] for v in seen] == made
    assert (page["from"], page["to"]) == ("2024-03-14", "2025-03-15")


def test_voucher_paid_at_the_bank(env: Env) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()[:3]]
    v = env.post("/vouchers", {"arrear_ids": ids}).get_json()
    env.clock.tick(60)
    paid = env.sim("POST", f"/units/{env.unit.unit_id}/vouchers/{v['voucher_id']}/pay")
    assert paid["state"] == "paid" and paid["paid_at"] == "2025-03-15T09:01:00"
    records = env.ok("/payments?method=银行端缴款凭证")["items"]
    assert [r["arrear_id"] for r in records] == ids
    for r, a in zip(records, v["arrears"], strict=True):
        assert (r["method"], r["voucher_id"], r["tax_ticket"], r["debit_id"]) == (
            "银行端缴款凭证", v["voucher_id"], v["voucher_no"], None)
        assert (r["amount"], r["late_fee"], r["total"]) == (a["amount"], a["late_fee"], a["total"])
    assert {a["state"] for a in env.arrears("?state=paid")} == {"paid"}
    assert_error(env.post(f"/vouchers/{v['voucher_id']}/voids", {}), 409, "voucher_paid")
    resp = env.cl.post(f"/sim/units/{env.unit.unit_id}/vouchers/{v['voucher_id']}/pay", json={})
    assert_error(resp, 409, "voucher_paid")
    assert_error(env.debit(ids[:1]), 409, "arrear_paid")


def test_voucher_expires_after_its_deadline(env: Env) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()[:2]]
    v = env.post("/vouchers", {"arrear_ids": ids}).get_json()
    env.today("2025-03-31")
    assert env.ok(f"/vouchers/{v['voucher_id']}")["state"] == "open"  # valid on its deadline
    env.today("2025-04-01")
    assert env.ok(f"/vouchers/{v['voucher_id']}")["state"] == "expired"
    assert all(i["hold"] is None for i in env.arrears() if i["arrear_id"] in ids)
    resp = env.cl.post(f"/sim/units/{env.unit.unit_id}/vouchers/{v['voucher_id']}/pay", json={})
    assert_error(resp, 409, "voucher_not_open")
    assert_error(env.post(f"/vouchers/{v['voucher_id']}/voids", {}), 409, "voucher_not_open")
    # an overdue voucher fixes the late fee of its day and is valid that day only
    late = env.post("/vouchers", {"arrear_ids": ids}).get_json()
    pack = load_pack(env.unit.region)
    assert (late["issued_on"], late["deadline"]) == ("2025-04-01", "2025-04-01")
    for a in late["arrears"]:
        fee = late_fee(pack, money(a["amount"]), dt.date(2025, 3, 31), dt.date(2025, 4, 1))
        assert a["late_fee"] == f"{fee:.2f}" and fee > 0
    env.today("2025-04-05")
    assert env.ok(f"/vouchers/{late['voucher_id']}")["arrears"] == late["arrears"]  # fixed figures
    assert env.ok(f"/vouchers/{late['voucher_id']}")["state"] == "expired"


def test_fee_void_refused_while_a_voucher_is_open_or_after_payment(env: Env) -> None:
    env.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    decl = env.declare()
    ids = [a["arrear_id"] for a in decl["arrears"]]

    def void() -> dict[str, Any]:
        resp = env.post(f"/fee-declarations/{decl['declaration_id']}/voids", {"reason": "申报有误"})
        assert resp.status_code == 202, resp.get_json()
        return env.ok(f"/fee-declaration-voids/{resp.get_json()['void_id']}")

    v = env.post("/vouchers", {"arrear_ids": ids[:1]}).get_json()
    assert void()["rejection"]["code"] == "voucher_open"
    env.post(f"/vouchers/{v['voucher_id']}/voids", {})
    env.sim("POST", f"/units/{env.unit.unit_id}/bank-answers", {"answer": "unknown", "resolve_to": "failed"})
    env.debit(ids[1:2])
    assert void()["rejection"]["code"] == "paid"  # the bank may have taken the money
    env.clock.tick(2)
    assert env.ok("/arrears")["count"] == len(ids)  # resolved as failed: nothing paid
    env.debit(ids[1:2])
    assert void()["rejection"]["code"] == "paid"
    assert env.ok(f"/fee-declarations/{decl['declaration_id']}")["status"] == "accepted"


# -- payment records -------------------------------------------------------------------------------
def test_payments_arrive_and_the_feed_serves_them_again(env: Env) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()]
    debit = env.debit(ids[:2]).get_json()
    page = env.ok("/payments")
    assert page["mode"] == "full" and not page["has_more"]
    records = page["items"]
    agreement = env.agreement()
    assert [r["payment_id"] for r in records] == [r["payment_id"] for r in debit["results"]]
    for r, res in zip(records, debit["results"], strict=True):
        assert (r["tax_ticket"], r["method"], r["debit_id"], r["voucher_id"]) == (
            res["tax_ticket"], "三方协议", debit["debit_id"], None)
        assert (r["agreement_no"], r["bank"]) == (agreement["agreement_no"], agreement["bank"])
        assert (r["amount"], r["late_fee"], r["total"]) == (res["amount"], res["late_fee"], res["total"])
        assert (r["arrival"], r["stored_at"], r["paid_at"]) == ("已缴款未入库", None, debit["received_at"])
        assert r["period_from"] == "202503" and r["item_name"]
    cursor = page["next_cursor"]
    empty = env.ok(f"/payments?cursor={cursor}")
    assert empty["items"] == [] and empty["next_cursor"] == cursor and empty["mode"] == "incremental"
    env.clock.tick(4)
    assert env.ok(f"/payments?cursor={cursor}")["items"] == []
    env.clock.tick(1)  # arrival_delay_seconds (5) have passed
    changed = env.ok(f"/payments?cursor={cursor}")
    assert [r["payment_id"] for r in changed["items"]] == [r["payment_id"] for r in records]
    assert {(r["arrival"], r["stored_at"]) for r in changed["items"]} == {("已入库", "2025-03-15T09:00:05")}
    assert env.ok(f"/payments?cursor={changed['next_cursor']}")["items"] == []
    env.debit(ids[2:3])
    later = env.ok(f"/payments?cursor={changed['next_cursor']}")["items"]
    assert len(later) == 1 and later[0]["arrear_id"] == ids[2]
    assert env.ok("/payments?period=202502")["items"] == []
    assert len(env.ok("/payments?period=202503&limit=1")["items"]) == 1
    assert env.ok("/payments?method=银行端缴款凭证")["items"] == []
    assert_error(env.get("/payments?method=现金"), 400, "bad_request")
    assert_error(env.get("/payments?cursor=abc"), 400, "bad_cursor")
    forged = base64.urlsafe_b64encode(json.dumps({"f": "payments", "u": 1, "k": "x"}).encode()).decode()
    assert_error(env.get(f"/payments?cursor={forged}"), 400, "bad_cursor")
    env.sim("PUT", "/settings", {"arrival_delay_seconds": 60})
    assert env.sim("GET", "/settings")["arrival_delay_seconds"] == 60
    assert_error(env.cl.put("/sim/settings", json={"arrival_delay_seconds": -1}), 400, "bad_settings")


def test_payments_pages_by_payment_id(env: Env) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()]
    env.debit(ids)
    seen, page = [], env.ok("/payments?limit=2")
    seen += page["items"]
    while page["has_more"]:
        page = env.ok(f"/payments?limit=2&cursor={page['next_cursor']}")
        assert page["mode"] == "full"
        seen += page["items"]
    assert [r["payment_id"] for r in seen] == sorted(r["payment_id"] for r in seen)
    assert len(seen) == len(ids) == env.count("payment")


def test_overdue_arrears_without_rules_are_refused(env: Env) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()][:1]
    con = env.con()
    con.execute("UPDATE unit SET region = '440000' WHERE unit_id = ?", (env.unit.unit_id,))  # no pack
    con.commit()
    con.close()
    assert env.ok("/arrears")["late_fee_total"] == "0.00"  # not overdue: no pack needed
    env.today("2025-04-02")
    assert_error(env.get("/arrears"), 422, "rules_unavailable")
    assert_error(env.debit(ids, key="no-rules"), 422, "rules_unavailable")
    assert_error(env.post("/vouchers", {"arrear_ids": ids}), 422, "rules_unavailable")
    assert env.count("debit") == 0 and env.count("voucher") == 0
    assert env.debit(ids, key="no-rules").headers["Idempotent-Replayed"] == "true"


def test_sim_payment_calls_check_their_input(env: Env) -> None:
    unit = env.unit.unit_id
    for body in ({"answer": "maybe"}, {"answer": "unknown", "count": 0},
                 {"answer": "unknown", "resolve_to": "later"}):
        code = "bad_count" if "count" in body else "bad_request"
        assert_error(env.cl.post(f"/sim/units/{unit}/bank-answers", json=body), 400, code)
    queued = env.sim("POST", f"/units/{unit}/bank-answers", {"answer": "unknown", "count": 3})
    assert queued["items"] == [{"answer": "unknown", "resolve_to": "paid", "remaining": 3}]
    first = env.agreement()["agreement_id"]
    for body in ({"state": "暂停"}, {"scope": "全部"}, {"budget_ok": "no"}, {"balance": True}):
        assert_error(env.cl.put(f"/sim/units/{unit}/agreements/{first}", json=body), 400, "bad_request")
    assert env.set_agreement(first, balance="12.5")["balance"] == "12.50"
    assert_error(env.cl.post(f"/sim/units/{unit}/vouchers/BV09999999/pay", json={}), 404, "voucher_not_found")
    assert_error(env.cl.get("/sim/units/U999999/agreements"), 404, "unit_not_found")


def test_every_payment_change_takes_a_change_number(env: Env) -> None:
    env.declare()
    ids = [i["arrear_id"] for i in env.arrears()[:2]]
    pk = int(ids[0][2:])

    def seqs() -> tuple[int, ...]:
        con = env.con()
        try:
            arrear = con.execute("SELECT seq FROM arrear WHERE id = ?", (pk,)).fetchone()[0]
            voucher = con.execute("SELECT COALESCE(MAX(seq), 0) FROM voucher").fetchone()[0]
            payment = con.execute("SELECT COALESCE(MAX(seq), 0) FROM payment").fetchone()[0]
            top = con.execute("SELECT MAX(seq) FROM change_log").fetchone()[0]
            return arrear, voucher, payment, top
        finally:
            con.close()

    start = seqs()
    v = env.post("/vouchers", {"arrear_ids": ids[:1]}).get_json()
    issued = seqs()
    assert issued[0] == issued[1] == issued[3] > start[3]  # the hold and the voucher: one number
    env.post(f"/vouchers/{v['voucher_id']}/voids", {})
    freed = seqs()
    assert freed[0] == freed[1] == freed[3] > issued[3]
    env.debit(ids[:1])
    paid = seqs()
    assert paid[0] == paid[2] == paid[3] > freed[3]
    env.clock.tick(5)
    env.ok("/payments")
    arrived = seqs()
    assert arrived[2] == arrived[3] > paid[3] and arrived[0] == paid[0]
