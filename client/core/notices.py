"""通知公告: the notices the tax side says are valid for the unit's region, kept locally
with their read state. A refresh replaces the set for the region (notices no longer
valid disappear); read marks survive because rows are upserted, not recreated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from client.core.models import Notice
from client.core.store import Store
from client.errors import NotFoundError

IMPORTANT = "重要"


class IncomingNotice(Protocol):
    notice_id: str
    region: str | None
    title: str
    body: str
    published_on: dt.date
    valid_until: dt.date
    importance: str
    popup: bool


@dataclass(frozen=True)
class NoticeView:
    notice_id: str
    region: str | None
    title: str
    body: str
    published_on: str
    valid_until: str
    importance: str
    popup: bool
    read: bool
    read_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return dt.datetime.now().isoformat(sep=" ", timespec="seconds")


def _view(row: Notice) -> NoticeView:
    return NoticeView(
        row.notice_id, row.region, row.title, row.body, row.published_on, row.valid_until,
        row.importance, bool(row.popup), row.read_at is not None, row.read_at,
    )


def _for_region(region: str):  # noqa: ANN202 - a Peewee expression
    return Notice.region.is_null() | (Notice.region == region)


def replace_region(store: Store, region: str, items: Iterable[IncomingNotice]) -> int:
    """Store the valid notices for ``region``; returns how many are new here."""
    now = _now()
    new = 0
    with store.write():
        seen = []
        for n in items:
            seen.append(n.notice_id)
            values = {
                "region": n.region, "title": n.title, "body": n.body,
                "published_on": n.published_on.isoformat(), "valid_until": n.valid_until.isoformat(),
                "importance": n.importance, "popup": n.popup, "fetched_at": now,
            }
            if Notice.update(**values).where(Notice.notice_id == n.notice_id).execute() == 0:
                Notice.create(notice_id=n.notice_id, **values)
                new += 1
        Notice.delete().where(_for_region(region) & Notice.notice_id.not_in(seen)).execute()
    return new


def list_notices(region: str, *, unread_only: bool = False) -> list[NoticeView]:
    query = Notice.select().where(_for_region(region))
    if unread_only:
        query = query.where(Notice.read_at.is_null())
    query = query.order_by(Notice.published_on.desc(), Notice.notice_id.desc())
    return [_view(r) for r in query]


def counts(region: str) -> dict[str, int]:
    all_ = Notice.select().where(_for_region(region))
    return {"total": all_.count(), "unread": all_.where(Notice.read_at.is_null()).count()}


def get(notice_id: str) -> NoticeView:
    row = Notice.get_or_none(Notice.notice_id == notice_id)
    if row is None:
        raise NotFoundError("该公告已失效或不存在", code="notice_not_found")
    return _view(row)


def mark_read(store: Store, notice_id: str) -> NoticeView:
    with store.write():
        Notice.update(read_at=_now()).where(
            (Notice.notice_id == notice_id) & Notice.read_at.is_null()
        ).execute()
    return get(notice_id)


def popups(region: str) -> list[NoticeView]:
    """Important unread notices flagged to pop up at login, oldest first."""
    rows = (
        Notice.select()
        .where(_for_region(region) & Notice.read_at.is_null() & (Notice.popup == 1) & (Notice.importance == IMPORTANT))
        .order_by(Notice.published_on, Notice.notice_id)
    )
    return [_view(r) for r in rows]
