"""Payroll-base declarations (缴费工资申报, manual 3.1.5) on the reference tax side.

A declaration is stored as received (rows unchecked) and decided later, once
``decision_delay_seconds`` has passed, by whichever request comes first: a GET of the
declaration, the unit's enrollment feed, or any /sim call. There is no background thread,
so tests and demos stay deterministic. The decision checks every row with the same pure
rules the client uses (rules.wage_base); all rows pass or nothing is applied.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rules.codes import normalize_id_number, normalize_name
from rules.model import RulePack
from rules.periods import Period, parse_period
from rules.wage_base import check_base, daily_effective_range, parse_base
from taxside.data import ITEM_NAMES, STATUS_STOPPED
from taxside.db import Store
from taxside.jsonutil import dumps, loads, raw

KINDS = ("daily", "annual")
MAX_ROWS = 200_000
DECLARATION_RE = re.compile(r"^WB(\d{8,12})$")

PackFor = Callable[[str], RulePack]


def declaration_id(pk: int) -> str:
    return f"WB{pk:08d}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def receive(
    st: Store, unit_pk: int, kind: str, rows: list[dict[str, Any]], effective: Period | None
) -> dict[str, Any]:
    """Store a declaration and its rows (caller holds the write transaction: the
    idempotency record commits with them). Returns the 202 answer."""
    now = st.now().isoformat()
    cur = st.db.execute_sql(
        "INSERT INTO wage_base_declaration(unit_pk, kind, status, received_at, received_on,"
        " effective_month, row_count) VALUES (?,?,?,?,?,?,?)",
        (unit_pk, kind, "processing", now, st.today().isoformat(),
         str(effective) if effective else None, len(rows)),
    )
    pk = int(cur.lastrowid)
    st.db.cursor().executemany(
        "INSERT INTO wage_base_row(declaration_pk, row_no, employee_id, id_number, name, data)"
        " VALUES (?,?,?,?,?,?)",
        (
            (pk, n, _text(r.get("employee_id")), _text(r.get("id_number")), _text(r.get("name")),
             dumps(r).decode())
            for n, r in enumerate(rows, 1)
        ),
    )
    return {
        "declaration_id": declaration_id(pk), "kind": kind, "status": "processing",
        "received_at": now, "row_count": len(rows),
        "effective_month": str(effective) if effective else None,
    }


# -- the decision ---------------------------------------------------------------------------
def decide_due(st: Store, pack_for: PackFor, unit_pk: int | None = None) -> int:
    """Decide every declaration whose delay has passed; returns how many were decided."""
    cutoff = (st.now() - dt.timedelta(seconds=st.decision_delay())).isoformat()
    sql = "SELECT id FROM wage_base_declaration WHERE status = 'processing' AND received_at <= ?"
    params: tuple[Any, ...] = (cutoff,)
    if unit_pk is not None:
        sql += " AND unit_pk = ?"
        params = (cutoff, unit_pk)
    due = [r[0] for r in st.query(sql + " ORDER BY id", params)]
    for pk in due:
        decide(st, pk, pack_for)
    return len(due)


@dataclass(slots=True)
class _Emp:
    pk: int
    id_type: str
    id_number: str
    name: str
    status: str
    bases_json: str
    _bases: dict[str, str] | None = None

    @property
    def bases(self) -> dict[str, str]:
        if self._bases is None:
            self._bases = loads(self.bases_json)
        return self._bases


def decide(st: Store, pk: int, pack_for: PackFor) -> None:
    """Check every row and accept (apply the bases) or reject the whole declaration, in
    one write transaction. A declaration already decided (by a concurrent request) is
    left alone."""
    with st.write():
        row = st.db.execute_sql(
            "SELECT d.unit_pk, d.kind, d.received_on, d.effective_month, u.region"
            " FROM wage_base_declaration d JOIN unit u ON u.id = d.unit_pk"
            " WHERE d.id = ? AND d.status = 'processing'",
            (pk,),
        ).fetchone()
        if row is None:
            return
        unit_pk, kind, received_on, effective, region = row
        pack = pack_for(region)
        by_pk: dict[int, _Emp] = {}
        by_doc: dict[tuple[str, str], _Emp] = {}
        for e in st.query(
            "SELECT id, id_type, id_number, name, status, bases FROM employee"
            " WHERE unit_pk = ? AND deleted = 0",
            (unit_pk,),
        ):
            emp = _Emp(*e)
            by_pk[emp.pk] = by_doc[(emp.id_type, emp.id_number)] = emp
        checker = _Checker(
            pack, kind, by_pk, by_doc,
            daily_range=daily_effective_range(pack, dt.date.fromisoformat(received_on)),
            annual_month=parse_period(effective) if effective else None,
        )
        for row_no, data in st.db.execute_sql(
            "SELECT row_no, data FROM wage_base_row WHERE declaration_pk = ? ORDER BY row_no", (pk,)
        ):
            checker.check(row_no, loads(data))
        now = st.now().isoformat()
        if checker.rejections:
            st.db.execute_sql(
                "UPDATE wage_base_declaration SET status = 'rejected', decided_at = ?,"
                " rejections = ? WHERE id = ?",
                (now, dumps(checker.rejections).decode(), pk),
            )
            return
        # One change-log entry for the whole batch: the employees share its seq, and the
        # feed's (seq, id) order still serves each of them exactly once.
        seq = st.log_change("enrollment", "wage_base", unit_pk=unit_pk, entity_id=declaration_id(pk))
        st.db.cursor().executemany(
            "UPDATE employee SET bases = ?, seq = ?, updated_at = ? WHERE id = ?",
            ((dumps(bases).decode(), seq, now, emp_pk) for emp_pk, bases in checker.updates.items()),
        )
        st.db.execute_sql(
            "UPDATE wage_base_declaration SET status = 'accepted', decided_at = ?, rejections = '[]'"
            " WHERE id = ?",
            (now, pk),
        )


class _Checker:
    """Row checks of one declaration; collects rejections and the bases to apply."""

    def __init__(
        self,
        pack: RulePack,
        kind: str,
        by_pk: dict[int, _Emp],
        by_doc: dict[tuple[str, str], _Emp],
        *,
        daily_range: tuple[Period, Period],
        annual_month: Period | None,
    ) -> None:
        self.pack = pack
        self.kind = kind
        self.by_pk = by_pk
        self.by_doc = by_doc
        self.low, self.high = daily_range
        self.annual_month = annual_month
        self.seen: dict[int, int] = {}  # employee pk -> first row declaring it
        # Most rows repeat a few texts (one month, a handful of bases): check each once.
        self._months: dict[Any, Period | str] = {}
        self._values: dict[tuple[Any, Period | None, str | None], Decimal | str] = {}
        self.rejections: list[dict[str, Any]] = []
        self.updates: dict[int, dict[str, str]] = {}

    def _find(self, row: dict[str, Any]) -> _Emp | None:
        emp_id = row.get("employee_id")
        if isinstance(emp_id, str) and emp_id[:1] == "E" and emp_id[1:].isdigit():
            found = self.by_pk.get(int(emp_id[1:]))
            if found is not None:
                return found
        id_type, id_number = row.get("id_type"), row.get("id_number")
        if isinstance(id_type, str) and isinstance(id_number, str):
            return self.by_doc.get((id_type.strip(), normalize_id_number(id_number)))
        return None

    def check(self, row_no: int, row: Any) -> None:
        if not isinstance(row, dict):  # refused at receipt; kept for stored old data
            row = {}
        failed = False

        def reject(field: str, message: str) -> None:
            nonlocal failed
            failed = True
            self.rejections.append({
                "row": row_no, "employee_id": _text(row.get("employee_id")),
                "id_number": _text(row.get("id_number")), "name": _text(row.get("name")),
                "field": field, "message": message,
            })

        emp = self._find(row)
        if emp is None:
            reject("employee", "该职工不在本单位参保")
        else:
            id_number, name = row.get("id_number"), row.get("name")
            if (isinstance(id_number, str) and id_number != emp.id_number
                    and normalize_id_number(id_number) != emp.id_number):
                reject("id_number", "证件号码与该职工的参保信息不符")
            if not isinstance(name, str) or (
                name != emp.name and normalize_name(name) != normalize_name(emp.name)
            ):
                reject("name", "姓名与证件号码不符")
            if emp.status == STATUS_STOPPED:
                reject("employee", "该职工已停止缴费")
            first = self.seen.setdefault(emp.pk, row_no)
            if first != row_no:
                reject("employee", f"同一职工在本次申报中重复（已在第{first}行申报）")

        period = self._effective_month(row, reject)
        new = self._bases(row, emp, period, reject)
        if not failed and emp is not None and new is not None:
            self.updates[emp.pk] = new

    def _effective_month(self, row: dict[str, Any], reject: Callable[[str, str], None]) -> Period | None:
        text = row.get("effective_month")
        if self.kind == "annual":
            assert self.annual_month is not None
            if text is not None:
                try:
                    given = parse_period(text) if isinstance(text, str) else None
                except ValueError:
                    given = None
                if given != self.annual_month:
                    reject("effective_month", f"年度缴费工资申报的生效年月应为 {self.annual_month}")
            return self.annual_month
        key = text if isinstance(text, str) or text is None else repr(text)
        result = self._months.get(key)
        if result is None:
            result = self._months[key] = self._daily_month(text)
        if isinstance(result, str):
            reject("effective_month", result)
            return None
        return result

    def _daily_month(self, text: Any) -> Period | str:
        """The effective month of a 日常 row, or why it is unusable."""
        if text is None or text == "":
            return "请填写生效年月"
        if not isinstance(text, str):
            return "生效年月应为文本，如 \"202503\""
        try:
            period = parse_period(text)
        except ValueError as exc:
            return str(exc).replace("费款所属期", "生效年月")
        if not self.low <= period <= self.high:
            return f"生效年月 {period} 超出允许范围（{self.low}-{self.high}）"
        return period

    def _bases(
        self, row: dict[str, Any], emp: _Emp | None, period: Period | None,
        reject: Callable[[str, str], None],
    ) -> dict[str, str] | None:
        """The employee's new bases JSON object, or None when a value is unusable."""
        base, per_item = row.get("base"), row.get("bases")
        if per_item is not None:
            if base is not None:
                reject("base", "不能同时填写缴费工资和分险种缴费工资")
                return None
            if not isinstance(per_item, dict) or not per_item:
                reject("bases", "分险种缴费工资应为非空对象，如 {\"pension\": \"8000.00\"}")
                return None
            values: dict[str, str] = {}
            for item, text in per_item.items():
                field = f"bases.{item}"
                if emp is not None and item not in emp.bases:
                    reject(field, f"该职工未参加{ITEM_NAMES.get(item, item)}")
                    continue
                value = self._value(text, period, item, field, reject)
                if value is not None:
                    values[item] = str(value)
            if len(values) != len(per_item) or emp is None:
                return None
            return {**emp.bases, **values}
        if base is None:
            reject("base", "请填写新缴费工资")
            return None
        value = self._value(base, period, None, "base", reject)
        if value is None or emp is None:
            return None
        return dict.fromkeys(emp.bases, str(value))

    def _value(
        self, text: Any, period: Period | None, item: str | None, field: str,
        reject: Callable[[str, str], None],
    ) -> Decimal | None:
        key = (text if isinstance(text, str) else repr(text), period, item)
        result = self._values.get(key)
        if result is None:
            result = self._values[key] = self._checked_value(text, period, item)
        if isinstance(result, str):
            reject(field, result)
            return None
        return result

    def _checked_value(self, text: Any, period: Period | None, item: str | None) -> Decimal | str:
        """The declared base, or why it is unusable."""
        try:
            value = parse_base(text)
        except ValueError as exc:
            return str(exc)
        if period is not None:
            problem = check_base(self.pack, period, value, item)
            if problem is not None:
                return problem.message
        return value


# -- answers ---------------------------------------------------------------------------------
def answer(st: Store, unit_pk: int, text: str) -> dict[str, Any] | None:
    """The GET answer for a declaration of this unit; None when there is none."""
    match = DECLARATION_RE.match(text)
    if match is None:
        return None
    row = st.db.execute_sql(
        "SELECT id, kind, status, received_at, decided_at, row_count, effective_month, rejections"
        " FROM wage_base_declaration WHERE id = ? AND unit_pk = ?",
        (int(match.group(1)), unit_pk),
    ).fetchone()
    if row is None:
        return None
    pk, kind, status, received_at, decided_at, row_count, effective, rejections = row
    return {
        "declaration_id": declaration_id(pk), "kind": kind, "status": status,
        "received_at": received_at, "decided_at": decided_at, "row_count": row_count,
        "effective_month": effective,
        "rejections": raw(rejections) if rejections else [],
    }
