"""Queries (查询统计, manual 3.1.8) from the tax side into this PC's tables.

The calls (docs/protocol.md "Queries"): ``insurance-registrations`` (one answer),
``payroll-bases`` (a paged feed: 100,000 employees are 20 pages of 5,000, each stored in
its own transaction, so a failure part-way keeps the earlier answer whole until the last
page replaces it), ``payables`` and ``payment-arrivals`` for a range. Answers are checked
field by field: money must be decimal text, codes text; anything else is a broken answer
(NetworkError ``bad_response``) and nothing of it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from client.core import queries as q
from client.core import queries_pay as qp
from client.errors import TaxSideRejection, ValidationError
from client.sync.taxclient import TaxClient
from client.sync.taxclient_transport import malformed

_BAD = (KeyError, TypeError, ValueError, InvalidOperation, AttributeError)
BASES_PAGE = 5000
MONEY = re.compile(r"-?\d{1,15}(\.\d{1,2})?")
Progress = Callable[[int, int, str], None]


def _text(data: Mapping[str, Any], key: str, *, null: bool = False) -> Any:
    value = data[key]
    if value is None and null:
        return None
    if not isinstance(value, str):
        raise TypeError(key)
    return value


def _money(data: Mapping[str, Any], key: str) -> str:
    """Decimal text with at most two places ("8000.00"): no exponent, NaN or number."""
    text = _text(data, key)
    if not MONEY.fullmatch(text):
        raise ValueError(key)
    return str(Decimal(text))


def _items(data: Any) -> list[Mapping[str, Any]]:
    items = data["items"]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise TypeError("items")
    return items


# -- the calls ---------------------------------------------------------------------------------------
def fetch_registrations(client: TaxClient, unit_id: str) -> list[dict[str, Any]]:
    data = client._get(f"/v1/units/{unit_id}/insurance-registrations")
    try:
        out = []
        for r in _items(data):
            row = {n: _text(r, n) for n in q.REG_FIELDS if n != "industry_risk_class"}
            risk = r.get("industry_risk_class")
            row["industry_risk_class"] = None if risk is None else int(risk)
            out.append(row)
        return out
    except _BAD as exc:
        raise malformed(exc) from None


@dataclass(frozen=True)
class BasesPage:
    items: list[dict[str, Any]]
    cursor: str  # where the next page (or, after the last, the next update) starts
    more: bool
    total: int | None
    incremental: bool


def fetch_bases_page(client: TaxClient, unit_id: str, cursor: str | None) -> BasesPage:
    """A page of the full feed (``cursor`` None, then its own) or of the changes since a
    version the last complete update kept."""
    data = client._get(f"/v1/units/{unit_id}/payroll-bases", cursor=cursor, limit=BASES_PAGE)
    try:
        items = []
        for e in _items(data):
            bases = e["bases"]
            deleted = e.get("deleted", False)
            if not isinstance(bases, dict) or not isinstance(deleted, bool):
                raise TypeError("bases")
            items.append({"employee_id": _text(e, "employee_id"), "unit_number": _text(e, "unit_number"),
                          "status": _text(e, "status"), "updated_at": _text(e, "updated_at"),
                          "bases": {str(k): _money(bases, k) for k in bases}, "deleted": deleted})
        mode = _text(data, "mode")
        if mode not in ("full", "incremental"):
            raise ValueError("mode")
        nxt = _text(data, "next_cursor")
        if not nxt:
            raise ValueError("next_cursor")
        total = data.get("total")
        return BasesPage(items, nxt, bool(data["has_more"]), None if total is None else int(total),
                         mode == "incremental")
    except _BAD as exc:
        raise malformed(exc) from None


def fetch_payables(client: TaxClient, unit_id: str, start: str, end: str) -> tuple[list[dict[str, Any]], str, str]:
    data = client._get(f"/v1/units/{unit_id}/payables", **{"from": start or None, "to": end or None})
    try:
        out = []
        for r in _items(data):
            row: dict[str, Any] = {n: _text(r, n) for n in ("period_from", "period_to", "unit_number", "agency",
                                                             "item", "item_name", "state")}
            row.update({n: _money(r, n) for n in ("payable", "paid", "unpaid")})
            row.update(arrear_count=int(r["arrear_count"]), unpaid_count=int(r["unpaid_count"]),
                       deadline=_text(r, "deadline", null=True))
            out.append(row)
        return out, _text(data, "from"), _text(data, "to")
    except _BAD as exc:
        raise malformed(exc) from None


DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def fetch_arrivals(client: TaxClient, unit_id: str, asked: qp.ArrivalRange) -> tuple[list[dict[str, Any]],
                                                                                      qp.ArrivalRange]:
    """Every page of the payments asked for, and the range the tax side answered for (its
    default 费款所属期 range filled in)."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    params = {"from": asked.start or None, "to": asked.end or None, "paid_from": asked.paid_from or None,
              "paid_to": asked.paid_to or None}
    while True:
        data = client._get(f"/v1/units/{unit_id}/payment-arrivals", cursor=cursor, limit=5000, **params)
        try:
            for r in _items(data):
                row = {n: _text(r, n) for n in qp.ARRIVAL_FIELDS if n not in ("amount", "late_fee", "total",
                                                                                "stored_at")}
                row.update({n: _money(r, n) for n in ("amount", "late_fee", "total")})
                row["stored_at"] = _text(r, "stored_at", null=True)
                if not DAY.fullmatch(row["paid_on"]):
                    raise ValueError("paid_on")
                out.append(row)
            answered = qp.ArrivalRange(_text(data, "from", null=True) or "", _text(data, "to", null=True) or "",
                                       asked.paid_from, asked.paid_to)
            if not answered.by_date and not (answered.start and answered.end):
                raise ValueError("from")
            more, cursor = bool(data["has_more"]), _text(data, "next_cursor", null=True)
        except _BAD as exc:
            raise malformed(exc) from None
        if not more or not cursor:
            return out, answered


