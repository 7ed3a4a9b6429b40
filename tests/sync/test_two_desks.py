"""One sender per unit across desks (team mode, issue 18): several client processes on one
PostgreSQL database send a unit's journal, and every submission reaches the live tax side
exactly once, also when a desk is killed mid-send or an answer is lost after the commit.

The desks are separate processes (tests/sync/desk.py): their own Store, TaxClient and
sender, sharing nothing but the database and the tax side. The claim and the unit lock are
also checked in-process on both engines.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.core import journal, team_state
from client.core.store import Store
from client.sync.enrollment import EnrollmentSync
from client.sync.outbox import Outbox
from client.sync.taxclient import TaxClient
from tests.sync.conftest import NEW_PASSWORD
from tests.sync.desk import queue_declarations
from tests.taxside_fixtures import LiveTaxSide

REPO = Path(__file__).resolve().parents[2]
POST_PATH = "/v1/units/{}/wage-base-declarations"


def month_of(taxside: LiveTaxSide) -> str:
    today = taxside.sim("GET", "/settings")["today"]
    return today[:4] + today[5:7]


def received(taxside: LiveTaxSide, keys: list[str]) -> dict[str, int]:
    """How many declarations the tax side holds, and how many of these keys it committed."""
    conn = sqlite3.connect(taxside.db_path)
    try:
        (declarations,) = conn.execute("SELECT count(*) FROM wage_base_declaration").fetchone()
        marks = ", ".join("?" for _ in keys)
        (stored,) = conn.execute(
            f"SELECT count(*) FROM idempotency WHERE path LIKE '%/wage-base-declarations' AND key IN ({marks})",
            keys,
        ).fetchone()
    finally:
        conn.close()
    return {"declarations": int(declarations), "keys": int(stored)}


class PostCounter:
    """Counts the declaration requests that reach the tax side (replays included): a fault
    that does nothing (no latency) and counts down on every matching request."""

    START = 100_000

    def __init__(self, taxside: LiveTaxSide, path: str) -> None:
        self.taxside = taxside
        self.id = taxside.fault(path, "latency", method="POST", count=self.START, latency_ms=0)["id"]

    def posts(self) -> int:
        (fault,) = [f for f in self.taxside.sim("GET", "/faults")["items"] if f["id"] == self.id]
        return self.START - int(fault["remaining"])


def committed(taxside: LiveTaxSide, key: str) -> bool:
    conn = sqlite3.connect(taxside.db_path)
    try:
        return conn.execute("SELECT 1 FROM idempotency WHERE key = ?", (key,)).fetchone() is not None
    finally:
        conn.close()


class Desk:
    """A desk process: started, logged in (``ready``), then sent off by ``go``."""

    def __init__(self, home: Path, db_url: str, taxside: LiveTaxSide, unit, unit_pk: int, *extra: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.sync.desk", str(home), db_url, taxside.url, unit.unit_id,
             str(unit_pk), NEW_PASSWORD, *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line == "ready", (line, self.proc.stderr.read() if self.proc.stderr else "")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self, timeout: float = 120) -> dict:
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, err[-3000:]
        return json.loads(out.strip().splitlines()[-1])

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def team(tmp_path: Path, pg_url: str, taxside: LiveTaxSide, client: TaxClient, unit) -> Iterator[tuple[Store, int]]:
    """The team's database with the unit registered and its enrollment synced."""
    store = Store(tmp_path / "lead", pg_url)
    with store.write() as db:
        unit_pk = int(db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES (?, ?, ?, ?, '2025-03-15 08:00:00') RETURNING id",
            (unit.taxpayer_id, unit.unit_id, unit.name, unit.region),
        ).fetchone()[0])
    EnrollmentSync(store, client, unit_pk, unit.unit_id).run("full")
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    yield store, unit_pk
    store.close()


def assert_exactly_once(taxside: LiveTaxSide, store: Store, unit_pk: int, ids: list[int], before: int) -> None:
    entries = [journal.get(store, i) for i in ids]
    counts = received(taxside, [e.idempotency_key for e in entries])
    # One declaration per entry on the tax side, none missing, none extra.
    assert counts == {"declarations": before + len(ids), "keys": len(ids)}
    assert len({e.taxside_id for e in entries}) == len(ids) and all(e.taxside_id for e in entries)
    # Each request left once: the claim is the only way out, and it counts the attempt.
    assert [e.attempts for e in entries] == [1] * len(ids)
    assert {e.state for e in entries} <= {journal.ACCEPTED, journal.REJECTED}
    assert journal.count_open(store, unit_pk) == dict.fromkeys(journal.OPEN_STATES, 0)


def test_three_desks_send_every_entry_exactly_once(tmp_path, pg_url, taxside, unit, team) -> None:
    store, unit_pk = team
    before = received(taxside, ["-"])["declarations"]
    # Each desk's clerk submits some, and all three run their senders (and feedback polls).
    ids = queue_declarations(store, unit_pk, 24, month_of(taxside))
    counter = PostCounter(taxside, POST_PATH.format(unit.unit_id))
    desks = [
        Desk(tmp_path / f"desk{n}", pg_url, taxside, unit, unit_pk, "--feedback",
             "--submit", "6", "--offset", str(24 + 6 * n), "--month", month_of(taxside))
        for n in range(3)
    ]
    for desk in desks:
        desk.go()
    results = [desk.result() for desk in desks]
    ids = [e.id for e in journal.entries(store, unit_pk, journal.ALL_STATES)]
    assert len(ids) == 24 + 18
    assert_exactly_once(taxside, store, unit_pk, ids, before)
    # Every entry was reported sent by exactly one desk, and decided by exactly one.
    assert sum(r["sent"] for r in results) == len(ids)
    assert sum(r["decided"] for r in results) == len(ids)
    assert sum(r["errors"] for r in results) == 0
    assert counter.posts() == len(ids)  # one request per entry reached the tax side, no replays


