"""What the 社保费申报 pages read beyond client/core/fee_declaration.py: one page of the
cached summaries with their totals, and one page of a summary's person details (人员明细).

The details of a summary version are cached as one text row (client/core/fee_declaration.py
``save_details``); splitting 100,000 lines and their names on every page would cost more
than the page itself, so the parsed rows of the last few versions are kept in memory. A
version's details never change, so (unit, summary, version, download time) names them.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from client.core import fee_declaration as fees
from client.core.enrollment import ID_TYPES
from client.core.paging import Page, PageRequest
from client.core.store import Store

KEPT_VERSIONS = 4  # parsed detail sets held in memory


@dataclass(frozen=True)
class SummaryTotals:
    count: int
    headcount: int
    amount: Decimal
    fetched_at: str | None  # when the tax side last listed them here

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "headcount": self.headcount, "amount": str(self.amount),
                "fetched_at": self.fetched_at}


def summary_page(
    store: Store, unit_pk: int, kind: str, filters: fees.SummaryFilter, request: PageRequest
) -> tuple[Page, SummaryTotals]:
    """One page of the cached summaries of ``kind`` (tax-side order) and the totals of all
    that match the query."""
    found = fees.summaries(store, unit_pk, kind, filters)
    start = (request.page - 1) * request.size
    rows = [s.to_dict() for s in found[start:start + request.size]]
    totals = SummaryTotals(
        len(found), sum(s.headcount for s in found), sum((s.amount for s in found), Decimal("0.00")),
        fetched_at(store, unit_pk, kind),
    )
    return Page(rows, len(found), request.page, request.size), totals


def fetched_at(store: Store, unit_pk: int, kind: str) -> str | None:
    """When the summaries of ``kind`` were last fetched (None: never, or none listed)."""
    row = store.db.execute_sql(
        "SELECT max(fetched_at) FROM fee_summary WHERE unit_id = ? AND kind = ?", (unit_pk, kind)
    ).fetchone()
    return row[0] if row else None


def summary(store: Store, unit_pk: int, summary_id: str) -> fees.Summary:
    return fees.summaries_by_id(store, unit_pk, [summary_id])[0]


# -- person details -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Details:
    lines: list[str]
    people: dict[str, tuple[str, str, str]]


_lock = threading.Lock()
_parsed: OrderedDict[tuple[int, str, int, str], _Details] = OrderedDict()


def _load(store: Store, unit_pk: int, summary_id: str, version: int) -> _Details | None:
    row = store.db.execute_sql(
        "SELECT version, downloaded_at FROM fee_summary_detail WHERE unit_id = ? AND summary_id = ?",
        (unit_pk, summary_id),
    ).fetchone()
    if row is None or int(row[0]) != version:
        return None
    key = (unit_pk, summary_id, version, str(row[1]))
    with _lock:
        found = _parsed.get(key)
        if found is not None:
            _parsed.move_to_end(key)
            return found
    text = store.db.execute_sql(
        "SELECT lines, row_count, people FROM fee_summary_detail WHERE unit_id = ? AND summary_id = ? "
        "AND version = ?", (unit_pk, summary_id, version),
    ).fetchone()
    if text is None:
        return None
    found = _Details(text[0].split("\n") if text[1] else [],
                     {p[0]: (p[1], p[2], p[3]) for p in json.loads(text[2])})
    with _lock:
        _parsed[key] = found
        while len(_parsed) > KEPT_VERSIONS:
            _parsed.popitem(last=False)
    return found


def detail_row(employee_id: str, name: str, id_type: str, id_number: str, period: str, base: str,
               amount: str) -> dict[str, Any]:
    return {"employee_id": employee_id, "name": name, "id_type": id_type,
            "id_type_name": ID_TYPES.get(id_type, id_type), "id_number": id_number, "period": period,
            "base": base, "amount": amount}


def cached_detail_page(
    store: Store, unit_pk: int, summary_id: str, version: int, request: PageRequest
) -> Page | None:
    """A page of the cached details of exactly this version; None when they are not here."""
    found = _load(store, unit_pk, summary_id, version)
    if found is None:
        return None
    start = (request.page - 1) * request.size
    rows = []
    for line in found.lines[start:start + request.size]:
        eid, period, base, amount = line.split("\t")
        name, id_type, id_number = found.people.get(eid, ("", "", ""))
        rows.append(detail_row(eid, name, id_type, id_number, period, base, amount))
    return Page(rows, len(found.lines), request.page, request.size)


def to_download(store: Store, unit_pk: int, chosen: Sequence[fees.Summary]) -> list[fees.Summary]:
    """The chosen summaries whose person details of the listed version are not cached."""
    return [
        s for s in chosen
        if s.has_details and s.headcount and fees.details_version(store, unit_pk, s.summary_id) != s.version
    ]
