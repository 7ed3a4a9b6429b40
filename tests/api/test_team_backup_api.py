"""备份恢复 in team mode over HTTP: restoring the team's data is for a role with the restore
permission only; the page's data say team mode and where the data are, never the password."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from client.api.server import UIServer
from client.app import start_server
from client.backup import service
from client.core import operators, permissions
from client.core.operators_roles import role_by_key
from client.services import Services
from tests import pg_cluster
from tests.backup.test_team_backup import add_data, team_services, unit_names

PASSWORD = "Caozuo2025"


@pytest.fixture
def team_ui(tmp_path: Path, pg_url: str) -> Iterator[tuple[Services, UIServer]]:
    svc = team_services(tmp_path / "desk", pg_url)
    operators.start_multi(svc.store, "管理员甲", "admin", PASSWORD, PASSWORD)
    for role in permissions.BUILTIN_ROLES[1:]:
        operators.add_operator(svc.store, f"{role.name}乙", role.key, PASSWORD, PASSWORD,
                               role_by_key(svc.store, role.key).id, [])
    add_data(svc.store, units=2, entries=1)
    server = start_server(svc)
    yield svc, server
    server.stop()
    svc.close()


@contextmanager
def _client(ui: UIServer, login_name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui.base_url, timeout=30, headers={"X-CSRF-Token": ui.csrf_token}) as c:
        assert c.get(ui.launch_url).status_code == 303
        answer = c.post("/api/operator/login", json={"login_name": login_name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        yield c


def test_team_restore_is_for_the_restore_permission_only(team_ui: tuple[Services, UIServer]) -> None:
    svc, ui = team_ui
    info = service.create_backup(svc.home, service.backup_folder(svc.home, svc.settings), store=svc.store)
    add_data(svc.store, units=1, entries=0, tag="B")  # after the backup
    without = [r for r in permissions.BUILTIN_ROLES if "system.restore" not in r.permissions]
    assert without, "a built-in role without the restore permission"
    for role in without:
        with _client(ui, role.key) as c:
            answer = c.post("/api/backup/restore", json={"name": info.name})
            assert answer.status_code == 403, (role.key, answer.text)
            assert answer.json()["error"]["code"] == "forbidden"
            assert c.post("/api/backup/upload", files={"file": ("x.sfbak", b"x")}).status_code == 403
    assert len(unit_names(svc.store)) == 3  # nothing restored

    with _client(ui, "admin") as c:
        state = c.get("/api/backup").json()
        assert state["team"] is True
        assert state["location"].startswith("postgresql://") and "@" in state["location"]
        assert pg_cluster.PASSWORD not in state["location"]
        answer = c.post("/api/backup/restore", json={"name": info.name})
        assert answer.status_code == 202, answer.text
        job = svc.jobs.get(answer.json()["job"]["id"])
        while job.finished_at is None:
            threading.Event().wait(0.05)
            job = svc.jobs.get(job.id)
        assert job.state == "succeeded", job
        assert len(unit_names(svc.store)) == 2
        # Every desk paused until reviewed; the page shows it, and 核对完成 lifts it team-wide.
        paused = c.get("/api/backup").json()["paused"]
        assert paused and paused["backup_file"] == info.name
        assert c.post("/api/backup/pause/clear", json={}).status_code == 200
        assert c.get("/api/backup").json()["paused"] is None
