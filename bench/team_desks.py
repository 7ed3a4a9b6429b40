"""FIGURE pg_two_desks_submit (bench/team.py runs it; described there): two desks, each a
process of its own (tests/sync/desk.py), submit small declarations of one unit between them
on a shared PostgreSQL database; the floor is one desk alone doing the same.

Run from the repo root: python bench/team.py pg_two_desks_submit
(or python bench/team_desks.py; BENCH_TEAM_DECLARATIONS=100 for a quick check of the script).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import paired, serve_taxside  # noqa: E402
from client.core import journal  # noqa: E402
from client.core.store import Store  # noqa: E402
from client.sync.enrollment import EnrollmentSync  # noqa: E402
from client.sync.taxclient import TaxClient  # noqa: E402
from tests import pg_cluster  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DESK_DECLARATIONS = int(os.environ.get("BENCH_TEAM_DECLARATIONS", "1000"))
DESK_ROUNDS = 3
PASSWORD = "Bench2025pass"
COUNTER = 100_000  # a do-nothing fault that counts the declaration requests down


class TaxSide:
    """A small reference tax side in its own process (one unit, 300 employees)."""

    def __init__(self, folder: Path) -> None:
        from taxside.generate import generate

        self.db = folder / "taxside.sqlite3"
        (self.unit,) = generate(self.db, units=1, employees=300, seed=5)
        self.proc, self.url = serve_taxside(self.db)
        with TaxClient(self.url) as client:
            client.login(self.unit.unit_id, self.unit.initial_password)
            client.change_password(self.unit.unit_id, self.unit.initial_password, PASSWORD)
        # Decisions are not part of the figure: the tax side keeps everything 处理中.
        self.sim("PUT", "/settings", {"decision_delay_seconds": 86_400})
        today = self.sim("GET", "/settings")["today"]
        self.month = today[:4] + today[5:7]
        self.path = f"/v1/units/{self.unit.unit_id}/wage-base-declarations"

    def sim(self, method: str, path: str, body: object = None) -> dict:
        resp = httpx.request(method, f"{self.url}/sim{path}", json=body, timeout=30, trust_env=False)
        resp.raise_for_status()
        return resp.json()

    def start_counting(self) -> int:
        self.sim("DELETE", "/faults")
        spec = {"path_prefix": self.path, "kind": "latency", "method": "POST", "count": COUNTER, "latency_ms": 0}
        return int(self.sim("POST", "/faults", spec)["id"])

    def posts(self, fault_id: int) -> int:
        (fault,) = [f for f in self.sim("GET", "/faults")["items"] if f["id"] == fault_id]
        return COUNTER - int(fault["remaining"])

    def stored(self, keys: list[str]) -> tuple[int, int]:
        """(declarations held, how many of these keys it committed)."""
        conn = sqlite3.connect(self.db)
        try:
            (declarations,) = conn.execute("SELECT count(*) FROM wage_base_declaration").fetchone()
            conn.execute("CREATE TEMP TABLE wanted (key TEXT PRIMARY KEY)")
            conn.executemany("INSERT INTO wanted VALUES (?)", [(k,) for k in keys])
            (found,) = conn.execute("SELECT count(*) FROM idempotency JOIN wanted USING (key)").fetchone()
        finally:
            conn.close()
        return int(declarations), int(found)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def team_database(folder: Path, taxside: TaxSide) -> tuple[str, int]:
    """A fresh PostgreSQL database with the unit registered and its enrollment synced."""
    url = pg_cluster.fresh_url()
    store = Store(folder, url)
    with store.write() as db:
        unit_pk = int(db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES (?, ?, ?, ?, '2025-03-15 08:00:00') RETURNING id",
            (taxside.unit.taxpayer_id, taxside.unit.unit_id, taxside.unit.name, taxside.unit.region),
        ).fetchone()[0])
    with TaxClient(taxside.url, timeout=60) as client:
        client.login(taxside.unit.unit_id, PASSWORD)
        EnrollmentSync(store, client, unit_pk, taxside.unit.unit_id).run("full")
    store.close()
    return url, unit_pk


def run_desks(folder: Path, taxside: TaxSide, desks: int) -> float:
    """``desks`` processes submit DESK_DECLARATIONS between them; wall seconds, checked."""
    url, unit_pk = team_database(folder / "lead", taxside)
    share = DESK_DECLARATIONS // desks
    procs = []
    for n in range(desks):
        home = folder / f"desk{n}"
        home.mkdir(parents=True)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.sync.desk", str(home), url, taxside.url, taxside.unit.unit_id,
             str(unit_pk), PASSWORD, "--submit", str(share), "--offset", str(n * share), "--month", taxside.month],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr
        procs.append(proc)
    counter = taxside.start_counting()
    before, _ = taxside.stored([])
    started = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        if proc.returncode:
            raise RuntimeError(f"desk failed:\n{err[-4000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    elapsed = time.perf_counter() - started
    check_exactly_once(folder, url, unit_pk, taxside, counter, before, results)
    print(f"# {desks} desk(s): {elapsed:.3f} s, sent per desk {[r['sent'] for r in results]}, "
          f"rounds left to the other desk {[r['elsewhere'] for r in results]}", flush=True)
    return elapsed


def check_exactly_once(folder: Path, url: str, unit_pk: int, taxside: TaxSide, counter: int, before: int,
                       results: list[dict]) -> None:
    store = Store(folder / "check", url)
    try:
        entries = journal.entries(store, unit_pk, journal.ALL_STATES)
    finally:
        store.close()
    total = DESK_DECLARATIONS // len(results) * len(results)
    keys = [e.idempotency_key for e in entries]
    declarations, found = taxside.stored(keys)
    problems = []
    if len(entries) != total:
        problems.append(f"{len(entries)} journal entries, expected {total}")
    if (declarations - before, found) != (total, total):
        problems.append(f"tax side: {declarations - before} new declarations, {found} of {total} keys")
    if taxside.posts(counter) != total:
        problems.append(f"{taxside.posts(counter)} requests reached the tax side for {total} entries")
    if sum(r["sent"] for r in results) != total:
        problems.append(f"desks report {sum(r['sent'] for r in results)} sent")
    if any(e.attempts != 1 or e.state != journal.AWAITING for e in entries):
        problems.append("an entry was not sent exactly once or is not 待反馈")
    if problems:
        raise SystemExit("pg_two_desks_submit: not exactly once: " + "; ".join(problems))


def two_desks_submit() -> None:
    folder = Path(tempfile.mkdtemp(prefix="sf-bench-desks-"))
    taxside = TaxSide(folder)
    rounds = iter(range(1_000))
    try:
        paired(
            "pg_two_desks_submit", "s",
            lambda: run_desks(folder / f"two-{next(rounds)}", taxside, 2),
            lambda: run_desks(folder / f"one-{next(rounds)}", taxside, 1),
            DESK_ROUNDS,
        )
    finally:
        taxside.close()


if __name__ == "__main__":
    reason = pg_cluster.unavailable()
    if reason:
        raise SystemExit(reason)
    two_desks_submit()
