"""The restore summary lists the submissions a backup does not have; safety backups abort."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest

from client.app import build_services
from client.backup import service
from client.core.store import DB_FILE, inspect_version
from client.errors import JobCancelled, StoreError
from client.services import Services
from tests.backup.helpers import add_unit
from tests.backup.test_cli import sf
from tests.core.test_store import build_v1


def submit(services: Services, state: str, *, kind: str = "wage_base_daily", summary: str = "",
           at: str | None = None) -> int:
    at = at or dt.datetime.now().isoformat(sep=" ", timespec="seconds")
    with services.store.write() as db:
        cur = db.execute_sql(
            "INSERT INTO submission (unit_id, kind, idempotency_key, payload, summary, row_count, "
            "operator, state, created_at, updated_at) VALUES (1, ?, ?, '{}', ?, 3, '张会计', ?, ?, ?)",
            (kind, str(uuid.uuid4()), summary or f"{kind} 3 人", state, at, at),
        )
    return int(cur.lastrowid)


def set_state(services: Services, entry_id: int, state: str) -> None:
    with services.store.write() as db:
        db.execute_sql("UPDATE submission SET state = ?, updated_at = ? WHERE id = ?",
                       (state, dt.datetime.now().isoformat(sep=" ", timespec="seconds"), entry_id))


@pytest.fixture
def unit(services: Services) -> None:
    add_unit(services.home, "甲公司", "U1")


def test_preview_lists_new_and_moved_on_entries_with_labels(services: Services, unit: None, tmp_path: Path) -> None:
    done = submit(services, "accepted", summary="早已成功")
    waiting = submit(services, "awaiting", summary="备份时待反馈")
    queued = submit(services, "queued", summary="备份时待提交，之后没变")
    backup = service.create_backup(services.home, tmp_path / "out")
    # Same second as the backup: only the journal mark can tell these apart.
    set_state(services, waiting, "accepted")
    new = submit(services, "awaiting", kind="wage_base_annual", summary="备份之后提交")
    odd = submit(services, "unknown", kind="fee_future", summary="新业务")

    preview = service.restore_preview(services, Path(backup.path))
    entries = {e["id"]: e for e in preview.newer_journal_entries}
    assert sorted(entries) == [waiting, new, odd]
    assert done not in entries and queued not in entries
    assert entries[waiting]["in_backup"] and entries[waiting]["backup_state_label"] == "待反馈"
    assert entries[waiting]["state_label"] == "申报成功"
    assert entries[new]["unit_name"] == "甲公司"
    assert (entries[new]["kind_label"], entries[new]["state_label"]) == ("年度缴费工资申报", "待反馈")
    assert not entries[new]["in_backup"] and entries[new]["backup_state_label"] is None
    assert (entries[odd]["kind_label"], entries[odd]["state_label"]) == ("fee_future", "待确认")
    assert entries[new]["summary"] == "备份之后提交" and entries[new]["created_at"]

    labels = {t.table: t.label for t in preview.tables}
    assert labels["unit"] == "单位" and labels["submission"] == "申报记录（提交日志）"
    assert labels["enrollment_employee"] == "职工参保信息" and labels["wage_base_draft"] == "缴费工资申报草稿"
    journal = next(t for t in preview.tables if t.table == "submission")
    assert (journal.current, journal.backup) == (5, 3)
    assert preview.backup.to_dict()["table_labels"]["audit_log"] == "操作日志"
    assert "something_new" in service.table_label("something_new")  # an unknown table keeps its name


def test_without_a_journal_mark_time_decides(services: Services, unit: None) -> None:
    old = submit(services, "accepted", at="2026-01-05 09:00:00")
    same_second = submit(services, "queued", at="2026-01-05 10:00:00")
    later = submit(services, "awaiting", at="2026-01-06 08:00:00")
    changed = submit(services, "awaiting", at="2026-01-04 08:00:00")
    with services.store.write() as db:
        db.execute_sql("UPDATE submission SET state = 'rejected', updated_at = '2026-01-05 11:00:00' "
                       "WHERE id = ?", (changed,))
    found = service.journal_entries_after(services, "2026-01-05T10:00:00.400")
    assert [e["id"] for e in found] == [same_second, later, changed]  # by id
    assert old not in [e["id"] for e in found]


def test_restore_keeps_the_entries_for_the_pause_until_seen(
    services: Services, unit: None, tmp_path: Path, browser_client: object
) -> None:
    from tests.conftest import csrf_of

    backup = service.create_backup(services.home, tmp_path / "out")
    sent = submit(services, "awaiting", summary="恢复后会丢失的申报")
    result = service.restore(services, Path(backup.path))
    assert [e["id"] for e in result.newer_journal_entries] == [sent]
    # Restored: the local journal no longer has it, the pause file still names it.
    assert services.store.db.execute_sql("SELECT count(*) FROM submission").fetchone()[0] == 0
    paused = browser_client.get("/api/backup").json()["paused"]
    assert [e["summary"] for e in paused["journal_entries"]] == ["恢复后会丢失的申报"]
    assert paused["journal_entries"][0]["state_label"] == "待反馈"
    token = csrf_of(browser_client)
    answer = browser_client.post("/api/backup/pause/clear", json={}, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200
    assert service.pause_state(services.home) is None
    (detail,) = services.store.db.execute_sql(
        "SELECT detail FROM audit_log WHERE action = '恢复后核对完成'"
    ).fetchone()
    assert "1 条申报记录" in detail


def test_cli_restore_warns_about_the_entries_before_asking(tmp_path: Path) -> None:
    home = tmp_path / "home"
    svc = build_services(home)
    try:
        add_unit(home, "甲公司", "U1")
        backup = service.create_backup(home, tmp_path / "out")
        submit(svc, "accepted", summary="备份之后已成功的申报")
    finally:
        svc.close()
    answered = sf(home, "restore", backup.path, stdin="n\n")
    assert answered.returncode == 1, answered.stderr
    out = answered.stdout
    assert "以下 1 条申报记录" in out and "备份之后已成功的申报" in out and "申报成功" in out
    assert "日常缴费工资申报" in out and "甲公司" in out
    assert "申报记录（提交日志）：当前 1 行 → 恢复后 0 行" in out
    assert out.index("备份之后已成功的申报") < out.index("已取消")


def test_backup_before_aborts_with_a_clear_message(services: Services, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    services.settings.update({"backup_folder": str(blocker / "backups")})
    with pytest.raises(service.SafetyBackupFailed) as caught:
        service.backup_before(services, "全量更新之前")
    assert isinstance(caught.value, StoreError) and caught.value.code == "safety_backup_failed"
    assert caught.value.message.startswith("自动备份（全量更新之前）没有完成：写入")
    assert "本次操作已中止" in caught.value.message
    assert service._state(services.home) == {}  # nothing recorded as backed up


def test_backup_before_reports_progress_and_lets_a_cancel_through(services: Services) -> None:
    seen: list[str] = []
    info = service.backup_before(services, "导入覆盖草稿之前", progress=lambda d, t, m: seen.append(m))
    assert info.kind == "auto" and info.reason == "导入覆盖草稿之前" and "备份完成" in seen

    def cancel(done: int, total: int, message: str) -> None:
        raise JobCancelled("已取消")

    with pytest.raises(JobCancelled):
        service.safety_backup(services.home, services.settings, services.store, "x", progress=cancel)


def test_failed_backup_before_migration_stops_the_start_untouched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    build_v1(home / DB_FILE)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    (home / "settings.json").write_text(json.dumps({"backup_folder": str(blocker / "b")}))
    with pytest.raises(service.SafetyBackupFailed, match="升级数据结构"):
        build_services(home)
    assert inspect_version(home / DB_FILE) == 1
