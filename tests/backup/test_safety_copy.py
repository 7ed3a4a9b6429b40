"""The restore's safety backup read straight from the held database file, and its fallback.

While a restore holds the store's writers, the current file does not change: the safety
backup reads it as it is (no snapshot). Anything that writes to it meanwhile (another
connection, as another process would) sends the safety backup back to a snapshot, so it
never holds a mix of two states.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from client.backup import common, create, schedule, service
from client.services import Services
from tests.backup.helpers import add_unit, fill, unit_names


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "out"


@pytest.fixture
def snapshots(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    taken: list[Path] = []
    real = create.snapshot

    def spy(source: Path, dest: Path) -> None:
        taken.append(dest)
        real(source, dest)

    monkeypatch.setattr(create, "snapshot", spy)
    return taken


@pytest.mark.parametrize("remembered", [None, "记住的密码"])
def test_safety_backup_of_the_held_file_is_complete_and_restores(
    services: Services, folder: Path, snapshots: list[Path], monkeypatch: pytest.MonkeyPatch,
    remembered: str | None,
) -> None:
    monkeypatch.setattr(schedule, "remembered_password", lambda: remembered)
    add_unit(services.home, "甲公司", "U1")
    fill(services.home, 500)
    backup = service.create_backup(services.home, folder)
    assert len(snapshots) == 1  # a manual backup always snapshots the live file
    add_unit(services.home, "乙公司", "U2")
    result = service.restore(services, Path(backup.path))
    assert len(snapshots) == 1  # the safety backup read the held file itself
    assert unit_names(services.home) == ["甲公司"]
    # The restored data's log names the safety backup (one entry, in the data that stays).
    logged = [r[0] for r in services.store.db.execute_sql(
        "SELECT detail FROM audit_log WHERE action = '从备份恢复'").fetchall()]
    assert len(logged) == 1 and result.safety_backup.name in logged[0]
    safety = Path(result.safety_backup.path)
    checked = service.verify_backup(safety, services.home, remembered)
    assert checked.backup.encrypted is bool(remembered)
    assert [u.name for u in checked.backup.units] == ["甲公司", "乙公司"]
    # The undo: restoring the safety backup brings the state before the restore back.
    service.restore(services, safety, remembered)
    assert unit_names(services.home) == ["甲公司", "乙公司"]


def test_a_write_while_the_safety_backup_reads_sends_it_to_a_snapshot(
    services: Services, folder: Path, snapshots: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_unit(services.home, "甲公司", "U1")
    backup = service.create_backup(services.home, folder)
    snapshots.clear()
    written: list[str] = []

    def meddle(step: str) -> None:
        # Another connection writes while the safety backup reads the file.
        if step == "snapshot" and threading.current_thread().name == "safety-backup" and not written:
            add_unit(services.home, "外部写入", "U9")
            written.append(step)

    monkeypatch.setattr(common, "_reached", meddle)
    result = service.restore(services, Path(backup.path))
    assert written and len(snapshots) == 1  # read again, from a snapshot
    safety = service.verify_backup(Path(result.safety_backup.path), services.home)
    assert [u.name for u in safety.backup.units] == ["甲公司", "外部写入"]
    assert unit_names(services.home) == ["甲公司"]


def test_a_write_of_the_app_during_the_restore_waits_for_the_swap(
    services: Services, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_unit(services.home, "甲公司", "U1")
    backup = service.create_backup(services.home, folder)
    add_unit(services.home, "乙公司", "U2")
    writer_done = threading.Event()
    seen_at_commit: list[bool] = []

    def write() -> None:
        with services.store.write() as db:
            db.execute_sql(
                "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
                "VALUES ('91350100M000100Y43', 'U3', '丙公司', '110000', '2026-01-01')"
            )
        writer_done.set()

    writer = threading.Thread(target=write)

    def step(name: str) -> None:
        if name == "checked":
            writer.start()  # the app saves something while the candidate is checked
        elif name == "committed":
            seen_at_commit.append(writer_done.is_set())

    monkeypatch.setattr(common, "_reached", step)
    result = service.restore(services, Path(backup.path))
    writer.join(30)
    assert seen_at_commit == [False]  # it waited for the swap...
    assert writer_done.is_set()
    assert unit_names(services.home) == ["甲公司", "丙公司"]  # ...and landed in the restored data
    safety = service.inspect(Path(result.safety_backup.path))
    assert [u.name for u in safety.units] == ["甲公司", "乙公司"]
