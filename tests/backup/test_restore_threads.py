"""Restore work done by helper threads: the unpacking writes from its hashing thread (what
it writes and every write error reach the restoring thread), and the replaced database is
deleted after the restore has returned (gone soon after, or at the next start)."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from client.app import build_services
from client.backup import archive, service
from client.core.store import DB_FILE
from client.services import Services
from tests.backup.helpers import add_unit, fill, unit_names


def test_the_writer_thread_writes_every_chunk_in_order(tmp_path: Path) -> None:
    chunks = [os.urandom(archive.BUF) for _ in range(20)] + [b"tail"]
    with open(tmp_path / "out", "wb") as out:
        hasher = archive._Hasher(out)
        for chunk in chunks:
            hasher.update(chunk)
        digest = hasher.hexdigest()
    data = (tmp_path / "out").read_bytes()
    assert data == b"".join(chunks)
    assert digest == hashlib.sha256(data).hexdigest()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_write_error_in_the_writer_thread_reaches_the_caller() -> None:
    with open("/dev/full", "wb") as out:
        hasher = archive._Hasher(out)
        with pytest.raises(OSError) as caught:
            for _ in range(50):  # the error shows at a later update or at hexdigest
                hasher.update(bytes(archive.BUF))
            hasher.hexdigest()
    assert caught.value.errno == errno.ENOSPC


def test_a_restore_unpacks_what_the_backup_holds(services: Services, tmp_path: Path) -> None:
    add_unit(services.home, "甲公司", "U1")
    fill(services.home, 3000)  # a database of several chunks
    info = service.create_backup(services.home, tmp_path / "b")
    add_unit(services.home, "乙公司", "U2")
    service.restore(services, Path(info.path))
    assert unit_names(services.home) == ["甲公司"]
    conn = sqlite3.connect(services.home / DB_FILE)
    assert conn.execute("SELECT count(*) FROM filler").fetchone() == (3000,)
    conn.close()
    target = tmp_path / "t"
    target.mkdir()
    _header, manifest = archive.extract(Path(info.path), target, None)
    for rel, entry in manifest["files"].items():
        assert hashlib.sha256((target / rel).read_bytes()).hexdigest() == entry["sha256"]


def _cleanups() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "restore-cleanup"]


def test_the_replaced_database_is_deleted_after_the_restore(services: Services, tmp_path: Path) -> None:
    add_unit(services.home, "甲公司", "U1")
    fill(services.home, 3000)
    info = service.create_backup(services.home, tmp_path / "b")
    service.restore(services, Path(info.path))
    assert not (services.home / service.STAGING).exists()  # complete at once
    for thread in _cleanups():
        thread.join(30)
    assert not list(services.home.glob(f"{service.TMP_PREFIX}*"))
    assert unit_names(services.home) == ["甲公司"]


def test_a_replaced_database_left_by_a_crash_is_deleted_at_the_next_start(home: Path) -> None:
    build_services(home).close()
    left = home / f"{service.TMP_PREFIX}replaced-0123"
    (left / "old").mkdir(parents=True)
    (left / "old" / DB_FILE).write_bytes(bytes(4096))
    build_services(home).close()
    assert not left.exists()
