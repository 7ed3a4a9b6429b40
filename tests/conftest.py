from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.api.server import UIServer
from client.app import build_services, start_server
from client.core.store import Store
from client.services import Services
from tests import pg_cluster

pytest_plugins = ["tests.taxside_fixtures"]

REPO = Path(__file__).resolve().parent.parent


def need_postgres() -> None:
    """Skip with the reason where PostgreSQL cannot run here; in CI a missing server fails."""
    reason = pg_cluster.unavailable()
    if reason:
        if os.environ.get("CI") or os.environ.get("SOCIALFEE_REQUIRE_POSTGRES"):
            pytest.fail(f"CI 必须运行 PostgreSQL 测试：{reason}")
        pytest.skip(reason)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> str:
    """Both data engines: modules whose store fixture asks for this run twice."""
    if request.param == "postgres":
        need_postgres()
    return str(request.param)


@pytest.fixture
def store_url(engine: str) -> str | None:
    """None for SQLite; a fresh empty PostgreSQL database (password in the URL) otherwise."""
    return pg_cluster.fresh_url() if engine == "postgres" else None


@pytest.fixture
def pg_url() -> str:
    """A fresh empty PostgreSQL database, for tests that are about team mode itself."""
    need_postgres()
    return pg_cluster.fresh_url()


@pytest.fixture
def engine_store(tmp_path: Path, store_url: str | None) -> Iterator[Store]:
    """A migrated store on each engine in turn."""
    s = Store(tmp_path, store_url)
    yield s
    s.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def services(home: Path) -> Iterator[Services]:
    svc = build_services(home)
    yield svc
    svc.close()


@pytest.fixture
def ui(services: Services) -> Iterator[UIServer]:
    server = start_server(services)
    yield server
    server.stop()


@pytest.fixture
def browser_client(ui: UIServer) -> Iterator[httpx.Client]:
    """An HTTP client that entered through the launch URL, as the window does."""
    with httpx.Client(base_url=ui.base_url, follow_redirects=True, timeout=10) as client:
        response = client.get(ui.launch_url)
        assert response.status_code == 200
        yield client


def csrf_of(client: httpx.Client) -> str:
    html = client.get("/").text
    marker = 'name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


NEW_PASSWORD = "Shenbao2025"


def log_in(services: Services, taxside: object, index: int = 2, password: str = NEW_PASSWORD) -> object:
    """Register and log in a unit through the session service (first use: the initial
    password, the forced change, the confirmation); returns its credentials."""
    services.settings.update({"taxside_url": taxside.url})
    unit = taxside.unit(index)
    session = services.session
    session.lookup(unit.taxpayer_id)
    view = session.login(unit.unit_id, unit.initial_password)
    if view.state == "must_change":
        session.change_initial_password(password, password)
    session.registration()
    session.confirm()
    # The refreshes after login run as jobs: let them finish so tests start from known data.
    deadline = time.monotonic() + 20
    while services.jobs.find(active_only=True) and time.monotonic() < deadline:
        time.sleep(0.02)
    return unit


@pytest.fixture
def logged_in(services: Services, taxside_factory: object) -> object:
    """A small live tax side (3 units; 0 and 1 share a taxpayer) with unit 2 logged in."""
    live = taxside_factory(units=3, employees=20)
    log_in(services, live)
    services.session.popups_shown = True  # pop-ups have their own browser test
    return live


@pytest.fixture
def memory_keyring() -> Iterator[Any]:
    """A working keyring backend for this test only (the machine has none). Defined when the
    fixture runs, after keyring chose its backend: a subclass that exists then would be
    chosen for the whole test process."""
    import keyring
    from keyring.backend import KeyringBackend

    before = keyring.get_keyring()

    class MemoryKeyring(KeyringBackend):
        priority = 10  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.entries: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.entries.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.entries[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.entries.pop((service, username), None)

    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)
