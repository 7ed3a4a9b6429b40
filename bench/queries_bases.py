"""职工缴费基数查询 of a 100,000-employee unit (500,000 bases).

FIGURE bases_full_100k: the full download (全部重新下载) from the reference tax side on
  loopback into the local table, start to committed, in s.
FIGURE bases_update_unchanged: opening the page when nothing changed on the tax side (the
  incremental update: one request), in s.
FIGURE bases_update_100: the incremental update after 100 employees' bases changed, in s.
FIGURE bases_page_1 / bases_page_5000: a page of 100 rows through the embedded server over
  HTTP (median of 20), in ms; page 5000 is the last part of the list.

Run from the repo root: python bench/queries_bases.py [--rounds 3]
BASES_EMPLOYEES=10000 python bench/queries_bases.py develops on a small unit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure, serve_taxside  # noqa: E402
from bench.queries import PASSWORD, log_in  # noqa: E402
from client.app import build_services, start_server  # noqa: E402
from client.sync.queries import QueryService  # noqa: E402
from client.sync.taxclient import TaxClient  # noqa: E402

PAGE_SIZE = 100


def start_taxside(folder: Path, employees: int) -> tuple[Any, str, str]:
    from taxside.generate import generate

    db = folder / "taxside.sqlite3"
    (unit,) = generate(db, units=1, employees=employees, seed=7)
    proc, url = serve_taxside(db)
    with TaxClient(url, timeout=600) as client:
        client.login(unit.unit_id, unit.initial_password)
        client.change_password(unit.unit_id, unit.initial_password, PASSWORD)
    return proc, url, unit.unit_id


def timed(svc: QueryService, *, full: bool = False) -> tuple[float, Any]:
    started = time.perf_counter()
    result = svc.sync_bases(lambda *_: None, full=full)
    return time.perf_counter() - started, result


def page_ms(services: Any, page: int) -> float:
    server = start_server(services)
    try:
        with httpx.Client(base_url=server.base_url, follow_redirects=True, timeout=60, trust_env=False) as http:
            opened = http.get(server.launch_url)
            assert opened.status_code == 200, (opened.status_code, opened.url, opened.text[:300])
            params = {"size": PAGE_SIZE, "page": page}
            http.get("/api/queries/bases", params=params).raise_for_status()  # warm up
            times = []
            for _ in range(20):
                started = time.perf_counter()
                answer = http.get("/api/queries/bases", params=params)
                times.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()
                assert len(answer.json()["rows"]) == PAGE_SIZE, page
        return statistics.median(times)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    employees = int(os.environ.get("BASES_EMPLOYEES", "100000"))
    folder = Path(tempfile.mkdtemp(prefix="sf-bench-bases-"))
    proc, url, unit_id = start_taxside(folder, employees)
    try:
        for n in range(args.rounds):
            round_dir = folder / f"round{n}"
            round_dir.mkdir()
            services = build_services(round_dir / "home")
            try:
                log_in(services, url, unit_id)
                svc = QueryService(services.session)
                full_s, full = timed(svc, full=True)
                print(f"# {full['employees']:,} employees, {full['rows']:,} rows", flush=True)
                same_s, same = timed(svc)
                assert same["mode"] == "incremental" and same["changed"] == 0, same
                httpx.post(f"{url}/sim/units/{unit_id}/base-changes", json={"count": 100}, timeout=60,
                           trust_env=False).raise_for_status()
                some_s, some = timed(svc)
                assert some["mode"] == "incremental" and some["changed"] == 100, some
                figure("bases_full_100k", full_s, "s")
                figure("bases_update_unchanged", same_s, "s")
                figure("bases_update_100", some_s, "s")
                last = full["rows"] // PAGE_SIZE
                figure("bases_page_1", page_ms(services, 1), "ms")
                figure("bases_page_5000", page_ms(services, min(5000, last)), "ms")
            finally:
                services.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
