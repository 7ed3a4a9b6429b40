"""首页 本月待办 and its charts for a 100,000-employee unit.

FIGURE home_status: the server time of the home page as the operator opens it: GET / (the
status lines, the 登录提示, the common functions, rendered) plus GET /api/home/charts (the 12
periods), through the embedded server on loopback, median of 15 warm runs in ms. Target < 150 ms.
Also printed, not a FIGURE: the core call client/core/home_status.home_status alone.

The unit is logged in against the reference tax side (another process, a small unit), then
this PC's tables are filled as a year of work at 100,000 employees leaves them: 100,000
employees (300 of them without a base), 11 months declared and paid (7 summaries each, their
person details cached for the last one), this month's summaries pending, arrears, vouchers,
a few hundred journal entries, 5,000 audit lines and 30 backup files.
Run from the repo root: .venv/bin/python bench/home.py
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.common import figure, serve_taxside  # noqa: E402
from client.app import build_services, start_server  # noqa: E402
from client.core import home_status  # noqa: E402
from client.core.store import Store  # noqa: E402

EMPLOYEES = 100_000
WITHOUT_BASE = 300
RUNS = 15
PASSWORD = "Bench2025pass"
ITEMS = (("pension", "基本养老保险", "employer", "0.16"), ("pension", "基本养老保险", "employee", "0.08"),
         ("medical", "基本医疗保险（含生育保险）", "employer", "0.098"),
         ("medical", "基本医疗保险（含生育保险）", "employee", "0.02"),
         ("unemployment", "失业保险", "employer", "0.005"), ("unemployment", "失业保险", "employee", "0.005"),
         ("injury", "工伤保险", "employer", "0.004"))


def log_in(services, url: str, unit) -> None:
    services.settings.update({"taxside_url": url})
    session = services.session
    session.lookup(unit.taxpayer_id)
    view = session.login(unit.unit_id, unit.initial_password)
    if view.state == "must_change":
        session.change_initial_password(PASSWORD, PASSWORD)
    session.registration()
    session.confirm()
    deadline = time.monotonic() + 60
    while services.jobs.find(active_only=True) and time.monotonic() < deadline:
        time.sleep(0.05)
    services.session.popups_shown = True


def fill(store: Store, pk: int, period: home_status.Period, backups: Path) -> None:
    """A year of a large unit's work on this PC (plain SQL in the shapes the syncs write)."""
    now = dt.datetime.now().isoformat(sep=" ", timespec="seconds")
    bases = '{"injury": "%s", "medical": "%s", "pension": "%s", "unemployment": "%s"}'
    with store.write() as db:
        db.execute_sql("DELETE FROM enrollment_employee WHERE unit_id = ?", (pk,))
        rows = []
        for n in range(EMPLOYEES):
            base = "0.00" if n < WITHOUT_BASE else f"{5000 + n % 20000}.00"
            rows.append((pk, f"E{n:09d}", f"职工{n}", "201", f"110105{19700101 + n % 9000:08d}{n % 10000:04d}",
                         "男" if n % 2 else "女", "1980-01-01", "11010524638201",
                         '["injury", "medical", "pension", "unemployment"]', "正常缴费" if n % 50 else "停止缴费",
                         bases % (base, base, base, base), now, now))
        db.cursor().executemany(
            "INSERT INTO enrollment_employee (unit_id, employee_id, name, id_type, id_number, gender, birth_date, "
            "unit_number, items, status, bases, taxside_updated_at, synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows,
        )
        summaries, records, payments, arrears = [], [], [], []
        sid = 1
        for back in range(11, -1, -1):
            p = str(period.add_months(-back))
            items = []
            for code, name, part, rate in ITEMS:
                amount = f"{int(EMPLOYEES * 12500 * float(rate))}.00"
                s = {"summary_id": f"FS{sid:08d}", "version": 1, "kind": "daily", "special_type": None,
                     "unit_number": "11010524638201", "agency": "北京市朝阳区社会保险事业管理中心", "item": code,
                     "item_name": name, "part": part, "part_name": "单位缴纳部分" if part == "employer" else "个人缴纳部分",
                     "period_from": p, "period_to": p, "headcount": EMPLOYEES - 2000 - back, "base_total": "1.00",
                     "amount": amount}
                items.append(s)
                sid += 1
                if back:
                    payments.append((pk, f"PM{sid:08d}", "3" * 18, "三方协议", "DB1", None, "1", "工行", f"AR{sid:08d}",
                                     "11010524638201", "朝阳", code, name, part, s["part_name"], p, p, amount, "0.00",
                                     amount, f"{p[:4]}-{p[4:]}-20T09:00:00", "已入库", None, now))
                elif back == 0:
                    summaries.append((pk, s["summary_id"], "daily", None, "11010524638201", "朝阳", code, name, part,
                                      s["part_name"], p, p, s["headcount"], "1.00", amount, 1, now, "2025.07.1",
                                      "pending", None, 1, now))
                if back <= 1:
                    arrears.append((pk, f"AR{sid:08d}", f"FD{back:08d}", s["summary_id"], "11010524638201", "朝阳", code,
                                    name, part, s["part_name"], p, p, amount, f"{p[:4]}-{p[4:]}-28", 0, "0.00", amount,
                                    "unpaid", None, None, None, None, None))
            if back:
                records.append((pk, f"FD{back:08d}", "电子税务局", "accepted", now, now, f"{p[:4]}-{p[4:]}-10",
                                len(items), "1.00", json.dumps(items, ensure_ascii=False), "[]", None, None, now))
        db.cursor().executemany(
            "INSERT INTO fee_summary (unit_id, summary_id, kind, special_type, unit_number, agency, item, item_name, "
            "part, part_name, period_from, period_to, headcount, base_total, amount, version, computed_at, "
            "pack_version, state, declaration_id, has_details, fetched_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", summaries,
        )
        db.cursor().executemany(
            "INSERT INTO fee_record (unit_id, declaration_id, channel, status, received_at, decided_at, declared_on, "
            "summary_count, total_amount, summaries, arrears, voided_at, void_id, synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", records,
        )
        db.cursor().executemany(
            "INSERT INTO payment_record (unit_id, payment_id, tax_ticket, method, debit_id, voucher_id, agreement_no, "
            "bank, arrear_id, unit_number, agency, item, item_name, part, part_name, period_from, period_to, amount, "
            "late_fee, total, paid_at, arrival, stored_at, synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", payments,
        )
        db.execute_sql("DELETE FROM payment_arrear WHERE unit_id = ?", (pk,))
        db.cursor().executemany(
            "INSERT INTO payment_arrear (unit_id, arrear_id, declaration_id, summary_id, unit_number, agency, item, "
            "item_name, part, part_name, period_from, period_to, amount, deadline, late_days, late_fee, total, state, "
            "hold, voucher_id, debit_id, paid_at, tax_ticket) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", arrears,
        )
        db.execute_sql(
            "INSERT OR REPLACE INTO payment_arrear_fetch (unit_id, fetched_at, today, count, amount_total, "
            "late_fee_total) VALUES (?, ?, ?, ?, '1.00', '0.00')", (pk, now, str(dt.date.today()), len(arrears)),
        )
        # A year of journal entries (payroll bases, declarations, payments), decided.
        db.cursor().executemany(
            "INSERT INTO submission (unit_id, kind, idempotency_key, payload, summary, row_count, operator, state, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, 's', 1, '财务', ?, ?, ?)",
            [(pk, kind, f"k{pk}-{n}-{kind}", '{"summaries": []}', "accepted" if n else "awaiting", now, now)
             for n in range(120) for kind in ("wage_base_daily", "fee_declaration", "debit")],
        )
        db.cursor().executemany(
            "INSERT INTO audit_log (at, operator, action, detail) VALUES (?, '财务', ?, '')",
            [(now, "自动备份" if n % 10 == 0 else "查询") for n in range(5000)],
        )
    backups.mkdir(parents=True, exist_ok=True)
    for n in range(30):
        (backups / f"socialfee-backup-20250{n % 9 + 1}01-000000-{n:03d}.sfbak").write_bytes(b"x" * 64)


