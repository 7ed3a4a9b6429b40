from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from client.api.server import UIServer
from client.app import Services, build_services, start_server

pytest_plugins = ["tests.taxside_fixtures"]

REPO = Path(__file__).resolve().parent.parent


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
