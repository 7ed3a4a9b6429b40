"""Reading an uploaded spreadsheet, whatever it is: csv, xlsx (streamed and bounded, see
client/core/sheets_xlsx.py) or xls/ods (calamine in a memory-capped child).

The entry point sits above the readers so that none of them imports another's caller.
:func:`gc_paused` is what an import runs under (client/core/wage_import.py).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

from client.core import sheets, sheets_xlsx


def read(data: bytes, keep_rows: int) -> sheets.Sheet:
    """The first sheet of an upload; raises ValidationError(field='file')."""
    kind = sheets.sniff(data)
    if kind == "csv":
        return sheets.read_csv(data, keep_rows)
    if kind == "xlsx":
        return sheets_xlsx.read_xlsx(data, keep_rows)
    return sheets.read_isolated(data, keep_rows)


_gc_lock = threading.Lock()
_gc_holds = 0
_gc_was_enabled = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile (process-wide, so counted across threads).

    An import of 50,000 rows makes hundreds of thousands of tuples and lists, none in a
    cycle: every few hundred allocations start a collection, and the full ones walk every
    object the app holds (a quarter of the import's time). Nothing is lost: the first
    collection after the import reclaims whatever cycles other threads made meanwhile.
    """
    global _gc_holds, _gc_was_enabled
    with _gc_lock:
        if _gc_holds == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holds += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holds -= 1
            if _gc_holds == 0 and _gc_was_enabled:
                gc.enable()
                # The young generation now holds everything made meanwhile: collected here,
                # its cost stays with the import (one pass over the import's own objects).
                gc.collect(0)
