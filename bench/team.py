"""Team mode (issue 18): the client on a PostgreSQL database shared by several desks.

FIGURE pg_full_sync_100k: full enrollment update of 100,000 employees from the reference tax
  side on loopback into a fresh PostgreSQL database (a throwaway cluster, tests/pg_cluster.py),
  through the client's own EnrollmentSync, start to committed. Floor: the same feed paged by a
  bare httpx loop plus psycopg COPY of the same rows into the same table (enrollment_employee
  of a migrated database: the same columns, constraints and indexes), in one transaction.
  SYNC_ROUNDS of each side interleaved, each in its own process and database, median against
  median (bench/common.py paired). Target ratio <= 3.
FIGURE pg_list_query_p95: what the 职工参保信息 page asks for (GET /api/enrollment: the
  service enrollment.search with its default sort and a page of rows, plus the counts) at
  100,000 employees on PostgreSQL, p95 over QUERIES requests mixing the unfiltered first
  pages, a name search and a 缴费状态 filter. Floor: the same SQL through a bare psycopg
  connection. Target: under 30 ms.
FIGURE pg_two_desks_submit: two desks (processes of their own, tests/sync/desk.py: own Store
  on the shared PostgreSQL database, own TaxClient, own sender) submit DESK_DECLARATIONS
  small (one-employee) payroll-base declarations of one unit between them, half each, the
  sender running after each one as 提交 does; wall time from "go" until both desks saw
  nothing left to send. Every declaration must reach the reference tax side exactly once
  (its declarations, its idempotency records and a request counter; one attempt per entry
  in the journal), else the bench fails. Floor: one desk alone submitting and sending the
  same number on PostgreSQL. DESK_ROUNDS of each, interleaved, median against median.

Run from the repo root: python bench/team.py [figure ...]  (no name: every figure).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure, paired, serve_taxside  # noqa: E402
from bench.team_desks import two_desks_submit  # noqa: E402
from client.core import enrollment  # noqa: E402
from client.core.paging import PageRequest  # noqa: E402
from client.core.store import Store  # noqa: E402
from client.sync.enrollment import PAGE_SIZE, EnrollmentSync  # noqa: E402
from client.sync.taxclient import TaxClient  # noqa: E402
from tests import pg_cluster  # noqa: E402

# A smaller unit for a quick check of the script itself; figures use 100,000.
EMPLOYEES = int(os.environ.get("BENCH_TEAM_EMPLOYEES", "100000"))
PASSWORD = "Bench2025pass"
SYNC_ROUNDS = 3  # full updates of each side, each into a fresh database
QUERIES = 300


def start_taxside(folder: Path, employees: int) -> tuple[subprocess.Popen, str, str]:
    from taxside.generate import generate

    db = folder / "taxside.sqlite3"
    (unit,) = generate(db, units=1, employees=employees, seed=7)
    proc, url = serve_taxside(db)
    with TaxClient(url) as client:
        client.login(unit.unit_id, unit.initial_password)
        client.change_password(unit.unit_id, unit.initial_password, PASSWORD)
    return proc, url, unit.unit_id


def add_unit(store: Store, unit_id: str) -> int:
    with store.write() as db:
        return int(db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES ('x', ?, 'bench', '110000', 'now') RETURNING id",
            (unit_id,),
        ).fetchone()[0])


# -- children: each side of a round runs in its own process ---------------------------------
def child_sync(home: str, url: str, unit_id: str, pg_url: str) -> None:
    store = Store(Path(home), pg_url)
    pk = add_unit(store, unit_id)
    with TaxClient(url, timeout=60) as client:
        client.login(unit_id, PASSWORD)
        started = time.perf_counter()
        result = EnrollmentSync(store, client, pk, unit_id).run("full")
        elapsed = time.perf_counter() - started
    (rows,) = store.db.execute_sql(
        "SELECT count(*) FROM enrollment_employee WHERE unit_id = ?", (pk,)
    ).fetchone()
    store.close()
    print(json.dumps({"seconds": elapsed, "rows": int(rows), "added": result.added, "unit_pk": pk}))


def child_floor(home: str, url: str, unit_id: str, pg_url: str) -> None:
    import psycopg

    # The same table as the client's (migrations applied before the clock starts).
    store = Store(Path(home), pg_url)
    pk = add_unit(store, unit_id)
    store.close()
    with TaxClient(url, timeout=60) as client:
        client.login(unit_id, PASSWORD)
        token = client._token  # the bare loop speaks HTTP itself
    conn = psycopg.connect(pg_url)
    names = ("unit_id, employee_id, name, id_type, id_number, gender, birth_date, unit_number, "
             "items, status, bases, taxside_updated_at, removed, seen_generation, synced_at")
    started = time.perf_counter()
    rows: list[tuple] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        cursor = None
        while True:
            params = {"limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})}
            page = http.get(f"/v1/units/{unit_id}/enrollment", params=params).json()
            rows += [
                (pk, e["employee_id"], e["name"], e["id_type"], e["id_number"], e["gender"],
                 e["birth_date"], e["unit_number"], json.dumps(e["items"]), e["status"],
                 json.dumps(e["bases"]), e["updated_at"], 0, 1, "now")
                for e in page["items"]
            ]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
    with conn.transaction(), conn.cursor().copy(f"COPY enrollment_employee ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    elapsed = time.perf_counter() - started
    conn.close()
    print(json.dumps({"seconds": elapsed, "rows": len(rows)}))


def run_child(kind: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, kind, *args], capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(f"{kind} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- figures ---------------------------------------------------------------------------------
class Bench:
    """One reference tax side (100,000 employees) and one throwaway cluster for all figures."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="sf-bench-team-"))
        self.proc, self.url, self.unit_id = start_taxside(self.folder, EMPLOYEES)
        self.cluster = pg_cluster.cluster()
        self.synced: tuple[str, int] | None = None  # (database URL, unit pk) of a finished sync

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def _where(self, kind: str, n: int) -> Path:
        where = self.folder / f"{kind}-{n}"
        where.mkdir()
        return where

    def pg_full_sync_100k(self) -> None:
        syncs: list[dict] = []
        floors: list[dict] = []

        def one_floor() -> float:
            floors.append(run_child("--floor", str(self._where("floor", len(floors))), self.url,
                                    self.unit_id, pg_cluster.fresh_url()))
            return floors[-1]["seconds"]

        def one_sync() -> float:
            pg_url = pg_cluster.fresh_url()
            syncs.append(run_child("--sync", str(self._where("sync", len(syncs))), self.url,
                                   self.unit_id, pg_url))
            assert syncs[-1]["rows"] == floors[-1]["rows"] == EMPLOYEES, (syncs[-1], floors[-1])
            self.synced = (pg_url, syncs[-1]["unit_pk"])
            return syncs[-1]["seconds"]

        paired("pg_full_sync_100k", "s", one_sync, one_floor, SYNC_ROUNDS)

    def pg_list_query_p95(self) -> None:
        if self.synced is None:
            pg_url = pg_cluster.fresh_url()
            self.synced = (pg_url, run_child("--sync", str(self._where("sync", 99)), self.url,
                                             self.unit_id, pg_url)["unit_pk"])
        pg_url, pk = self.synced
        store = Store(self.folder / "list", pg_url)
        list_query(store, pk, pg_url)
        store.close()


