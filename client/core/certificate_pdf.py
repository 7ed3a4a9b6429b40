"""The 职工缴费证明 as an A4 PDF: a page (or pages) per employee, drawn with the voucher's
machinery (client/core/voucher_pdf.py: the shipped WenQuanYi face embedded as a subset, one
text object per page, invariant document ID), so it prints the same on every PC.

Each employee's pages carry the unit, the person and the range; the table of months and items
(base, unit and personal amounts, 已缴 / 未缴 with the paid date) repeats its header on every
page; the employee's last page adds the totals (in figures and in words), the line that says
who printed it from what, and the verification value (client/core/certificate.py): the SHA-256
as hex and as a QR code. Every page's footer names the person, the page and the first digits
of that value, so a loose page still points to its certificate.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from client.core import pdf_common
from client.core.capitals import in_words
from client.core.certificate import (
    MARK,
    TITLE,
    CertificateDoc,
    ContributionRow,
    PersonContributions,
    content_hash,
    qr_text,
)
from client.core.formats import money, when
from client.core.voucher_pdf import FONT, _Page

LEFT, RIGHT = pdf_common.LEFT, pdf_common.RIGHT
TABLE_TOP = 58.0
HEADER_H, ROW_H = pdf_common.HEADER_H, pdf_common.ROW_H
ROWS_END = pdf_common.ROWS_END
SUMMARY_H = 66.0  # totals line, words, the mark, the verification block with its QR code
ROWS_FULL = int((ROWS_END - TABLE_TOP - HEADER_H) // ROW_H)
ROWS_LAST = int((ROWS_END - TABLE_TOP - HEADER_H - SUMMARY_H) // ROW_H)
QR_MM = 30.0
# (title, width mm, align): 186 mm in all.
COLUMNS: tuple[tuple[str, float, str], ...] = (
    ("序号", 9, "c"),
    ("费款所属期", 18, "c"),
    ("险种", 38, "l"),
    ("类型", 12, "c"),
    ("缴费基数", 21, "r"),
    ("单位缴费", 21, "r"),
    ("个人缴费", 21, "r"),
    ("合计", 21, "r"),
    ("缴费状态", 25, "c"),
)
ROW_FONT = 7.5


def page_plan(count: int) -> list[int]:
    """Rows on each of one employee's pages; the last also holds the totals (never alone)."""
    return pdf_common.page_plan(count, ROWS_FULL, ROWS_LAST)


def unit_header(p: _Page, title: str, unit_name: str, taxpayer_id: str, unit_numbers: Sequence[str]) -> None:
    """The title and the unit's lines at the top of a certificate or notice page."""
    p.text(105, 20, title, 18, "c")
    p.text(LEFT, 31, f"单位名称：{unit_name}", 10, width=120)
    p.text(136, 31, f"纳税人识别号：{taxpayer_id}", 9, width=RIGHT - 136)
    p.text(LEFT, 37.5, f"社保单位编号：{'、'.join(unit_numbers) or '—'}", 9, width=RIGHT - LEFT)


def _header(p: _Page, doc: CertificateDoc, person: PersonContributions) -> None:
    unit_header(p, TITLE, doc.unit_name, doc.taxpayer_id, doc.unit_numbers)
    p.text(LEFT, 45, f"姓名：{person.name}", 10.5, width=60)
    p.text(76, 45, f"证件类型：{person.id_type_name}", 9, width=56)
    p.text(136, 45, f"证件号码：{person.id_number}", 9, width=RIGHT - 136)
    p.text(LEFT, 52, f"费款所属期：{person.period_from} 至 {person.period_to}", 9)
    p.text(76, 52, f"缴费记录：{len(person.rows)} 条，{len({r.period for r in person.rows})} 个月", 9)
    p.text(136, 52, f"打印日期：{doc.printed_at.date().isoformat()}", 9)


def _cells(row_no: int, r: ContributionRow) -> list[str]:
    state = r.state_label + (f" {r.paid_on}" if r.state == "paid" and r.paid_on else "")
    return [str(row_no), r.period, r.item_name, r.kind_label, money(r.base),
            money(r.employer) if r.employer is not None else "—",
            money(r.employee) if r.employee is not None else "—", money(r.total), state]


