"""社保费申报明细查询 at 1,000,000 detail rows.

FIGURE details_sync_1m: fetching the declaration-details feed of a large unit (a declared
  history 202407-202503) from the reference tax side on loopback into the local tables,
  start to committed (floor: the same pages fetched by a bare httpx loop plus the same rows
  inserted by raw sqlite3 executemany into an equivalent table, same indexes, one transaction).
FIGURE details_query_p95: p95 of filtered pages of those rows through the embedded server
  over HTTP — by person (证件号码 / 姓名), by 费款所属期 range, by 征收项目/品目 — in ms (no floor).
The issue's two other figures are measured by their own scripts, run from here too (each round):
FIGURE certificate_pdf_60 (bench/certificate.py) and FIGURE home_status (bench/home.py).

Run from the repo root: python bench/queries.py [--rounds 3]
DETAILS_ROWS=50000 python bench/queries.py develops on a small unit (default 1,000,000).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure, serve_taxside  # noqa: E402
from client.app import build_services, start_server  # noqa: E402
from client.core import query_details_schema  # noqa: E402
from client.sync.details import PAGE_SIZE, DetailsSync  # noqa: E402
from client.sync.taxclient import TaxClient  # noqa: E402

PASSWORD = "Bench2025pass"
FROM, TO = "202407", "202503"  # the months the packs and the business date allow
MONTHS = 9
ROWS_PER_PERSON_MONTH = 6.4  # up to 7 (3 items x 2 parts + injury); not everyone has every item
QUERIES_PER_KIND = 100


def start_taxside(folder: Path, rows: int) -> tuple[Any, str, str]:
    from taxside.generate import generate

    employees = math.ceil(rows / (MONTHS * ROWS_PER_PERSON_MONTH))
    db = folder / "taxside.sqlite3"
    (unit,) = generate(db, units=1, employees=employees, seed=7)
    proc, url = serve_taxside(db)
    with TaxClient(url, timeout=600) as client:
        client.login(unit.unit_id, unit.initial_password)
        client.change_password(unit.unit_id, unit.initial_password, PASSWORD)
    started = time.perf_counter()
    httpx.post(f"{url}/sim/units/{unit.unit_id}/declaration-history", json={"from": FROM, "to": TO},
               timeout=3600, trust_env=False).raise_for_status()
    print(f"# {employees:,} employees declared {FROM}-{TO} in {time.perf_counter() - started:.1f} s",
          flush=True)
    return proc, url, unit.unit_id


def floor_sync(folder: Path, url: str, unit_id: str) -> tuple[float, int]:
    """The bare loop: httpx pages, orjson, one executemany into the same table."""
    conn = sqlite3.connect(folder / "floor.sqlite3")
    conn.execute("PRAGMA journal_mode = wal")
    for sql in _table_sql():
        conn.execute(sql)
    with TaxClient(url, timeout=600) as client:
        client.login(unit_id, PASSWORD)
        token = client._token  # the bare loop speaks HTTP itself
    started = time.perf_counter()
    rows: list[tuple[Any, ...]] = []
    refs: dict[str, int] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600,
                      trust_env=False) as http:
        cursor = None
        while True:
            params = {"from": FROM, "to": TO, "limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})}
            page = orjson.loads(http.get(f"/v1/units/{unit_id}/declaration-details", params=params).content)
            for sid in page["summaries"]:
                refs.setdefault(sid, len(refs) + 1)
            rows += [(1, refs[r[0]], r[5], r[1], r[2], r[3], r[4], int(r[6].replace(".", "")), r[7],
                      int(r[8].replace(".", ""))) for r in page["items"]]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
    with conn:
        conn.executemany(
            "INSERT INTO query_detail (unit_id, summary_ref, period, employee_id, id_type, id_number, name,"
            " base_fen, rate, amount_fen) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, len(rows)


def _table_sql() -> list[str]:
    """The local detail table and its indexes, exactly as the migration makes them."""
    statements: list[str] = []

    class Capture:
        def execute_sql(self, sql: str, *_: Any) -> None:
            if "query_detail " in sql or "ON query_detail (" in sql:
                statements.append(sql)

    query_details_schema.create(Capture())  # type: ignore[arg-type]
    return statements


def client_sync(services: Any, rows_expected: int) -> tuple[float, int]:
    unit = services.session.require_entered()
    sync = DetailsSync(services.store, services.session.client(), unit.local_id, unit.unit_id)
    started = time.perf_counter()
    result = sync.run(FROM, TO)
    elapsed = time.perf_counter() - started
    assert result.fetched == result.local_rows == rows_expected, (result, rows_expected)
    return elapsed, result.fetched


def log_in(services: Any, url: str, unit_id: str) -> None:
    services.settings.update({"taxside_url": url})
    session = services.session
    taxpayer = httpx.get(f"{url}/sim/units", trust_env=False).json()["items"][0]["taxpayer_id"]
    session.lookup(taxpayer)
    session.login(unit_id, PASSWORD)
    session.registration()
    session.confirm()
    deadline = time.monotonic() + 600
    while services.jobs.find(active_only=True) and time.monotonic() < deadline:
        time.sleep(0.1)  # the refreshes after login (enrollment of the whole unit) first
    session.popups_shown = True


def query_p95(services: Any, rng: random.Random) -> float:
    server = start_server(services)
    try:
        with httpx.Client(base_url=server.base_url, follow_redirects=True, timeout=60, trust_env=False) as http:
            assert http.get(server.launch_url).status_code == 200
            people = services.store.db.execute_sql(
                "SELECT id_number, name FROM query_detail ORDER BY random() LIMIT ?", (QUERIES_PER_KIND,)
            ).fetchall()
            months = [f"{y}{m:02d}" for y, m in [(2024, m) for m in range(7, 13)] + [(2025, m) for m in range(1, 4)]]
            items = [("pension", "employer"), ("pension", "employee"), ("medical", "employee"),
                     ("unemployment", "employer"), ("injury", "employer")]
            queries: list[dict[str, Any]] = []
            for id_number, name in people:
                queries.append({"id_number": id_number} if rng.random() < 0.7 else {"name": name})
            for _ in range(QUERIES_PER_KIND):
                a, b = sorted(rng.sample(months, 2))
                queries.append({"period_from": a, "period_to": b, "page": rng.randint(1, 20)})
            for _ in range(QUERIES_PER_KIND):
                item, part = rng.choice(items)
                q: dict[str, Any] = {"item": item, "part": part, "page": rng.randint(1, 20)}
                if rng.random() < 0.5:
                    q["period_from"] = q["period_to"] = rng.choice(months)
                queries.append(q)
            rng.shuffle(queries)
            for q in queries:  # a page that exists (untimed: the total decides the page)
                if "page" in q:
                    total = http.get("/api/queries/details", params={"size": 50, **q, "page": 1}).json()["total"]
                    q["page"] = min(q["page"], max(1, math.ceil(total / 50)))
            for q in queries[:20]:  # warm up (the page cache, the first connection)
                http.get("/api/queries/details", params={"size": 50, **q}).raise_for_status()
            times = []
            for q in queries:
                started = time.perf_counter()
                answer = http.get("/api/queries/details", params={"size": 50, **q})
                times.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()
                assert answer.json()["rows"], q
        times.sort()
        return times[int(len(times) * 0.95) - 1]
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the generated data (its folder is printed)")
    args = parser.parse_args()
    target = int(os.environ.get("DETAILS_ROWS", "1000000"))
    folder = Path(tempfile.mkdtemp(prefix="sf-bench-queries-"))
    proc, url, unit_id = start_taxside(folder, target)
    try:
        for n in range(args.rounds):
            round_dir = folder / f"round{n}"
            round_dir.mkdir()
            floor_s, rows = floor_sync(round_dir, url, unit_id)
            services = build_services(round_dir / "home")
            try:
                log_in(services, url, unit_id)
                ours_s, fetched = client_sync(services, rows)
                print(f"# {fetched:,} rows: client {ours_s:.1f} s, floor {floor_s:.1f} s", flush=True)
                figure("details_sync_1m", ours_s, "s", floor_s)
                figure("details_query_p95", query_p95(services, random.Random(n)), "ms")
            finally:
                services.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)  # a million rows are a few hundred MB
    from bench import certificate, home

    for _ in range(args.rounds):
        certificate.certificate_pdf_60()
        home.main()
    if args.keep:
        print(f"# kept {folder}", flush=True)


if __name__ == "__main__":
    main()
