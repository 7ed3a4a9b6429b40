"""Fixtures for sync tests: a unit on the live tax side, logged in, and a local store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path)
    yield s
    s.close()


@pytest.fixture
def unit_pk(store: Store, unit) -> int:
    with store.write() as db:
        cursor = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES (?, ?, ?, ?, '2025-03-15 08:00:00')",
            (unit.taxpayer_id, unit.unit_id, unit.name, unit.region),
        )
    return cursor.lastrowid
