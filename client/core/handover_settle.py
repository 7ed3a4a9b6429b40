"""换机 step 1 (settle): whatever the journal still holds is sent, decided or listed.

Uses the one sender and its feedback (client/sync/outbox.py, through the session so the
token is renewed once) and the payment service's resolve() for debits whose bank result
is unknown; nothing here talks to the tax side itself. ``session`` is the
SessionManager (client/sync/session.py), passed in so core imports nothing of sync.

What cannot be settled is listed with a Chinese reason: entries of another unit (the
session reaches only the entered unit), the pause after a restore, no connection, or the
tax side still deciding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from client.core import journal
from client.core.handover import OpenEntry
from client.core.store import Store
from client.errors import SocialFeeError

ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class SettledRow:
    unit_name: str
    kind_label: str
    summary: str
    before: str
    after: str


@dataclass(frozen=True)
class SettleReport:
    settled: tuple[SettledRow, ...]  # entries whose state changed in this run
    still_open: tuple[OpenEntry, ...]  # with the reason each one stays open
    messages: tuple[str, ...]  # the sender's and the feedback's own reports
    problem: str = ""  # why the tax side could not be asked (offline, not logged in, paused)

    @property
    def done(self) -> bool:
        return not self.still_open

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "done": self.done}


def _snapshot(store: Store) -> dict[int, tuple[str, str, journal.Entry]]:
    """Every open entry of every unit, by id, with its unit's tax-side id and name."""
    found: dict[int, tuple[str, str, journal.Entry]] = {}
    rows = store.db.execute_sql("SELECT id, taxside_unit_id, name FROM unit ORDER BY id").fetchall()
    for pk, unit_id, name in rows:
        for e in journal.entries(store, pk, journal.OPEN_STATES):
            found[e.id] = (unit_id, name, e)
    return found


def _reason(entry: journal.Entry, unit_name: str, entered_pk: int | None, problem: str) -> str:
    if entry.unit_id != entered_pk:
        return f"属于单位「{unit_name}」：请登录该单位后再办理交接"
    if problem:
        return problem
    if entry.state == journal.AWAITING:
        if entry.kind == "debit":
            return "银行扣款结果尚未返回，请稍后再办理"
        return "税务端仍在处理，尚无反馈，请稍后再获取反馈"
    return entry.last_error or "未能发送，请稍后再试"


def settle(store: Store, session: Any, resolve_payments: Callable[[], Any],
           progress: ProgressFn = lambda *_: None) -> SettleReport:
    """Send what waits, fetch every feedback, resolve unknown outcomes and debits (entered
    unit only); then say what changed and what stays open, and why."""
    before = _snapshot(store)
    messages: list[str] = []
    problem = ""
    entered_pk: int | None = None
    try:
        unit = session.require_entered()
        entered_pk = unit.local_id
    except SocialFeeError as exc:
        problem = exc.message
    if entered_pk is not None:
        outbox = session.outbox
        pk, unit_id = entered_pk, unit.unit_id
        try:
            progress(0, 3, "正在发送待提交和待确认的申报…")
            sent = session.call(lambda c: outbox.send(c, pk, unit_id))
            messages.append(sent.message)
            if sent.paused:
                problem = sent.message
            elif sent.error:
                problem = f"未能发送或确认：{sent.error}"
            else:
                progress(1, 3, "正在获取反馈…")
                messages.append(session.call(lambda c: outbox.fetch_feedback(c, pk, unit_id)).message)
                progress(2, 3, "正在查询扣款结果…")
                resolve_payments()
        except SocialFeeError as exc:  # offline, the connection lost, the session ended
            problem = f"未能发送或确认：{exc.message}"
    progress(3, 3, "正在整理结果…")
    after = _snapshot(store)
    settled = []
    for entry_id, (_uid, name, old) in before.items():
        new = after[entry_id][2] if entry_id in after else journal.get(store, entry_id)
        if new.state != old.state:
            settled.append(SettledRow(name, old.kind_label, old.summary, old.state_label, new.state_label))
    still_open = tuple(
        OpenEntry(uid, name, e.kind_label, e.state_label, e.summary, e.created_at,
                  _reason(e, name, entered_pk, problem))
        for uid, name, e in after.values()
    )
    return SettleReport(tuple(settled), still_open, tuple(m for m in messages if m), problem)
