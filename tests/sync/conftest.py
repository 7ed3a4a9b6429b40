"""Fixtures for sync tests: a unit on the live tax side, logged in, and a local store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from client import logs
from client.app import build_services
from client.core.jobs import JobRunner
from client.core.store import Store
from client.services import Services
from client.settings import Settings, prepare_home
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
def engine_services(home: Path, store_url: str | None) -> Iterator[Services]:
    """The app's services on each engine: build_services on SQLite; on PostgreSQL the same
    parts with the data in a fresh team database. A module runs its service tests on both
    by taking this as its ``services``."""
    if store_url is None:
        svc = build_services(home)
    else:
        folder = prepare_home(home)
        log_path = logs.setup_logging(folder)
        store = Store(folder, store_url)
        svc = Services(folder, Settings(folder), store, JobRunner(on_finish=store.db.close), log_path)
    yield svc
    svc.close()


@pytest.fixture
def unit_pk(store: Store, unit) -> int:
    with store.write() as db:
        cursor = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES (?, ?, ?, ?, '2025-03-15 08:00:00') RETURNING id",
            (unit.taxpayer_id, unit.unit_id, unit.name, unit.region),
        )
        return int(cursor.fetchone()[0])
