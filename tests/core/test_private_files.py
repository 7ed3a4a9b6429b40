"""The data directory and everything the client writes are its owner's alone (POSIX)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.app import build_services
from client.backup import service as backup_service
from client.core import enrollment
from client.settings import tighten_tree

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """Start as an ordinary shell would (022), and put the test process back afterwards."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def _open_to_others(root: Path) -> list[str]:
    found = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                found.append(f"{path.relative_to(root)} {oct(stat.S_IMODE(mode))}")
    mode = root.lstat().st_mode
    if mode & 0o077:
        found.append(f". {oct(stat.S_IMODE(mode))}")
    return found


def test_everything_written_is_owner_only(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    services = build_services(home)
    try:
        assert _open_to_others(home) == []
        # A backup in the data directory and one in a folder the operator chose.
        inside = backup_service.create_backup(home, backup_service.default_folder(home))
        outside_folder = tmp_path / "U盘"
        outside = backup_service.create_backup(home, outside_folder)
        assert stat.S_IMODE(Path(outside.path).stat().st_mode) == 0o600
        assert stat.S_IMODE(outside_folder.stat().st_mode) == 0o700
        assert Path(inside.path).is_relative_to(home)
        # An export and a report, a log line, a settings change.
        reports = home / "reports"
        reports.mkdir()
        enrollment.export_xlsx(services.store, 1, reports / "参保职工.xlsx")
        services.settings.update({"page_size": 20})
        logging.getLogger("test").warning("a log line")
        for handler in logging.getLogger().handlers:
            handler.flush()
        assert services.log_path.stat().st_size > 0
    finally:
        services.close()
    assert (reports / "参保职工.xlsx").is_file()
    assert _open_to_others(home) == []


def test_an_old_open_data_directory_is_tightened_on_start(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    (home / "backups").mkdir(parents=True)
    (home / "logs").mkdir()
    (home / "backups" / "old.sfbak").write_bytes(b"x")
    (home / "logs" / "socialfee.log").write_text("old\n", encoding="utf-8")
    script = home / "tool.sh"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o755)
    # Links out of the data directory are neither followed nor changed.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shared = elsewhere / "shared.txt"
    shared.write_text("shared", encoding="utf-8")
    (home / "link-to-file").symlink_to(shared)
    (home / "link-to-dir").symlink_to(elsewhere)
    assert _open_to_others(home) != []

    build_services(home).close()

    assert _open_to_others(home) == []
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "backups").stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "backups" / "old.sfbak").stat().st_mode) == 0o600
    assert stat.S_IMODE(script.stat().st_mode) == 0o700  # the owner keeps what they had
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755


def test_tighten_counts_only_what_it_changed(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir(mode=0o700)
    (root / "a").write_bytes(b"")
    (root / "a").chmod(0o640)
    (root / "b").write_bytes(b"")
    (root / "b").chmod(0o600)
    assert tighten_tree(root) == 1
    assert tighten_tree(root) == 0
