"""Fixtures for sync tests: a unit on the live tax side, logged in, and a local store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from client.core.store import Store
from client.sync.taxclient import TaxClient
from tests.taxside_fixtures import LiveTaxSide

NEW_PASSWORD = "Secure2025pass"


@pytest.fixture
def unit(taxside: LiveTaxSide):
    return max(taxside.units, key=lambda u: u.employees)


@pytest.fixture
def client(taxside: LiveTaxSide, unit) -> Iterator[TaxClient]:
    tc = TaxClient(taxside.url, timeout=1.5)
    tc.login(unit.unit_id, unit.initial_password)
    tc.change_password(unit.unit_id, unit.initial_password, NEW_PASSWORD)
    yield tc
    tc.close()


@pytest.fixture
def store(engine_store: Store) -> Store:
    """Every sync test runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    return engine_store


@pytest.fixture
def unit_pk(store: Store, unit) -> int:
    with store.write() as db:
        cursor = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES (?, ?, ?, ?, '2025-03-15 08:00:00') RETURNING id",
            (unit.taxpayer_id, unit.unit_id, unit.name, unit.region),
        )
        return int(cursor.fetchone()[0])
