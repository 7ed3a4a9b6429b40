"""One per-unit activity (the enrollment update) at a time across desks, and what the others see.

The desk that gets ``store.unit_lock(activity, unit)`` runs the work and writes its progress
(done/total, when it started, its host name and operator) to the desk_activity table. A desk
that does not get the lock does not fail: it shows that progress ("另一台电脑正在更新职工参保
信息") and polls until the lock is free, then says the other desk finished; it does not run the
work a second time. On SQLite the lock belongs to this process, so a second update in the same
app (the agency batch beside the page's update) waits the same way.

The row is only read while the lock is held by someone else: a row left by a desk that crashed
(its lock went with its connection) is never shown, and the next holder overwrites it.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import peewee

from client.core.store import Store

log = logging.getLogger(__name__)

ENROLLMENT = "enrollment"
LABELS = {ENROLLMENT: "更新职工参保信息"}
POLL_SECONDS = 1.0
T = TypeVar("T")


class Progress(Protocol):
    """What long work reports to (a JobContext, or an agency batch's unit line)."""

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None: ...


@dataclass(frozen=True)
class DeskActivity:
    unit_id: int
    activity: str
    desk: str
    operator: str
    done: int
    total: int
    started_at: str
    updated_at: str

    def message(self, team: bool) -> str:
        """另一台电脑正在更新职工参保信息（电脑 PC-2，操作员 张三，09:30 开始）：已处理 5,000 / 100,000 条"""
        who = f"电脑 {self.desk}" if team else "本机"
        if self.operator:
            who += f"，操作员 {self.operator}"
        who += f"，{self.started_at[11:16]} 开始" if len(self.started_at) >= 16 else ""
        if self.total:
            count = f"已处理 {self.done:,} / {self.total:,} 条"
        else:
            count = f"已处理 {self.done:,} 条" if self.done else "正在准备"
        return f"{waiting_text(self.activity, team)}（{who}）：{count}"


def waiting_text(activity: str, team: bool) -> str:
    label = LABELS.get(activity, activity)
    return f"另一台电脑正在{label}" if team else f"本机另一项任务正在{label}"


def finished_text(activity: str, other: DeskActivity | None, team: bool) -> str:
    label = LABELS.get(activity, activity)
    where = (f"另一台电脑（{other.desk}）" if other else "另一台电脑") if team else "本机另一项任务"
    return f"{where}已完成{label}，已显示最新数据；本次无需再更新"


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """``ran``: this desk did the work (``result``); otherwise ``other`` did it meanwhile."""

    ran: bool
    result: T | None
    other: DeskActivity | None
    message: str = ""


def desk_name() -> str:
    """This desk as the others see it: the computer's host name."""
    return socket.gethostname() or "未命名电脑"


def _now() -> str:
    return dt.datetime.now().isoformat(sep=" ", timespec="seconds")


def current(store: Store, unit_pk: int, activity: str) -> DeskActivity | None:
    row = store.db.execute_sql(
        "SELECT unit_id, activity, desk, operator, done, total, started_at, updated_at FROM desk_activity "
        "WHERE unit_id = ? AND activity = ?",
        (unit_pk, activity),
    ).fetchone()
    if row is None:
        return None
    return DeskActivity(int(row[0]), row[1], row[2], row[3], int(row[4]), int(row[5]), row[6], row[7])


def _begin(store: Store, unit_pk: int, activity: str, desk: str, operator: str) -> None:
    now = _now()
    with store.write() as db:
        db.execute_sql(
            "INSERT INTO desk_activity (unit_id, activity, desk, operator, done, total, started_at, updated_at) "
            "VALUES (?, ?, ?, ?, 0, 0, ?, ?) ON CONFLICT (unit_id, activity) DO UPDATE SET desk = excluded.desk, "
            "operator = excluded.operator, done = 0, total = 0, started_at = excluded.started_at, "
            "updated_at = excluded.updated_at",
            (unit_pk, activity, desk, operator, now, now),
        )


def _end(store: Store, unit_pk: int, activity: str) -> None:
    try:
        with store.write() as db:
            db.execute_sql("DELETE FROM desk_activity WHERE unit_id = ? AND activity = ?", (unit_pk, activity))
    except peewee.DatabaseError:  # harmless: a row is shown only while someone holds the lock
        log.warning("desk_activity row of unit %s (%s) not removed", unit_pk, activity, exc_info=True)


class _Recording:
    """Passes the work's progress on and writes it where the other desks read it."""

    def __init__(self, store: Store, unit_pk: int, activity: str, inner: Progress | None) -> None:
        self._store, self._unit_pk, self._activity, self._inner = store, unit_pk, activity, inner
        self._written: tuple[int, int | None] | None = None

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        # A page of the feed is one write; a backup's many "正在备份" steps (0 of 0) are one.
        if (done, total) != self._written:
            self._written = (done, total)
            sets, params = ["done = ?", "updated_at = ?"], [done, _now()]
            if total is not None:
                sets.append("total = ?")
                params.append(total)
            with self._store.write() as db:
                db.execute_sql(
                    f"UPDATE desk_activity SET {', '.join(sets)} WHERE unit_id = ? AND activity = ?",
                    (*params, self._unit_pk, self._activity),
                )
        if self._inner is not None:
            self._inner.progress(done, total, message)


def exclusive(
    store: Store,
    unit_pk: int,
    activity: str,
    ctx: Progress | None,
    work: Callable[[Progress], T],
    *,
    operator: str = "",
    desk: str | None = None,
    settled: Callable[[], bool] | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> Outcome[T]:
    """Run ``work`` if no other desk runs this activity for the unit; else wait for that one.

    ``work`` gets the progress sink to report to (it records the progress for the others).
    After waiting, ``settled()`` (under the lock) says whether the other desk's work ended
    complete; if not (that desk crashed or lost its network), this desk does the work.
    A cancelled job stops while it waits (JobContext.progress raises JobCancelled).
    """
    other: DeskActivity | None = None
    waited = False
    while True:
        with store.unit_lock(activity, unit_pk) as held:
            if held:
                if waited and (settled is None or settled()):
                    return Outcome(False, None, other, finished_text(activity, other, store.team))
                _begin(store, unit_pk, activity, desk or desk_name(), operator)
                try:
                    return Outcome(True, work(_Recording(store, unit_pk, activity, ctx)), None)
                finally:
                    _end(store, unit_pk, activity)
        waited = True
        seen = current(store, unit_pk, activity)
        other = seen or other
        if ctx is not None:
            if seen is None:  # the holder has not written its first line yet
                ctx.progress(0, 0, f"{waiting_text(activity, store.team)}，请稍候…")
            else:
                ctx.progress(seen.done, seen.total, seen.message(store.team))
        time.sleep(poll_seconds)
