"""Reading an uploaded spreadsheet, whatever it is: csv, xlsx (streamed and bounded, see
client/core/sheets_xlsx.py) or xls/ods (calamine in a memory-capped child).

The entry point sits above the readers so that none of them imports another's caller.
"""

from __future__ import annotations

from client.core import sheets, sheets_xlsx


def read(data: bytes, keep_rows: int) -> sheets.Sheet:
    """The first sheet of an upload; raises ValidationError(field='file')."""
    kind = sheets.sniff(data)
    if kind == "csv":
        return sheets.read_csv(data, keep_rows)
    if kind == "xlsx":
        return sheets_xlsx.read_xlsx(data, keep_rows)
    return sheets.read_isolated(data, keep_rows)
