"""Payment (费款缴纳) figures, one function each.

FIGURE voucher_pdf_200: client/core/voucher_pdf.render of a bank voucher with 200 arrears
(six A4 pages), median of warm runs in ms; the font is loaded by an untimed first render,
as in the client, where it stays loaded. Target < 500 ms.
FIGURE voucher_pdf_200_size: the size of that PDF in MB (the embedded font subset is most
of it). Target < 200 KB (0.195 MB).

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure  # noqa: E402
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


FIGURES: dict[str, Callable[[], None]] = {
    "voucher_pdf_200": voucher_pdf_200,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", choices=sorted(FIGURES), help="measure one figure")
    args = parser.parse_args()
    for name, run in FIGURES.items():
        if args.only in (None, name):
            run()


if __name__ == "__main__":
    main()
