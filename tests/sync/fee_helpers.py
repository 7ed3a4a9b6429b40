"""Shared steps of the fee-declaration tests against the live reference tax side."""

from __future__ import annotations

import sqlite3
from typing import Any

from client.core import fee_declaration as fees
from client.core.store import Store
from client.sync import fee_declaration as fee_sync
from client.sync.enrollment import EnrollmentSync
from client.sync.taxclient import TaxClient
from tests.taxside_fixtures import LiveTaxSide


def taxside_count(taxside: LiveTaxSide, table: str) -> int:
    conn = sqlite3.connect(taxside.db_path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def declarations(taxside: LiveTaxSide) -> int:
    return taxside_count(taxside, "fee_declaration")


def voids(taxside: LiveTaxSide) -> int:
    return taxside_count(taxside, "fee_void")


def refreshed(store: Store, client: TaxClient, unit: Any, unit_pk: int) -> list[fees.Summary]:
    fee_sync.refresh_summaries(store, client, unit_pk, unit.unit_id)
    return fees.summaries(store, unit_pk)


def declare_all(store: Store, client: TaxClient, unit: Any, unit_pk: int) -> int:
    """Refresh the daily summaries and declare every one of them: the entry id."""
    chosen = refreshed(store, client, unit, unit_pk)
    assert chosen
    return fees.declare(store, unit_pk, [s.summary_id for s in chosen], "tester")


def synced(store: Store, client: TaxClient, unit: Any, unit_pk: int) -> None:
    EnrollmentSync(store, client, unit_pk, unit.unit_id).run("full")
