"""The one sender of the submission journal, and feedback polling (ARCHITECTURE.md, push).

Every kind of submission goes through here; what differs per kind (request, feedback,
local effects) is registered in client/sync/kinds.py by the kind's module. Entries go
out oldest first, each under the idempotency key it was written with. Before a request
leaves, the entry is committed as ``sending``; whatever happens next, the journal says
what to do on the next run:

- an answer: ``awaiting`` (待反馈) with the tax side's id (or decided at once, for kinds
  the tax side answers synchronously), or refused outright;
- "never reached the tax side" (connection refused, proxy down): back to ``queued``;
- anything else (time-out, dropped connection, 5xx, garbage): ``unknown``. An unknown or
  left-over ``sending`` entry is resolved by asking the tax side about its key: a stored
  answer is taken as the answer; "never committed" means it is sent again with the same
  key. It is never sent blindly, so one submission exists on the tax side in every case.

Several desks may share one unit's journal (team mode on PostgreSQL): a desk sends a unit
only while it holds the unit's ``sender`` lock (an advisory lock; a desk that does not get
it leaves the unit to the desk sending it), and inside it each entry is claimed by a
compare-and-set on its state and attempt count before its request leaves, and every outcome
is recorded only if the entry is still as this sender read it. So a second sender in the
same process, a restarted desk or a desk that lost its lock never sends or applies an entry
twice. A team-wide pause (a restore under way, client/core/team_state.py) is checked before
each entry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from client.backup import service as backup_service
from client.core import journal, team_state
from client.core.store import Store
from client.errors import AuthError, NetworkError, SocialFeeError
from client.sync import fee_declaration, kinds, payment, wage_base  # noqa: F401  (the kinds register themselves)
from client.sync.kinds import Decision, Receipt, SubmissionKind
from client.sync.taxclient import IdempotencyOutcome, TaxClient, stored_error

log = logging.getLogger(__name__)

# Network failures where the request provably never left this PC.
UNSENT = frozenset({"network_unreachable", "network_proxy"})

# One sender per process: the scheduled run and the operator's 提交 never overlap.
_SENDING = threading.Lock()


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    refused: int = 0
    waiting: int = 0  # still 待提交 / 待确认 after this run
    paused: bool = False
    error: str = ""
    elsewhere: bool = False  # another desk holds the unit's sender lock and sends its entries

    @property
    def message(self) -> str:
        if self.paused and self.error:  # the team-wide pause says why itself
            return f"{self.error}申报已保存为待提交。"
        if self.elsewhere:
            return "另一台电脑正在发送本单位的申报，由它完成发送；稍后刷新即可看到结果"
        if self.paused:
            return "恢复备份后自动发送已暂停：请先在「备份与恢复」中查看备份之后的申报记录。申报已保存为待提交。"
        parts = []
        if self.sent:
            parts.append(f"已发送 {self.sent} 笔申报，等待税务端反馈")
        if self.refused:
            parts.append(f"{self.refused} 笔被税务端拒收（见申报记录）")
        if self.waiting:
            parts.append(f"{self.waiting} 笔暂未发出，将在恢复连接后自动发送（{self.error}）")
        return "；".join(parts) or "没有待发送的申报"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


@dataclass(frozen=True)
class FeedbackReport:
    checked: int = 0
    accepted: int = 0
    rejected: int = 0
    processing: int = 0

    @property
    def message(self) -> str:
        if not self.checked:
            return "无需获取反馈"
        parts = []
        # Only decided declarations count as 已获取: "processing" is no feedback yet.
        if self.accepted or self.rejected:
            parts.append(f"已获取 {self.accepted + self.rejected} 笔申报的反馈")
        if self.accepted:
            parts.append(f"申报成功 {self.accepted} 笔")
        if self.rejected:
            parts.append(f"申报失败 {self.rejected} 笔")
        if self.processing:
            parts.append(f"{self.processing} 笔税务端仍在处理，请稍后再获取反馈")
        return "，".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


class Outbox:
    def __init__(self, store: Store, home: Path) -> None:
        self.store, self.home = store, home

    def paused(self) -> bool:
        return backup_service.pause_state(self.home) is not None

    # -- sending ---------------------------------------------------------------------------------
    def send(
        self, client: TaxClient, unit_pk: int, unit_id: str,
        progress: Callable[[int, int, str], None] | None = None, *, only: Sequence[str] = (),
    ) -> SendReport:
        """Send every waiting entry of the unit (of the kinds in ``only``, else of all kinds)."""
        if self.paused():
            return SendReport(paused=True, waiting=self._waiting(unit_pk))
        wanted = tuple(only) or kinds.names()
        with _SENDING, self.store.unit_lock("sender", unit_pk) as held:
            if not held:
                log.debug("unit %s: another desk holds the sender lock, skipped this round", unit_pk)
                return SendReport(waiting=self._waiting(unit_pk), elsewhere=True)
            sent = refused = 0
            tried: set[int] = set()
            while True:  # entries submitted while this run sends go out in the same run
                pending = [
                    e for e in journal.entries(self.store, unit_pk, journal.TO_SEND, wanted)
                    if e.id not in tried
                ]
                if not pending:
                    return SendReport(sent, refused)
                for n, entry in enumerate(pending):
                    reason = team_state.senders_paused(self.store)
                    if reason:  # a restore began meanwhile: stop before the next request
                        return SendReport(sent, refused, self._waiting(unit_pk), paused=True, error=reason)
                    tried.add(entry.id)
                    if progress:
                        progress(n, len(pending), f"正在发送：{entry.summary}")
                    try:
                        outcome = self._send_one(client, unit_id, entry)
                    except NetworkError as exc:
                        # The tax side is not answering: keep the rest for the next run.
                        return SendReport(sent, refused, self._waiting(unit_pk), error=exc.message)
                    sent += outcome == "sent"
                    refused += outcome == "refused"

    def _waiting(self, unit_pk: int) -> int:
        return len(journal.entries(self.store, unit_pk, journal.TO_SEND))

    def _send_one(self, client: TaxClient, unit_id: str, entry: journal.Entry) -> str:
        """One entry: "sent", "refused", or "skipped" when another sender moved it on."""
        kind = _kind(entry)
        if entry.state in (journal.SENDING, journal.UNKNOWN):
            try:
                outcome = client.idempotency_outcome(entry.idempotency_key)
            except NetworkError as exc:
                self._still(entry, state=journal.UNKNOWN, last_error=exc.message)
                raise
            if outcome is not None:
                log.info("submission %s resolved from its key (status %s)", entry.id, outcome.status)
                return self._apply_stored(kind, entry, outcome)
            # Never committed on the tax side: sending again under the same key is safe.
        payload = journal.payload(self.store, entry.id)
        claimed = journal.claim(self.store, entry)
        if claimed is None:
            log.debug("submission %s was taken by another sender", entry.id)
            return "skipped"
        try:
            receipt = kind.send(client, unit_id, payload, claimed.idempotency_key)
        except NetworkError as exc:
            state = journal.QUEUED if exc.code in UNSENT else journal.UNKNOWN
            self._still(claimed, state=state, last_error=exc.message)
            raise
        except AuthError:
            raise  # the session renews the token and runs us again; the key decides then
        except SocialFeeError as exc:  # 4xx: refused as a whole (e.g. the annual window closed)
            return "refused" if self._decide(kind, claimed, Decision.refused(exc.message, exc.code)) else "skipped"
        return self._received(kind, claimed, receipt)

    def _still(self, entry: journal.Entry, **fields: object) -> bool:
        with self.store.write() as db:
            return journal.still(db, entry, **fields)

    def _apply_stored(self, kind: SubmissionKind, entry: journal.Entry, outcome: IdempotencyOutcome) -> str:
        receipt = kind.stored_receipt(outcome)
        if receipt is not None:
            return self._received(kind, entry, receipt)
        code, message = stored_error(outcome)
        return "refused" if self._decide(kind, entry, Decision.refused(message, code)) else "skipped"

    def _received(self, kind: SubmissionKind, entry: journal.Entry, receipt: Receipt) -> str:
        with self.store.write() as db:
            if not journal.still(db, entry, state=journal.AWAITING, taxside_id=receipt.taxside_id,
                                 sent_at=receipt.received_at, last_error=""):
                return "skipped"  # another sender recorded the answer first
            if receipt.decision is not None and receipt.decision.status != kinds.PROCESSING:
                self._decide(kind, journal.get(self.store, entry.id), receipt.decision)
        return "sent"

    def _decide(self, kind: SubmissionKind, entry: journal.Entry, decision: Decision) -> bool:
        """Record a decision in the journal and apply it locally, in one transaction; False
        when the entry was no longer as read (another desk recorded it: applied once)."""
        accepted = decision.status == kinds.ACCEPTED
        with self.store.write() as db:
            if not journal.decide(db, entry, accepted, [dict(r) for r in decision.reasons]):
                return False
            kind.apply(db, entry, decision)
        return True

    # -- feedback ----------------------------------------------------------------------------------
    def fetch_feedback(
        self, client: TaxClient, unit_pk: int, unit_id: str, *, only: Sequence[str] = ()
    ) -> FeedbackReport:
        """Ask about every 待反馈 entry of the unit (of the kinds in ``only``, else all)."""
        waiting = journal.entries(self.store, unit_pk, (journal.AWAITING,), tuple(only) or kinds.names())
        accepted = rejected = processing = 0
        for entry in waiting:
            kind = _kind(entry)
            decision = kind.decision(client, unit_id, entry, partial(journal.payload, self.store, entry.id))
            if decision.status == kinds.PROCESSING:
                processing += 1
            elif self._decide(kind, entry, decision):  # not when another desk got it first
                accepted += decision.status == kinds.ACCEPTED
                rejected += decision.status == kinds.REJECTED
        return FeedbackReport(len(waiting), accepted, rejected, processing)


def _kind(entry: journal.Entry) -> SubmissionKind:
    kind = kinds.get(entry.kind)
    if kind is None:  # only registered kinds are picked up, so this is a programming error
        raise RuntimeError(f"submission kind {entry.kind!r} is not registered")
    return kind
