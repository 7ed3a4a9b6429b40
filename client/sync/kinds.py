"""Submission kinds: what the one sender (client/sync/outbox.py) needs to know per kind.

Every push to the tax side is a journal entry of some kind (payroll-base declarations,
fee declarations, voids, later debits and vouchers). A kind is registered once, with:

- ``send``: how its stored payload becomes the request (the same payload must give the
  same request every time: it is resent under the same idempotency key);
- ``stored_receipt``: how a stored answer found by the key reads (GET /v1/idempotency);
- ``decision``: how its feedback is fetched once the tax side has received it (the stored
  payload is read only if the kind asks: a payroll-base payload can hold 200,000 rows);
- ``apply``: how a decision changes local state beyond the journal entry itself (called
  in the transaction that records the decision in the journal).

The sender, the pause after a restore, the offline queue and the resolution of unknown
outcomes are written once, in outbox.py, for all kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import peewee

    from client.core.journal import Entry
    from client.sync.taxclient import IdempotencyOutcome, TaxClient

PROCESSING, ACCEPTED, REJECTED = "processing", "accepted", "rejected"
PayloadLoader = Callable[[], Mapping[str, Any]]  # the entry's stored payload, read on demand


@dataclass(frozen=True)
class Decision:
    """The tax side's verdict on one submission; ``detail`` is what the kind applies."""

    status: str  # processing / accepted / rejected
    reasons: tuple[Mapping[str, Any], ...] = ()  # {"row", "field", "message", ...}; row 0 = whole request
    detail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def refused(cls, message: str, code: str = "") -> Decision:
        """Refused as a whole when it arrived (4xx): nothing was stored on the tax side."""
        return cls(REJECTED, ({"row": 0, "field": "", "message": message, "code": code},))


@dataclass(frozen=True)
class Receipt:
    """The tax side took the request: its id for the submission, and when."""

    taxside_id: str
    received_at: str
    decision: Decision | None = None  # set when the answer already decides (synchronous kinds)


def _nothing(db: peewee.SqliteDatabase, entry: Entry, decision: Decision) -> None:
    return None


@dataclass(frozen=True)
class SubmissionKind:
    name: str  # the journal's kind column
    send: Callable[[TaxClient, str, Mapping[str, Any], str], Receipt]  # client, unit_id, payload, key
    stored_receipt: Callable[[IdempotencyOutcome], Receipt | None]  # None: a stored refusal
    decision: Callable[[TaxClient, str, Entry, PayloadLoader], Decision]  # client, unit_id, awaiting entry
    apply: Callable[[peewee.SqliteDatabase, Entry, Decision], None] = _nothing


_KINDS: dict[str, SubmissionKind] = {}


def register(*kinds: SubmissionKind) -> None:
    for kind in kinds:
        _KINDS[kind.name] = kind


def get(name: str) -> SubmissionKind | None:
    return _KINDS.get(name)


def names() -> tuple[str, ...]:
    return tuple(_KINDS)
