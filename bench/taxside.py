"""Benchmarks of the reference tax side; prints one FIGURE line per figure.

Run from the repo root: ``.venv/bin/python bench/taxside.py``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import figure  # noqa: E402
from taxside.generate import generate  # noqa: E402
from taxside.server import start  # noqa: E402

EMPLOYEES = 100_000


def bench_generate(folder: Path) -> None:
    started = time.perf_counter()
    generate(folder / "gen.sqlite3", units=50, employees=EMPLOYEES, seed=1)
    figure("generate_100k", time.perf_counter() - started, "s")  # must stay under 20 s


def bench_feed(folder: Path) -> None:
    db = folder / "feed.sqlite3"
    creds = generate(db, units=1, employees=EMPLOYEES, seed=2)
    unit = creds[0]
    running = start(db)
    try:
        with httpx.Client(base_url=running.url, timeout=60, trust_env=False) as http:
            token = http.post(f"/v1/units/{unit.unit_id}/session",
                              json={"password": unit.initial_password}).json()["token"]
            http.put(f"/v1/units/{unit.unit_id}/password",
                     headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "bench"},
                     json={"old_password": unit.initial_password, "new_password": "bench2025pw"})
            headers = {"Authorization": f"Bearer {token}"}
            best = 0.0
            for _ in range(3):  # best of three: the figure is the server, not the machine's hiccups
                rows, cursor = 0, None
                started = time.perf_counter()
                while True:
                    params = {"limit": 5000, **({"cursor": cursor} if cursor else {})}
                    page = http.get(f"/v1/units/{unit.unit_id}/enrollment", params=params,
                                    headers=headers).json()
                    rows += len(page["items"])
                    cursor = page["next_cursor"]
                    if not page["has_more"]:
                        break
                elapsed = time.perf_counter() - started
                assert rows == EMPLOYEES, rows
                best = max(best, rows / elapsed)
    finally:
        running.stop()
    figure("enrollment_feed_rows_per_s", best, "rows/s")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="socialfee-bench-") as tmp:
        bench_generate(Path(tmp))
        bench_feed(Path(tmp))


if __name__ == "__main__":
    main()
