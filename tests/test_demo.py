"""`socialfee demo`: the demo data and the reference tax side it starts."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from client import demo
from client.sync.taxclient import TaxClient


def test_demo_data_has_what_training_needs(tmp_path: Path) -> None:
    creds = demo.prepare(tmp_path)
    assert sum(c.employees for c in creds) == demo.DEMO_EMPLOYEES
    assert {c.region for c in creds} == {"110000", "310000", "140000"}
    per_taxpayer = Counter(c.taxpayer_id for c in creds)
    assert max(per_taxpayer.values()) >= 2  # a taxpayer with two units (报验户)
    taxside = demo.start_taxside(tmp_path)
    try:
        with TaxClient(taxside.url) as client:
            two = next(t for t, n in per_taxpayer.items() if n >= 2)
            assert len(client.units_for_taxpayer(two)) == 2
            for c in creds:
                session = client.login(c.unit_id, c.initial_password)  # printed passwords work
                assert session.must_change_password
    finally:
        taxside.stop()
    db = sqlite3.connect(demo.taxside_folder(tmp_path) / demo.TAXSIDE_DB)
    (most,) = db.execute(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM unit_number GROUP BY unit_pk)"
    ).fetchone()
    db.close()
    assert most >= 2  # a unit with two unit numbers
    # A second run reuses the same data instead of generating again.
    assert demo.prepare(tmp_path) == creds


def test_demo_command_starts_taxside_and_client(tmp_path: Path) -> None:
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "client", "--home", str(tmp_path), "demo", "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("URL: "):
            break
    try:
        taxside_line = next(x for x in lines if x.startswith("参考税务端："))
        taxside_url = taxside_line.split("：", 1)[1].split("（", 1)[0]
        assert httpx.get(taxside_url + "/v1/rule-packs", timeout=10).status_code == 200
        assert sum(x.strip().startswith("纳税人识别号") for x in lines) == demo.DEMO_UNITS
        with httpx.Client(follow_redirects=True, timeout=10) as client:
            page = client.get(lines[-1][5:])
            assert page.status_code == 200
            saved = client.get(str(page.url.join("/api/system/settings"))).json()["settings"]
        assert saved["taxside_url"] == taxside_url
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
