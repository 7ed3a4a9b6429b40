"""What the voucher, the 职工缴费证明 and the 职业年金缴款通知单 draw the same way: the A4
canvas with its metadata and print time, the font lock around a render, the page plan, the
table (grey header row repeated on every page, rows, a totals row spanning the text columns),
the page footer and the QR code.

The page primitives (client/core/voucher_pdf.py: _Page, the embedded WenQuanYi face) stay
where they are; each document keeps only its own header, columns and summary.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reportlab import rl_config
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

if TYPE_CHECKING:  # voucher_pdf imports this module
    from client.core.voucher_pdf import _Page

# The drawing area every document uses, in mm from the top-left corner.
LEFT, RIGHT = 12.0, 198.0
HEADER_H, ROW_H = 8.0, 6.0
ROWS_END = 279.0  # rows stop here; the page footer sits below
PAGE_H = A4[1]

# (title, width mm, align "l" / "c" / "r")
Columns = Sequence[tuple[str, float, str]]


def produce(draw: Callable[[io.BytesIO], None]) -> bytes:
    """Run draw on a fresh buffer under the font lock, the shipped face loaded; PDF bytes out."""
    # Imported here: voucher_pdf imports this module, and its font loading stays patchable there.
    from client.core import voucher_pdf

    buf = io.BytesIO()
    with voucher_pdf._lock:
        voucher_pdf.load_font()
        # Binary Flate streams: ASCII85 on top makes the file a quarter bigger and costs time.
        a85, rl_config.useA85 = rl_config.useA85, 0
        try:
            draw(buf)
        finally:
            rl_config.useA85 = a85
    return buf.getvalue()


def save(target: Path, data: bytes) -> None:
    """Write a rendered PDF whole or not at all: a crash mid-write leaves no half file to print."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def canvas(buf: io.BytesIO, font: str, title: str, subject: str, author: str, printed_at: dt.datetime) -> Canvas:
    """An invariant A4 canvas that starts in the shipped face and is dated with the print time."""
    c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1, initialFontName=font, initialFontSize=9)
    c.setTitle(title)
    c.setSubject(subject)
    c.setAuthor(author)
    c.setCreator("socialfee")
    # Invariant mode would date the file 2000-01-01: the metadata carries the print time.
    stamp = pdf_date(printed_at)
    c.setDateFormatter(lambda *_: stamp)
    return c


def pdf_date(at: dt.datetime) -> str:
    text = at.strftime("D:%Y%m%d%H%M%S")
    offset = at.utcoffset()
    if offset is None:
        return text
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"


def page_plan(count: int, full: int, last: int) -> list[int]:
    """Rows on each page: pages of at most full rows, then a last page of at most last rows."""
    plan: list[int] = []
    left = count
    while left > last:
        # Leave at least one row for the last page so its totals are never alone on it.
        take = min(full, left - 1)
        plan.append(take)
        left -= take
    plan.append(left)
    return plan


def row(p: _Page, columns: Columns, y: float, cells: Sequence[str], size: float, skip: int = 0) -> None:
    """One table row at y; the first skip cells are left empty (the totals label spans them)."""
    x = LEFT
    for index, ((_title, width, align), value) in enumerate(zip(columns, cells, strict=True)):
        if index >= skip and value:
            at = {"l": x + 1.2, "c": x + width / 2, "r": x + width - 1.2}[align]
            p.cell(at, y, width - 2.4, value, size, align)
        x += width


def table(p: _Page, columns: Columns, top: float, rows: Sequence[Sequence[str]], row_font: float,
          totals: tuple[str, Sequence[str], int] | None) -> float:
    """The header row, the rows and, if given, the totals row (label, cells, columns the label
    spans); returns the bottom y."""
    y = top
    bottom = y + HEADER_H + (len(rows) + (1 if totals is not None else 0)) * ROW_H
    p.c.setFillGray(0.92)
    p.c.rect(LEFT * mm, PAGE_H - (y + HEADER_H) * mm, (RIGHT - LEFT) * mm, HEADER_H * mm, stroke=0, fill=1)
    p.c.setFillGray(0)
    x = LEFT
    for title, width, _align in columns:
        p.text(x + width / 2, y + 5.3, title, 8.5, "c", width=width - 1)
        x += width
    p.line(LEFT, y, RIGHT, y, 0.8)
    p.line(LEFT, y + HEADER_H, RIGHT, y + HEADER_H, 0.6)
    y += HEADER_H
    for cells in rows:
        row(p, columns, y, cells, row_font)
        y += ROW_H
        p.line(LEFT, y, RIGHT, y, 0.3)
    span = 0
    if totals is not None:
        label, cells, span = totals
        p.text(LEFT + 2, y + 4.2, label, 8.5)
        row(p, columns, y, cells, 8, skip=span)
    p.line(LEFT, bottom, RIGHT, bottom, 0.8)
    x = LEFT
    p.line(x, top, x, bottom, 0.8)
    for index, (_title, width, _align) in enumerate(columns):
        x += width
        # The totals label spans the text columns: their inner lines stop above it.
        low = bottom - ROW_H if totals is not None and index < span - 1 else bottom
        p.line(x, top, x, low, 0.8 if index == len(columns) - 1 else 0.4)
    return bottom


def footer(p: _Page, left: str, left_width: float | None, page_no: int, pages: int, right: str) -> None:
    p.line(LEFT, 283, RIGHT, 283, 0.3)
    p.text(LEFT, 288, left, 8, width=left_width)
    p.text(105, 288, f"第 {page_no} 页 共 {pages} 页", 8.5, "c")
    p.text(RIGHT, 288, right, 8, "r")


def qr(p: _Page, text: str, x: float, top: float, size_mm: float) -> None:
    """A square QR code of text, size_mm wide, its top-left corner at (x, top)."""
    widget = QrCodeWidget(text, barLevel="M", barBorder=0)
    x1, y1, x2, y2 = widget.getBounds()
    size = size_mm * mm
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, p.c, x * mm, PAGE_H - (top + size_mm) * mm)