def main() -> None:
    from taxside.generate import generate

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (unit,) = generate(folder / "taxside.sqlite3", units=1, employees=20, seed=7)
        proc, url = serve_taxside(folder / "taxside.sqlite3")
        services = build_services(folder / "client")
        server = start_server(services)
        try:
            log_in(services, url, unit)
            pk = services.session.view().unit.local_id
            today = services.session.business_date()
            started = time.perf_counter()
            fill(services.store, pk, home_status.current_period(today), folder / "client" / "backups")
            print(f"# filled in {time.perf_counter() - started:.1f} s", flush=True)
            with httpx.Client(base_url=server.base_url, timeout=60, follow_redirects=True) as client:
                assert client.get(server.launch_url).status_code == 200
                missing = sum(1 for n in range(WITHOUT_BASE) if n % 50)  # every 50th has stopped paying
                found = home_status.home_status(services.store, pk, today=today, now=dt.datetime.now(), pack=None)
                assert found.line("wage_base").text.startswith(f"有 {missing} 名"), found.line("wage_base")
                page = client.get("/")
                assert page.status_code == 200 and "本月待办" in page.text and f"有 {missing} 名" in page.text
                charts = client.get("/api/home/charts").json()
                assert charts["ok"] and charts["headcount"][0] and len(charts["items"]) == 4, charts
                timings, core = [], []
                for _ in range(RUNS):
                    t0 = time.perf_counter()
                    assert client.get("/").status_code == 200
                    assert client.get("/api/home/charts").status_code == 200
                    timings.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    home_status.home_status(services.store, pk, today=today, now=dt.datetime.now(), pack=None)
                    core.append((time.perf_counter() - t0) * 1000)
            print(f"# core home_status alone: median {statistics.median(core):.1f} ms", flush=True)
            figure("home_status", statistics.median(timings), "ms")
        finally:
            server.stop()
            services.close()
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
