"""Small in-memory exports (the audit log): every value a text cell, never a formula.

Large exports stream to a file with client.core.xlsx directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from client.core import xlsx


def to_xlsx(headers: Sequence[str], rows: Iterable[Sequence[object]], *, sheet: str) -> bytes:
    # Every value as text: an audit detail can name a file called "=HYPERLINK(...)".
    columns = [xlsx.text(title, 20) for title in headers]
    return xlsx.xlsx_bytes(sheet, columns, (["" if v is None else str(v) for v in row] for row in rows))
