"""缴费工资申报 at 50,000 employees: import, paging the draft, submitting.

FIGURE import_50k: import of a 50,000-row xlsx (read, validate, save into an empty draft),
  (floor: python-calamine reading the same file plus raw sqlite3 inserting the same rows
  into a table of the draft's schema and indexes, in one transaction); RUNS of each side
  interleaved, median against median (bench/common.py paired).
FIGURE draft_page_p95: a page of 50 of the 50,000-row draft as the UI table asks for it when
  paging (HTTP GET of /api/wage-base/daily through the embedded server), p95
  (floor: the same count and page SQL through raw sqlite3).
FIGURE submit_50k: 提交申报 of the 50,000-row draft until the reference tax side (another
  process, loopback) has it and the journal says 待反馈 (no floor; target under 10 s).
Run from the repo root: python bench/wage_base.py
"""

from __future__ import annotations

import datetime as dt
import io
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx
import python_calamine
import xlsxwriter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure, paired, serve_taxside  # noqa: E402
from client.app import build_services, start_server  # noqa: E402
from client.core import journal, wage_base, wage_context, wage_import, wage_submit  # noqa: E402
from client.sync.outbox import Outbox  # noqa: E402
from client.sync.taxclient import TaxClient  # noqa: E402

EMPLOYEES = 50_000
PASSWORD = "Bench2025pass"
PAGES = 300
RUNS = 5


def start_taxside(folder: Path):
    from taxside.generate import generate

    db = folder / "taxside.sqlite3"
    (unit,) = generate(db, units=1, employees=EMPLOYEES, seed=7)
    proc, url = serve_taxside(db)
    return proc, url, unit


def log_in(services, url: str, unit) -> None:
    """First use as the operator does it; the login's incremental update downloads everyone."""
    services.settings.update({"taxside_url": url, "http_timeout_seconds": 120})
    session = services.session
    session.lookup(unit.taxpayer_id)
    if session.login(unit.unit_id, unit.initial_password).state == "must_change":
        session.change_initial_password(PASSWORD, PASSWORD)
    session.registration()
    session.confirm()
    deadline = time.monotonic() + 300
    while services.jobs.find(active_only=True) and time.monotonic() < deadline:
        time.sleep(0.1)


def write_file(services, pk: int, target: Path) -> None:
    """The offline-edited file a clerk imports: every insured employee with a new base."""
    book = xlsxwriter.Workbook(str(target), {"constant_memory": True})
    sheet = book.add_worksheet()
    text = book.add_format({"num_format": "@"})
    sheet.write_row(0, 0, ["姓名", "证件类型", "证件号码", "新缴费工资", "生效年月"])
    rows = services.store.db.execute_sql(
        "SELECT name, id_number FROM enrollment_employee WHERE unit_id = ? AND status = '正常缴费' ORDER BY id",
        (pk,),
    ).fetchall()
    for n, (name, id_number) in enumerate(rows, start=1):
        sheet.write_string(n, 0, name)
        sheet.write_string(n, 1, "居民身份证")
        sheet.write_string(n, 2, id_number, text)
        sheet.write_number(n, 3, 9000 + n % 500)
        sheet.write_string(n, 4, "202503", text)
    book.close()


def import_once(services, ctx, path: Path) -> float:
    with services.store.write() as db:  # into an empty draft, as the floor inserts into an empty table
        db.execute_sql("DELETE FROM wage_base_draft")
    started = time.perf_counter()
    result = wage_import.import_file(
        path.read_bytes(), path.name, wage_base.enrolled(services.store, ctx.unit_pk), ctx
    )
    wage_base.save_import(services.store, ctx, result, replace=True)
    elapsed = time.perf_counter() - started
    assert len(result.rows) >= EMPLOYEES * 0.9, (len(result.rows), result.problems[:3])
    return elapsed


