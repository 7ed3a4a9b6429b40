"""Enrollment sync, list and export at 100,000 employees.

FIGURE full_sync_100k: full sync from the reference tax side on loopback, start to committed
  (floor: the same pages fetched by a bare httpx loop plus the same rows inserted by raw
  sqlite3 executemany in one transaction); SYNC_ROUNDS of each side interleaved, median
  against median (bench/common.py paired).
FIGURE full_sync_100k_peak_mem: peak resident memory of the process doing that sync
  (floor: the same for the bare loop).
FIGURE incremental_1k: incremental sync of 1,000 changes in the 100,000-employee unit (no floor).
FIGURE list_query_p95: the list query (page of 50, by name prefix or ID number) p95
  (floor: the same SQL through raw sqlite3).
FIGURE export_100k: export of 100,000 employees to xlsx (floor: xlsxwriter writing the same
  rows bare; EXPORT_ROUNDS of each side interleaved, median against median).
Run from the repo root: python bench/enrollment.py
(``--only export_100k`` syncs once and measures only the export.)
"""

from __future__ import annotations

import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import xlsxwriter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure, paired, serve_taxside  # noqa: E402
from client.core import enrollment  # noqa: E402
from client.core.paging import PageRequest  # noqa: E402
from client.core.store import Store  # noqa: E402
from client.sync.enrollment import PAGE_SIZE, EnrollmentSync  # noqa: E402
from client.sync.taxclient import TaxClient  # noqa: E402

EMPLOYEES = 100_000
PASSWORD = "Bench2025pass"
QUERIES = 300
SYNC_ROUNDS = 3  # full syncs of each side (each a fresh database)


def start_taxside(folder: Path) -> tuple[subprocess.Popen, str, str]:
    from taxside.generate import generate

    db = folder / "taxside.sqlite3"
    (unit,) = generate(db, units=1, employees=EMPLOYEES, seed=7)
    proc, url = serve_taxside(db)
    with TaxClient(url) as client:
        client.login(unit.unit_id, unit.initial_password)
        client.change_password(unit.unit_id, unit.initial_password, PASSWORD)
    return proc, url, unit.unit_id


