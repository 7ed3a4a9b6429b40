"""The submission journal (outbox): every push to the tax side is written here first.

One journal for every kind (payroll-base declarations, fee declarations, voids, ...): the
kind column says which; client/sync/kinds.py says how each kind is sent and decided.

An entry holds the client-generated idempotency key, the exact payload, the operator and a
state. It is created in the same transaction that empties the draft it came from, so a
declaration is either a draft or a journal entry, never both and never neither. Entries
are never deleted. The sender (client/sync/outbox.py) moves them along:

    queued (待提交) -> sending (发送中) -> awaiting (待反馈) -> accepted / rejected
                          \\-> unknown (待确认): resolved by asking the tax side about the key

``sending`` left behind by a crash is treated like ``unknown``: the request may or may not
have reached the tax side, so the key is looked up before anything is sent again.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import peewee

from client.core import upgrade_manifest
from client.core.paging import Page, PageRequest
from client.core.store import Store
from client.errors import NotFoundError, ValidationError

QUEUED, SENDING, AWAITING, ACCEPTED, REJECTED, UNKNOWN = (
    "queued", "sending", "awaiting", "accepted", "rejected", "unknown",
)
STATE_LABELS = {
    QUEUED: "待提交",
    SENDING: "发送中",
    AWAITING: "待反馈",
    ACCEPTED: "申报成功",
    REJECTED: "申报失败",
    UNKNOWN: "待确认",
}
KIND_LABELS = {
    "wage_base_daily": "日常缴费工资申报",
    "wage_base_annual": "年度缴费工资申报",
    "fee_declaration": "社保费申报",
    "fee_void": "社保费申报作废",
    "debit": "三方协议缴款",
    "voucher": "开具银行端缴款凭证",
    "voucher_void": "作废银行端缴款凭证",
}
# Kinds whose outcome reads differently from a declaration's.
KIND_STATE_LABELS = {
    "fee_void": {ACCEPTED: "作废成功", REJECTED: "作废失败"},
    "debit": {ACCEPTED: "扣款完成", REJECTED: "扣款失败"},
    "voucher": {ACCEPTED: "开具成功", REJECTED: "开具失败"},
    "voucher_void": {ACCEPTED: "作废成功", REJECTED: "作废失败"},
}
# States the sender still has to act on, oldest entry first.
TO_SEND = (QUEUED, SENDING, UNKNOWN)
OPEN_STATES = (*TO_SEND, AWAITING)
ALL_STATES = (*OPEN_STATES, ACCEPTED, REJECTED)

_COLUMNS = (
    "id, unit_id, kind, idempotency_key, summary, row_count, operator, state, created_at, "
    "sent_at, attempts, last_error, taxside_id, feedback_at, reasons, updated_at"
)


def state_label(kind: str, state: str) -> str:
    return KIND_STATE_LABELS.get(kind, {}).get(state) or STATE_LABELS.get(state, state)


def now_text() -> str:
    return dt.datetime.now().isoformat(sep=" ", timespec="seconds")


@dataclass(frozen=True)
class Entry:
    id: int
    unit_id: int
    kind: str
    idempotency_key: str
    summary: str
    row_count: int
    operator: str
    state: str
    created_at: str
    sent_at: str | None
    attempts: int
    last_error: str
    taxside_id: str | None
    feedback_at: str | None
    reasons: list[dict[str, Any]]
    updated_at: str

    @property
    def state_label(self) -> str:
        return state_label(self.kind, self.state)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(state_label=self.state_label, kind_label=self.kind_label)
        data["reason_count"] = len(self.reasons)
        del data["reasons"]  # can be 50,000 rows: fetched on demand
        return data


def _entry(row: Sequence[Any]) -> Entry:
    values = list(row)
    values[14] = json.loads(values[14]) if values[14] else []
    return Entry(*values)


def create(
    db: peewee.SqliteDatabase,
    unit_pk: int,
    kind: str,
    payload: dict[str, Any],
    *,
    summary: str,
    row_count: int,
    operator: str,
) -> int:
    """Write a new entry (call inside ``store.write()``); the key is made here, once."""
    # Every declaration and payment passes here: a release's minimum version blocks them.
    upgrade_manifest.require_supported(Path(db.database).parent)
    now = now_text()
    cur = db.execute_sql(
        "INSERT INTO submission (unit_id, kind, idempotency_key, payload, summary, row_count, "
        "operator, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            unit_pk, kind, str(uuid.uuid4()), json.dumps(payload, ensure_ascii=False),
            summary, row_count, operator, QUEUED, now, now,
        ),
    )
    return int(cur.fetchone()[0])


def get(store: Store, entry_id: int, unit_pk: int | None = None) -> Entry:
    row = store.db.execute_sql(f"SELECT {_COLUMNS} FROM submission WHERE id = ?", (entry_id,)).fetchone()
    if row is None or (unit_pk is not None and row[1] != unit_pk):
        raise NotFoundError("没有这条申报记录", code="submission_not_found")
    return _entry(row)


def payload(store: Store, entry_id: int) -> dict[str, Any]:
    (text,) = store.db.execute_sql("SELECT payload FROM submission WHERE id = ?", (entry_id,)).fetchone()
    return json.loads(text)


def entries(store: Store, unit_pk: int, states: Sequence[str], kinds: Sequence[str] = ()) -> list[Entry]:
    """Entries of a unit in the given states, oldest first (the order they must go out)."""
    marks = ", ".join("?" for _ in states)
    sql = f"SELECT {_COLUMNS} FROM submission WHERE unit_id = ? AND state IN ({marks})"
    params: list[Any] = [unit_pk, *states]
    if kinds:
        sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        params += list(kinds)
    return [_entry(r) for r in store.db.execute_sql(sql + " ORDER BY id", params).fetchall()]


def entries_by_taxside_id(db: peewee.SqliteDatabase, unit_pk: int, kind: str, taxside_id: str) -> list[Entry]:
    """The entries the tax side knows by ``taxside_id`` (inside a transaction, on its connection)."""
    rows = db.execute_sql(
        f"SELECT {_COLUMNS} FROM submission WHERE unit_id = ? AND kind = ? AND taxside_id = ? ORDER BY id",
        (unit_pk, kind, taxside_id),
    ).fetchall()
    return [_entry(r) for r in rows]


def count_open(store: Store, unit_pk: int | None = None, kinds: Sequence[str] = ()) -> dict[str, int]:
    """How many entries wait to be sent or for feedback (all units when unit_pk is None; only
    the kinds named, for a page that lists just those)."""
    sql = "SELECT state, count(*) FROM submission WHERE state IN (?, ?, ?, ?)"
    params: list[Any] = list(OPEN_STATES)
    if unit_pk is not None:
        sql += " AND unit_id = ?"
        params.append(unit_pk)
    if kinds:
        sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        params += list(kinds)
    found = dict(store.db.execute_sql(sql + " GROUP BY state", params).fetchall())
    return {state: int(found.get(state, 0)) for state in OPEN_STATES}


@dataclass(frozen=True)
class JournalFilter:
    state: str = ""
    date_from: str = ""
    date_to: str = ""

    @classmethod
    def parse(cls, args: dict[str, str]) -> JournalFilter:
        state = args.get("state", "").strip()
        if state and state not in STATE_LABELS:
            raise ValidationError("申报状态不正确", field="state")
        dates = []
        for name in ("date_from", "date_to"):
            value = args.get(name, "").strip()
            if value:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise ValidationError("申报日期格式应为 YYYY-MM-DD", field=name) from None
            dates.append(value)
        return cls(state, dates[0], dates[1])


def search(
    store: Store, unit_pk: int, kinds: Sequence[str], request: PageRequest, filters: JournalFilter
) -> Page:
    clauses = ["unit_id = ?", f"kind IN ({', '.join('?' for _ in kinds)})"]
    params: list[Any] = [unit_pk, *kinds]
    if filters.state:
        clauses.append("state = ?")
        params.append(filters.state)
    if filters.date_from:
        clauses.append("created_at >= ?")
        params.append(filters.date_from)
    if filters.date_to:
        clauses.append("created_at < ?")
        params.append((dt.date.fromisoformat(filters.date_to) + dt.timedelta(days=1)).isoformat())
    where = " AND ".join(clauses)
    (total,) = store.db.execute_sql(f"SELECT count(*) FROM submission WHERE {where}", params).fetchone()
    rows = store.db.execute_sql(
        f"SELECT {_COLUMNS} FROM submission WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, request.size, (request.page - 1) * request.size],
    ).fetchall()
    return Page([_entry(r).to_dict() for r in rows], int(total), request.page, request.size)


# -- state changes (each one short transaction) ------------------------------------------------
def _update(store: Store, entry_id: int, **fields: Any) -> None:
    fields["updated_at"] = now_text()
    assignments = ", ".join(f"{name} = ?" for name in fields)
    with store.write() as db:
        db.execute_sql(f"UPDATE submission SET {assignments} WHERE id = ?", [*fields.values(), entry_id])


def mark_sending(store: Store, entry: Entry) -> None:
    """Committed before the request leaves: a crash after this point means "ask first"."""
    _update(store, entry.id, state=SENDING, attempts=entry.attempts + 1)


def claim(store: Store, entry: Entry) -> Entry | None:
    """Take the entry for sending: ``sending`` with one more attempt, committed before the
    request leaves; None when it is no longer as read (another sender, here or on another
    desk, moved it on). State and attempts together are the token: the attempt count only
    grows, so of two senders holding the same read exactly one wins, even from ``sending``."""
    with store.write() as db:
        won = still(db, entry, state=SENDING, attempts=entry.attempts + 1)
    return replace(entry, state=SENDING, attempts=entry.attempts + 1) if won else None


def still(db: peewee.Database, entry: Entry, **fields: Any) -> bool:
    """Change the entry only if it is still as ``entry`` read it (inside a transaction):
    whether it was. An outcome is recorded once however many senders or pollers got it."""
    fields["updated_at"] = now_text()
    assignments = ", ".join(f"{name} = ?" for name in fields)
    cur = db.execute_sql(
        f"UPDATE submission SET {assignments} WHERE id = ? AND state = ? AND attempts = ?",
        [*fields.values(), entry.id, entry.state, entry.attempts],
    )
    return cur.rowcount == 1


def mark_queued(store: Store, entry_id: int, error: str) -> None:
    """The request provably never reached the tax side: send again later."""
    _update(store, entry_id, state=QUEUED, last_error=error)


def mark_unknown(store: Store, entry_id: int, error: str) -> None:
    _update(store, entry_id, state=UNKNOWN, last_error=error)


def mark_awaiting(store: Store, entry_id: int, taxside_id: str, sent_at: str) -> None:
    _update(store, entry_id, state=AWAITING, taxside_id=taxside_id, sent_at=sent_at, last_error="")


def mark_decided(store: Store, entry_id: int, accepted: bool, reasons: list[dict[str, Any]]) -> None:
    with store.write() as db:
        mark_decided_in(db, entry_id, accepted, reasons)


def mark_decided_in(db: peewee.SqliteDatabase, entry_id: int, accepted: bool, reasons: list[dict[str, Any]]) -> None:
    """``mark_decided`` inside a transaction the caller holds (a kind applying an answer)."""
    now = now_text()
    db.execute_sql(
        "UPDATE submission SET state = ?, feedback_at = ?, reasons = ?, last_error = '', updated_at = ? "
        "WHERE id = ?",
        (ACCEPTED if accepted else REJECTED, now, json.dumps(reasons, ensure_ascii=False) if reasons else "",
         now, entry_id),
    )


def decide(db: peewee.Database, entry: Entry, accepted: bool, reasons: list[dict[str, Any]]) -> bool:
    """``mark_decided_in`` only if the entry is still as read (see :func:`still`)."""
    return still(
        db, entry, state=ACCEPTED if accepted else REJECTED, feedback_at=now_text(),
        reasons=json.dumps(reasons, ensure_ascii=False) if reasons else "", last_error="",
    )


def mark_refused(store: Store, entry_id: int, message: str) -> None:
    """The tax side refused the whole request (e.g. the annual window closed)."""
    mark_decided(store, entry_id, False, [{"row": 0, "field": "", "message": message}])
