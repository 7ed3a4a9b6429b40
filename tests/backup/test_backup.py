from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from client.app import build_services
from client.backup import archive, service
from client.backup.crypto import DamagedBackup
from client.core import migrations
from client.core.store import DB_FILE
from client.errors import AuthError, StoreError
from client.services import Services
from tests.backup.helpers import add_unit, unit_names
from tests.core.test_store import build_v1


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "out"


def test_backup_holds_database_settings_rules_and_manifest(services: Services, folder: Path) -> None:
    add_unit(services.home, "甲公司", "U1")
    services.settings.update({"page_size": 20})
    (services.home / "rules").mkdir()
    (services.home / "rules" / "110000.json").write_text('{"r": 1}', encoding="utf-8")
    info = service.create_backup(services.home, folder)
    assert Path(info.path).name.startswith("socialfee-backup-") and info.size > 0
    assert [u.name for u in info.units] == ["甲公司"]
    assert info.tables["unit"] == 1 and info.schema_version == migrations.LATEST
    header, manifest = archive.read_manifest(Path(info.path), None)
    assert set(manifest["files"]) == {DB_FILE, "settings.json", "rules/110000.json"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert manifest["app_version"] and header.data["created_at"] == info.created_at
    # Nothing but the finished file is left behind.
    assert [p.name for p in folder.iterdir()] == [info.name]
    assert not list(services.home.glob(f"{service.TMP_PREFIX}*"))
    result = service.verify_backup(Path(info.path), services.home)
    assert len(result.checks) == 4


def test_list_shows_newest_first_and_flags_damaged_files(services: Services, folder: Path) -> None:
    first = service.create_backup(services.home, folder)
    second = service.create_backup(services.home, folder, password="秘密-1")
    (folder / "socialfee-backup-bad.sfbak").write_bytes(b"not a backup")
    listed = service.list_backups(folder)
    assert [b.name for b in listed if not b.problem] == [second.name, first.name]
    assert listed[0].encrypted and listed[0].schema_version is None
    bad = [b for b in listed if b.problem]
    assert len(bad) == 1 and "不是 socialfee 的备份" in bad[0].problem


@pytest.mark.parametrize("password", [None, "正确的密码"])
def test_one_flipped_byte_is_caught(services: Services, folder: Path, password: str | None) -> None:
    add_unit(services.home, "甲公司", "U1")
    info = service.create_backup(services.home, folder, password=password)
    data = bytearray(Path(info.path).read_bytes())
    for offset in (20, len(data) // 2, len(data) - 5):
        broken = bytearray(data)
        broken[offset] ^= 0x01
        Path(info.path).write_bytes(bytes(broken))
        with pytest.raises((DamagedBackup, AuthError)) as caught:
            service.verify_backup(Path(info.path), services.home, password)
        assert "损坏" in caught.value.message or "不完整" in caught.value.message
        before = unit_names(services.home)
        with pytest.raises((DamagedBackup, AuthError)):
            service.restore(services, Path(info.path), password)
        assert unit_names(services.home) == before


def test_truncated_backup_is_refused(services: Services, folder: Path) -> None:
    info = service.create_backup(services.home, folder)
    data = Path(info.path).read_bytes()
    Path(info.path).write_bytes(data[: len(data) - 200])
    with pytest.raises(DamagedBackup):
        service.verify_backup(Path(info.path), services.home)


def test_wrong_or_missing_password(services: Services, folder: Path) -> None:
    add_unit(services.home, "甲公司", "U1")
    info = service.create_backup(services.home, folder, password="对的")
    with pytest.raises(AuthError, match="备份密码不正确"):
        service.verify_backup(Path(info.path), services.home, "错的")
    with pytest.raises(AuthError, match="请输入备份密码"):
        service.restore(services, Path(info.path), None)
    with pytest.raises(AuthError, match="备份密码不正确"):
        service.restore(services, Path(info.path), "错的")
    assert unit_names(services.home) == ["甲公司"]
    assert service.verify_backup(Path(info.path), services.home, "对的").backup.units[0].name == "甲公司"


def test_restore_brings_back_data_and_settings_after_a_safety_backup(services: Services, folder: Path) -> None:
    add_unit(services.home, "甲公司", "U1")
    services.settings.update({"page_size": 30})
    backup = service.create_backup(services.home, folder, password="pw")
    add_unit(services.home, "乙公司", "U2")
    services.settings.update({"page_size": 99})
    preview = service.restore_preview(services, Path(backup.path), "pw")
    assert [u.name for u in preview.backup.units] == ["甲公司"]
    assert [u.name for u in preview.current_units] == ["甲公司", "乙公司"]
    unit_change = next(t for t in preview.tables if t.table == "unit")
    assert (unit_change.current, unit_change.backup) == (2, 1)
    assert preview.newer_journal_entries == ()
    result = service.restore(services, Path(backup.path), "pw")
    assert [r[0] for r in services.store.db.execute_sql("SELECT name FROM unit")] == ["甲公司"]
    assert unit_names(services.home) == ["甲公司"]
    assert services.settings.get("page_size") == 30
    assert service.pause_state(services.home)["backup_file"] == backup.name
    # The safety backup holds the state before the restore.
    safety = service.inspect(Path(result.safety_backup.path))
    assert [u.name for u in safety.units] == ["甲公司", "乙公司"]
    assert not (services.home / service.STAGING).exists()
    # The store works on the new file, in WAL mode again.
    assert services.store.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    add_unit(services.home, "丙公司", "U3")
    assert unit_names(services.home) == ["甲公司", "丙公司"]


def test_restore_removes_rules_the_backup_did_not_have(services: Services, folder: Path) -> None:
    backup = service.create_backup(services.home, folder)
    (services.home / "rules").mkdir()
    (services.home / "rules" / "x.json").write_text("{}")
    service.restore(services, Path(backup.path))
    assert not (services.home / "rules").exists()


def test_version_1_backup_restores_into_the_current_schema(tmp_path: Path, services: Services) -> None:
    old_home = tmp_path / "old"
    old_home.mkdir()
    build_v1(old_home / DB_FILE)
    backup = service.create_backup(old_home, tmp_path / "out")
    assert backup.schema_version == 1
    preview = service.restore_preview(services, Path(backup.path))
    assert preview.will_migrate
    result = service.restore(services, Path(backup.path))
    assert result.schema_version == migrations.LATEST
    assert unit_names(services.home) == ["示例单位"]


def test_backup_from_a_newer_version_is_refused(tmp_path: Path, services: Services) -> None:
    newer = tmp_path / "newer"
    newer.mkdir()
    conn = sqlite3.connect(newer / DB_FILE)
    conn.execute("CREATE TABLE unit (id INTEGER PRIMARY KEY, name TEXT, taxpayer_id TEXT, region TEXT)")
    conn.execute(f"PRAGMA user_version = {migrations.LATEST + 3}")
    conn.commit()
    conn.close()
    backup = service.create_backup(newer, tmp_path / "out")
    add_unit(services.home, "甲公司", "U1")
    with pytest.raises(StoreError, match="更新版本") as caught:
        service.restore(services, Path(backup.path))
    assert caught.value.code == "backup_too_new"
    assert unit_names(services.home) == ["甲公司"]
    assert service.list_backups(service.default_folder(services.home)) == []  # refused before the safety backup


def test_migration_at_start_is_preceded_by_a_backup(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    build_v1(home / DB_FILE)
    svc = build_services(home)
    try:
        backups = service.list_backups(service.default_folder(home))
        assert len(backups) == 1 and backups[0].schema_version == 1
        assert "升级数据结构" in backups[0].reason
    finally:
        svc.close()
    again = build_services(home)  # nothing pending: no second backup
    again.close()
    assert len(service.list_backups(service.default_folder(home))) == 1


def test_restore_waits_for_other_jobs(services: Services, folder: Path) -> None:
    import threading

    backup = service.create_backup(services.home, folder)
    release = threading.Event()
    services.jobs.start("slow", "慢任务", lambda ctx: release.wait(10))
    try:
        with pytest.raises(Exception, match="慢任务"):
            service.restore(services, Path(backup.path))
    finally:
        release.set()


def test_interrupted_restore_before_commit_keeps_old_data(services: Services, folder: Path) -> None:
    add_unit(services.home, "甲公司", "U1")
    staging = services.home / service.STAGING / "new"
    staging.mkdir(parents=True)
    (staging / DB_FILE).write_bytes(b"half")
    services.close()
    assert service.recover(services.home) == "discarded"
    assert unit_names(services.home) == ["甲公司"]


def test_automatic_backups_keep_the_count_and_skip_unchanged_data(services: Services) -> None:
    services.settings.update({"backup_keep": 2})
    for i in range(4):
        add_unit(services.home, f"单位{i}", f"U{i}")
        service.backup_before(services, f"测试 {i}")
    manual = service.create_backup(services.home, service.default_folder(services.home))
    autos = [b for b in service.list_backups(service.default_folder(services.home)) if b.kind == "auto"]
    assert len(autos) == 2
    assert [u.name for u in autos[0].units][-1] == "单位3"
    assert Path(manual.path).exists()
    assert not service.changed_since_last_backup(services.home)
    assert service.backup_on_exit(services) is None  # nothing changed
    add_unit(services.home, "新单位", "U9")
    assert service.backup_on_exit(services) is not None
    services.settings.update({"backup_on_exit": 0})
    add_unit(services.home, "又一个", "U10")
    assert service.backup_on_exit(services) is None


def test_no_keyring_means_no_remembered_password(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    assert "密钥环" in (service.keyring_problem() or "")
    with pytest.raises(Exception, match="不会以明文保存"):
        service.remember_password("x")
    assert service.remembered_password() is None


def test_pause_flag_is_cleared_on_request(services: Services) -> None:
    (services.home / service.PAUSE_FILE).write_text(json.dumps({"backup_file": "x"}))
    assert service.pause_state(services.home) == {"backup_file": "x"}
    service.clear_pause(services.home)
    assert service.pause_state(services.home) is None