# -- children: each runs in its own process so its peak memory is its own ------------------
def peak_mb() -> float:
    """This process's own peak resident memory. ru_maxrss is not it: Linux carries the
    forking parent's peak (the 100,000-employee generator) across exec into the child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def child_sync(home: str, url: str, unit_id: str) -> None:
    store = Store(Path(home))
    with store.write() as db:
        pk = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES ('x', ?, 'bench', '110000', 'now')",
            (unit_id,),
        ).lastrowid
    with TaxClient(url, timeout=60) as client:
        client.login(unit_id, PASSWORD)
        started = time.perf_counter()
        result = EnrollmentSync(store, client, pk, unit_id).run("full")
        elapsed = time.perf_counter() - started
    store.close()
    print(json.dumps({"seconds": elapsed, "rows": result.added, "unit_pk": pk, "peak_mb": peak_mb()}))


def child_floor(home: str, url: str, unit_id: str) -> None:
    with TaxClient(url, timeout=60) as client:
        client.login(unit_id, PASSWORD)
        token = client._token  # the bare loop speaks HTTP itself
    conn = sqlite3.connect(Path(home) / "floor.sqlite3")
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute(
        "CREATE TABLE e (employee_id TEXT PRIMARY KEY, name, id_type, id_number, gender, "
        "birth_date, unit_number, items, status, bases, updated_at)"
    )
    started = time.perf_counter()
    rows: list[tuple] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        cursor = None
        while True:
            params = {"limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})}
            page = http.get(f"/v1/units/{unit_id}/enrollment", params=params).json()
            rows += [
                (e["employee_id"], e["name"], e["id_type"], e["id_number"], e["gender"],
                 e["birth_date"], e["unit_number"], json.dumps(e["items"]), e["status"],
                 json.dumps(e["bases"]), e["updated_at"])
                for e in page["items"]
            ]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
    with conn:
        conn.executemany("INSERT INTO e VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "rows": len(rows), "peak_mb": peak_mb()}))


def run_child(kind: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, kind, *args], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(only: str | None = None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sf-bench-enrollment-"))
    proc, url, unit_id = start_taxside(folder)
    try:
        if only == "export_100k":
            home = folder / "client"
            home.mkdir()
            sync = run_child("--sync", str(home), url, unit_id)
            store = Store(home)
            export(store, sync["unit_pk"], folder)
            store.close()
            return
        syncs: list[dict] = []
        floors: list[dict] = []

        def one_floor() -> float:
            where = folder / f"floor-{len(floors)}"
            where.mkdir()
            floors.append(run_child("--floor", str(where), url, unit_id))
            return floors[-1]["seconds"]

        def one_sync() -> float:
            where = folder / ("client" if not syncs else f"client-{len(syncs)}")
            where.mkdir()
            syncs.append(run_child("--sync", str(where), url, unit_id))
            assert syncs[-1]["rows"] == floors[-1]["rows"] == EMPLOYEES, (syncs[-1], floors[-1])
            return syncs[-1]["seconds"]

        paired("full_sync_100k", "s", one_sync, one_floor, SYNC_ROUNDS)
        figure("full_sync_100k_peak_mem", statistics.median(s["peak_mb"] for s in syncs), "MB",
               statistics.median(f["peak_mb"] for f in floors))
        sync, home = syncs[0], folder / "client"

        store = Store(home)
        pk = sync["unit_pk"]
        http = httpx.Client(base_url=url)
        http.post(f"/sim/units/{unit_id}/base-changes", json={"count": 600, "ratio": "1.05"}).raise_for_status()
        http.post(f"/sim/units/{unit_id}/hires", json={"count": 250}).raise_for_status()
        http.post(f"/sim/units/{unit_id}/leavers", json={"count": 150}).raise_for_status()
        with TaxClient(url, timeout=60) as client:
            client.login(unit_id, PASSWORD)
            started = time.perf_counter()
            result = EnrollmentSync(store, client, pk, unit_id).run("incremental")
            incremental = time.perf_counter() - started
        # 1,000 changes; a few may touch the same employee twice.
        assert result.changed >= 950, result
        figure("incremental_1k", incremental, "s")  # absolute target: under 1 s

        list_query(store, pk)
        export(store, pk, folder)
        store.close()
    finally:
        proc.terminate()
        proc.wait(10)


def list_query(store: Store, pk: int) -> None:
    names = [r[0] for r in store.db.execute_sql("SELECT name FROM enrollment_employee LIMIT 2000")]
    ids = [r[0] for r in store.db.execute_sql("SELECT id_number FROM enrollment_employee LIMIT 2000")]
    rng = random.Random(3)
    request = PageRequest(1, 50)
    ours, bare = [], []
    raw = sqlite3.connect(store.path)
    for i in range(QUERIES):
        if i % 2:
            filters = enrollment.EnrollmentFilter(name=rng.choice(names)[:1])
        else:
            filters = enrollment.EnrollmentFilter(id_number=rng.choice(ids))
        started = time.perf_counter()
        enrollment.search(store, pk, request, filters)
        ours.append(time.perf_counter() - started)
        where, params = filters.where(pk)
        started = time.perf_counter()
        raw.execute(f"SELECT count(*) FROM enrollment_employee WHERE {where}", params).fetchone()
        raw.execute(
            f"SELECT {enrollment.LIST_COLUMNS} FROM enrollment_employee WHERE {where} "
            "ORDER BY name, id LIMIT 50",
            params,
        ).fetchall()
        bare.append(time.perf_counter() - started)
    raw.close()

    def p95(samples: list[float]) -> float:
        return sorted(samples)[int(len(samples) * 0.95) - 1] * 1000

    figure("list_query_p95", p95(ours), "ms", p95(bare))


EXPORT_ROUNDS = 5


def export(store: Store, pk: int, folder: Path) -> None:
    # The same rows (the same cells), written by xlsxwriter bare from memory.
    data = [
        enrollment.export_cells(row)
        for row in store.db.execute_sql(enrollment.EXPORT_SQL + " ORDER BY name, id", (pk,))
    ]

    def ours() -> float:
        started = time.perf_counter()
        rows = enrollment.export_xlsx(store, pk, folder / "ours.xlsx")
        elapsed = time.perf_counter() - started
        assert rows >= EMPLOYEES
        return elapsed

    def bare() -> float:
        started = time.perf_counter()
        book = xlsxwriter.Workbook(str(folder / "bare.xlsx"), {"constant_memory": True})
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, enrollment.EXPORT_HEADERS)
        for n, row in enumerate(data, start=1):
            sheet.write_row(n, 0, row)
        book.close()
        return time.perf_counter() - started

    # Interleaved rounds on each side, median against median: one run on a shared machine
    # says more about the neighbours than about the export.
    paired("export_100k", "s", ours, bare, EXPORT_ROUNDS)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--sync":
        child_sync(*sys.argv[2:5])
    elif len(sys.argv) > 1 and sys.argv[1] == "--floor":
        child_floor(*sys.argv[2:5])
    elif len(sys.argv) > 2 and sys.argv[1] == "--only":
        main(sys.argv[2])
    else:
        main()
