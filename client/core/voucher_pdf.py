"""The bank voucher (银行端缴款凭证) as an A4 PDF the payer takes to a bank counter.

Pure: plain data in (``VoucherDoc``), PDF bytes out; no tax-side objects, no database, no
files written. Every page carries the voucher's identity (title, unit, 电子税票号码 as text
and as a Code128 barcode) and the arrears table with its header row; the last page adds the
totals in figures and in words (大写金额), the dates and the note for the bank counter.

The text is set in the shipped WenQuanYi Micro Hei, embedded as a TrueType subset, so a
voucher prints the same on every PC; no installed font is ever used (the canvas starts in
it too, so not even Helvetica is referenced). Print offsets (系统设置 > 打印右平移 / 打印下平移)
move the whole drawing for pre-printed forms. Output is byte for byte the same for the same
voucher apart from the dates on it (reportlab's invariant mode fixes the document ID).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from client.core import pdf_common
from client.core.capitals import in_words
from client.core.formats import money, when
from client.errors import StoreError, ValidationError

FONT_PATH = Path(__file__).resolve().parent.parent / "assets" / "fonts" / "wqy-microhei.ttc"
FONT = "WenQuanYiMicroHei"
TITLE = "银行端缴款凭证"
NOTE = "请于限缴日期前到银行柜台缴款；逾期凭证作废。"
NOTE_BANK = "银行柜台请扫描条码或录入电子税票号码收款，每张凭证只能缴款一次。"
MAX_ROWS = 1000  # the tax side's limit for one voucher
MAX_OFFSET_MM = Decimal(50)

PAGE_W, PAGE_H = A4
LEFT, RIGHT = pdf_common.LEFT, pdf_common.RIGHT  # mm: the drawing area is 186 mm wide
TABLE_TOP = 51.0
HEADER_H, ROW_H = pdf_common.HEADER_H, pdf_common.ROW_H
ROWS_END = pdf_common.ROWS_END  # rows stop here; the page footer sits below
SUMMARY_H = 58.0  # totals row, words, dates, note and stamp box on the last page
ROWS_FULL = int((ROWS_END - TABLE_TOP - HEADER_H) // ROW_H)
ROWS_LAST = int((ROWS_END - TABLE_TOP - HEADER_H - SUMMARY_H) // ROW_H)
# (title, width mm, align): 186 mm in all.
COLUMNS: tuple[tuple[str, float, str], ...] = (
    ("序号", 7, "c"),
    ("社保单位编号", 23, "l"),
    ("社保经办机构", 45, "l"),
    ("征收项目", 19, "l"),
    ("征收品目", 19, "l"),
    ("费款所属期", 21, "c"),
    ("应缴金额", 19, "r"),
    ("滞纳金", 14, "r"),
    ("合计", 19, "r"),
)
ROW_FONT = 7.5
PERIOD = re.compile(r"\d{4}(0[1-9]|1[0-2])")
VOUCHER_NO = re.compile(r"\d{18}")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# reportlab's TTFont keeps per-document subset state; load_font() may come from any thread.
_lock = threading.RLock()
_pdf_date = pdf_common.pdf_date  # handover_pdf and the older documents date their files with it


@dataclass(frozen=True)
class VoucherRow:
    """One arrear on the voucher, as the tax side fixed it when the voucher was issued."""

    unit_number: str  # 社保单位编号
    agency: str  # 社保经办机构
    item_name: str  # 征收项目
    part_name: str  # 征收品目
    period_from: str  # 费款所属期起 YYYYMM
    period_to: str  # 费款所属期止 YYYYMM
    amount: Decimal
    late_fee: Decimal
    total: Decimal


@dataclass(frozen=True)
class VoucherDoc:
    voucher_id: str
    voucher_no: str  # 电子税票号码, 18 digits, what the bank scans
    unit_name: str
    taxpayer_id: str
    tax_office: str
    issued_on: dt.date
    deadline: dt.date  # 限缴日期
    printed_at: dt.datetime
    arrears: tuple[VoucherRow, ...]
    amount_total: Decimal
    late_fee_total: Decimal
    total: Decimal

    def __post_init__(self) -> None:
        check(self)


def _cents(value: object, what: str, field: str, row: int | None = None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise ValidationError(f"{what}必须是精确的十进制金额，不能是 {type(value).__name__}",
                              field=field, row=row)
    try:
        exact = value.is_finite() and value >= 0 and value == value.quantize(Decimal("0.01"))
    except InvalidOperation:  # too many digits to have cents (1E+40)
        exact = False
    if not exact:
        raise ValidationError(f"{what}不是有效的金额：{value}", field=field, row=row)
    return value


def check(doc: VoucherDoc) -> None:
    """Refuse a voucher that cannot be printed truthfully: the bank collects what it says."""
    if not isinstance(doc.voucher_no, str) or not VOUCHER_NO.fullmatch(doc.voucher_no):
        raise ValidationError(f"电子税票号码必须是 18 位数字：{doc.voucher_no!r}", field="voucher_no")
    for name, label in (("voucher_id", "凭证编号"), ("unit_name", "缴费单位名称"),
                        ("taxpayer_id", "纳税人识别号"), ("tax_office", "主管税务机关")):
        value = getattr(doc, name)
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"凭证缺少{label}", field=name)
    for name, label in (("issued_on", "开具日期"), ("deadline", "限缴日期")):
        value = getattr(doc, name)
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise ValidationError(f"{label}必须是日期", field=name)
    if not isinstance(doc.printed_at, dt.datetime):
        raise ValidationError("打印时间必须是日期时间", field="printed_at")
    if not isinstance(doc.arrears, tuple) or not doc.arrears:
        raise ValidationError("凭证没有欠费明细", field="arrears")
    if len(doc.arrears) > MAX_ROWS:
        raise ValidationError(f"一张凭证最多 {MAX_ROWS} 条欠费，这张有 {len(doc.arrears)} 条", field="arrears")
    sums = [Decimal(0), Decimal(0), Decimal(0)]
    for n, row in enumerate(doc.arrears, start=1):
        if not isinstance(row, VoucherRow):
            raise ValidationError(f"第 {n} 条欠费不是欠费明细", row=n)
        values = [_cents(getattr(row, f), f"第 {n} 条欠费的{label}", f, n)
                  for f, label in (("amount", "应缴金额"), ("late_fee", "滞纳金"), ("total", "合计"))]
        if values[0] + values[1] != values[2]:
            raise ValidationError(f"第 {n} 条欠费的合计 {row.total} 不等于应缴金额加滞纳金",
                                  row=n, field="total")
        for p in ("period_from", "period_to"):
            period = getattr(row, p)
            if not isinstance(period, str) or not PERIOD.fullmatch(period):
                raise ValidationError(f"第 {n} 条欠费的费款所属期不是 YYYYMM：{period!r}",
                                      row=n, field=p)
        if row.period_from > row.period_to:
            raise ValidationError(f"第 {n} 条欠费的费款所属期起晚于止", row=n, field="period_from")
        sums = [s + v for s, v in zip(sums, values, strict=True)]
    names = (("amount_total", "应缴金额"), ("late_fee_total", "滞纳金"), ("total", "合计金额"))
    for s, (name, label) in zip(sums, names, strict=True):
        if _cents(getattr(doc, name), f"凭证的{label}", name) != s:
            raise ValidationError(f"凭证的{label} {getattr(doc, name)} 与明细之和 {s} 不符", field=name)
    in_words(doc.total, field="total")  # refuses a total that has no 大写 (10^12 and above)


def load_font() -> None:
    """Parse and register the shipped face once per process (about 0.15 s for the 5 MB
    collection); render() calls it, a caller may call it early to spare the first print."""
    with _lock:
        if FONT not in pdfmetrics.getRegisteredFontNames():
            _register()


def _register() -> None:
    if not FONT_PATH.is_file():
        raise StoreError(f"缺少凭证字体文件：{FONT_PATH}。请重新安装客户端。", code="font_missing")
    try:
        face = TTFont(FONT, str(FONT_PATH), subfontIndex=0)
    except (OSError, TTFError, struct.error, ValueError, IndexError, KeyError) as exc:  # damaged
        raise StoreError(f"凭证字体文件已损坏：{FONT_PATH}（{exc}）。请重新安装客户端。",
                         code="font_damaged") from exc
    pdfmetrics.registerFont(face)


def _offset(value: Decimal | int | str, label: str, field: str) -> Decimal:
    """A print offset in mm as 系统设置 keeps it (text) or as a Decimal; never a float."""
    if isinstance(value, bool | float):
        raise ValidationError(f"「{label}」必须是精确的数字", field=field)
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"「{label}」必须是数字：{value}", field=field) from None
    if not result.is_finite() or abs(result) > MAX_OFFSET_MM:
        raise ValidationError(f"「{label}」必须在 -50 到 50 毫米之间：{value}", field=field)
    return result


def _clean(text: object) -> str:
    """Control characters as spaces; a character the face lacks (a rare 生僻字 outside GBK)
    as a visible □ rather than an invisible gap on the voucher."""
    text = CONTROL.sub(" ", str(text)).strip()
    glyphs = _glyphs()
    if all(map(glyphs.__contains__, map(ord, text))):
        return text
    return "".join(ch if ord(ch) in glyphs else "□" for ch in text)


def _glyphs() -> dict[int, int]:
    return pdfmetrics.getFont(FONT).face.charToGlyph


def page_plan(count: int) -> list[int]:
    """Rows on each page: full pages, then a last page that also holds the totals."""
    return pdf_common.page_plan(count, ROWS_FULL, ROWS_LAST)


class _Page:
    """Drawing in mm from the top-left corner, on one page of the canvas.

    All text of a page goes into one text object (one BT ... ET), drawn by finish(): a
    drawString per cell costs a text object each, most of a voucher's time."""

    def __init__(self, c: Canvas) -> None:
        self.c = c
        self.t = c.beginText()
        self.size = 0.0

    def text(self, x: float, y: float, s: str, size: float = 9, align: str = "l",
             width: float | None = None, floor: float = 5.0) -> None:
        s = _clean(s)
        w = pdfmetrics.stringWidth(s, FONT, size)
        if width is not None and w > width * mm:
            # Shrink a long name to fit its cell rather than run into the next one.
            limit = width * mm
            size = max(floor, size * limit / w * 0.999)  # a hair under: float rounding
            w = pdfmetrics.stringWidth(s, FONT, size)
            while w > limit and len(s) > 1:
                s = s[:-2] + "…"
                w = pdfmetrics.stringWidth(s, FONT, size)
        if size != self.size:
            self.t.setFont(FONT, size)
            self.size = size
        px = x * mm - (w if align == "r" else w / 2 if align == "c" else 0)
        self.t.setTextOrigin(px, PAGE_H - y * mm)
        self.t.textOut(s)

    def finish(self) -> None:
        self.c.drawText(self.t)

    def cell(self, x: float, top: float, width: float, s: str, size: float, align: str) -> None:
        """One table cell: one line, else two lines (long 征收项目 names), else shrunk to fit;
        amounts and periods stay on one line, shrunk."""
        s = _clean(s)
        limit = width * mm
        full = pdfmetrics.stringWidth(s, FONT, size)
        if align != "l":
            # Figures are never broken or cut: below 10^12 they fit at 3.5 pt.
            self.text(x, top + 4.2, s, size, align, width=width, floor=3.5)
            return
        if full <= limit * 1.12 or len(s) < 4:
            self.text(x, top + 4.2, s, size, align, width=width)
            return
        # Split where the longer half is shortest; CJK text breaks between any two characters.
        prefix = list(itertools.accumulate(pdfmetrics.stringWidth(ch, FONT, size) for ch in s))
        cut = min(range(1, len(s)), key=lambda i: max(prefix[i - 1], full - prefix[i - 1]))
        halves = (s[:cut], s[cut:])
        widest = max(pdfmetrics.stringWidth(h, FONT, size) for h in halves)
        two = min(size - 0.5, size * limit / widest)
        if two < 5.0:
            self.text(x, top + 4.2, s, size, align, width=width)
            return
        self.text(x, top + 2.7, halves[0], two, align, width=width)
        self.text(x, top + 5.2, halves[1], two, align, width=width)

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        self.c.setLineWidth(width)
        self.c.line(x1 * mm, PAGE_H - y1 * mm, x2 * mm, PAGE_H - y2 * mm)

    def box(self, x: float, y: float, w: float, h: float, width: float = 0.6) -> None:
        self.c.setLineWidth(width)
        self.c.rect(x * mm, PAGE_H - (y + h) * mm, w * mm, h * mm, stroke=1, fill=0)