def _table(p: _Page, rows: Sequence[tuple[int, ContributionRow]], totals: PersonContributions | None) -> float:
    total_row = None if totals is None else (
        f"合计（{len(totals.rows)} 条）",
        ["", "", "", "", "", money(totals.employer_total), money(totals.employee_total), money(totals.total), ""], 5)
    return pdf_common.table(p, COLUMNS, TABLE_TOP, [_cells(n, r) for n, r in rows], ROW_FONT, total_row)


def _summary(p: _Page, doc: CertificateDoc, person: PersonContributions, digest: str, top: float) -> None:
    y = top + 7
    p.text(LEFT, y, f"缴费合计：单位缴费 {money(person.employer_total)} 元，个人缴费 {money(person.employee_total)} 元，"
           f"共计 {money(person.total)} 元", 10, width=RIGHT - LEFT)
    y += 6
    p.text(LEFT, y, f"共计（大写）：人民币{in_words(person.total, field='total')}", 10, width=RIGHT - LEFT)
    y += 6
    paid = sum(1 for r in person.rows if r.state == "paid")
    note = (f"其中已缴 {paid} 条，未缴或部分已缴 {len(person.rows) - paid} 条。缴费状态为打印时税务端的记录。"
            if person.rows else "该期间税务端没有该职工在本单位已申报的缴费记录。")
    p.text(LEFT, y, note, 8.5, width=RIGHT - LEFT)
    y += 5
    verify_box(p, y, (MARK, 10.5), f"打印时间：{when(doc.printed_at)}    经办人：{doc.operator}", digest,
               "核验：在 socialfee「职工缴费证明」页的「核验」栏粘贴核验码或扫描二维码。")


def verify_box(p: _Page, y: float, mark: tuple[str, float], printed: str, digest: str, note: str = "") -> None:
    """The boxed block at y: the mark, who printed it when, the SHA-256 as hex and as a QR code."""
    p.box(LEFT, y, RIGHT - LEFT, QR_MM + 8)
    p.text(LEFT + 3, y + 7, mark[0], mark[1], width=RIGHT - LEFT - QR_MM - 10)
    p.text(LEFT + 3, y + 14, printed, 8.5, width=RIGHT - LEFT - QR_MM - 10)
    p.text(LEFT + 3, y + 21, "核验码（SHA-256）：", 8.5)
    p.text(LEFT + 3, y + 26.5, digest[:32], 9)
    p.text(LEFT + 3, y + 31.5, digest[32:], 9)
    if note:
        p.text(LEFT + 3, y + 36, note, 7.5, width=RIGHT - LEFT - QR_MM - 10)
    _qr(p, digest, RIGHT - QR_MM - 4, y + 4)


def _qr(p: _Page, digest: str, x: float, top: float) -> None:
    pdf_common.qr(p, qr_text(digest), x, top, QR_MM)


def _footer(p: _Page, person: PersonContributions, digest: str, page_no: int, pages: int) -> None:
    pdf_common.footer(p, f"{person.name} {person.id_number}", 70, page_no, pages, f"核验码 {digest[:16]}…")


def render(doc: CertificateDoc) -> bytes:
    """The certificate as PDF bytes: each employee's pages in the order given."""
    if not doc.persons:
        from client.errors import ValidationError

        raise ValidationError("请至少选择一名职工", field="employees")
    return pdf_common.produce(lambda buf: _draw(buf, doc))


def _draw(buf: io.BytesIO, doc: CertificateDoc) -> None:
    names = "、".join(p.name for p in doc.persons[:3]) + ("等" if len(doc.persons) > 3 else "")
    c = pdf_common.canvas(buf, FONT, f"{TITLE} {names}", f"{doc.unit_name} {len(doc.persons)} 名职工", doc.unit_name,
                          doc.printed_at)
    for person in doc.persons:
        digest = content_hash(doc, person)
        plan = page_plan(len(person.rows))
        numbered = list(enumerate(person.rows, start=1))
        start = 0
        for page_no, count in enumerate(plan, start=1):
            p = _Page(c)
            _header(p, doc, person)
            last = page_no == len(plan)
            bottom = _table(p, numbered[start : start + count], person if last else None)
            if last:
                _summary(p, doc, person, digest, bottom)
            _footer(p, person, digest, page_no, len(plan))
            p.finish()
            c.showPage()
            start += count
    c.save()
