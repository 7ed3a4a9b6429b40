"""职工缴费证明 PDF.

FIGURE certificate_pdf_60: client/core/certificate_pdf.render of one employee's certificate over
  60 months (养老, 医疗, 失业, 工伤 each month: 240 rows, 7 pages with the totals, the SHA-256 and
  its QR code), median of 9 renders after one untimed render that loads the shipped font (as the
  client's first print of a session does). Value in seconds; target < 0.5 s.
Run from the repo root: python bench/certificate.py
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure  # noqa: E402
from client.core.certificate import CertificateDoc, ContributionRow, PersonContributions  # noqa: E402
from client.core.certificate_pdf import render  # noqa: E402
from rules.periods import period_range  # noqa: E402

RUNS = 9
CENT = Decimal("0.01")
ITEMS = (("pension", "基本养老保险", Decimal("0.16"), Decimal("0.08")),
         ("medical", "基本医疗保险（含生育保险）", Decimal("0.08"), Decimal("0.02")),
         ("unemployment", "失业保险", Decimal("0.007"), Decimal("0.003")),
         ("injury", "工伤保险", Decimal("0.004"), None))


def sample(months: int = 60) -> CertificateDoc:
    """Five years of one employee, the base rising each July, the last two months unpaid."""
    rows = []
    periods = list(period_range("202101", "203012"))[:months]
    for i, p in enumerate(periods):
        base = Decimal(7200 + 450 * ((i + 6) // 12)).quantize(CENT)
        paid = i < months - 2
        for code, name, er_rate, ee_rate in ITEMS:
            er = (base * er_rate).quantize(CENT)
            ee = (base * ee_rate).quantize(CENT) if ee_rate is not None else None
            rows.append(ContributionRow(str(p), code, name, "正常", "14010524638201", base, er, ee, er + (ee or 0),
                                        "paid" if paid else "unpaid", f"{p.year}-{p.month:02d}-18T10:00:00" if paid else None))
    er_total = sum((r.employer or Decimal(0) for r in rows), Decimal("0.00"))
    ee_total = sum((r.employee or Decimal(0) for r in rows), Decimal("0.00"))
    person = PersonContributions("张三", "201", "11010519491231002X", "14010524638201", str(periods[0]),
                                 str(periods[-1]), tuple(rows), er_total, ee_total, er_total + ee_total)
    return CertificateDoc("太原市示范机关事务服务中心", "12140100MB0000001A", ("14010524638201",),
                          dt.datetime(2026, 12, 1, 10, 30, 0), "王会计", (person,))


def certificate_pdf_60() -> None:
    doc = sample(60)
    pdf = render(doc)  # untimed: loads the font
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        out = render(doc)
        times.append(time.perf_counter() - start)
        assert out == pdf  # the same certificate, the same bytes
    figure("certificate_pdf_60", statistics.median(times), "s")


if __name__ == "__main__":
    certificate_pdf_60()