def _header(p: _Page, doc: VoucherDoc) -> None:
    p.text(105, 21, TITLE, 20, "c")
    barcode = Code128(doc.voucher_no, barWidth=0.35 * mm, barHeight=11 * mm, humanReadable=0,
                      quiet=0)
    bx = RIGHT * mm - barcode.width
    barcode.drawOn(p.c, bx, PAGE_H - 22 * mm)
    p.text((bx + barcode.width / 2) / mm, 26, doc.voucher_no, 8, "c")
    p.text(LEFT, 34, f"缴费单位名称：{doc.unit_name}", 10, width=RIGHT - LEFT)
    p.text(LEFT, 40.5, f"纳税人识别号：{doc.taxpayer_id}", 9, width=90)
    p.text(110, 40.5, f"电子税票号码：{doc.voucher_no}", 9, width=RIGHT - 110)
    p.text(LEFT, 47, f"主管税务机关：{doc.tax_office}", 9, width=96)
    p.text(110, 47, f"开具日期：{doc.issued_on.isoformat()}", 9)
    p.text(154, 47, f"限缴日期：{doc.deadline.isoformat()}", 9)


def _row_cells(n: int, row: VoucherRow) -> list[str]:
    period = row.period_from
    if row.period_to != row.period_from:
        period = f"{row.period_from}-{row.period_to}"
    return [str(n), row.unit_number, row.agency, row.item_name, row.part_name, period,
            money(row.amount), money(row.late_fee), money(row.total)]


