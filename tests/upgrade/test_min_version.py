"""A release's minimum version: below it, declaring and paying are blocked where every
submission is written (client/core/journal.py), with a Chinese message to upgrade; at or
above it nothing changes. Against the live reference tax side."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client import __version__
from client.core import journal, wage_base, wage_context, wage_submit
from client.core.paging import PageRequest
from client.core.store import Store
from client.core.upgrade import UpgradeService
from client.core.upgrade_manifest import UpgradeRequired
from client.sync.enrollment import EnrollmentSync
from client.sync.taxclient import TaxClient
from rules.packs import load_pack
from tests.taxside_fixtures import LiveTaxSide
from tests.upgrade.conftest import publish

TODAY = dt.date(2025, 3, 15)


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    s = Store(home)
    yield s
    s.close()


def submit_draft(store: Store, taxside: LiveTaxSide) -> int:
    """A unit's employees synced into a daily payroll-base draft, then 提交 (journal entry)."""
    unit = taxside.unit(0)
    tc = TaxClient(taxside.url, timeout=5)
    try:
        tc.login(unit.unit_id, unit.initial_password)
        tc.change_password(unit.unit_id, unit.initial_password, "Secure2025pass")
        with store.write() as db:
            unit_pk = db.execute_sql(
                "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
                "VALUES (?, ?, ?, ?, '2025-03-15 08:00:00')",
                (unit.taxpayer_id, unit.unit_id, unit.name, unit.region)).lastrowid
        EnrollmentSync(store, tc, unit_pk, unit.unit_id).run("full")
    finally:
        tc.close()
    ctx = wage_context.DraftContext(unit_pk, "daily", load_pack(unit.region), TODAY, False)
    wage_base.add_all_normal(store, ctx)
    rows = wage_base.search(store, ctx, PageRequest(size=50), wage_base.DraftFilter()).rows
    wage_base.batch_modify(store, ctx, [r["id"] for r in rows], amount="9000", effective_month="202503")
    return wage_submit.submit(store, ctx, "tester", confirmed=True)


def count_entries(store: Store) -> int:
    return int(store.db.execute_sql("SELECT count(*) FROM submission").fetchone()[0])


def test_min_version_blocks_declaring(taxside: LiveTaxSide, upgrader: UpgradeService, store: Store,
                                      release_key: Ed25519PrivateKey, packages: dict[str, Path]) -> None:
    publish(taxside, packages["0.2.0"], "0.2.0", release_key, min_version="0.2.0")
    upgrader.check()
    status = upgrader.status()
    assert status.blocked and status.min_version == "0.2.0"
    with pytest.raises(UpgradeRequired) as err:
        submit_draft(store, taxside)
    assert err.value.message == (
        f"当前客户端版本 {__version__} 低于税务端要求的最低版本 0.2.0，申报和缴费已暂停。"
        "请先在「关于」页面点击【升级】完成升级后再申报、缴费。")
    assert err.value.status == 409
    assert count_entries(store) == 0  # nothing was written to the journal
    # The release no longer requires it: the same declaration goes into the journal.
    publish(taxside, packages["0.2.0"], "0.2.0", release_key, min_version=__version__)
    upgrader.check()
    assert not upgrader.status().blocked
    entry_id = submit_draft_again(store)
    assert journal.get(store, entry_id).state == journal.QUEUED


def submit_draft_again(store: Store) -> int:
    unit_pk = int(store.db.execute_sql("SELECT id FROM unit").fetchone()[0])
    region = str(store.db.execute_sql("SELECT region FROM unit").fetchone()[0])
    ctx = wage_context.DraftContext(unit_pk, "daily", load_pack(region), TODAY, False)
    return wage_submit.submit(store, ctx, "tester", confirmed=True)
