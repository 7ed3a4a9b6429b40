"""职工缴费证明 PDF (client/core/certificate_pdf.py) and its verification value: the text reads
back (unit, names, months, amounts, totals, the mark, the hash), each employee's pages stand
apart, the hash recomputes from the content and changes with it, the QR code scans to it,
hostile data is refused, and the pages are saved as PNGs to look at."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import subprocess
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest
import zxingcpp
from PIL import Image

from client.core import certificate as cert
from client.core.capitals import in_words
from client.core.certificate import CertificateDoc, ContributionRow, PersonContributions
from client.core.certificate_pdf import ROWS_FULL, page_plan, render
from client.errors import ValidationError
from rules.periods import period_range

D = Decimal
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
ITEMS = (("pension", "基本养老保险", D("0.16"), D("0.08")), ("medical", "基本医疗保险（含生育保险）", D("0.08"), D("0.02")),
         ("unemployment", "失业保险", D("0.007"), D("0.003")), ("injury", "工伤保险", D("0.004"), None))


def person(months: int = 3, name: str = "张三", id_number: str = "11010519491231002X", unpaid: int = 1,
           start: str = "202401") -> PersonContributions:
    rows = []
    periods = list(period_range(start, "203012"))[:months]
    for i, p in enumerate(periods):
        base = D("8000.00") + i
        for code, label, er_rate, ee_rate in ITEMS:
            er = (base * er_rate).quantize(D("0.01"))
            ee = (base * ee_rate).quantize(D("0.01")) if ee_rate else None
            paid = i < months - unpaid
            rows.append(ContributionRow(str(p), code, label, "正常", "14010524638201", base, er, ee, er + (ee or 0),
                                        "paid" if paid else "unpaid", f"{p.year}-{p.month:02d}-20T10:00:00" if paid else None))
    er = sum((r.employer or D(0) for r in rows), D("0.00"))
    ee = sum((r.employee or D(0) for r in rows), D("0.00"))
    return PersonContributions(name, "201", id_number, "14010524638201", str(periods[0]), str(periods[-1]),
                               tuple(rows), er, ee, er + ee)


def doc(*persons: PersonContributions) -> CertificateDoc:
    return CertificateDoc("太原市示范机关事务服务中心", "12140100MB0000001A", ("14010524638201",),
                          dt.datetime(2026, 12, 1, 10, 30, 0), "王会计", persons or (person(),))


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def png(pdf: bytes, page: int = 1, dpi: int = 80) -> bytes:
    assert shutil.which("pdftoppm"), "poppler-utils (pdftoppm) is needed"
    return subprocess.run(["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-png"],
                          input=pdf, capture_output=True, check=True).stdout


def test_text_reads_back_with_the_hash() -> None:
    p = person(3)
    d = doc(p)
    (text,) = pages_text(render(d))
    flat = text.replace(" ", "")
    for expected in ("职工社会保险缴费证明", "太原市示范机关事务服务中心", "12140100MB0000001A", "张三",
                     "11010519491231002X", "居民身份证", "202401至202403", "本证明由socialfee根据税务端数据打印",
                     "经办人：王会计", "打印日期：2026-12-01", "已缴2024-01-20", "未缴"):
        assert expected in flat, expected
    for month in ("202401", "202402", "202403"):
        assert flat.count(month) >= 4  # one row per item
    assert f"{p.total:,.2f}" in flat and f"{p.employer_total:,.2f}" in flat and f"{p.employee_total:,.2f}" in flat
    assert in_words(p.total) in flat
    digest = cert.content_hash(d, p)
    assert digest[:32] in flat and digest[32:] in flat


def test_the_hash_recomputes_from_the_content_and_follows_it() -> None:
    p = person(2)
    d = doc(p)
    content = json.loads(cert.canonical(d, p))
    assert content["person"] == {"name": "张三", "id_type": "201", "id_number": "11010519491231002X"}
    assert [r[0] for r in content["rows"]] == [r.period for r in p.rows]
    assert content["totals"] == [str(p.employer_total), str(p.employee_total), str(p.total)]
    # The canonical form is one way only: sorted keys, no spaces, UTF-8.
    again = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert again == cert.canonical(d, p)
    assert hashlib.sha256(again).hexdigest() == cert.content_hash(d, p)
    changed_row = replace(p.rows[0], state="unpaid", paid_at=None)
    other = replace(p, rows=(changed_row, *p.rows[1:]))
    assert cert.content_hash(d, other) != cert.content_hash(d, p)
    assert cert.content_hash(replace(d, printed_at=d.printed_at + dt.timedelta(seconds=1)), p) != cert.content_hash(d, p)
    assert cert.content_hash(replace(d, unit_name="另一个单位"), p) != cert.content_hash(d, p)
    assert cert.find_hash(cert.qr_text(cert.content_hash(d, p))) == cert.content_hash(d, p)
    with pytest.raises(ValidationError):
        cert.find_hash("a" * 63)
    with pytest.raises(ValidationError):
        cert.find_hash(f"{'a' * 64} {'b' * 64}")  # two values: which one?


def test_qr_code_scans_to_the_hash() -> None:
    p = person(2)
    d = doc(p)
    image = Image.open(io.BytesIO(png(render(d), dpi=150)))
    codes = zxingcpp.read_barcodes(image)
    assert [(c.format.name, c.text) for c in codes] == [("QRCode", cert.qr_text(cert.content_hash(d, p)))]


def test_several_employees_each_on_their_own_pages() -> None:
    a, b = person(60, "张三"), person(2, "李四", "440524188001010014")
    d = doc(a, b)
    texts = pages_text(render(d))
    plan_a = page_plan(len(a.rows))
    assert len(texts) == len(plan_a) + 1 and len(plan_a) > 1 and max(plan_a) <= ROWS_FULL
    for n, text in enumerate(texts[: len(plan_a)], start=1):
        assert "张三" in text and "李四" not in text and f"第 {n} 页 共 {len(plan_a)} 页" in text
        assert "序号" in text and "缴费基数" in text  # the header on every page
    assert "李四" in texts[-1] and "第 1 页 共 1 页" in texts[-1] and "张三" not in texts[-1]
    # every row once, in order; the totals and the hash only on each employee's last page
    numbers = [int(line.split()[0]) for t in texts[: len(plan_a)] for line in t.splitlines()
               if line.split() and line.split()[0].isdigit() and len(line.split()) > 3 and line.split()[1].isdigit()
               and len(line.split()[1]) == 6]
    assert numbers == list(range(1, len(a.rows) + 1))
    assert cert.content_hash(d, a)[:32] in texts[len(plan_a) - 1] and cert.content_hash(d, a)[:32] not in texts[0]
    assert cert.content_hash(d, b)[:32] in texts[-1]


def test_no_rows_prints_a_certificate_that_says_so() -> None:
    empty = PersonContributions("王五", "201", "440524188001010014", "", "202401", "202412", (), D("0.00"),
                                D("0.00"), D("0.00"))
    (text,) = pages_text(render(doc(empty)))
    assert "没有该职工在本单位已申报的缴费记录" in text and "零元整" in text.replace(" ", "")


@pytest.mark.parametrize("change, message", [
    ({"total": D("1.00")}, "缴费合计"),
    ({"employer_total": D("0.01")}, "单位缴费合计"),
    ({"period_from": "2024-01"}, "YYYYMM"),
    ({"name": " "}, "姓名"),
])
def test_hostile_totals_and_fields_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        replace(person(2), **change)


@pytest.mark.parametrize("row_change, message", [
    ({"total": D("2.00")}, "合计"),
    ({"base": D("1.001")}, "缴费基数"),
    ({"employer": D("-1.00")}, "单位缴费"),
    ({"period": "202312"}, "不在"),
    ({"state": "maybe"}, "缴费状态"),
    ({"base": 8000.0}, "缴费基数"),
])
def test_hostile_rows_are_refused(row_change: dict[str, object], message: str) -> None:
    p = person(1)
    bad = replace(p.rows[0], **row_change)
    with pytest.raises(ValidationError, match=message):
        replace(p, rows=(bad, *p.rows[1:]))


def test_range_checks() -> None:
    assert cert.check_range("2024-01", "202412") == ("202401", "202412")
    assert cert.check_range("201501", "202412") == ("201501", "202412")  # exactly 10 years
    for start, end, field in (("202412", "202401", "period_from"), ("201412", "202412", "period_to"),
                              ("2024-13", "202412", "period_from"), ("", "202412", "period_from")):
        with pytest.raises(ValidationError) as info:
            cert.check_range(start, end)
        assert info.value.field == field


def test_page_images_for_people_to_look_at() -> None:
    d = doc(person(60, "张三", unpaid=2))
    pdf = render(d)
    ARTIFACTS.mkdir(exist_ok=True)
    pages = len(pages_text(pdf))
    for page in (1, pages):
        data = png(pdf, page=page, dpi=70)
        (ARTIFACTS / f"certificate_pdf_page{page}.png").write_bytes(data)
        assert Image.open(io.BytesIO(data)).size[0] > 500