def _table(p: _Page, rows: Sequence[tuple[int, VoucherRow]], totals: VoucherDoc | None) -> float:
    """The header row, the rows (and the totals row on the last page); returns the bottom y."""
    total_row = None if totals is None else (
        f"合计（{len(totals.arrears)} 条）",
        ["", "", "", "", "", "", money(totals.amount_total), money(totals.late_fee_total), money(totals.total)], 6)
    return pdf_common.table(p, COLUMNS, TABLE_TOP, [_row_cells(n, row) for n, row in rows], ROW_FONT, total_row)


def _summary(p: _Page, doc: VoucherDoc, top: float) -> None:
    y = top + 7
    p.text(LEFT, y, f"合计金额（大写）：人民币{in_words(doc.total, field='total')}", 10.5,
           width=RIGHT - LEFT)
    y += 6.5
    p.text(LEFT, y, f"合计金额（小写）：¥{money(doc.total)}", 10.5)
    p.text(110, y, f"其中应缴金额 {money(doc.amount_total)}，滞纳金 {money(doc.late_fee_total)}", 9,
           width=RIGHT - 110)
    y += 6.5
    p.text(LEFT, y, f"限缴日期：{doc.deadline.isoformat()}", 10.5)
    p.text(75, y, f"打印日期：{when(doc.printed_at)}", 9)
    p.text(140, y, f"凭证编号：{doc.voucher_id}", 9, width=RIGHT - 140)
    y += 5
    p.box(LEFT, y, 124, 26)
    p.text(LEFT + 3, y + 6.5, "缴款须知", 9.5)
    p.text(LEFT + 3, y + 13, NOTE, 10.5, width=118)
    p.text(LEFT + 3, y + 20, NOTE_BANK, 8.5, width=118)
    p.box(142, y, RIGHT - 142, 26)
    p.text(142 + 3, y + 6.5, "银行收讫章", 9.5)
    p.text(142 + 3, y + 22.5, "经办人：", 8.5)


