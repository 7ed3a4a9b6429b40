"""The 职业年金缴款通知单 as an A4 PDF, on the voucher's machinery (embedded WenQuanYi subset,
one text object per page) and the certificate's QR code: a section per fee period (its persons,
bases, unit and personal amounts, the period's totals), then the notice's totals in figures and
in words, the rates with their source, and the SHA-256 of its content as hex and QR code."""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from client.core import voucher_pdf
from client.core.annuity import MARK, TITLE, AnnuityNotice, AnnuityPeriod, AnnuityRow, content_hash
from client.core.capitals import in_words
from client.core.certificate_pdf import QR_MM, _qr
from client.core.enrollment import ID_TYPES
from client.core.formats import money, when
from client.core.voucher_pdf import FONT, PAGE_H, _Page, load_font

LEFT, RIGHT = 12.0, 198.0
TABLE_TOP = 52.0
HEADER_H, ROW_H = 8.0, 6.0
ROWS_END = 279.0
SUMMARY_H = 64.0
ROWS_FULL = int((ROWS_END - TABLE_TOP - HEADER_H) // ROW_H)
ROWS_LAST = int((ROWS_END - TABLE_TOP - HEADER_H - SUMMARY_H) // ROW_H)
COLUMNS: tuple[tuple[str, float, str], ...] = (
    ("序号", 10, "c"), ("姓名", 28, "l"), ("证件类型", 26, "l"), ("证件号码", 40, "l"),
    ("缴费基数", 20, "r"), ("单位缴纳", 20, "r"), ("个人缴纳", 20, "r"), ("合计", 22, "r"),
)


def _pct(rate: object) -> str:
    return f"{rate * 100:.2f}".rstrip("0").rstrip(".") + "%"  # type: ignore[operator]


def _plan(count: int, last: bool) -> list[int]:
    """Rows per page of one period; the notice's last period keeps room for the totals."""
    tail = ROWS_LAST if last else ROWS_FULL - 1  # ROWS_FULL - 1: the period's totals row
    plan: list[int] = []
    left = count
    while left > tail:
        take = min(ROWS_FULL, left - 1)
        plan.append(take)
        left -= take
    plan.append(left)
    return plan


def _header(p: _Page, n: AnnuityNotice, period: str) -> None:
    p.text(105, 20, TITLE, 18, "c")
    p.text(LEFT, 31, f"单位名称：{n.unit_name}", 10, width=120)
    p.text(136, 31, f"纳税人识别号：{n.taxpayer_id}", 9, width=RIGHT - 136)
    p.text(LEFT, 37.5, f"社保单位编号：{'、'.join(n.unit_numbers) or '—'}", 9, width=RIGHT - LEFT)
    p.text(LEFT, 45, f"费款所属期：{period}", 10.5)
    p.text(62, 45, f"缴费比例：单位 {_pct(n.employer_rate)}，个人 {_pct(n.employee_rate)}（{n.source}）", 8.5,
           width=RIGHT - 62)


def _row(p: _Page, y: float, cells: Sequence[str], size: float, skip: int = 0) -> None:
    x = LEFT
    for index, ((_t, width, align), value) in enumerate(zip(COLUMNS, cells, strict=True)):
        if index >= skip and value:
            at = {"l": x + 1.2, "c": x + width / 2, "r": x + width - 1.2}[align]
            p.cell(at, y, width - 2.4, value, size, align)
        x += width


def _cells(n: int, r: AnnuityRow) -> list[str]:
    return [str(n), r.name, ID_TYPES.get(r.id_type, r.id_type), r.id_number, money(r.base), money(r.employer),
            money(r.employee), money(r.total)]


def _table(p: _Page, rows: Sequence[tuple[int, AnnuityRow]], totals: AnnuityPeriod | None) -> float:
    y = TABLE_TOP
    bottom = y + HEADER_H + (len(rows) + (1 if totals is not None else 0)) * ROW_H
    p.c.setFillGray(0.92)
    p.c.rect(LEFT * mm, PAGE_H - (y + HEADER_H) * mm, (RIGHT - LEFT) * mm, HEADER_H * mm, stroke=0, fill=1)
    p.c.setFillGray(0)
    x = LEFT
    for title, width, _a in COLUMNS:
        p.text(x + width / 2, y + 5.3, title, 8.5, "c", width=width - 1)
        x += width
    p.line(LEFT, y, RIGHT, y, 0.8)
    p.line(LEFT, y + HEADER_H, RIGHT, y + HEADER_H, 0.6)
    y += HEADER_H
    for number, r in rows:
        _row(p, y, _cells(number, r), 7.5)
        y += ROW_H
        p.line(LEFT, y, RIGHT, y, 0.3)
    if totals is not None:
        p.text(LEFT + 2, y + 4.2, f"本期合计（{len(totals.rows)} 人）", 8.5)
        _row(p, y, ["", "", "", "", "", money(totals.employer_total), money(totals.employee_total),
                    money(totals.total)], 8, skip=5)
    p.line(LEFT, bottom, RIGHT, bottom, 0.8)
    x = LEFT
    p.line(x, TABLE_TOP, x, bottom, 0.8)
    for index, (_t, width, _a) in enumerate(COLUMNS):
        x += width
        low = bottom - ROW_H if totals is not None and index < 4 else bottom
        p.line(x, TABLE_TOP, x, low, 0.8 if index == len(COLUMNS) - 1 else 0.4)
    return bottom


def _summary(p: _Page, n: AnnuityNotice, digest: str, top: float) -> None:
    y = top + 7
    months = f"{n.periods[0].period} 至 {n.periods[-1].period}" if len(n.periods) > 1 else n.periods[0].period
    p.text(LEFT, y, f"应缴职业年金（{months}）：单位缴纳 {money(n.employer_total)} 元，个人缴纳 "
           f"{money(n.employee_total)} 元，合计 {money(n.total)} 元", 10, width=RIGHT - LEFT)
    y += 6
    p.text(LEFT, y, f"合计（大写）：人民币{in_words(n.total, field='total')}", 10, width=RIGHT - LEFT)
    y += 6
    p.text(LEFT, y, f"个人缴纳部分由单位从工资中代扣。计算依据：{n.pack_label}。", 8.5, width=RIGHT - LEFT)
    y += 5
    p.box(LEFT, y, RIGHT - LEFT, QR_MM + 8)
    p.text(LEFT + 3, y + 7, MARK, 9.5, width=RIGHT - LEFT - QR_MM - 10)
    p.text(LEFT + 3, y + 14, f"打印时间：{when(n.printed_at)}    经办人：{n.operator}", 8.5,
           width=RIGHT - LEFT - QR_MM - 10)
    p.text(LEFT + 3, y + 21, "核验码（SHA-256）：", 8.5)
    p.text(LEFT + 3, y + 26.5, digest[:32], 9)
    p.text(LEFT + 3, y + 31.5, digest[32:], 9)
    _qr(p, digest, RIGHT - QR_MM - 4, y + 4)


def render(n: AnnuityNotice) -> bytes:
    if not n.periods:
        from client.errors import ValidationError

        raise ValidationError("请选择费款所属期", field="period_from")
    buf = io.BytesIO()
    with voucher_pdf._lock:
        load_font()
        a85, rl_config.useA85 = rl_config.useA85, 0
        try:
            _draw(buf, n)
        finally:
            rl_config.useA85 = a85
    return buf.getvalue()


def _draw(buf: io.BytesIO, n: AnnuityNotice) -> None:
    c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1, initialFontName=FONT, initialFontSize=9)
    c.setTitle(f"{TITLE} {n.periods[0].period}")
    c.setSubject(f"{n.unit_name} 合计 {money(n.total)} 元")
    c.setAuthor(n.unit_name)
    c.setCreator("socialfee")
    stamp = voucher_pdf._pdf_date(n.printed_at)
    c.setDateFormatter(lambda *_: stamp)
    digest = content_hash(n)
    pages = [(period, count) for i, period in enumerate(n.periods)
             for count in _plan(len(period.rows), i == len(n.periods) - 1)]
    start, current = 0, None
    for page_no, (period, count) in enumerate(pages, start=1):
        if period is not current:
            start, current = 0, period
        p = _Page(c)
        _header(p, n, period.period)
        numbered = list(enumerate(period.rows, start=1))[start : start + count]
        period_last = start + count >= len(period.rows)
        bottom = _table(p, numbered, period if period_last else None)
        if page_no == len(pages):
            _summary(p, n, digest, bottom)
        p.line(LEFT, 283, RIGHT, 283, 0.3)
        p.text(LEFT, 288, f"{n.unit_name}", 8, width=80)
        p.text(105, 288, f"第 {page_no} 页 共 {len(pages)} 页", 8.5, "c")
        p.text(RIGHT, 288, f"核验码 {digest[:16]}…", 8, "r")
        p.finish()
        c.showPage()
        start += count
    c.save()
