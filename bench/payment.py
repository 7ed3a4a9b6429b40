"""Payment (费款缴纳) figures, one function each.

FIGURE voucher_pdf_200: client/core/voucher_pdf.render of a bank voucher with 200 arrears
(six A4 pages), median of warm runs in ms; the font is loaded by an untimed first render,
as in the client, where it stays loaded. Target < 500 ms.
FIGURE voucher_pdf_200_size: the size of that PDF in MB (the embedded font subset is most
of it). Target < 200 KB (0.195 MB).
FIGURE arrears_load_500: 刷新 and showing 500 arrears through the client's API (POST
/api/payment/arrears/refresh, its job followed to the end, then GET /api/payment/arrears) on
the embedded server, against the reference tax side in another process (loopback); median
of 9 (floor: the bare HTTP GET of the same 500 arrears from the tax side, median of 9; the
two alternate after one untimed run of each). Target < 300 ms.
FIGURE arrears_page_500: the same as the operator sees it: the 缴款 page opened in chromium
(Playwright, from the 关于 page, its own calls finished) with no list on this PC, until the
header shows 500 and the table's first page is drawn, every row of it (the refresh on entry,
answered when its job ended or polled, the list rendered); median of 9 (floor as above).
Target < 300 ms. With --requests, what the last timed entry asked: each request's start and
end in the page (resource timing, ms from the navigation) and its time in the UI server.
FIGURE debit_200: one 三方协议 debit of 200 arrears through the client's API (POST
/api/payment/debits: the journal entry, the send, every per-arrear result, arrear and payment
record stored) until the answer; median of 3 (floor: the bare POST of a debit of 200 other
arrears to the tax side, median of 3; alternating after one untimed pair). Target < 2 s.

Run from the repo root: .venv/bin/python bench/payment.py [--only NAME]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.common import figure, serve_taxside  # noqa: E402
from client.core.voucher_pdf import VoucherDoc, VoucherRow, render  # noqa: E402

RUNS = 9
ITEMS = (("企业职工基本养老保险", "单位缴纳部分"), ("企业职工基本养老保险", "个人缴纳部分"),
         ("职工基本医疗保险", "单位缴纳部分"), ("职工基本医疗保险", "个人缴纳部分"),
         ("失业保险", "单位缴纳部分"), ("失业保险", "个人缴纳部分"), ("工伤保险", "单位缴纳部分"),
         ("生育保险", "单位缴纳部分"))
AGENCIES = ("北京市朝阳区社会保险事业管理中心", "北京市朝阳区医疗保障事务中心")


def sample_voucher(count: int) -> VoucherDoc:
    """A unit's arrears over many months and items, as a large voucher would list them."""
    rows = []
    for i in range(count):
        item, part = ITEMS[i % len(ITEMS)]
        month = 202001 + (i // len(ITEMS)) // 12 * 100 + (i // len(ITEMS)) % 12
        amount = Decimal(1000 + (i * 7919) % 250_000) + Decimal(i % 100) / 100
        late = (amount * Decimal("0.0005") * (i % 30)).quantize(Decimal("0.01"))
        rows.append(VoucherRow(f"1101052463{8200 + i % 4}", AGENCIES["医疗" in item], item, part,
                               str(month), str(month), amount, late, amount + late))
    return VoucherDoc(
        "BV00000001", "325110250400000002", "北京朝阳星河科技发展有限公司", "91110107WFUYGCJU12",
        "国家税务总局北京市朝阳区税务局", dt.date(2025, 4, 2), dt.date(2025, 4, 2),
        dt.datetime(2025, 4, 2, 9, 0, 0), tuple(rows),
        sum((r.amount for r in rows), Decimal(0)), sum((r.late_fee for r in rows), Decimal(0)),
        sum((r.total for r in rows), Decimal(0)),
    )


def voucher_pdf_200() -> None:
    doc = sample_voucher(200)
    pdf = render(doc)  # untimed: loads the font, as the client's first voucher does
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        out = render(doc)
        times.append(time.perf_counter() - start)
        assert out == pdf  # the same voucher, the same bytes
    figure("voucher_pdf_200", statistics.median(times) * 1000, "ms")
    figure("voucher_pdf_200_size", len(pdf) / 1024 / 1024, "MB")


# -- arrears and debits through the client's API ---------------------------------------------------
PASSWORD = "Bench2025pass"
SPECIAL_MONTHS = ("202407", "202408", "202409", "202410", "202411", "202412", "202501", "202502")


class PaymentBench:
    """A reference tax side in its own process, the client's services and embedded server,
    one unit logged in as the operator does on a fresh PC."""

    def __init__(self) -> None:
        import tempfile

        from client.app import build_services, start_server
        from taxside.generate import generate

        self.folder = Path(tempfile.mkdtemp(prefix="sf-bench-payment-"))
        db = self.folder / "taxside.sqlite3"
        (self.unit,) = generate(db, units=1, employees=50, seed=7)
        self.proc, self.url = serve_taxside(db)
        self.sim("PUT", "/settings", {"decision_delay_seconds": 0})
        self.services = build_services(self.folder / "client")
        self.services.settings.update({"taxside_url": self.url, "http_timeout_seconds": 60})
        session = self.services.session
        session.lookup(self.unit.taxpayer_id)
        if session.login(self.unit.unit_id, self.unit.initial_password).state == "must_change":
            session.change_initial_password(PASSWORD, PASSWORD)
        session.registration()
        session.confirm()
        self.settle()
        self.server = start_server(self.services)
        self.ui = httpx.Client(base_url=self.server.base_url, follow_redirects=True, timeout=60)
        self.ui.get(self.server.launch_url).raise_for_status()
        html = self.ui.get("/").text
        marker = 'name="csrf-token" content="'
        start = html.index(marker) + len(marker)
        self.ui.headers["X-CSRF-Token"] = html[start:html.index('"', start)]
        token = httpx.post(f"{self.url}/v1/units/{self.unit.unit_id}/session", json={"password": PASSWORD},
                           timeout=30).json()["token"]
        self.raw = httpx.Client(base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {token}"})

    def sim(self, method: str, path: str, body: object = None) -> Any:
        answer = httpx.request(method, f"{self.url}/sim{path}", json=body, timeout=120)
        answer.raise_for_status()
        return answer.json()

    def settle(self) -> None:
        deadline = time.monotonic() + 120
        while self.services.jobs.find(active_only=True) and time.monotonic() < deadline:
            time.sleep(0.02)

    def add_arrears(self, count: int) -> None:
        """Special summaries (补缴, seven per call) declared on the 电子税务局: ``count`` arrears."""
        ids: list[str] = []
        while len(ids) < count:
            month = SPECIAL_MONTHS[len(ids) // 7 % len(SPECIAL_MONTHS)]
            found = self.sim("POST", f"/units/{self.unit.unit_id}/special-summaries",
                             {"special_type": "补缴", "from": month, "to": month, "count": 1})
            ids.extend(s["summary_id"] for s in found["items"])
        ids = ids[:count]
        for n in range(0, len(ids), 1000):
            self.sim("POST", f"/units/{self.unit.unit_id}/fee-declarations", {"summary_ids": ids[n:n + 1000]})

    def unpaid(self) -> list[str]:
        found = self.raw.get(f"/v1/units/{self.unit.unit_id}/arrears", params={"limit": 5000}).json()
        return [a["arrear_id"] for a in found["items"] if a["hold"] is None]

    def refresh_and_show(self) -> float:
        started = time.perf_counter()
        job = self.ui.post("/api/payment/arrears/refresh").json()["job"]
        while job["state"] == "running":
            time.sleep(0.002)
            job = self.ui.get(f"/api/jobs/{job['id']}").json()["job"]
        listed = self.ui.get("/api/payment/arrears").json()
        elapsed = time.perf_counter() - started
        assert job["state"] == "succeeded", job
        assert listed["count"] == len(listed["items"]) == 500, listed["count"]
        return elapsed

    def bare_get(self) -> float:
        started = time.perf_counter()
        found = self.raw.get(f"/v1/units/{self.unit.unit_id}/arrears", params={"limit": 5000})
        elapsed = time.perf_counter() - started
        assert found.status_code == 200 and len(found.json()["items"]) == 500
        return elapsed

    def debit_ours(self, ids: list[str]) -> float:
        self.ui.post("/api/payment/arrears/refresh")
        self.settle()
        agreement = next(a for a in self.ui.get("/api/payment/agreements").json()["items"] if a["can_debit_fees"])
        total = self.ui.post("/api/payment/arrears/selection", json={"arrear_ids": ids}).json()["total"]
        body = {"agreement_id": agreement["agreement_id"], "arrear_ids": ids, "confirmed_total": total}
        started = time.perf_counter()
        answer = self.ui.post("/api/payment/debits", json=body)
        elapsed = time.perf_counter() - started
        result = answer.json()
        assert answer.status_code == 201 and result["ok"], answer.text[:500]
        assert result["debit"]["paid_count"] == 200 and len(result["debit"]["results"]) == 200
        return elapsed

    def debit_bare(self, ids: list[str]) -> float:
        import uuid

        agreement = self.raw.get(f"/v1/units/{self.unit.unit_id}/agreements").json()["items"][0]
        started = time.perf_counter()
        answer = self.raw.post(f"/v1/units/{self.unit.unit_id}/debits",
                               json={"agreement_id": agreement["agreement_id"], "arrear_ids": ids},
                               headers={"Idempotency-Key": str(uuid.uuid4())})
        elapsed = time.perf_counter() - started
        assert answer.status_code == 201 and answer.json()["paid_count"] == 200, answer.text[:300]
        return elapsed

    def close(self) -> None:
        self.ui.close()
        self.raw.close()
        self.server.stop()
        self.services.close()
        self.proc.terminate()
        self.proc.wait(10)


def arrears_load_500() -> None:
    bench = PaymentBench()
    try:
        bench.add_arrears(500)
        bench.refresh_and_show(), bench.bare_get()  # untimed: warm both
        ours, bare = [], []
        for _ in range(9):
            ours.append(bench.refresh_and_show())
            bare.append(bench.bare_get())
        figure("arrears_load_500", statistics.median(ours) * 1000, "ms", statistics.median(bare) * 1000)
    finally:
        bench.close()


def _clear_local_arrears(bench: PaymentBench) -> None:
    with bench.services.store.write() as db:
        db.execute_sql("DELETE FROM payment_arrear")
        db.execute_sql("DELETE FROM payment_arrear_fetch")


class ServerLog:
    """Each request the UI server answered: (start, seconds in the app, method, path, bytes)."""

    def __init__(self, app: Any) -> None:
        self.entries: list[tuple[float, float, str, str, int]] = []
        inner = app.wsgi_app

        def timed(environ: dict[str, Any], start_response: Any) -> Any:
            started = time.perf_counter()
            body = b"".join(inner(environ, start_response))
            self.entries.append((started, time.perf_counter() - started, environ["REQUEST_METHOD"],
                                 environ["PATH_INFO"], len(body)))
            return [body]

        app.wsgi_app = timed


RESOURCES = """() => performance.getEntriesByType("resource").map((e) => [
  e.name.replace(location.origin, ""), e.startTime, e.responseEnd, e.transferSize])"""


def _breakdown(resources: list[Any], served: list[tuple[float, float, str, str, int]], started: float) -> None:
    print("  page (ms from the navigation; cache = from the browser's cache, no request):")
    for name, start, end, size in resources:
        print(f"    {start:7.1f} -> {end:7.1f}  {'cache' if size == 0 else f'{size:>7d} B'}  {name}")
    print(f"  UI server ({len(served)} requests; ms from goto, time in the app):")
    for at, took, method, path, size in sorted(served):
        print(f"    +{(at - started) * 1000:7.1f}  {took * 1000:6.1f} ms  {size:>7d} B  {method} {path}")


def arrears_page_500(requests: bool = False) -> None:
    """What the operator sees: the 缴款 page opened in chromium on a PC whose list is empty,
    until the header says 500 and every row of the table's first page is drawn."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    bench = PaymentBench()
    try:
        bench.add_arrears(500)
        served = ServerLog(bench.server.app)
        rows = min(500, int(bench.services.settings.get("page_size") or 50))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(bench.server.launch_url)
            ours, bare = [], []
            for n in range(10):
                _clear_local_arrears(bench)
                # From another page of the client, as the operator clicks 费款缴纳 in the menu
                # (from about:blank chromium would also start a new renderer process).
                page.goto(f"{bench.server.base_url}/about")
                page.wait_for_load_state("networkidle")
                served.entries.clear()
                started = time.perf_counter()
                page.goto(f"{bench.server.base_url}/payment")
                page.locator("#count-total", has_text="500").wait_for(timeout=60000)
                page.locator("#arrears tbody tr").nth(rows - 1).wait_for(timeout=60000)
                elapsed = time.perf_counter() - started
                assert page.locator("#arrears tbody tr").count() == rows
                log = list(served.entries)
                floor = bench.bare_get()
                if n:  # the first is untimed (warm-up)
                    ours.append(elapsed)
                    bare.append(floor)
            if requests:
                page.wait_for_load_state("networkidle")
                _breakdown(page.evaluate(RESOURCES), log, started)
            browser.close()
        figure("arrears_page_500", statistics.median(ours) * 1000, "ms", statistics.median(bare) * 1000)
    finally:
        bench.close()


def debit_200() -> None:
    bench = PaymentBench()
    try:
        bench.add_arrears(1600)  # four pairs of 200-arrear debits, each of arrears never paid
        free = bench.unpaid()
        assert len(free) >= 1600, len(free)
        pairs = [(free[n:n + 200], free[n + 200:n + 400]) for n in range(0, 1600, 400)]
        ours, bare = [], []
        for n, (mine, theirs) in enumerate(pairs):
            a, b = bench.debit_ours(mine), bench.debit_bare(theirs)
            if n:  # the first pair is untimed (warm-up)
                ours.append(a)
                bare.append(b)
        figure("debit_200", statistics.median(ours), "s", statistics.median(bare))
    finally:
        bench.close()


FIGURES: dict[str, Callable[..., None]] = {
    "voucher_pdf_200": voucher_pdf_200,
    "arrears_load_500": arrears_load_500,
    "arrears_page_500": arrears_page_500,
    "debit_200": debit_200,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", choices=sorted(FIGURES), help="measure one figure")
    parser.add_argument("--requests", action="store_true", help="arrears_page_500: list what its last entry asked")
    args = parser.parse_args()
    for name, run in FIGURES.items():
        if args.only in (None, name):
            run(requests=True) if name == "arrears_page_500" and args.requests else run()


if __name__ == "__main__":
    main()