# -- the service the pages call ------------------------------------------------------------------------
class QueryService:
    """The queries of the unit the session has entered. Reads are local; updates go through
    the session (online only, token renewed once). ``session`` is SessionManager."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.store = session.store

    def unit(self) -> tuple[int, str]:
        unit = self.session.require_entered()
        if unit.local_id is None:
            raise ValidationError("请先登录单位", field="unit")
        return unit.local_id, unit.unit_id

    def sync_registrations(self) -> dict[str, Any]:
        pk, unit_id = self.unit()
        rows = self.session.call(lambda c: fetch_registrations(c, unit_id))
        with self.store.write() as db:
            count = q.save_registrations(db, pk, rows)
            q.set_state(db, pk, q.UNIT, {"count": count})
        return {"count": count, "message": f"已从税务端更新单位参保信息 {count} 条"}

    def sync_bases(self, progress: Progress, cancelled: Callable[[], None] = lambda: None, *,
                   full: bool = False) -> dict[str, Any]:
        """Only the changes since the last complete update (the version it kept), unless
        ``full`` or there is none: then every base again. A version the tax side no longer
        accepts falls back to the full download."""
        pk, _unit_id = self.unit()
        found = q.state(self.store, pk, q.BASES)
        since = None if full or found is None else found.detail.get("cursor")
        if since:
            try:
                result = self._bases_changes(pk, since, progress, cancelled)
            except TaxSideRejection as exc:
                if exc.code != "bad_cursor":
                    raise
                result = self._bases_full(pk, progress, cancelled)
        else:
            result = self._bases_full(pk, progress, cancelled)
        missing = q.remember_without_person(self.store, pk)
        q.order(self.store, pk)  # in the job: the page read after it finds the order made
        result["without_person"] = missing
        if missing:
            result["message"] += f"；其中 {missing} 名职工尚未下载职工参保信息，姓名和证件信息显示为空"
        return result

    def _bases_full(self, pk: int, progress: Progress, cancelled: Callable[[], None]) -> dict[str, Any]:
        """Every page upserted in its own transaction; the rows the tax side no longer holds
        go, and the version to ask from next time is kept, only with the last page."""
        _pk, unit_id = self.unit()
        generation = q.next_generation(self.store, pk)
        cursor: str | None = None
        employees = rows = total = 0
        progress(0, 0, "正在查询税务端职工缴费基数…")
        while True:
            cancelled()
            page = self.session.call(lambda c, cur=cursor: fetch_bases_page(c, unit_id, cur))
            if page.incremental:
                raise malformed(ValueError("mode"))
            total = page.total if page.total is not None else total
            with self.store.write() as db:
                rows += q.save_bases(db, pk, page.items, generation)
                employees += len(page.items)
                if not page.more:
                    removed = q.finish_bases(db, pk, generation)
                    q.set_state(db, pk, q.BASES, {"employees": employees, "rows": rows, "removed": removed,
                                                  "mode": "full", "changed": employees, "cursor": page.cursor})
            progress(employees, max(total, employees), f"已下载 {employees} 名职工的缴费基数")
            if not page.more:
                break
            cursor = page.cursor
        return {"employees": employees, "rows": rows, "changed": employees, "mode": "full",
                "message": f"已从税务端下载全部 {employees} 名职工的缴费基数（{rows} 条）"}

    def _bases_changes(self, pk: int, since: str, progress: Progress,
                       cancelled: Callable[[], None]) -> dict[str, Any]:
        """Each page of changes applied with the version after it, in one transaction: a
        failure part-way leaves a consistent earlier version, and the next update goes on
        from there."""
        _pk, unit_id = self.unit()
        cursor, changed, employees, rows = since, 0, 0, 0
        progress(0, 0, "正在查询税务端职工缴费基数的变化…")
        while True:
            cancelled()
            page = self.session.call(lambda c, cur=cursor: fetch_bases_page(c, unit_id, cur))
            if not page.incremental:
                raise malformed(ValueError("mode"))
            with self.store.write() as db:
                found = q.state(self.store, pk, q.BASES)
                detail = {k: v for k, v in (found.detail if found else {}).items()
                          if k not in ("without_person", "enrollment_mark")}
                # A kept without_person count moves with the changed employees (else counted after).
                kept = q.kept_counts(self.store, pk)
                employees, rows = int(detail.get("employees", 0)), int(detail.get("rows", 0))
                if page.items:
                    d_employees, d_rows, d_missing = q.apply_base_changes(db, pk, page.items)
                    employees, rows = employees + d_employees, rows + d_rows
                    if kept:
                        kept["without_person"] += d_missing
                changed += len(page.items)
                q.set_state(db, pk, q.BASES, {**detail, **kept, "employees": employees, "rows": rows,
                                              "removed": 0, "mode": "incremental", "changed": changed,
                                              "cursor": page.cursor})
            progress(changed, changed, f"已更新 {changed} 名职工的缴费基数")
            cursor = page.cursor
            if not page.more:
                break
        text = f"{changed} 名职工的缴费基数有变化，已更新" if changed else "职工缴费基数与税务端一致，无需更新"
        return {"employees": employees, "rows": rows, "changed": changed, "mode": "incremental",
                "message": f"{text}（本机共 {employees} 名职工、{rows} 条）"}

    def sync_payables(self, start: str = "", end: str = "") -> dict[str, Any]:
        pk, unit_id = self.unit()
        start, end = qp.check_months(start, end)
        rows, s_from, s_to = self.session.call(lambda c: fetch_payables(c, unit_id, start, end))
        with self.store.write() as db:
            now = q.set_state(db, pk, q.PAYABLE, {"from": s_from, "to": s_to})
            count = qp.save_payables(db, pk, s_from, s_to, rows, now)
        return {"count": count, "from": s_from, "to": s_to,
                "message": f"已从税务端更新 {s_from}-{s_to} 的应缴信息 {count} 条"}

    def sync_arrivals(self, asked: qp.ArrivalRange | None = None) -> dict[str, Any]:
        pk, unit_id = self.unit()
        asked = asked or qp.ArrivalRange()
        rows, answered = self.session.call(lambda c: fetch_arrivals(c, unit_id, asked))
        with self.store.write() as db:
            # Records written here after this point were not there to compare: 待核对, not missing.
            (upto,) = db.execute_sql("SELECT coalesce(max(id), 0) FROM payment_record WHERE unit_id = ?",
                                     (pk,)).fetchone()
            now = q.set_state(db, pk, q.ARRIVAL, {
                "from": answered.start or None, "to": answered.end or None, "paid_from": answered.paid_from or None,
                "paid_to": answered.paid_to or None, "local_upto": int(upto)})
            count = qp.save_arrivals(db, pk, answered, rows, now)
        view = qp.arrivals(self.store, pk, answered)
        return {"count": count, "from": answered.start, "to": answered.end, "paid_from": answered.paid_from,
                "paid_to": answered.paid_to, "flagged": view.to_dict()["flagged"],
                "message": f"已从税务端更新{describe(answered)}的到账信息 {count} 笔"}


def describe(asked: qp.ArrivalRange) -> str:
    """费款所属期 202501-202503、缴款日期 2025-03-01 至 2025-03-31 (what an update covered)."""
    parts = []
    if asked.start or asked.end:
        parts.append(f"费款所属期 {asked.start or '…'}-{asked.end or '…'}")
    if asked.by_date:
        parts.append(f"缴款日期 {asked.paid_from or '…'} 至 {asked.paid_to or '…'}")
    return " " + "、".join(parts) + " " if parts else ""
