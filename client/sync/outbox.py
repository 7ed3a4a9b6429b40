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
from client.core import journal
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

    @property
    def message(self) -> str:
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
            return SendReport(paused=True, waiting=len(journal.entries(self.store, unit_pk, journal.TO_SEND)))
        wanted = tuple(only) or kinds.names()
        with _SENDING:
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
                    tried.add(entry.id)
                    if progress:
                        progress(n, len(pending), f"正在发送：{entry.summary}")
                    try:
                        outcome = self._send_one(client, unit_id, entry)
                    except NetworkError as exc:
                        # The tax side is not answering: keep the rest for the next run.
                        waiting = len(journal.entries(self.store, unit_pk, journal.TO_SEND))
                        return SendReport(sent, refused, waiting, error=exc.message)
                    sent += outcome == "sent"
                    refused += outcome == "refused"

    def _send_one(self, client: TaxClient, unit_id: str, entry: journal.Entry) -> str:
        kind = _kind(entry)
        if entry.state in (journal.SENDING, journal.UNKNOWN):
            try:
                outcome = client.idempotency_outcome(entry.idempotency_key)
            except NetworkError as exc:
                journal.mark_unknown(self.store, entry.id, exc.message)
                raise
            if outcome is not None:
                log.info("submission %s resolved from its key (status %s)", entry.id, outcome.status)
                return self._apply_stored(kind, entry, outcome)
            # Never committed on the tax side: sending again under the same key is safe.
        payload = journal.payload(self.store, entry.id)
        journal.mark_sending(self.store, entry)
        try:
            receipt = kind.send(client, unit_id, payload, entry.idempotency_key)
        except NetworkError as exc:
            if exc.code in UNSENT:
                journal.mark_queued(self.store, entry.id, exc.message)
            else:
                journal.mark_unknown(self.store, entry.id, exc.message)
            raise
        except AuthError:
            raise  # the session renews the token and runs us again; the key decides then
        except SocialFeeError as exc:  # 4xx: refused as a whole (e.g. the annual window closed)
            self._decide(kind, entry, Decision.refused(exc.message, exc.code))
            return "refused"
        return self._received(kind, entry, receipt)

    def _apply_stored(self, kind: SubmissionKind, entry: journal.Entry, outcome: IdempotencyOutcome) -> str:
        receipt = kind.stored_receipt(outcome)
        if receipt is not None:
            return self._received(kind, entry, receipt)
        code, message = stored_error(outcome)
        self._decide(kind, entry, Decision.refused(message, code))
        return "refused"

    def _received(self, kind: SubmissionKind, entry: journal.Entry, receipt: Receipt) -> str:
        with self.store.write():
            journal.mark_awaiting(self.store, entry.id, receipt.taxside_id, receipt.received_at)
            if receipt.decision is not None and receipt.decision.status != kinds.PROCESSING:
                self._decide(kind, journal.get(self.store, entry.id), receipt.decision)
        return "sent"

    def _decide(self, kind: SubmissionKind, entry: journal.Entry, decision: Decision) -> None:
        """Record a decision in the journal and apply it locally, in one transaction."""
        accepted = decision.status == kinds.ACCEPTED
        with self.store.write() as db:
            journal.mark_decided(self.store, entry.id, accepted, [dict(r) for r in decision.reasons])
            kind.apply(db, entry, decision)

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
            if decision.status == kinds.ACCEPTED:
                accepted += 1
            elif decision.status == kinds.REJECTED:
                rejected += 1
            else:
                processing += 1
                continue
            self._decide(kind, entry, decision)
        return FeedbackReport(len(waiting), accepted, rejected, processing)


def _kind(entry: journal.Entry) -> SubmissionKind:
    kind = kinds.get(entry.kind)
    if kind is None:  # only registered kinds are picked up, so this is a programming error
        raise RuntimeError(f"submission kind {entry.kind!r} is not registered")
    return kind
