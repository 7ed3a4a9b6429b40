"""Fault injection on the payment calls, over real HTTP (live tax side): a lost answer
of a debit or a voucher is resolved by the idempotency record, never by paying twice."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.taxside_fixtures import LiveTaxSide

PASSWORD = "secret2025"


class Client:
    def __init__(self, taxside: LiveTaxSide, http: httpx.Client) -> None:
        self.taxside, self.http = taxside, http
        self.unit = taxside.unit(0)
        base = f"/v1/units/{self.unit.unit_id}"
        token = http.post(f"{base}/session", json={"password": self.unit.initial_password}).json()["token"]
        self.auth = {"Authorization": f"Bearer {token}"}
        http.put(f"{base}/password", headers={**self.auth, "Idempotency-Key": "pw"},
                 json={"old_password": self.unit.initial_password, "new_password": PASSWORD})
        self.base = base

    def get(self, path: str) -> httpx.Response:
        return self.http.get(f"{self.base}{path}", headers=self.auth)

    def post(self, path: str, body: Any, key: str, timeout: float | None = None) -> httpx.Response:
        kwargs: dict[str, Any] = {"timeout": timeout} if timeout else {}
        return self.http.post(f"{self.base}{path}", headers={**self.auth, "Idempotency-Key": key},
                              json=body, **kwargs)

    def outcome(self, key: str) -> httpx.Response:
        return self.http.get(f"/v1/idempotency/{key}", headers=self.auth)

    def count(self, table: str) -> int:
        con = sqlite3.connect(self.taxside.db_path)
        try:
            return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            con.close()


@pytest.fixture
def client(taxside: LiveTaxSide) -> Iterator[Client]:
    with httpx.Client(base_url=taxside.url, timeout=5, trust_env=False) as http:
        c = Client(taxside, http)
        taxside.sim("POST", f"/units/{c.unit.unit_id}/fee-declarations")  # arrears to pay
        yield c


def test_debit_under_every_fault(client: Client) -> None:
    ts, path = client.taxside, f"{client.base}/debits"
    arrears = client.get("/arrears").json()["items"]
    agreement = client.get("/agreements").json()["items"][0]["agreement_id"]
    body = {"agreement_id": agreement, "arrear_ids": [a["arrear_id"] for a in arrears[:2]]}
    ts.fault(path, "error", status=503, count=1, method="POST")
    busy = client.post("/debits", body, "d-busy")
    assert busy.status_code == 503 and busy.json()["code"] == "busy"
    assert client.count("debit") == 0 and client.outcome("d-busy").status_code == 404
    ts.fault(path, "timeout", hold_s=1, count=1, method="POST")
    with pytest.raises(httpx.ReadTimeout):
        client.post("/debits", body, "d-late", timeout=0.3)
    assert client.count("debit") == 0 and client.outcome("d-late").status_code == 404
    ts.fault(path, "drop_after_commit", count=1, method="POST")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/debits", body, "d-drop")
    assert client.count("debit") == 1 and client.count("payment") == 2  # committed, answer lost
    outcome = client.outcome("d-drop").json()
    assert outcome["status"] == 201 and outcome["path"] == path
    debit = outcome["response"]
    assert debit["paid_count"] == 2
    assert client.get(f"/debits/{debit['debit_id']}").json() == debit
    replay = client.post("/debits", body, "d-drop")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == debit and client.count("debit") == 1 and client.count("payment") == 2
    # a new key for the same arrears is refused: they are paid
    again = client.post("/debits", body, "d-new")
    assert again.status_code == 409 and again.json()["code"] == "arrear_paid"
    assert client.outcome("d-new").json()["status"] == 409
    ts.fault(path, "malformed_json", count=1, method="POST")
    with pytest.raises(ValueError):
        client.post("/debits", {**body, "arrear_ids": [arrears[2]["arrear_id"]]}, "d-bad").json()
    assert client.outcome("d-bad").json()["response"]["paid_count"] == 1


def test_unknown_debit_answer_lost_then_resolved(client: Client) -> None:
    ts, path = client.taxside, f"{client.base}/debits"
    ts.sim("PUT", "/settings", {"unknown_resolve_seconds": 0})
    ts.sim("POST", f"/units/{client.unit.unit_id}/bank-answers", {"answer": "unknown"})
    arrear = client.get("/arrears").json()["items"][0]["arrear_id"]
    agreement = client.get("/agreements").json()["items"][0]["agreement_id"]
    ts.fault(path, "drop_after_commit", count=1, method="POST")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/debits", {"agreement_id": agreement, "arrear_ids": [arrear]}, "u-drop")
    stored = client.outcome("u-drop").json()["response"]
    assert stored["status"] == "processing" and stored["results"][0]["status"] == "unknown"
    now = client.get(f"/debits/{stored['debit_id']}").json()  # resolve delay 0: known at once
    assert now["status"] == "done" and now["results"][0]["status"] == "paid"
    assert client.count("payment") == 1


def test_voucher_and_void_under_drop_after_commit(client: Client) -> None:
    ts = client.taxside
    arrear = client.get("/arrears").json()["items"][0]["arrear_id"]
    ts.fault(f"{client.base}/vouchers", "drop_after_commit", count=1, method="POST")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/vouchers", {"arrear_ids": [arrear]}, "v-drop")
    voucher = client.outcome("v-drop").json()["response"]
    assert voucher["state"] == "open" and client.count("voucher") == 1
    replay = client.post("/vouchers", {"arrear_ids": [arrear]}, "v-drop")
    assert replay.json() == voucher and client.count("voucher") == 1
    void_path = f"{client.base}/vouchers/{voucher['voucher_id']}/voids"
    ts.fault(void_path, "drop_after_commit", count=1, method="POST")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(f"/vouchers/{voucher['voucher_id']}/voids", {}, "v-void")
    assert client.outcome("v-void").json()["response"]["state"] == "voided"
    replay = client.post(f"/vouchers/{voucher['voucher_id']}/voids", {}, "v-void")
    assert replay.status_code == 200 and replay.json()["state"] == "voided"
    again = client.post(f"/vouchers/{voucher['voucher_id']}/voids", {}, "v-void-2")
    assert again.status_code == 409 and again.json()["code"] == "voucher_not_open"
    assert client.get("/arrears").json()["items"][0]["hold"] is None


def test_concurrent_debits_of_one_arrear_pay_it_once(client: Client) -> None:
    arrear = client.get("/arrears").json()["items"][0]["arrear_id"]
    agreement = client.get("/agreements").json()["items"][0]["agreement_id"]
    answers: list[httpx.Response] = []

    def send(key: str) -> None:
        with httpx.Client(base_url=client.taxside.url, timeout=10, trust_env=False) as http:
            answers.append(http.post(f"{client.base}/debits", headers={**client.auth, "Idempotency-Key": key},
                                     json={"agreement_id": agreement, "arrear_ids": [arrear]}))

    threads = [threading.Thread(target=send, args=(f"c-{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in answers)
    assert codes == [201, 409, 409, 409], [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"arrear_paid"}
    assert client.count("payment") == 1