def _footer(p: _Page, doc: VoucherDoc, page_no: int, pages: int) -> None:
    pdf_common.footer(p, f"电子税票号码 {doc.voucher_no}", None, page_no, pages, f"打印日期 {when(doc.printed_at)}")


def render(voucher: VoucherDoc, *, offset_right_mm: Decimal | int | str = 0,
           offset_down_mm: Decimal | int | str = 0) -> bytes:
    """The voucher as PDF bytes; the offsets move every page's drawing (mm, -50..50)."""
    check(voucher)
    dx = float(_offset(offset_right_mm, "打印右平移", "print_offset_right_mm")) * mm
    dy = float(_offset(offset_down_mm, "打印下平移", "print_offset_down_mm")) * mm
    return pdf_common.produce(lambda buf: _draw(buf, voucher, dx, dy))


def _draw(buf: io.BytesIO, voucher: VoucherDoc, dx: float, dy: float) -> None:
    c = pdf_common.canvas(buf, FONT, f"{TITLE} {voucher.voucher_no}",
                          f"{voucher.unit_name} 合计 {money(voucher.total)} 元", voucher.unit_name, voucher.printed_at)
    plan = page_plan(len(voucher.arrears))
    numbered = list(enumerate(voucher.arrears, start=1))
    start = 0
    for page_no, count in enumerate(plan, start=1):
        c.saveState()
        c.translate(dx, -dy)
        p = _Page(c)
        _header(p, voucher)
        last = page_no == len(plan)
        bottom = _table(p, numbered[start : start + count], voucher if last else None)
        if last:
            _summary(p, voucher, bottom)
        _footer(p, voucher, page_no, len(plan))
        p.finish()
        c.restoreState()
        c.showPage()
        start += count
    c.save()
