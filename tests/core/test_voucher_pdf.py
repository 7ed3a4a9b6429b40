"""The bank voucher PDF read back: text, fonts, pages, offsets and the barcode a bank scans."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pytest
import zxingcpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from client.core import voucher_pdf
from client.core.capitals import in_words
from client.core.voucher_pdf import VoucherDoc, VoucherRow, page_plan, render
from client.errors import StoreError, ValidationError
from client.settings import Settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
D = Decimal
MM = 72 / 25.4


def row(i: int = 0, **changes: Any) -> VoucherRow:
    amount = D(153600) + D(i) * D("37.35")
    late = (amount * D("0.0005")).quantize(D("0.01"))
    values: dict[str, Any] = {
        "unit_number": f"110105246382{i % 100:02d}", "agency": "北京市朝阳区社会保险事业管理中心",
        "item_name": ("企业职工基本养老保险", "失业保险", "工伤保险")[i % 3],
        "part_name": "单位缴纳部分", "period_from": "202503", "period_to": "202503",
        "amount": amount, "late_fee": late, "total": amount + late,
    } | changes
    return VoucherRow(**values)


def voucher(rows: int | list[VoucherRow] = 3, **changes: Any) -> VoucherDoc:
    arrears = tuple(row(i) for i in range(rows)) if isinstance(rows, int) else tuple(rows)
    values: dict[str, Any] = {
        "voucher_id": "BV00000001", "voucher_no": "325110250400000002",
        "unit_name": "北京朝阳星河科技发展有限公司", "taxpayer_id": "91110107WFUYGCJU12",
        "tax_office": "国家税务总局北京市朝阳区税务局", "issued_on": dt.date(2025, 4, 2),
        "deadline": dt.date(2025, 4, 2), "printed_at": dt.datetime(2025, 4, 2, 9, 30, 5),
        "arrears": arrears,
    }
    for name, field in (("amount_total", "amount"), ("late_fee_total", "late_fee"), ("total", "total")):
        if name not in changes:
            values[name] = sum((getattr(r, field) for r in arrears), D(0))
    return VoucherDoc(**(values | changes))


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def png(pdf: bytes, page: int = 1, dpi: int = 80) -> bytes:
    assert shutil.which("pdftoppm"), "poppler-utils (pdftoppm) is needed: ./dev.sh test installs it"
    return subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-png"],
        input=pdf, capture_output=True, check=True,
    ).stdout


def test_text_reads_back() -> None:
    doc = voucher(3)
    (text,) = pages_text(render(doc))
    flat = text.replace(" ", "")
    assert "银行端缴款凭证" in flat
    assert "缴费单位名称：北京朝阳星河科技发展有限公司" in flat
    assert "纳税人识别号：91110107WFUYGCJU12" in flat
    assert "电子税票号码：325110250400000002" in flat
    assert "国家税务总局北京市朝阳区税务局" in flat
    assert doc.total == D("461142.51")
    assert "¥461,142.51" in flat and "460,912.05" in flat and "230.46" in flat
    assert "合计金额（大写）：人民币肆拾陆万壹仟壹佰肆拾贰元伍角壹分" in flat
    assert "限缴日期：2025-04-02" in flat and "打印日期：2025-04-0209:30:05" in flat
    assert voucher_pdf.NOTE in flat
    assert "第1页共1页" in flat
    for r in doc.arrears:
        assert r.unit_number in flat and f"{r.total:,.2f}" in flat


def test_metadata_title_and_print_time() -> None:
    reader = pypdf.PdfReader(io.BytesIO(render(voucher(2))))
    assert reader.metadata.title == "银行端缴款凭证 325110250400000002"
    assert reader.metadata["/CreationDate"] == "D:20250402093005"


def _fonts(pdf: bytes) -> list[Any]:
    fonts = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            fonts.append(font)
            for descendant in font.get("/DescendantFonts", []):
                fonts.append(descendant.get_object())
    return fonts


def test_only_the_shipped_font_and_it_is_embedded() -> None:
    fonts = _fonts(render(voucher(200)))
    assert fonts
    for font in fonts:
        if font["/Subtype"] == "/Type0":
            continue  # its descendant carries the descriptor
        assert "WenQuanYiMicroHei" in font["/BaseFont"], font["/BaseFont"]
        assert font["/BaseFont"][7] == "+", "a subset, not the 5 MB face"
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, font["/BaseFont"]


def test_two_hundred_arrears_paginate_with_the_header_on_every_page() -> None:
    doc = voucher(200)
    pdf = render(doc)
    texts = [t.replace(" ", "") for t in pages_text(pdf)]
    plan = page_plan(200)
    assert len(texts) == len(plan) > 1 and sum(plan) == 200
    assert all(0 < n <= voucher_pdf.ROWS_FULL for n in plan) and plan[-1] <= voucher_pdf.ROWS_LAST
    for n, text in enumerate(texts, start=1):
        assert f"第{n}页共{len(texts)}页" in text
        assert text.count("社保单位编号") == 1 and "325110250400000002" in text
        assert ("合计金额（大写）" in text) == (n == len(texts))
    seen = [r.total for r in doc.arrears if any(f"{r.total:,.2f}" in t for t in texts)]
    assert len(seen) == 200
    # Every row on exactly the page the plan puts it on.
    start = 0
    for text, count in zip(texts, plan, strict=True):
        for r in doc.arrears[start : start + count]:
            assert f"{r.total:,.2f}" in text
        start += count
    assert f"¥{doc.total:,.2f}" in texts[-1] and in_words(doc.total) in texts[-1]


@pytest.mark.parametrize("count", [1, voucher_pdf.ROWS_LAST, voucher_pdf.ROWS_LAST + 1,
                                   voucher_pdf.ROWS_FULL, voucher_pdf.ROWS_FULL + 1, 1000])
def test_page_plan_never_leaves_the_totals_alone(count: int) -> None:
    plan = page_plan(count)
    assert sum(plan) == count and all(n >= 1 for n in plan)
    assert all(n <= voucher_pdf.ROWS_FULL for n in plan[:-1]) and plan[-1] <= voucher_pdf.ROWS_LAST


def _position(pdf: bytes, needle: str, page: int = 0) -> tuple[float, float]:
    found: list[tuple[float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], *_: Any) -> None:
        if needle in text and not found:
            # Device position of the text origin: the text matrix through the CTM.
            x, y = tm[4], tm[5]
            found.append((cm[0] * x + cm[2] * y + cm[4], cm[1] * x + cm[3] * y + cm[5]))

    pypdf.PdfReader(io.BytesIO(pdf)).pages[page].extract_text(visitor_text=visit)
    assert found, needle
    return found[0]


@pytest.mark.parametrize(("right", "down"), [(D("10"), D("5")), (D("-12.5"), D("-3.5")), ("2.5", 0)])
def test_offsets_move_the_drawing(right: Decimal | str, down: Decimal | int) -> None:
    doc = voucher(40)  # two pages: the offset applies to each
    plain, moved = render(doc), render(doc, offset_right_mm=right, offset_down_mm=down)
    for needle, page in (("银行端缴款凭证", 0), ("第 1 页", 0), ("第 2 页", 1), ("缴款须知", 1)):
        (x0, y0), (x1, y1) = _position(plain, needle, page), _position(moved, needle, page)
        assert x1 - x0 == pytest.approx(float(D(right)) * MM, abs=0.01)
        assert y0 - y1 == pytest.approx(float(D(down)) * MM, abs=0.01)  # down: y shrinks


@pytest.mark.parametrize("bad", [D("50.1"), -51, "abc", D("NaN"), 1.5, True])
def test_offsets_out_of_range_or_inexact_are_refused(bad: Any) -> None:
    with pytest.raises(ValidationError, match="打印右平移") as info:
        render(voucher(1), offset_right_mm=bad)
    assert info.value.field == "print_offset_right_mm"  # the setting to correct


def test_barcode_scans_to_the_voucher_number() -> None:
    doc = voucher(3, voucher_no="325110250400000917")
    for pdf in (render(doc), render(doc, offset_right_mm=D("-20"), offset_down_mm=D("15"))):
        image = Image.open(io.BytesIO(png(pdf, dpi=150)))
        codes = zxingcpp.read_barcodes(image)
        assert [(c.format.name, c.text) for c in codes] == [("Code128", "325110250400000917")]


def test_same_voucher_same_bytes() -> None:
    doc = voucher(50)
    assert render(doc) == render(doc)
    later = render(voucher(50, printed_at=dt.datetime(2025, 4, 2, 16, 0, 0)))
    assert later != render(doc) and "16:00:00" in pages_text(later)[-1]


def test_page_images_for_people_to_look_at() -> None:
    pdf = render(voucher(200))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "voucher-200-p1.png").write_bytes(png(pdf, 1))
    (ARTIFACTS / "voucher-200-last.png").write_bytes(png(pdf, len(page_plan(200))))
    image = Image.open(ARTIFACTS / "voucher-200-p1.png")
    assert image.size == (662, 936)  # A4 at 80 dpi
    # Ink on the page (the table, text and barcode), not a blank render.
    dark = sum(image.convert("L").histogram()[:128])
    assert dark > 20_000


def test_hostile_text_is_drawn_as_text() -> None:
    long_name = "北京" + "超长名称" * 30 + "有限公司"
    doc = voucher(2, unit_name="=HYPERLINK(\"x\")\x00\x1b[31m" + long_name, tax_office="𠀀税务局")
    (text,) = pages_text(render(doc))
    assert "=HYPERLINK" in text and "\x00" not in text and "\x1b" not in text
    assert "□税务局" in text  # outside the face: visibly missing, not an invisible gap


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"voucher_no": "32511025040000000"}, "18 位数字"),
        ({"voucher_no": 325110250400000002}, "18 位数字"),
        ({"unit_name": " "}, "缺少缴费单位名称"),
        ({"tax_office": None}, "缺少主管税务机关"),
        ({"deadline": "2025-04-02"}, "限缴日期必须是日期"),
        ({"arrears": ()}, "没有欠费明细"),
        ({"total": D("1.00")}, "合计金额 1.00 与明细之和"),
        ({"late_fee_total": 230.46}, "凭证的滞纳金必须是精确的十进制金额"),
    ],
)
def test_a_voucher_that_cannot_be_printed_truthfully_is_refused(changes: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        voucher(3, **changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"total": D("1.00")}, "第 2 条欠费的合计 1.00 不等于应缴金额加滞纳金"),
        ({"amount": 153600.0}, "第 2 条欠费的应缴金额必须是精确的十进制金额"),
        ({"late_fee": D("-0.01")}, "第 2 条欠费的滞纳金不是有效的金额"),
        ({"late_fee": D("1E+40")}, "第 2 条欠费的滞纳金不是有效的金额"),
        ({"amount": D("sNaN")}, "第 2 条欠费的应缴金额不是有效的金额"),
        ({"period_to": "202513"}, "第 2 条欠费的费款所属期不是 YYYYMM"),
        ({"period_from": "202504"}, "第 2 条欠费的费款所属期起晚于止"),
    ],
)
def test_a_bad_row_is_named(changes: dict, message: str) -> None:
    rows = [row(0), row(1, **changes), row(2)]
    with pytest.raises(ValidationError, match=message) as info:
        voucher(rows, amount_total=D(0), late_fee_total=D(0), total=D(0))
    assert info.value.row == 2


def test_figures_are_never_cut_and_a_total_without_words_is_refused() -> None:
    big = D("999999999999.99")
    doc = voucher([row(0, amount=D(0), late_fee=big, total=big, agency="社保" * 500)])
    (text,) = pages_text(render(doc))
    assert text.count("999,999,999,999.99") >= 3 and "999,999,999,999.…" not in text
    assert "玖仟玖佰玖拾玖亿" in text
    with pytest.raises(ValidationError, match="金额过大"):
        voucher([row(0, amount=D(1), late_fee=big, total=big + 1)])


def test_concurrent_renders_match_sequential_ones() -> None:
    docs = [voucher(n) for n in (1, 40, 120, 7)]
    expected = [render(d) for d in docs]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(render, docs)) == expected


@pytest.mark.parametrize("content", [None, b"", b"\x00\x01\x00\x00" + b"junk" * 100,
                                     b"ttcf" + b"\xff" * 64,
                                     voucher_pdf.FONT_PATH.read_bytes()[:100_000]],  # cut short
                         ids=["missing", "empty", "junk", "bad-collection", "truncated"])
def test_a_missing_or_damaged_font_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     content: bytes | None) -> None:
    path = tmp_path / "wqy-microhei.ttc"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setattr(voucher_pdf, "FONT", "BrokenFontForTest")
    monkeypatch.setattr(voucher_pdf, "FONT_PATH", path)
    with pytest.raises(StoreError, match="缺少凭证字体文件" if content is None else "凭证字体文件已损坏"):
        voucher_pdf.load_font()


def test_at_most_a_thousand_arrears() -> None:
    with pytest.raises(ValidationError, match="最多 1000 条"):
        voucher([row(0)] * 1001)


def test_print_offset_settings(tmp_path: Path) -> None:
    s = Settings(tmp_path)
    assert s.get("print_offset_right_mm") == "0" and s.get("print_offset_down_mm") == "0"
    saved = s.update({"print_offset_right_mm": "-2.50", "print_offset_down_mm": 10})
    assert (saved["print_offset_right_mm"], saved["print_offset_down_mm"]) == ("-2.5", "10")
    assert Settings(tmp_path).get("print_offset_right_mm") == "-2.5"  # text in settings.json
    for bad, message in (("abc", "必须是数字"), ("NaN", "必须是数字"), ("50.5", "不能大于 50"),
                         ("-51", "不能小于 -50"), ("1.25", "最多一位小数"), (True, "必须是数字")):
        with pytest.raises(ValidationError, match=message) as info:
            s.update({"print_offset_down_mm": bad})
        assert info.value.field == "print_offset_down_mm"
    assert Settings(tmp_path).get("print_offset_down_mm") == "10"
    # The saved text is what render() takes.
    moved = render(voucher(1), offset_right_mm=s.get("print_offset_right_mm"))
    x0, x1 = (_position(pdf, "银行端缴款凭证")[0] for pdf in (render(voucher(1)), moved))
    assert x1 - x0 == pytest.approx(-2.5 * MM, abs=0.01)


amounts = st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2,
                      allow_nan=False, allow_infinity=False)
names = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x9FA5,
                              blacklist_categories=("Cs", "Zl", "Zp", "Cc")), min_size=1, max_size=30)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(amounts, amounts), min_size=1, max_size=60), names)
def test_any_voucher_prints_every_row_and_the_total(pairs: list[tuple[Decimal, Decimal]],
                                                    agency: str) -> None:
    rows = [row(i, amount=a, late_fee=f, total=a + f, agency=agency) for i, (a, f) in enumerate(pairs)]
    doc = voucher(rows)
    pdf = render(doc)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == len(page_plan(len(rows)))
    assert all(p.mediabox.width == pytest.approx(595.28, abs=0.01) for p in reader.pages)  # A4
    texts = [p.extract_text().replace(" ", "") for p in reader.pages]
    start = 0
    for text, count in zip(texts, page_plan(len(rows)), strict=True):
        for r in rows[start : start + count]:
            assert f"{r.total:,.2f}" in text
        start += count
    assert f"¥{doc.total:,.2f}" in texts[-1] and in_words(doc.total) in texts[-1]