def list_query(store: Store, pk: int, pg_url: str) -> None:
    import psycopg

    from client.core.store_pg import translate

    names = [r[0] for r in store.db.execute_sql(
        "SELECT name FROM enrollment_employee WHERE unit_id = ? LIMIT 2000", (pk,))]
    rng = random.Random(3)
    size = 50
    # A third each: the list as it opens (first pages, default sort), a name search (the
    # surname a clerk types), a 缴费状态 filter (with its pages).
    requests: list[tuple[PageRequest, enrollment.EnrollmentFilter]] = []
    for i in range(QUERIES):
        kind = i % 3
        if kind == 0:
            requests.append((PageRequest(rng.randint(1, 5), size), enrollment.EnrollmentFilter()))
        elif kind == 1:
            requests.append((PageRequest(1, size), enrollment.EnrollmentFilter(name=rng.choice(names)[:1])))
        else:
            requests.append((PageRequest(rng.randint(1, 3), size),
                             enrollment.EnrollmentFilter(status=rng.choice(enrollment.STATUSES))))
    raw = psycopg.connect(pg_url, autocommit=True, cursor_factory=psycopg.ClientCursor)
    ours: list[float] = []
    bare: list[float] = []
    rows_only: list[float] = []  # the bare page of rows without either count: where the time goes
    for request, filters in requests:
        started = time.perf_counter()
        page = enrollment.search(store, pk, request, filters)
        enrollment.counts(store, pk)
        ours.append(time.perf_counter() - started)
        assert page.rows, (request, filters)
        where, params = filters.where(pk)
        started = time.perf_counter()
        raw.execute(translate(f"SELECT count(*) FROM enrollment_employee WHERE {where}"), params).fetchone()
        rows_started = time.perf_counter()
        raw.execute(translate(
            f"SELECT {enrollment.LIST_COLUMNS} FROM enrollment_employee WHERE {where} "
            "ORDER BY name ASC, id ASC LIMIT ? OFFSET ?"), [*params, size, (request.page - 1) * size],
        ).fetchall()
        rows_only.append(time.perf_counter() - rows_started)
        raw.execute(translate(
            "SELECT status, count(*) FROM enrollment_employee WHERE unit_id = ? AND removed = 0 "
            "GROUP BY status"), (pk,)).fetchall()
        bare.append(time.perf_counter() - started)
    raw.close()
    by_kind = {k: p95([t for i, t in enumerate(ours) if i % 3 == n])
               for n, k in enumerate(("default", "name", "status"))}
    print("# pg_list_query p95 by kind (ms): "
          + " ".join(f"{k}={v:.1f}" for k, v in by_kind.items())
          + f"; bare page of rows without the counts p95={p95(rows_only):.1f}", flush=True)
    figure("pg_list_query_p95", p95(ours), "ms", p95(bare))


def p95(samples: list[float]) -> float:
    return sorted(samples)[max(int(len(samples) * 0.95) - 1, 0)] * 1000


FIGURES: dict[str, Callable[[Bench], None]] = {
    "pg_full_sync_100k": Bench.pg_full_sync_100k,
    "pg_list_query_p95": Bench.pg_list_query_p95,
}


# Figures that need no 100,000-employee tax side (bench/team_desks.py).
STANDALONE: dict[str, Callable[[], None]] = {"pg_two_desks_submit": two_desks_submit}


def main(names: list[str]) -> None:
    known = [*FIGURES, *STANDALONE]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown figure(s): {', '.join(unknown)}; known: {', '.join(known)}")
    reason = pg_cluster.unavailable()
    if reason:
        raise SystemExit(reason)
    names = names or known
    for name in names:
        if name in STANDALONE:
            STANDALONE[name]()
    if not any(name in FIGURES for name in names):
        return
    bench = Bench()
    try:
        for name in names:
            if name in FIGURES:
                FIGURES[name](bench)
    finally:
        bench.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--sync":
        child_sync(*sys.argv[2:6])
    elif len(sys.argv) > 1 and sys.argv[1] == "--floor":
        child_floor(*sys.argv[2:6])
    else:
        main(sys.argv[1:])
