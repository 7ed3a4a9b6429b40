"""The database inside a backup is judged by the file, before the swap and before the
safety backup: no restore may leave a client that does not start (issue 11)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from client.app import build_services
from client.backup import service
from client.backup.crypto import DamagedBackup
from client.core import migrations
from client.errors import SocialFeeError, StoreError
from client.services import Services
from tests.backup.crafted import db_bytes, rebuilt
from tests.backup.helpers import add_unit, unit_names
from tests.core.test_store import build_v1

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def good(services: Services, tmp_path: Path) -> Path:
    add_unit(services.home, "甲公司", "U1")
    made = service.create_backup(services.home, tmp_path / "saved")
    add_unit(services.home, "乙公司", "U2")
    return Path(made.path)


def empty_db(tmp_path: Path, user_version: int) -> bytes:
    import sqlite3

    path = tmp_path / "empty.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {user_version}")
    conn.commit()
    conn.close()
    return path.read_bytes()


def candidates(good: Path, tmp_path: Path) -> dict[str, tuple[Path, type, str]]:
    latest = migrations.LATEST
    made = {
        # The manifest says "current version"; the file says newer.
        "newer-user-version": (rebuilt(good, tmp_path / "a.sfbak", db=db_bytes(good, user_version=latest + 3)),
                               StoreError, "backup_too_new"),
        "no-tables": (rebuilt(good, tmp_path / "b.sfbak", db=empty_db(tmp_path, latest)),
                      DamagedBackup, "backup_schema"),
        "no-schema-at-all": (rebuilt(good, tmp_path / "c.sfbak", db=empty_db(tmp_path, 0), schema_version=0),
                             DamagedBackup, "backup_schema"),
        "missing-table": (rebuilt(good, tmp_path / "d.sfbak", db=db_bytes(good, "DROP TABLE submission;")),
                          DamagedBackup, "backup_schema"),
        "missing-column": (rebuilt(good, tmp_path / "e.sfbak",
                                   db=db_bytes(good, "ALTER TABLE unit DROP COLUMN region;")),
                           DamagedBackup, "backup_schema"),
        "trigger": (rebuilt(good, tmp_path / "f.sfbak", db=db_bytes(
            good, "CREATE TRIGGER wipe AFTER INSERT ON unit BEGIN DELETE FROM submission; END;")),
            DamagedBackup, "backup_schema"),
        "manifest-disagrees": (rebuilt(good, tmp_path / "g.sfbak", db=db_bytes(good, user_version=latest - 1)),
                               DamagedBackup, "backup_mismatch"),
        "not-a-database": (rebuilt(good, tmp_path / "h.sfbak", db=b"SQLite format 3\0" + b"\x07" * 8000),
                           DamagedBackup, "backup_database"),
    }
    data = bytearray(db_bytes(good))
    page = int.from_bytes(data[16:18], "big")
    for start in range(page, len(data), page):
        data[start] = 0x42  # no b-tree page has this type: every page after the first is damaged
    made["corrupt-page"] = (rebuilt(good, tmp_path / "i.sfbak", db=bytes(data)), SocialFeeError, "")
    return made


CASES = ["newer-user-version", "no-tables", "no-schema-at-all", "missing-table", "missing-column",
         "trigger", "manifest-disagrees", "not-a-database", "corrupt-page"]


@pytest.mark.parametrize("case", CASES)
def test_a_candidate_that_would_not_start_is_refused_before_the_safety_backup(
    services: Services, good: Path, tmp_path: Path, case: str
) -> None:
    path, error, code = candidates(good, tmp_path)[case]
    folder = service.default_folder(services.home)
    with pytest.raises(error) as caught:
        service.restore(services, path)
    assert CHINESE.search(caught.value.message)
    if code:
        assert caught.value.code == code, caught.value.message
    assert unit_names(services.home) == ["甲公司", "乙公司"]
    assert service.list_backups(folder) == []  # no safety backup of a refused candidate
    with pytest.raises(error):
        service.verify_backup(path, services.home)
    services.close()
    again = build_services(services.home)  # the client still starts, on the old data
    try:
        assert [r[0] for r in again.store.db.execute_sql("SELECT name FROM unit")] == ["甲公司", "乙公司"]
        assert again.store.schema_version == migrations.LATEST
    finally:
        again.close()


def test_an_older_backup_is_migrated_in_staging_and_the_client_starts(
    tmp_path: Path, services: Services
) -> None:
    old_home = tmp_path / "old"
    old_home.mkdir()
    build_v1(old_home / "socialfee.sqlite3")
    backup = service.create_backup(old_home, tmp_path / "out")
    checks = service.verify_backup(Path(backup.path), services.home).checks
    assert any(f"可升级到当前版本 {migrations.LATEST}" in c for c in checks)
    result = service.restore(services, Path(backup.path))
    assert result.schema_version == migrations.LATEST
    services.close()
    again = build_services(services.home)
    again.close()
    assert unit_names(services.home) == ["示例单位"]


def test_retention_keeps_the_newest_backup_that_verified_cleanly(services: Services) -> None:
    services.settings.update({"backup_keep": 1})
    add_unit(services.home, "甲公司", "U1")
    first = service.backup_before(services, "第一份")
    service.verify_backup(Path(first.path), services.home)
    for i in range(3):
        add_unit(services.home, f"单位{i}", f"U{i + 10}")
        service.backup_before(services, f"之后 {i}")
    names = {b.name for b in service.list_backups(service.default_folder(services.home))}
    assert first.name in names and len(names) == 2  # the proven one, and the newest


def test_retention_keeps_the_backup_that_restored_cleanly(services: Services, tmp_path: Path) -> None:
    services.settings.update({"backup_keep": 1})
    add_unit(services.home, "甲公司", "U1")
    restored = service.backup_before(services, "将被恢复的")
    add_unit(services.home, "乙公司", "U2")
    service.restore(services, Path(restored.path))  # its safety backup is automatic too
    for i in range(2):
        add_unit(services.home, f"单位{i}", f"U{i + 10}")
        service.backup_before(services, f"之后 {i}")
    names = {b.name for b in service.list_backups(service.default_folder(services.home))}
    assert restored.name in names
