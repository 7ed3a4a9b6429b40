"""The 职业年金缴款通知单 as an A4 PDF, on the voucher's machinery (embedded WenQuanYi subset,
one text object per page) and the certificate's QR code: a section per fee period (its persons,
bases, unit and personal amounts, the period's totals), then the notice's totals in figures and
in words, the rates with their source, and the SHA-256 of its content as hex and QR code."""

from __future__ import annotations

import io
from collections.abc import Sequence

from client.core import pdf_common
from client.core.annuity import MARK, TITLE, AnnuityNotice, AnnuityPeriod, AnnuityRow, content_hash
from client.core.capitals import in_words
from client.core.certificate_pdf import unit_header, verify_box
from client.core.enrollment import ID_TYPES
from client.core.formats import money, when
from client.core.voucher_pdf import FONT, _Page

LEFT, RIGHT = pdf_common.LEFT, pdf_common.RIGHT
TABLE_TOP = 52.0
HEADER_H, ROW_H = pdf_common.HEADER_H, pdf_common.ROW_H
ROWS_END = pdf_common.ROWS_END
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
    return pdf_common.page_plan(count, ROWS_FULL, tail)


def _header(p: _Page, n: AnnuityNotice, period: str) -> None:
    unit_header(p, TITLE, n.unit_name, n.taxpayer_id, n.unit_numbers)
    p.text(LEFT, 45, f"费款所属期：{period}", 10.5)
    p.text(62, 45, f"缴费比例：单位 {_pct(n.employer_rate)}，个人 {_pct(n.employee_rate)}（{n.source}）", 8.5,
           width=RIGHT - 62)


def _cells(n: int, r: AnnuityRow) -> list[str]:
    return [str(n), r.name, ID_TYPES.get(r.id_type, r.id_type), r.id_number, money(r.base), money(r.employer),
            money(r.employee), money(r.total)]


def _table(p: _Page, rows: Sequence[tuple[int, AnnuityRow]], totals: AnnuityPeriod | None) -> float:
    total_row = None if totals is None else (
        f"本期合计（{len(totals.rows)} 人）",
        ["", "", "", "", "", money(totals.employer_total), money(totals.employee_total), money(totals.total)], 5)
    return pdf_common.table(p, COLUMNS, TABLE_TOP, [_cells(number, r) for number, r in rows], 7.5, total_row)


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
    verify_box(p, y, (MARK, 9.5), f"打印时间：{when(n.printed_at)}    经办人：{n.operator}", digest)


def render(n: AnnuityNotice) -> bytes:
    if not n.periods:
        from client.errors import ValidationError

        raise ValidationError("请选择费款所属期", field="period_from")
    return pdf_common.produce(lambda buf: _draw(buf, n))


def _draw(buf: io.BytesIO, n: AnnuityNotice) -> None:
    c = pdf_common.canvas(buf, FONT, f"{TITLE} {n.periods[0].period}", f"{n.unit_name} 合计 {money(n.total)} 元",
                          n.unit_name, n.printed_at)
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
        pdf_common.footer(p, f"{n.unit_name}", 80, page_no, len(pages), f"核验码 {digest[:16]}…")
        p.finish()
        c.showPage()
        start += count
    c.save()
