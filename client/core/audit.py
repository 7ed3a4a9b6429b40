"""The audit log: who did what, when. Written by services, read by the settings page."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import peewee

from client.core import operators
from client.core.models import AuditLog, Unit
from client.core.paging import Page, PageRequest, paginate
from client.core.store import Store
from client.errors import ValidationError

EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    operator: str
    action: str
    detail: str
    unit: str = ""


def current_operator() -> str:
    """The logged-in operator (多人使用), else the OS user; a job keeps whoever started it."""
    return operators.current_operator_name()


@dataclass(frozen=True)
class AuditFilter:
    """The operation log's filters: operator, action, unit (local id), dates, free text."""

    operator: str = ""
    action: str = ""
    unit: int | None = None
    date_from: str = ""
    date_to: str = ""
    text: str = ""

    @classmethod
    def parse(cls, args: dict[str, str]) -> AuditFilter:
        dates = []
        for name in ("date_from", "date_to"):
            value = str(args.get(name, "") or "").strip()
            if value:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise ValidationError("日期格式应为 YYYY-MM-DD", field=name) from None
            dates.append(value)
        if dates[0] and dates[1] and dates[0] > dates[1]:
            raise ValidationError("开始日期不能晚于结束日期", field="date_from")
        unit_text = str(args.get("unit", "") or "").strip()
        if unit_text and not unit_text.isdigit():
            raise ValidationError("单位选择不正确", field="unit")
        return cls(str(args.get("operator", "") or "").strip(), str(args.get("action", "") or ""),
                   int(unit_text) if unit_text else None, dates[0], dates[1], str(args.get("q", "") or "").strip())

    def query(self) -> peewee.ModelSelect:
        query = AuditLog.select(AuditLog, Unit.name).join(Unit, peewee.JOIN.LEFT_OUTER)
        if self.operator:
            query = query.where(AuditLog.operator == self.operator)
        if self.action:
            query = query.where(AuditLog.action == self.action)
        if self.unit is not None:
            query = query.where(AuditLog.unit == self.unit)
        if self.date_from:
            query = query.where(AuditLog.at >= self.date_from)
        if self.date_to:
            end = (dt.date.fromisoformat(self.date_to) + dt.timedelta(days=1)).isoformat()
            query = query.where(AuditLog.at < end)
        if self.text:
            query = query.where(AuditLog.detail.contains(self.text) | AuditLog.operator.contains(self.text))
        return query


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
    unit = getattr(row, "unit_name", None) or (row.unit.name if row.unit_id and row.unit else "")
    return AuditEntry(row.id, row.at, row.operator, row.action, row.detail, unit)


def search(request: PageRequest, *, action: str = "", text: str = "", filters: AuditFilter | None = None) -> Page:
    query = (filters or AuditFilter(action=action, text=text)).query()
    sortable = {"at": AuditLog.at, "operator": AuditLog.operator, "action": AuditLog.action}
    rows, total = paginate(query, request, sortable, AuditLog.id)
    return Page([asdict(_entry(r)) for r in rows], total, request.page, request.size)


def entries_by_ids(ids: list[int]) -> list[AuditEntry]:
    rows = AuditFilter().query().where(AuditLog.id.in_(ids)).order_by(AuditLog.id.desc())
    return [_entry(r) for r in rows]


def entries_matching(filters: AuditFilter) -> list[AuditEntry]:
    """Every row the filters find, newest first (the export of a filtered log)."""
    rows = filters.query().order_by(AuditLog.id.desc()).limit(EXPORT_LIMIT)
    return [_entry(r) for r in rows]


def operator_names() -> list[str]:
    query = AuditLog.select(AuditLog.operator).distinct().order_by(AuditLog.operator)
    return [r.operator for r in query]


def actions() -> list[str]:
    query = AuditLog.select(AuditLog.action).distinct().order_by(AuditLog.action)
    return [r.action for r in query]
