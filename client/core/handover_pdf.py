"""The A4 社保费客户端换机交接单, drawn with the voucher's shipped font (one face for every
PDF the client prints: the same glyphs on every PC, nothing taken from the system).

The sheet states the facts (client/core/handover.py); the facts themselves ride along in
the PDF's Keywords, so the new PC can read them back from the PDF alone.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence

from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from client.core import formats, voucher_pdf
from client.core.handover import COUNTS, SHA256, SIDE_LABELS, Comparison, Facts, pdf_keywords
from client.core.voucher_pdf import FONT, load_font

TITLE = "社保费客户端换机交接单"
LEFT, RIGHT, TOP, BOTTOM = 15.0, 195.0, 15.0, 280.0  # mm from the top-left corner
# The sheet's column heads (the full table labels do not fit an A4 column).
SHORT = {"employees": "职工人数", "wage_base": "工资申报", "fee_records": "社保费申报",
         "vouchers": "缴款凭证", "payment_records": "缴款记录", "journal": "提交日志"}
RED, GREEN, BLACK = (0.75, 0.1, 0.1), (0.05, 0.45, 0.15), (0, 0, 0)


class _Sheet:
    """Lines of text and table rows top to bottom, a new page when one is full."""

    def __init__(self, c: Canvas, facts: Facts) -> None:
        self.c, self.facts, self.y, self.page = c, facts, TOP, 1

    def _room(self, height: float) -> None:
        if self.y + height > BOTTOM:
            self._footer()
            self.c.showPage()
            self.page += 1
            self.y = TOP

    def _footer(self) -> None:
        self.c.setFont(FONT, 7)
        self.c.setFillColorRGB(*BLACK)
        self.c.drawString(LEFT * mm, A4[1] - 290 * mm,
                          voucher_pdf._clean(f"{TITLE}  打印时间 {formats.when(self.facts.printed_at)}  第 {self.page} 页"))

    def text(self, x: float, s: str, size: float = 9, width: float | None = None,
             color: tuple[float, float, float] = BLACK, center: bool = False) -> None:
        s = voucher_pdf._clean(s)
        limit = (width or (RIGHT - x)) * mm
        while pdfmetrics.stringWidth(s, FONT, size) > limit and len(s) > 1:
            s = s[:-2] + "…"  # a long summary is cut, never run into the next cell
        self.c.setFont(FONT, size)
        self.c.setFillColorRGB(*color)
        top = A4[1] - (self.y + size * 0.3528) * mm  # baseline: one font size below the line top
        if center:
            self.c.drawCentredString((LEFT + RIGHT) / 2 * mm, top, s)
        else:
            self.c.drawString(x * mm, top, s)

    def line(self, s: str, size: float = 9, gap: float = 2.0, **kw: object) -> None:
        self._room(size * 0.3528 + gap)
        self.text(LEFT, s, size, **kw)  # type: ignore[arg-type]
        self.y += size * 0.3528 + gap

    def heading(self, s: str) -> None:
        self.y += 2
        self.line(s, 11, 2.5)

    def table(self, widths: Sequence[float], header: Sequence[str], rows: Sequence[Sequence[str]],
              colors: Sequence[tuple[float, float, float]] | None = None, size: float = 8) -> None:
        height = size * 0.3528 + 2.6
        self._room(2 * height)  # never a header alone at the foot of a page
        self._row(widths, header, height, size, BLACK)
        for n, cells in enumerate(rows):
            if self.y + height > BOTTOM:  # the header again on the next page
                self._room(2 * height)
                self._row(widths, header, height, size, BLACK)
            self._row(widths, cells, height, size, colors[n] if colors else BLACK)
        self.y += 3

    def _row(self, widths: Sequence[float], cells: Sequence[str], height: float, size: float,
             color: tuple[float, float, float]) -> None:
        x = LEFT
        for w, cell in zip(widths, cells, strict=True):
            self.c.rect(x * mm, A4[1] - (self.y + height) * mm, w * mm, height * mm, stroke=1, fill=0)
            self.text(x + 1.2, cell, size, width=w - 2.4, color=color)
            x += w
        self.y += height


def _facts_part(s: _Sheet, facts: Facts, side: str) -> None:
    s.heading(f"{SIDE_LABELS[side]}的数据")
    head = ["单位名称", "纳税人识别号", *(SHORT[key] for key, _label in COUNTS)]
    rows = [[u.name, u.taxpayer_id, *(str(u.counts[key]) for key, _ in COUNTS)] for u in facts.units]
    s.table([38, 34, 18, 18, 18, 18, 18, 18], head, rows or [["（没有单位）", "", "", "", "", "", "", ""]], size=7)
    s.line(f"未办结的申报：{len(facts.open_entries)} 笔", 9)
    if facts.open_entries:
        rows = [[str(n), e.unit_name, e.kind_label, e.state_label, formats.when(e.created_at), e.summary]
                for n, e in enumerate(facts.open_entries, start=1)]
        s.table([10, 34, 28, 16, 28, 64], ["序号", "单位", "申报类型", "状态", "申报时间", "内容"], rows, size=7)
        # The reasons in full, one line each: a table cell would cut them.
        for n, e in enumerate(facts.open_entries, start=1):
            if e.reason:
                s.line(f"{n}. 未办结原因：{e.reason}", 8, 1.5)
        s.y += 2


def _backup_part(s: _Sheet, facts: Facts) -> None:
    b = facts.backup
    s.heading("备份文件")
    if b is None:
        s.line("（未记录备份文件）")
        return
    s.line(f"文件名：{b.name}")
    s.line(f"大小：{formats.size(b.size)}（{b.size} 字节）    备份时间：{formats.when(b.created_at)}")
    s.line(f"备份文件 SHA-256：{b.sha256}", 8.5)
    if b.database_sha256:
        s.line(f"数据库 SHA-256（备份清单）：{b.database_sha256}", 8.5)


def _short(text: str) -> str:
    """A checksum as its first and last 8 digits (the full value is printed in the backup part)."""
    return f"{text[:8]}…{text[-8:]}" if SHA256.fullmatch(text) else text


def _comparison_part(s: _Sheet, comparison: Comparison) -> None:
    s.heading("与原电脑交接单核对")
    verdict = "全部一致" if comparison.all_same else f"有 {comparison.different} 项不一致"
    s.line(f"核对结果：{verdict}", 10, color=GREEN if comparison.all_same else RED)
    # A unit's name once, on its first row; a checksum shortened to fit its cell.
    rows = [[r.unit if not n or comparison.rows[n - 1].unit != r.unit else "", r.item, _short(r.old), _short(r.new),
             "一致" if r.same else "不一致"] for n, r in enumerate(comparison.rows)]
    colors = [GREEN if r.same else RED for r in comparison.rows]
    s.table([36, 40, 44, 44, 16], ["单位", "项目", "原电脑", "新电脑", "结果"], rows, colors, size=7)


def _signatures(s: _Sheet) -> None:
    s._room(36)
    s.y += 8
    for who in ("交接人（签字）", "接收人（签字）"):
        s.text(LEFT, f"{who}：________________________", 10)
        s.text(120, "日期：______年____月____日", 10)
        s.y += 14


def render(facts: Facts, comparison: Comparison | None = None, *,
           old: Facts | None = None) -> bytes:
    """The sheet as PDF bytes: the facts of this side; on the new PC also the old side's
    facts (``old``) and the comparison."""
    buf = io.BytesIO()
    with voucher_pdf._lock:  # reportlab's font subset state is per document, not per thread
        load_font()
        a85, rl_config.useA85 = rl_config.useA85, 0
        try:
            _draw(buf, facts, comparison, old)
        finally:
            rl_config.useA85 = a85
    return buf.getvalue()


def _draw(buf: io.BytesIO, facts: Facts, comparison: Comparison | None, old: Facts | None) -> None:
    c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1, initialFontName=FONT, initialFontSize=9)
    c.setTitle(f"{TITLE}（{SIDE_LABELS[facts.side]}）")
    c.setSubject(f"{len(facts.units)} 个单位，未办结的申报 {len(facts.open_entries)} 笔")
    c.setCreator("socialfee")
    c.setKeywords(pdf_keywords(facts))
    stamp = voucher_pdf._pdf_date(dt.datetime.fromisoformat(facts.printed_at))
    c.setDateFormatter(lambda *_: stamp)
    s = _Sheet(c, facts)
    s.text(LEFT, TITLE, 16, center=True)
    s.y += 10
    s.line(f"本交接单由：{SIDE_LABELS[facts.side]}打印    打印时间：{formats.when(facts.printed_at)}    "
           f"程序版本：{facts.app_version}")
    if facts.data_dir:
        s.line(f"数据目录：{facts.data_dir}", 8)
    if old is not None:
        _facts_part(s, old, old.side)
        _backup_part(s, old)
    _facts_part(s, facts, facts.side)
    if old is None:
        _backup_part(s, facts)
    if comparison is not None:
        _comparison_part(s, comparison)
    _signatures(s)
    s._footer()
    c.showPage()
    c.save()