def test_killed_desk_releases_the_lock_and_lost_answers_resolve_by_key(
    tmp_path, pg_url, taxside, unit, team
) -> None:
    store, unit_pk = team
    before = received(taxside, ["-"])["declarations"]
    ids = queue_declarations(store, unit_pk, 12, month_of(taxside))
    path = POST_PATH.format(unit.unit_id)
    # The first request is held at the tax side (the desk dies while it is in flight); the
    # second one is committed and its connection dropped before the answer, also for the
    # client's own retries under the key (three tries in all).
    held_fault = taxside.fault(path, "latency", method="POST", count=1, latency_ms=5000)["id"]
    taxside.fault(path, "drop_after_commit", method="POST", count=3)
    counter = PostCounter(taxside, path)  # sees the requests after those four
    first = Desk(tmp_path / "first", pg_url, taxside, unit, unit_pk)
    first.go()
    deadline = time.monotonic() + 20
    while journal.get(store, ids[0]).state != journal.SENDING and time.monotonic() < deadline:
        time.sleep(0.02)
    assert journal.get(store, ids[0]).state == journal.SENDING
    with store.unit_lock("sender", unit_pk) as held:
        assert not held  # the first desk is sending this unit
    # The held request is at the tax side once its one-shot fault is used up.
    while any(f["id"] == held_fault for f in taxside.sim("GET", "/faults")["items"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    first.kill()
    # The server drops a dead desk's advisory lock with its connection.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with store.unit_lock("sender", unit_pk) as held:
            if held:
                break
        time.sleep(0.05)
    assert held
    assert journal.get(store, ids[0]).state == journal.SENDING  # left behind: ask before sending
    key = journal.get(store, ids[0]).idempotency_key
    deadline = time.monotonic() + 20
    while not committed(taxside, key) and time.monotonic() < deadline:
        time.sleep(0.05)  # the held request still goes through on the tax side
    assert committed(taxside, key)
    desks = [Desk(tmp_path / f"desk{n}", pg_url, taxside, unit, unit_pk, "--feedback") for n in range(2)]
    for desk in desks:
        desk.go()
    results = [desk.result() for desk in desks]
    # One lost answer (dropped after commit) was seen by a desk and resolved from its key.
    assert sum(r["errors"] for r in results) == 1
    assert sum(r["sent"] for r in results) == len(ids)
    assert_exactly_once(taxside, store, unit_pk, ids, before)
    # The entry in flight when its desk died and the one whose answer was lost were both
    # resolved by asking about their keys: only the other ten were posted.
    assert counter.posts() == len(ids) - 2


@pytest.fixture
def entry_store(engine_store: Store) -> tuple[Store, int]:
    with engine_store.write() as db:
        unit_pk = int(db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES ('91110000X', 'U1', '测试单位', '110000', '2025-03-15 08:00:00') RETURNING id"
        ).fetchone()[0])
        entry_id = journal.create(db, unit_pk, "wage_base_daily", {"kind": "daily", "rows": []},
                                  summary="s", row_count=0, operator="t")
    return engine_store, entry_id


def test_claim_has_one_winner_from_every_state(entry_store) -> None:
    store, entry_id = entry_store
    read = journal.get(store, entry_id)
    won = journal.claim(store, read)
    assert won is not None and (won.state, won.attempts) == (journal.SENDING, 1)
    assert journal.claim(store, read) is None  # the same read, a second sender: lost
    # A left-over ``sending`` entry read twice (a restarted desk and another): one wins.
    again = journal.get(store, entry_id)
    assert journal.claim(store, again) is not None and journal.claim(store, again) is None
    assert journal.get(store, entry_id).attempts == 2
    # An outcome is recorded once: the second recorder sees the entry moved on.
    now = journal.get(store, entry_id)
    with store.write() as db:
        assert journal.decide(db, now, True, [])
        assert not journal.decide(db, now, False, [{"row": 0, "message": "x"}])
    assert journal.get(store, entry_id).state == journal.ACCEPTED


def test_a_desk_without_the_lock_leaves_the_unit_alone(entry_store, tmp_path) -> None:
    store, entry_id = entry_store
    unit_pk = journal.get(store, entry_id).unit_id
    with TaxClient("http://127.0.0.1:9", timeout=1) as nowhere, store.unit_lock("sender", unit_pk) as held:
        assert held
        report = Outbox(store, tmp_path).send(nowhere, unit_pk, "U1")
    assert report.elsewhere and report.waiting == 1 and not report.error
    assert "另一台电脑正在发送" in report.message
    assert journal.get(store, entry_id).state == journal.QUEUED


def test_team_pause_stops_the_sender(entry_store, tmp_path) -> None:
    store, entry_id = entry_store
    unit_pk = journal.get(store, entry_id).unit_id
    team_state.set_flag(store, team_state.SENDERS_PAUSED, {}, "admin")
    with TaxClient("http://127.0.0.1:9", timeout=1) as nowhere:
        report = Outbox(store, tmp_path).send(nowhere, unit_pk, "U1")
    assert report.paused and report.waiting == 1 and "暂停" in report.message
    assert journal.get(store, entry_id).state == journal.QUEUED


def test_a_desk_finds_its_own_released_lock_free(tmp_path, pg_url) -> None:
    """The lock is given back when the sender is done, not when the server ends the session
    (a desk sending after each 提交 once found its previous session still holding it)."""
    store = Store(tmp_path, pg_url)
    try:
        tries = []
        for _ in range(200):
            with store.unit_lock("sender", 1) as held:
                tries.append(held)
        assert all(tries)
    finally:
        store.close()
