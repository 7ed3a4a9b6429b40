"""The kind registry of the one sender: every journal kind in use is registered, and the
sender only picks up the kinds it is asked for."""

from __future__ import annotations

from pathlib import Path

from client.core import journal
from client.core.store import Store
from client.sync import kinds
from client.sync.outbox import Outbox
from client.sync.taxclient import TaxClient


def test_every_labelled_kind_is_registered() -> None:
    assert set(journal.KIND_LABELS) <= set(kinds.names())


def test_only_the_asked_kinds_are_sent(store: Store, unit_pk: int, tmp_path: Path) -> None:
    with store.write() as db:
        entry_id = journal.create(db, unit_pk, "wage_base_daily", {"kind": "daily", "rows": []},
                                  summary="x", row_count=0, operator="t")
    with TaxClient("http://127.0.0.1:9", timeout=1) as nowhere:
        nowhere.set_token("x")
        report = Outbox(store, tmp_path).send(nowhere, unit_pk, "U000001", only=("fee_declaration",))
    assert (report.sent, report.waiting) == (0, 0)
    assert journal.get(store, entry_id).state == journal.QUEUED


def test_void_entries_read_as_voids() -> None:
    assert journal.state_label("fee_void", journal.ACCEPTED) == "作废成功"
    assert journal.state_label("fee_declaration", journal.ACCEPTED) == "申报成功"
