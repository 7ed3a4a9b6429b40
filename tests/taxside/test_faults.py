"""Fault injection over real HTTP (the live tax side on 127.0.0.1:0)."""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from tests.taxside_fixtures import LiveTaxSide


def _http() -> httpx.Client:
    return httpx.Client(timeout=5, trust_env=False)


def test_error_fault_limited_to_count(taxside: LiveTaxSide) -> None:
    taxside.fault("/v1/rule-packs", "error", status=503, count=2)
    with _http() as http:
        answers = [http.get(f"{taxside.url}/v1/rule-packs") for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    body = answers[0].json()
    assert body["code"] == "busy" and body["message"] == "税务端繁忙，请稍后再试"
    assert taxside.sim("GET", "/faults")["items"] == []


def test_error_share_and_clear(taxside: LiveTaxSide) -> None:
    taxside.fault("/v1/notices", "error", status=500, rate=0.5)
    with _http() as http:
        codes = [http.get(f"{taxside.url}/v1/notices?region=110000").status_code for _ in range(40)]
        assert 5 < codes.count(500) < 35 and codes.count(200) > 5
        taxside.clear_faults()
        assert http.get(f"{taxside.url}/v1/notices?region=110000").status_code == 200


def test_latency_and_method_filter(taxside: LiveTaxSide) -> None:
    taxside.fault("/v1/client", "latency", latency_ms=300, count=1)
    taxside.fault("/v1/notices", "error", method="POST")
    with _http() as http:
        started = time.perf_counter()
        assert http.get(f"{taxside.url}/v1/client/latest").status_code == 200
        assert time.perf_counter() - started >= 0.25
        assert http.get(f"{taxside.url}/v1/notices?region=110000").status_code == 200


def test_timeout_fault_holds_beyond_client_timeout(taxside: LiveTaxSide) -> None:
    taxside.fault("/v1/rule-packs", "timeout", hold_s=2, count=1)
    with httpx.Client(timeout=0.3, trust_env=False) as http, pytest.raises(httpx.ReadTimeout):
        http.get(f"{taxside.url}/v1/rule-packs")
    with _http() as http:
        assert http.get(f"{taxside.url}/v1/rule-packs").status_code == 200


def test_malformed_and_wrong_content_type(taxside: LiveTaxSide) -> None:
    taxside.fault("/v1/client/latest", "malformed_json", count=1)
    taxside.fault("/v1/rule-packs", "wrong_content_type", count=1)
    with _http() as http:
        bad = http.get(f"{taxside.url}/v1/client/latest")
        assert bad.headers["content-type"].startswith("application/json")
        with pytest.raises(ValueError):
            bad.json()
        html = http.get(f"{taxside.url}/v1/rule-packs")
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")


def test_drop_after_commit_commits_the_write(taxside: LiveTaxSide) -> None:
    unit = taxside.unit(0)
    with _http() as http:
        token = http.post(f"{taxside.url}/v1/units/{unit.unit_id}/session",
                          json={"password": unit.initial_password}).json()["token"]
        taxside.fault(f"/v1/units/{unit.unit_id}/password", "drop_after_commit", count=1)
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "drop-1"}
        body = {"old_password": unit.initial_password, "new_password": "dropped2025"}
        with pytest.raises(httpx.RemoteProtocolError):
            http.put(f"{taxside.url}/v1/units/{unit.unit_id}/password", headers=headers, json=body)
        con = sqlite3.connect(taxside.db_path)
        assert con.execute("SELECT COUNT(*) FROM idempotency WHERE key = 'drop-1'").fetchone()[0] == 1
        assert con.execute("SELECT password_hash IS NOT NULL FROM unit WHERE unit_id = ?",
                           (unit.unit_id,)).fetchone()[0] == 1
        again = http.put(f"{taxside.url}/v1/units/{unit.unit_id}/password", headers=headers, json=body)
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert con.execute("SELECT COUNT(*) FROM change_log WHERE op = 'password_changed'").fetchone()[0] == 1


def test_faults_never_hit_the_simulation_api(taxside: LiveTaxSide) -> None:
    taxside.fault("/", "error", status=503)
    assert taxside.sim("GET", "/faults")["items"][0]["kind"] == "error"
    taxside.clear_faults()
