"""SIGKILL during backup and restore, and a full disk: the data is never half-replaced."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from client.app import build_services
from client.backup import archive, service
from tests.backup.helpers import add_unit, fill, unit_names
from tests.conftest import REPO

CHILD = [sys.executable, str(Path(__file__).with_name("crash_child.py"))]


def run_child(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([*CHILD, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def prepared(tmp_path: Path) -> tuple[Path, Path]:
    """A data directory with unit 甲 and a backup of it, then unit 乙 added."""
    home = tmp_path / "home"
    svc = build_services(home)
    svc.close()
    add_unit(home, "甲公司", "U1")
    fill(home)
    backup = service.create_backup(home, tmp_path / "saved")
    add_unit(home, "乙公司", "U2")
    return home, Path(backup.path)


def valid_backups(folder: Path) -> list[Path]:
    return [p for p in folder.glob(f"*{archive.SUFFIX}")] if folder.exists() else []


@pytest.mark.parametrize("step", ["snapshot", "written"])
def test_sigkill_during_backup_leaves_no_backup_looking_file(prepared, tmp_path: Path, step: str) -> None:
    home, _ = prepared
    out = tmp_path / "out"
    result = run_child("backup", str(home), step, str(out))
    assert result.returncode == -9
    assert valid_backups(out) == []  # at most a hidden .partial, never a *.sfbak
    assert unit_names(home) == ["甲公司", "乙公司"]
    svc = build_services(home)  # the next start cleans the temp snapshot away
    svc.close()
    assert not list(home.glob(f"{service.TMP_PREFIX}*"))
    assert service.list_backups(out) == []


def test_backup_killed_after_rename_is_complete(prepared, tmp_path: Path) -> None:
    home, _ = prepared
    result = run_child("backup", str(home), "renamed", str(tmp_path / "out"))
    assert result.returncode == -9
    (made,) = valid_backups(tmp_path / "out")
    assert service.verify_backup(made, home).backup.tables["unit"] == 2


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("staged", ["甲公司", "乙公司"]),
        ("closed", ["甲公司", "乙公司"]),
        ("committed", ["甲公司"]),
        ("reopened", ["甲公司"]),
    ],
)
def test_sigkill_during_restore_leaves_old_or_new_data(prepared, step: str, expected: list[str]) -> None:
    home, backup = prepared
    result = run_child("restore", str(home), step, str(backup))
    assert result.returncode == -9, result.stderr
    svc = build_services(home)  # start-up finishes or discards the interrupted restore
    try:
        assert unit_names(home) == expected
        assert svc.store.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert not (home / service.STAGING).exists()
        assert (service.pause_state(home) is not None) == (expected == ["甲公司"])
    finally:
        svc.close()


def test_full_disk_during_backup_is_a_clear_message(prepared, tmp_path: Path) -> None:
    home, _ = prepared
    out = tmp_path / "out"
    result = run_child("backup", str(home), "none", str(out), str(200 * 1024))
    assert result.returncode == 1
    assert "空间不足" in result.stderr or "快照失败" in result.stderr, result.stderr
    assert valid_backups(out) == []
    assert unit_names(home) == ["甲公司", "乙公司"]


def test_full_disk_during_restore_keeps_current_data(prepared, tmp_path: Path) -> None:
    home, backup = prepared
    # Room for the safety backup (compressed) but not for the unpacked database.
    limit = max(os.path.getsize(backup) * 3, (home / "socialfee.sqlite3").stat().st_size // 2)
    result = run_child("restore", str(home), "none", str(backup), str(limit))
    assert result.returncode == 1
    assert "空间不足" in result.stderr or "快照失败" in result.stderr, result.stderr
    assert unit_names(home) == ["甲公司", "乙公司"]
    assert not (home / service.STAGING).exists()
    svc = build_services(home)
    svc.close()
    assert unit_names(home) == ["甲公司", "乙公司"]
