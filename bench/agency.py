"""单位总览 (agency view) figures.

FIGURE overview_200_units: GET /api/agency/units (the first page of 50, sorted by 欠费金额,
  with the totals over all units) through the app's Flask handler, for 200 units of 500
  employees each (100,000 employee rows) with drafts, summaries, journal entries and arrears;
  median of 9 server-side timings after one untimed call. Target < 200 ms.
FIGURE batch_feedback_200: 获取全部反馈 as a batch over 200 units against the reference tax
  side in another process (loopback): from starting the batch until its job has ended, every
  unit logged in with its own password and every 待反馈 declaration (one per unit, kept
  undecided by a long decision delay so each run asks the same) asked about; median of 3
  (floor: the same requests - per unit the login, then the GET of each declaration - made
  bare with one httpx client one after another, median of 3; the two alternate, each going first in turn,
  after one untimed run of each). Target: within 2x of the floor.

Run from the repo root: .venv/bin/python bench/agency.py [--only NAME] [--units N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.common import figure, serve_taxside  # noqa: E402
from client.api.server import create_app  # noqa: E402
from client.app import build_services  # noqa: E402
from client.core import fee_declaration as fees  # noqa: E402
from client.core import journal, units  # noqa: E402
from client.services import Services  # noqa: E402
from client.sync import fee_declaration as fee_sync  # noqa: E402
from client.sync.agency import AgencyBatches, BatchUnit  # noqa: E402
from client.sync.taxclient import TaxClient  # noqa: E402

PASSWORD = "Bench2025pass"
RUNS = 9
BATCH_RUNS = 3


# -- overview_200_units ------------------------------------------------------------------------
def seed_overview(svc: Services, count: int, employees: int) -> None:
    """``count`` units of ``employees`` each, and a little of everything the overview counts."""
    now = "2025-03-10 09:00:00"
    with svc.store.write() as db:
        conn = db.connection()
        conn.executemany(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) VALUES (?, ?, ?, ?, ?)",
            [(f"9111000{n:011d}", f"U{n:06d}", f"北京第{n}号代理客户有限公司", ("110000", "310000", "140000")[n % 3],
              "2025-01-01 08:00:00") for n in range(count)],
        )
        pks = [r[0] for r in conn.execute("SELECT id FROM unit ORDER BY id")]
        for pk in pks:
            conn.executemany(
                "INSERT INTO enrollment_employee (unit_id, employee_id, name, id_type, id_number, gender, "
                "birth_date, unit_number, items, status, bases, taxside_updated_at, removed, seen_generation, "
                "synced_at) VALUES (?, ?, '职工', '居民身份证', ?, '男', '1990-01-01', 'N1', '[]', '正常缴费', "
                "'{}', ?, ?, 1, ?)",
                [(pk, f"E{pk}-{i}", f"{pk:06d}{i:012d}", now, int(i % 50 == 0), now) for i in range(employees)],
            )
            conn.execute("INSERT INTO feed_cursor (unit_id, feed, cursor, mode, generation, complete, updated_at) "
                         "VALUES (?, 'enrollment', 'c', 'incremental', 1, 1, ?)", (pk, f"2025-03-{1 + pk % 28:02d}"))
            conn.executemany(
                "INSERT INTO wage_base_draft (unit_id, kind, employee_id, name, id_type, id_number, unit_number, "
                "added_at) VALUES (?, 'daily', ?, '职工', '居民身份证', '1', 'N1', ?)",
                [(pk, f"E{pk}-{i}", now) for i in range(pk % 7)],
            )
            conn.executemany(
                "INSERT INTO fee_summary (unit_id, summary_id, kind, unit_number, agency, item, item_name, part, "
                "part_name, period_from, period_to, headcount, base_total, amount, version, computed_at, "
                "pack_version, state, has_details, fetched_at) VALUES (?, ?, 'daily', 'N1', '中心', 'pension', "
                "'养老', 'unit', '单位', '202503', '202503', 1, '5000.00', '800.00', 1, ?, '1', ?, 0, ?)",
                [(pk, f"S{pk}-{i}", now, "pending" if i % 2 else "declared", now) for i in range(8)],
            )
            conn.executemany(
                "INSERT INTO submission (unit_id, kind, idempotency_key, payload, summary, row_count, operator, "
                "state, created_at, updated_at) VALUES (?, 'fee_declaration', ?, '{}', '社保费申报', 1, 'bench', ?, "
                "?, ?)",
                [(pk, f"k{pk}-{i}", ("accepted", "awaiting", "unknown", "queued")[i % 4], now, now) for i in range(6)],
            )
            conn.executemany(
                "INSERT INTO payment_arrear (unit_id, arrear_id, declaration_id, summary_id, unit_number, agency, "
                "item, item_name, part, part_name, period_from, period_to, amount, deadline, late_days, late_fee, "
                "total, state) VALUES (?, ?, 'D', 'S', 'N1', '中心', 'pension', '养老', 'unit', '单位', '202502', "
                "'202502', ?, ?, 0, '0.00', ?, 'unpaid')",
                [(pk, f"A{pk}-{i}", f"{100 + pk + i}.{i:02d}", f"2025-03-{1 + (pk + i) % 28:02d}",
                  f"{100 + pk + i}.{i:02d}") for i in range(pk % 5)],
            )
        conn.execute("INSERT INTO audit_log (at, operator, action, detail) VALUES (?, 'bench', '自动备份', 'x')", (now,))


def bench_overview(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        svc = build_services(Path(tmp) / "home")
        try:
            seed_overview(svc, count, 500)
            app = create_app(svc, "bench-secret", 0)
            url = "/api/agency/units?page=1&size=50&sort=arrears_amount&order=desc"
            times = []
            view = app.view_functions["agency.overview"]
            for n in range(RUNS + 1):
                with app.test_request_context(url):
                    started = time.perf_counter()
                    response = view()
                    elapsed = time.perf_counter() - started
                body = response.get_json()
                assert body["total"] == count and len(body["rows"]) == min(50, count), body.get("error")
                if n:
                    times.append(elapsed * 1000)
            figure(f"overview_{count}_units", statistics.median(times), "ms")
        finally:
            svc.close()


# -- batch_feedback_200 --------------------------------------------------------------------------
def prepare_units(url: str, svc: Services, count: int) -> list[tuple[str, list[str]]]:
    """Every unit registered here with its password changed, one declaration each 待反馈:
    (unit id, the tax side's declaration ids to ask about)."""
    with httpx.Client(base_url=url, trust_env=False, timeout=30) as http:
        found = http.get("/sim/units").json()["items"][:count]
        http.put("/sim/settings", json={"decision_delay_seconds": 86_400})
    plan = []
    for item in found:
        local = units.add_or_restore(svc.store, item["unit_id"], item["taxpayer_id"], item["name"], item["region"])
        with TaxClient(url) as client:
            client.login(item["unit_id"], item["initial_password"])
            client.change_password(item["unit_id"], item["initial_password"], PASSWORD)
            client.login(item["unit_id"], PASSWORD)
            fee_sync.refresh_summaries(svc.store, client, local.id, item["unit_id"])
            chosen = [s.summary_id for s in fees.summaries(svc.store, local.id)]
            if chosen:
                fees.declare(svc.store, local.id, chosen, "bench")
                svc.session.outbox.send(client, local.id, item["unit_id"])
        waiting = journal.entries(svc.store, local.id, (journal.AWAITING,))
        plan.append((item["unit_id"], [str(e.taxside_id) for e in waiting]))
    return plan


def batch_once(svc: Services, runner: AgencyBatches, plan: list[tuple[str, list[str]]]) -> float:
    chosen = [BatchUnit(unit_id, PASSWORD) for unit_id, _ids in plan]
    started = time.perf_counter()
    view = runner.start("feedback", chosen)
    while svc.jobs.get(view.job.id).active:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    lines = runner.view(view.job.id).lines
    failed = [line for line in lines if line["state"] != "done"]
    assert not failed, failed[:3]
    return elapsed


def floor_once(url: str, plan: list[tuple[str, list[str]]]) -> float:
    with httpx.Client(base_url=url, trust_env=False, timeout=30) as http:
        started = time.perf_counter()
        for unit_id, declaration_ids in plan:
            resp = http.post(f"/v1/units/{unit_id}/session", json={"password": PASSWORD})
            resp.raise_for_status()
            headers = {"Authorization": f"Bearer {resp.json()['token']}"}
            for declaration_id in declaration_ids:
                http.get(f"/v1/units/{unit_id}/fee-declarations/{declaration_id}", headers=headers).raise_for_status()
        return time.perf_counter() - started


def bench_batch(count: int) -> None:
    from taxside.generate import generate

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "taxside.sqlite3"
        generate(db, units=count, employees=count * 20, seed=17)
        proc, url = serve_taxside(db)
        svc = build_services(folder / "home")
        try:
            svc.settings.update({"taxside_url": url})
            plan = prepare_units(url, svc, count)
            asked = sum(len(ids) for _u, ids in plan)
            runner = AgencyBatches(svc.session)
            batch_once(svc, runner, plan)  # untimed: connections, caches
            floor_once(url, plan)
            ours, floor = [], []
            for n in range(BATCH_RUNS):  # alternating which goes first: the machine's load drifts
                if n % 2:
                    floor.append(floor_once(url, plan))
                ours.append(batch_once(svc, runner, plan))
                if not n % 2:
                    floor.append(floor_once(url, plan))
            print(f"# {len(plan)} units, {asked} declarations asked about per run; batch "
                  f"{[round(t, 2) for t in ours]} s, floor {[round(t, 2) for t in floor]} s", flush=True)
            figure(f"batch_feedback_{count}", statistics.median(ours), "s", statistics.median(floor))
        finally:
            svc.close()
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("overview", "batch"))
    parser.add_argument("--units", type=int, default=200)
    args = parser.parse_args()
    if args.only in (None, "overview"):
        bench_overview(args.units)
    if args.only in (None, "batch"):
        bench_batch(args.units)


if __name__ == "__main__":
    main()
