"""When each automatic refresh (unit info, rule pack, notices) last succeeded or failed.

Pages show it next to the data, so a failed refresh is visible while the last good data
stays on screen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from client.core.models import RefreshState
from client.core.store import Store

FEED_LABELS = {"unit": "单位信息", "rules": "业务规则", "notices": "通知公告"}


@dataclass(frozen=True)
class FeedState:
    feed: str
    scope: str
    ok_at: str | None
    error: str | None  # the last failure, cleared by the next success
    error_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return dt.datetime.now().isoformat(sep=" ", timespec="seconds")


def record_ok(store: Store, feed: str, scope: str) -> None:
    with store.write():
        RefreshState.insert(feed=feed, scope=scope, ok_at=_now(), error=None, error_at=None).on_conflict(
            conflict_target=[RefreshState.feed, RefreshState.scope],
            update={RefreshState.ok_at: _now(), RefreshState.error: None, RefreshState.error_at: None},
        ).execute()


def record_error(store: Store, feed: str, scope: str, message: str) -> None:
    with store.write():
        RefreshState.insert(feed=feed, scope=scope, error=message, error_at=_now()).on_conflict(
            conflict_target=[RefreshState.feed, RefreshState.scope],
            update={RefreshState.error: message, RefreshState.error_at: _now()},
        ).execute()


def state(feed: str, scope: str) -> FeedState:
    row = RefreshState.get_or_none((RefreshState.feed == feed) & (RefreshState.scope == scope))
    if row is None:
        return FeedState(feed, scope, None, None, None)
    return FeedState(feed, scope, row.ok_at, row.error, row.error_at)
