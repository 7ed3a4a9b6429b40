"""Fault injection on the fee-declaration calls, over real HTTP (live tax side)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.taxside_fixtures import LiveTaxSide

PASSWORD = "secret2025"


class Client:
    def __init__(self, taxside: LiveTaxSide, http: httpx.Client) -> None:
        self.taxside, self.http = taxside, http
        self.unit = taxside.unit(1)
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

    def count(self, table: str) -> int:
        con = sqlite3.connect(self.taxside.db_path)
        try:
            return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            con.close()


@pytest.fixture
def client(taxside: LiveTaxSide) -> Iterator[Client]:
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    with httpx.Client(base_url=taxside.url, timeout=5, trust_env=False) as http:
        yield Client(taxside, http)


def _body(client: Client) -> dict[str, Any]:
    items = client.get("/fee-summaries").json()["items"]
    return {"summaries": [{"summary_id": s["summary_id"], "version": s["version"]} for s in items]}


def test_declaration_post_under_every_fault(client: Client) -> None:
    ts, path = client.taxside, f"{client.base}/fee-declarations"
    body = _body(client)
    ts.fault(path, "error", status=503, count=1, method="POST")
    busy = client.post("/fee-declarations", body, "k-busy")
    assert busy.status_code == 503 and busy.json()["code"] == "busy"
    assert client.count("fee_declaration") == 0  # nothing processed
    assert client.http.get("/v1/idempotency/k-busy", headers=client.auth).status_code == 404
    ts.fault(path, "timeout", hold_s=1, count=1, method="POST")
    with pytest.raises(httpx.ReadTimeout):
        client.post("/fee-declarations", body, "k-late", timeout=0.3)
    assert client.count("fee_declaration") == 0
    assert client.http.get("/v1/idempotency/k-late", headers=client.auth).status_code == 404
    ts.fault(path, "drop_after_commit", count=1, method="POST")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/fee-declarations", body, "k-drop")
    assert client.count("fee_declaration") == 1  # committed although the answer was lost
    outcome = client.http.get("/v1/idempotency/k-drop", headers=client.auth).json()
    assert outcome["status"] == 202 and outcome["response"]["status"] == "processing"
    replay = client.post("/fee-declarations", body, "k-drop")
    assert replay.status_code == 202 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == outcome["response"] and client.count("fee_declaration") == 1
    ts.fault(path, "malformed_json", count=1, method="POST")
    with pytest.raises(ValueError):
        client.post("/fee-declarations", body, "k-bad").json()
    assert client.count("fee_declaration") == 2
    decided = client.get(f"/fee-declarations/{outcome['response']['declaration_id']}").json()
    assert decided["status"] == "accepted"


def test_void_post_drop_after_commit_resolves_by_key(client: Client) -> None:
    declared = client.post("/fee-declarations", _body(client), "k-decl").json()
    path = f"/fee-declarations/{declared['declaration_id']}/voids"
    assert client.get(f"/fee-declarations/{declared['declaration_id']}").json()["status"] == "accepted"
    client.taxside.fault(f"{client.base}{path}", "drop_after_commit", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(path, {"reason": "重复申报"}, "k-void")
    outcome = client.http.get("/v1/idempotency/k-void", headers=client.auth).json()
    assert outcome["status"] == 202
    replay = client.post(path, {"reason": "重复申报"}, "k-void")
    assert replay.json() == outcome["response"] and client.count("fee_void") == 1
    state = client.get(f"/fee-declaration-voids/{outcome['response']['void_id']}").json()
    assert state["status"] == "accepted"


@pytest.mark.parametrize("path", [
    "/fee-summaries", "/fee-summaries/{sid}", "/fee-summaries/{sid}/details",
    "/fee-declarations/{did}", "/fee-declaration-records", "/fee-declaration-voids/{vid}",
])
def test_reads_under_faults(client: Client, path: str) -> None:
    sid = client.get("/fee-summaries").json()["items"][0]["summary_id"]
    did = client.post("/fee-declarations", _body(client), "k-read").json()["declaration_id"]
    vid = client.post(f"/fee-declarations/{did}/voids", {"reason": "x"}, "k-read-void").json()["void_id"]
    url = path.format(sid=sid, did=did, vid=vid)
    if url.startswith("/fee-summaries"):
        url += "?state=all" if url == "/fee-summaries" else ""
    full = f"{client.base}{url.split('?')[0]}"
    ts = client.taxside
    ts.fault(full, "error", status=503, count=1)
    assert client.get(url).status_code == 503
    ts.fault(full, "malformed_json", count=1)
    with pytest.raises(ValueError):
        client.get(url).json()
    ts.fault(full, "wrong_content_type", count=1)
    assert client.get(url).headers["content-type"].startswith("text/html")
    ts.fault(full, "timeout", hold_s=1, count=1)
    with pytest.raises(httpx.ReadTimeout):
        client.http.get(f"{client.base}{url}", headers=client.auth, timeout=0.3)
    ts.fault(full, "drop_after_commit", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(url)
    ok = client.get(url)
    assert ok.status_code == 200 and ok.json()
