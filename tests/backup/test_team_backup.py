"""Backups and restore in team mode, against a real PostgreSQL server (tests/pg_cluster.py).

A backup of a team database is the client's usual file (a SQLite database inside) and
restores into a fresh SQLite data directory and into a PostgreSQL database alike; a team
restore stops every desk's sender before it replaces anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.app import build_services
from client.backup import common, restore_team, service, team
from client.core import db_location, journal, operators, team_state
from client.core.jobs import JobRunner
from client.core.models import database_proxy
from client.core.store import Store
from client.errors import ConflictError
from client.services import Services
from client.settings import Settings, prepare_home
from client.sync import enrollment_desks
from client.sync.outbox import Outbox
from client.sync.scheduler import scheduled_enrollment_update
from client.sync.taxclient import TaxClient
from tests import pg_cluster
from tests.conftest import REPO, log_in


def team_services(home: Path, url: str) -> Services:
    """A desk whose settings name the team database (as `socialfee db use` leaves them)."""
    folder = prepare_home(home)
    settings = Settings(folder)
    settings.update({db_location.SETTING: db_location.parse(url)[0]})
    store = Store(folder, url)
    return Services(folder, settings, store, JobRunner(on_finish=store.db.close), folder / "app.log")


@pytest.fixture
def team_svc(tmp_path: Path, pg_url: str) -> Iterator[Services]:
    svc = team_services(tmp_path / "desk1", pg_url)
    yield svc
    svc.close()


def add_data(store: Store, units: int = 3, entries: int = 5, tag: str = "A") -> None:
    with store.write() as db:
        for u in range(units):
            unit_pk = int(db.execute_sql(
                "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
                "VALUES (?, ?, ?, '110000', '2026-01-01') RETURNING id",
                (f"91350100M0001{u:05d}", f"{tag}-U{u}", f"单位{tag}{u}"),
            ).fetchone()[0])
            for n in range(entries):
                db.execute_sql(
                    "INSERT INTO submission (unit_id, kind, idempotency_key, payload, summary, "
                    "row_count, operator, state, created_at, updated_at) "
                    "VALUES (?, 'wage_base_daily', ?, ?, ?, 1, '张三', ?, '2026-01-02T08:00:00', "
                    "'2026-01-02T08:00:00')",
                    (unit_pk, f"{tag}-{u}-{n}", '{"rows": [1]}', f"摘要{n}", journal.QUEUED),
                )


def counts(store: Store) -> dict[str, int]:
    """Rows per client table of a store (the desks' flags left out, as a backup does)."""
    names = [t for t in store.tables() if t not in team.NOT_BACKED_UP]
    return {t: int(store.db.execute_sql(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in names}


def unit_names(store: Store) -> list[str]:
    return [r[0] for r in store.db.execute_sql("SELECT name FROM unit ORDER BY id")]



def single_desk_backup(tmp_path: Path, units: int, entries: int) -> service.BackupInfo:
    """A backup made on one desk (SQLite) with its own units and journal entries."""
    single = build_services(tmp_path / "single")
    try:
        add_data(single.store, units=units, entries=entries, tag="S")
        return service.create_backup(single.home, tmp_path / "from-single")
    finally:
        single.close()

def test_team_backup_restores_into_a_fresh_sqlite_store(team_svc: Services, tmp_path: Path) -> None:
    add_data(team_svc.store)
    # The flags of the desks are no data: a backup never carries them.
    team_state.set_flag(team_svc.store, team_state.RESTORE_REVIEW, {"x": 1}, "管理员")
    folder = tmp_path / "backups"
    info = service.create_backup(team_svc.home, folder, store=team_svc.store, reason="团队备份")
    expected = {t: n for t, n in counts(team_svc.store).items() if t != "team_state"}
    assert info.tables == {**expected, "team_state": 0}
    assert info.tables["unit"] == 3 and info.tables["submission"] == 15
    assert service.verify_backup(Path(info.path), team_svc.home).checks  # raises when damaged

    single = build_services(tmp_path / "single")
    try:
        assert not single.store.team
        result = service.restore(single, Path(info.path))
        assert result.paused
        restored = service.describe_db(single.store.path)[2]
        # The restore itself is the one entry of the operation log more.
        assert restored == {**info.tables, "audit_log": info.tables["audit_log"] + 1}
        assert unit_names(single.store) == unit_names(team_svc.store)
        assert team_state.senders_paused(single.store) is None
    finally:
        single.close()


def test_sqlite_backup_restores_into_a_team_database(team_svc: Services, tmp_path: Path) -> None:
    info = single_desk_backup(tmp_path, units=2, entries=4)
    add_data(team_svc.store, units=4, entries=1, tag="T")  # what the team had: replaced
    before = unit_names(team_svc.store)

    result = service.restore(team_svc, Path(info.path))

    assert {t: n for t, n in counts(team_svc.store).items() if t not in ("team_state", "audit_log")} == {
        t: n for t, n in info.tables.items() if t not in ("team_state", "audit_log")
    }
    assert unit_names(team_svc.store) == ["单位S0", "单位S1"]
    # The safety backup holds the team data as they were.
    assert service.inspect(Path(result.safety_backup.path)).tables["unit"] == 4
    assert len(before) == 4
    # New rows get ids after the restored ones (the identity sequences follow the data).
    add_data(team_svc.store, units=1, entries=0, tag="N")
    assert unit_names(team_svc.store)[-1] == "单位N0"

    # Every desk pauses until the journal is reviewed, another desk too.
    other = Store(tmp_path / "desk2", team_svc.store.url)
    try:
        assert "核对" in (team_state.senders_paused(other) or "")
        assert restore_team.review_pause(team_svc)["backup_file"] == info.name
        restore_team.clear_review(team_svc)
        assert team_state.senders_paused(other) is None
        assert restore_team.review_pause(team_svc) is None
    finally:
        other.close()


def test_team_backup_restores_into_a_team_database(team_svc: Services, tmp_path: Path, pg_url: str) -> None:
    add_data(team_svc.store, units=3, entries=2, tag="A")
    info = service.create_backup(team_svc.home, tmp_path / "b", store=team_svc.store)
    add_data(team_svc.store, units=1, entries=1, tag="B")  # after the backup: gone by the restore
    service.restore(team_svc, Path(info.path))
    assert unit_names(team_svc.store) == ["单位A0", "单位A1", "单位A2"]
    assert counts(team_svc.store)["submission"] == info.tables["submission"] == 6


def _advisory_waiters(store: Store) -> int:
    row = store.db.execute_sql(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    ).fetchone()
    return int(row[0])


def test_restore_waits_for_every_desks_sender(team_svc: Services, tmp_path: Path, taxside: Any) -> None:
    info = single_desk_backup(tmp_path, units=1, entries=1)
    add_data(team_svc.store, units=2, entries=1, tag="T")
    unit_pk = int(team_svc.store.db.execute_sql("SELECT max(id) FROM unit").fetchone()[0])
    first_pk = int(team_svc.store.db.execute_sql("SELECT min(id) FROM unit").fetchone()[0])
    desk2 = Store(tmp_path / "desk2", team_svc.store.url)
    desk3 = Store(tmp_path / "desk3", team_svc.store.url)
    unit = taxside.units[0]
    tax = TaxClient(taxside.url, timeout=1.5)
    tax.login(unit.unit_id, unit.initial_password)
    tax.change_password(unit.unit_id, unit.initial_password, "Secure2025pass")
    reached: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            service.restore(team_svc, Path(info.path))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    original = common._reached
    common._reached = reached.append
    try:
        # Desk 2 is in the middle of a send: it holds the unit's sender lock.
        with desk2.unit_lock("sender", unit_pk) as held:
            assert held
            worker = threading.Thread(target=run)
            worker.start()
            while _advisory_waiters(desk2) == 0 and worker.is_alive():
                threading.Event().wait(0.02)
            assert worker.is_alive() and not errors
            # Paused for every desk, and nothing replaced while the send is in flight.
            assert "正在从备份恢复" in (team_state.senders_paused(desk2) or "")
            assert "senders_stopped" not in reached
            assert len(unit_names(desk2)) == 2
            # A sender started meanwhile on a third desk, for the unit the restore has
            # already passed: it gets the unit's lock, and sends nothing while paused.
            report = Outbox(desk3, tmp_path / "desk3").send(tax, first_pk, unit.unit_id)
            assert report.paused and "正在从备份恢复" in report.error
            states = desk3.db.execute_sql(
                "SELECT state, attempts FROM submission WHERE unit_id = ? ORDER BY id", (first_pk,)
            ).fetchall()
            assert states == [(journal.QUEUED, 0)]
        worker.join()
        assert not errors, errors
        assert "senders_stopped" in reached and "replaced" in reached
        assert unit_names(desk2) == ["单位S0"]
        # The restore pause is lifted, the review pause holds every desk's sender.
        assert team_state.get(desk2, team_state.SENDERS_PAUSED) is None
        assert "核对" in (team_state.senders_paused(desk2) or "")
    finally:
        common._reached = original
        tax.close()
        desk3.close()
        desk2.close()


def test_a_refused_backup_leaves_the_team_data_and_senders_alone(team_svc: Services, tmp_path: Path) -> None:
    add_data(team_svc.store, units=2, entries=1)
    bad = tmp_path / "bad.sfbak"
    bad.write_bytes(b"not a backup at all" * 100)
    with pytest.raises(Exception) as caught:
        service.restore(team_svc, bad)
    assert getattr(caught.value, "message", "")
    assert len(unit_names(team_svc.store)) == 2
    assert team_state.senders_paused(team_svc.store) is None


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), PGPASSWORD=pg_cluster.PASSWORD)  # libpq's own
    return subprocess.run([sys.executable, "-m", "client", "--home", str(home), "backup", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_command_line_backup_of_a_team_desk(team_svc: Services, tmp_path: Path) -> None:
    """`socialfee backup create` on a team desk dumps the team database, not a local file;
    in 多人使用 its restore is left to an operator with 恢复 in the window."""
    add_data(team_svc.store, units=2, entries=3)
    done = _cli(team_svc.home, "create", "--to", str(tmp_path / "cli"))
    assert done.returncode == 0, done.stderr
    (made,) = service.list_backups(tmp_path / "cli")
    assert made.tables["unit"] == 2 and made.tables["submission"] == 6
    assert pg_cluster.PASSWORD not in done.stdout + done.stderr

    operators.start_multi(team_svc.store, "管理员甲", "admin", "Caozuo2025", "Caozuo2025")
    add_data(team_svc.store, units=1, entries=0, tag="B")
    refused = _cli(team_svc.home, "restore", made.path, "--yes")
    assert refused.returncode != 0 and "须由有「恢复」权限的操作员" in refused.stdout + refused.stderr
    assert len(unit_names(team_svc.store)) == 3  # nothing restored


def test_automatic_backups_see_changes_made_by_any_desk(team_svc: Services, tmp_path: Path) -> None:
    add_data(team_svc.store, units=1, entries=1)
    service.backup_before(team_svc, "定时自动备份")
    assert not service.changed_since_last_backup(team_svc.home, team_svc.store)
    other = Store(tmp_path / "desk2", team_svc.store.url)
    try:
        add_data(other, units=1, entries=1, tag="B")  # another desk writes
        # The server's statistics of an idle connection arrive up to 10 s after the commit
        # (a backup interval is hours); ask for them now.
        other.db.execute_sql("SELECT pg_stat_force_next_flush()")
        other.db.execute_sql("SELECT 1")
        for _ in range(200):
            if service.changed_since_last_backup(team_svc.home, team_svc.store):
                break
            threading.Event().wait(0.05)
        assert service.changed_since_last_backup(team_svc.home, team_svc.store)
    finally:
        other.close()


def test_one_team_restore_at_a_time_and_an_interrupted_one_can_be_lifted(
    team_svc: Services, tmp_path: Path,
) -> None:
    add_data(team_svc.store, units=2, entries=1)
    info = service.create_backup(team_svc.home, tmp_path / "b", store=team_svc.store)
    desk2 = Store(tmp_path / "desk2", team_svc.store.url)
    try:
        with desk2.unit_lock(*restore_team.RESTORE_LOCK) as held:  # desk 2 is restoring
            assert held
            team_state.set_flag(desk2, team_state.SENDERS_PAUSED, {"reason": "x"}, "李四")
            with pytest.raises(ConflictError) as refused:
                service.restore(team_svc, Path(info.path))
            assert refused.value.code == "restore_running"
            assert restore_team.review_pause(team_svc)["running"] is True
            restore_team.clear_review(team_svc)  # never lifts a restore under way
            assert team_state.senders_paused(team_svc.store) is not None
        # Desk 2 went away before its commit: the flag stays until someone lifts it.
        shown = restore_team.review_pause(team_svc)
        assert shown["interrupted"] is True and shown["operator"] == "李四"
        restore_team.clear_review(team_svc)
        assert team_state.senders_paused(desk2) is None
        assert restore_team.review_pause(team_svc) is None
    finally:
        desk2.close()


def test_preview_of_a_team_restore_reads_the_team_database(team_svc: Services, tmp_path: Path) -> None:
    add_data(team_svc.store, units=2, entries=2, tag="A")
    info = service.create_backup(team_svc.home, tmp_path / "b", store=team_svc.store)
    add_data(team_svc.store, units=1, entries=3, tag="B")  # after the backup
    preview = service.restore_preview(team_svc, Path(info.path))
    by_table = {t.table: t for t in preview.tables}
    assert (by_table["unit"].current, by_table["unit"].backup) == (3, 2)
    assert (by_table["submission"].current, by_table["submission"].backup) == (7, 4)
    assert [u.name for u in preview.current_units] == ["单位A0", "单位A1", "单位B0"]
    # The entries the backup lacks, from the team database (they would be forgotten).
    assert [e["unit_name"] for e in preview.newer_journal_entries] == ["单位B0"] * 3
    assert "team_state" not in by_table or by_table["team_state"].current == 0


def test_team_backup_is_of_one_moment_while_another_desk_writes(team_svc: Services, tmp_path: Path) -> None:
    add_data(team_svc.store, units=2, entries=2, tag="A")
    other = Store(tmp_path / "desk2", team_svc.store.url)
    wrote: list[str] = []
    bound: list[bool] = []

    def progress(done: int, total: int, message: str) -> None:
        # The scratch SQLite file never takes the app's model queries.
        bound.append(database_proxy.obj is models_db)
        # Once the dump has begun reading, another desk commits new units and entries.
        if "导出团队数据库（" in message and not wrote:
            wrote.append(message)
            add_data(other, units=1, entries=5, tag="B")

    models_db = database_proxy.obj  # whichever store bound them last (desk 2's here)
    try:
        info = service.create_backup(team_svc.home, tmp_path / "b", store=team_svc.store, progress=progress)
    finally:
        other.close()
    assert wrote and bound and all(bound)
    assert unit_names(team_svc.store)[-1] == "单位B0"  # committed meanwhile
    assert info.tables["unit"] == 2 and info.tables["submission"] == 4


def test_other_desks_scheduled_updates_wait_for_the_review(
    team_svc: Services, tmp_path: Path, taxside_factory: Any,
) -> None:
    """The review pause holds another desk's scheduled enrollment update too (sync and
    sending wait until someone reviewed the journal), not only its sender."""
    live = taxside_factory(units=1, employees=10)
    log_in(team_svc, live, index=0)
    restoring = Store(tmp_path / "desk2", team_svc.store.url)  # the desk that restored
    try:
        team_state.set_flag(restoring, team_state.RESTORE_REVIEW, {"backup_file": "x.sfbak"}, "管理员")
        assert service.pause_state(team_svc.home) is None  # no file on this desk
        assert scheduled_enrollment_update(team_svc) is False
        team_state.clear(restoring, team_state.RESTORE_REVIEW)
        assert scheduled_enrollment_update(team_svc) is True
    finally:
        restoring.close()
        for job in team_svc.jobs.find(active_only=True):  # the update it started, to its end
            while team_svc.jobs.get(job.id).finished_at is None:
                threading.Event().wait(0.05)


def test_a_backup_cannot_bring_a_pause_into_a_single_desk(tmp_path: Path) -> None:
    """A crafted backup with the desks' flags in it: restored on one desk, nothing is paused
    by them (no page of a single desk could lift them)."""
    source = build_services(tmp_path / "crafted")
    try:
        add_data(source.store, units=1, entries=1)
        team_state.set_flag(source.store, team_state.SENDERS_PAUSED, {"reason": "x"}, "攻击者")
        info = service.create_backup(source.home, tmp_path / "b")
    finally:
        source.close()
    assert info.tables["team_state"] == 1
    single = build_services(tmp_path / "single")
    try:
        service.restore(single, Path(info.path))
        assert unit_names(single.store) == ["单位A0"]
        assert team_state.senders_paused(single.store) is None
    finally:
        single.close()


@pytest.mark.parametrize("step", ["senders_stopped", "emptied", "moved"])
def test_a_team_restore_killed_before_its_commit_changes_nothing(
    team_svc: Services, tmp_path: Path, step: str,
) -> None:
    """SIGKILL of the restoring desk (tests/backup/crash_child.py) anywhere before the
    commit: the team data are as they were, the senders stay paused, and another desk's
    page shows the interrupted restore and lifts the pause."""
    info = single_desk_backup(tmp_path, units=1, entries=1)
    add_data(team_svc.store, units=2, entries=2, tag="T")
    env = dict(os.environ, PYTHONPATH=str(REPO), PGPASSWORD=pg_cluster.PASSWORD)
    child = Path(__file__).with_name("crash_child.py")
    done = subprocess.run([sys.executable, str(child), "restore", str(team_svc.home), step, info.path],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == -9, done.stderr
    assert unit_names(team_svc.store) == ["单位T0", "单位T1"]
    assert counts(team_svc.store)["submission"] == 4
    assert "正在从备份恢复" in (team_state.senders_paused(team_svc.store) or "")
    other = team_services(tmp_path / "desk2", team_svc.store.url or "")
    try:
        assert restore_team.review_pause(other)["interrupted"] is True
        restore_team.clear_review(other)
        assert team_state.senders_paused(team_svc.store) is None
    finally:
        other.close()


def test_a_team_restore_killed_after_its_commit_is_complete(team_svc: Services, tmp_path: Path) -> None:
    info = single_desk_backup(tmp_path, units=1, entries=1)
    add_data(team_svc.store, units=2, entries=2, tag="T")
    env = dict(os.environ, PYTHONPATH=str(REPO), PGPASSWORD=pg_cluster.PASSWORD)
    child = Path(__file__).with_name("crash_child.py")
    done = subprocess.run([sys.executable, str(child), "restore", str(team_svc.home), "replaced", info.path],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == -9, done.stderr
    assert unit_names(team_svc.store) == ["单位S0"]
    assert "核对" in (team_state.senders_paused(team_svc.store) or "")  # paused until reviewed


def test_a_backup_never_moves_the_data_location(team_svc: Services, tmp_path: Path) -> None:
    """A team desk's backup carries its settings.json (database_url): restored on a single
    desk, that desk stays on its own file (and the preview says the value is kept)."""
    add_data(team_svc.store, units=1, entries=1)
    info = service.create_backup(team_svc.home, tmp_path / "b", store=team_svc.store)
    single = build_services(tmp_path / "single")
    try:
        preview = service.restore_preview(single, Path(info.path))
        (change,) = [c for c in preview.settings if c.name == db_location.SETTING]
        assert change.kept
        service.restore(single, Path(info.path))
        assert db_location.configured(single.settings) == ""
        assert unit_names(single.store) == ["单位A0"]
    finally:
        single.close()


def test_restore_waits_for_an_enrollment_update_and_refuses_new_ones(team_svc: Services, tmp_path: Path) -> None:
    add_data(team_svc.store, units=1, entries=1, tag="T")
    unit_pk = int(team_svc.store.db.execute_sql("SELECT max(id) FROM unit").fetchone()[0])
    desk2 = Store(tmp_path / "desk2", team_svc.store.url)
    stopped = threading.Event()

    def stop() -> None:
        team.stop_senders(team_svc.store, "管理员", "测试恢复")
        stopped.set()

    def never(fn: Any) -> Any:
        raise AssertionError("a refused update asks the tax side nothing")

    try:
        # Desk 2 is in the middle of an enrollment update: the restore waits for it.
        with desk2.unit_lock("enrollment", unit_pk) as held:
            assert held
            worker = threading.Thread(target=stop)
            worker.start()
            while _advisory_waiters(desk2) == 0 and worker.is_alive():
                threading.Event().wait(0.02)
            assert worker.is_alive() and not stopped.is_set()
        worker.join(60)
        assert stopped.is_set()
        # While the restore runs, an update started on any desk is refused with the reason.
        with pytest.raises(ConflictError) as refused:
            enrollment_desks.update_once(desk2, unit_pk, "U", "incremental", None, never)
        assert "团队数据正在从备份恢复（操作员 管理员）" in refused.value.message
        team.resume_senders(team_svc.store)
        with desk2.unit_lock("enrollment", unit_pk) as held:
            assert held  # the refusal gave the lock back
    finally:
        desk2.close()
