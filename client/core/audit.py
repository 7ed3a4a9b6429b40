"""The audit log: who did what, when. Written by services, read by the settings page."""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import asdict, dataclass

from client.core.models import AuditLog
from client.core.paging import Page, PageRequest, paginate
from client.core.store import Store


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    operator: str
    action: str
    detail: str


def current_operator() -> str:
    # Until local operator accounts exist, the operator is the OS user running the client.
    try:
        return getpass.getuser()
    except OSError:
        return "unknown"


def record(store: Store, action: str, detail: str = "", *, unit_id: int | None = None) -> None:
    with store.write():
        AuditLog.create(
            at=dt.datetime.now().isoformat(sep=" ", timespec="seconds"),
            operator=current_operator(),
            action=action,
            detail=detail,
            unit=unit_id,
        )


def _entry(row: AuditLog) -> AuditEntry:
    return AuditEntry(row.id, row.at, row.operator, row.action, row.detail)


def search(request: PageRequest, *, action: str = "", text: str = "") -> Page:
    query = AuditLog.select()
    if action:
        query = query.where(AuditLog.action == action)
    if text:
        query = query.where(AuditLog.detail.contains(text) | AuditLog.operator.contains(text))
    sortable = {"at": AuditLog.at, "operator": AuditLog.operator, "action": AuditLog.action}
    rows, total = paginate(query, request, sortable, AuditLog.id)
    return Page([asdict(_entry(r)) for r in rows], total, request.page, request.size)


def entries_by_ids(ids: list[int]) -> list[AuditEntry]:
    rows = AuditLog.select().where(AuditLog.id.in_(ids)).order_by(AuditLog.id.desc())
    return [_entry(r) for r in rows]


def actions() -> list[str]:
    query = AuditLog.select(AuditLog.action).distinct().order_by(AuditLog.action)
    return [r.action for r in query]
