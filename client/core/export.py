"""xlsx export shared by every module: codes and ID numbers are written as text cells."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font


def to_xlsx(headers: Sequence[str], rows: Iterable[Sequence[object]], *, sheet: str) -> bytes:
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    bold = Font(bold=True)

    header_cells = []
    for title in headers:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = bold
        header_cells.append(cell)
    ws.append(header_cells)
    for row in rows:
        # Every value goes in as text so Excel never turns a code into a number.
        ws.append(["" if v is None else str(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