def floor_once(services, path: Path, folder: Path) -> float:
    """The same rows into a table with the draft's schema and indexes, bare."""
    schema = [
        sql for (sql,) in services.store.db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'wage_base_draft' AND sql IS NOT NULL"
        ).fetchall()
    ]
    db = folder / f"floor-{time.monotonic_ns()}.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("PRAGMA synchronous = full")
    for sql in schema:
        conn.execute(sql.replace("REFERENCES unit (id) ON DELETE CASCADE", ""))
    started = time.perf_counter()
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes()))
    cells = book.get_sheet_by_index(0).to_python()
    with conn:
        conn.executemany(
            "INSERT INTO wage_base_draft (unit_id, kind, employee_id, name, id_type, id_number, unit_number, "
            "current_base, new_base, effective_month, warning, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(1, "daily", r[2], r[0], "201", r[2], "", "", str(r[3]), r[4], "", "now") for r in cells[1:]],
        )
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def draft_paging(services, ctx) -> None:
    server = start_server(services)
    rng = random.Random(5)
    total_pages = wage_base.count(services.store, ctx) // 50
    ours, bare = [], []
    raw = sqlite3.connect(services.store.path)
    with httpx.Client(base_url=server.base_url, follow_redirects=True, timeout=30) as client:
        client.get(server.launch_url).raise_for_status()
        for i in range(PAGES):
            page = rng.randint(1, total_pages)
            params = {"page": page, "size": 50, "summary": "0"}  # as the table asks when paging
            if i % 3 == 1:
                params.update(sort="name", order="desc" if i % 2 else "asc")
            started = time.perf_counter()
            response = client.get("/api/wage-base/daily", params=params)
            ours.append(time.perf_counter() - started)
            response.raise_for_status()
            assert len(response.json()["rows"]) == 50
            order = "name" if "sort" in params else "id"
            started = time.perf_counter()
            raw.execute(
                "SELECT count(*) FROM wage_base_draft WHERE unit_id = ? AND kind = 'daily'", (ctx.unit_pk,)
            ).fetchone()
            raw.execute(
                "SELECT * FROM wage_base_draft WHERE unit_id = ? AND kind = 'daily' "
                f"ORDER BY {order}, id LIMIT 50 OFFSET ?",
                (ctx.unit_pk, (page - 1) * 50),
            ).fetchall()
            bare.append(time.perf_counter() - started)
    raw.close()
    server.stop()

    def p95(samples: list[float]) -> float:
        return sorted(samples)[int(len(samples) * 0.95) - 1] * 1000

    figure("draft_page_p95", p95(ours), "ms", p95(bare))


def submit(services, ctx, url: str, unit) -> None:
    store = services.store
    with TaxClient(url, timeout=120) as client:
        client.login(unit.unit_id, PASSWORD)
        started = time.perf_counter()
        entry_id = wage_submit.submit(store, ctx, "bench", confirmed=True)
        report = Outbox(store, services.home).send(client, ctx.unit_pk, unit.unit_id)
        elapsed = time.perf_counter() - started
    entry = journal.get(store, entry_id)
    assert report.sent == 1 and entry.state == journal.AWAITING, (report, entry)
    assert entry.row_count >= EMPLOYEES * 0.9
    figure("submit_50k", elapsed, "s")  # absolute target: under 10 s


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="sf-bench-wage-base-"))
    proc, url, unit = start_taxside(folder)
    services = build_services(folder / "client")
    try:
        log_in(services, url, unit)
        current = services.session.require_entered()
        pk = current.local_id
        from rules.packs import load_pack

        ctx = wage_context.DraftContext(pk, "daily", load_pack(unit.region), dt.date(2025, 3, 15), False)
        path = folder / "import-50k.xlsx"
        write_file(services, pk, path)
        paired("import_50k", "s", lambda: import_once(services, ctx, path),
               lambda: floor_once(services, path, folder), RUNS)
        draft_paging(services, ctx)
        submit(services, ctx, url, unit)
    finally:
        services.close()
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
