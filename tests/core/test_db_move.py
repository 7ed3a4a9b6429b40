"""Moving a desk's data SQLite -> PostgreSQL -> SQLite (client/core/db_move.py), with real
data from the live reference tax side (an enrollment update, a payroll-base declaration
sent and accepted through the journal) and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.core import db_move, journal, wage_base, wage_context, wage_submit
from client.core.paging import PageRequest
from client.core.store import Store
from client.sync.enrollment import EnrollmentSync
from client.sync.outbox import Outbox
from client.sync.taxclient import TaxClient
from rules.packs import load_pack
from tests.taxside_fixtures import LiveTaxSide

TODAY = dt.date(2025, 3, 15)
PASSWORD = "Secure2025pass"


def fill(store: Store, taxside: LiveTaxSide, folder: Path) -> int:
    """A unit with its employees, one accepted and one pending declaration; the unit's pk."""
    unit = taxside.unit(0)
    with store.write() as db:
        unit_pk = int(db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES (?, ?, ?, ?, '2025-03-15 08:00:00') RETURNING id",
            (unit.taxpayer_id, unit.unit_id, unit.name, unit.region),
        ).fetchone()[0])
    client = TaxClient(taxside.url, timeout=5)
    try:
        client.login(unit.unit_id, unit.initial_password)
        client.change_password(unit.unit_id, unit.initial_password, PASSWORD)
        EnrollmentSync(store, client, unit_pk, unit.unit_id).run("full")
        taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
        ctx = wage_context.DraftContext(unit_pk, "daily", load_pack(unit.region), TODAY, False)
        for base, sent in (("9000", True), ("9100", False)):
            wage_base.add_all_normal(store, ctx)
            rows = wage_base.search(store, ctx, PageRequest(size=500), wage_base.DraftFilter()).rows
            wage_base.delete_rows(store, ctx, [r["id"] for r in rows[3:]] or [0])
            wage_base.batch_modify(store, ctx, [r["id"] for r in rows[:3]], amount=base, effective_month="202503")
            wage_submit.submit(store, ctx, "tester", confirmed=True)
            if sent:
                outbox = Outbox(store, folder)
                outbox.send(client, unit_pk, unit.unit_id)
                assert outbox.fetch_feedback(client, unit_pk, unit.unit_id).accepted == 1
    finally:
        client.close()
    return unit_pk


def folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def journal_rows(store: Store) -> list[tuple]:
    return [tuple(r) for r in store.db.execute_sql(
        "SELECT id, idempotency_key, state, payload, taxside_id FROM submission ORDER BY id").fetchall()]


@pytest.fixture
def desk(tmp_path: Path, taxside: LiveTaxSide) -> Iterator[Store]:
    store = Store(folder(tmp_path / "desk"))
    fill(store, taxside, folder(tmp_path / "outbox"))
    yield store
    store.close()


def test_sqlite_to_postgres_and_back(desk: Store, pg_url: str, tmp_path: Path) -> None:
    before = journal_rows(desk)
    assert {r[2] for r in before} == {journal.ACCEPTED, journal.QUEUED}
    employees = desk.db.execute_sql("SELECT count(*) FROM enrollment_employee").fetchone()[0]
    assert employees > 20
    seen: list[tuple[str, int, int]] = []
    team = Store(folder(tmp_path / "team"), pg_url)
    try:
        there = db_move.move(desk, team, progress=lambda t, done, total: seen.append((t, done, total)))
        assert there.schema_version == desk.schema_version and there.journal_entries == 2
        by_table = {t.table: t for t in there.tables}
        assert by_table["enrollment_employee"].rows == employees
        assert set(by_table) == set(desk.tables())
        assert ("enrollment_employee", employees, employees) in seen
        # The target's own read equals the source's, table by table (not just the move's word).
        for name in desk.tables():
            info = desk.table_columns(name)
            assert db_move.table_checksum(desk.db, info) == db_move.table_checksum(team.db, info), name
        assert journal_rows(team) == before
        # Ids kept, sequences past them: a new row gets a fresh id on PostgreSQL.
        top = team.db.execute_sql("SELECT max(id) FROM enrollment_employee").fetchone()[0]
        with team.write() as db:
            new = db.execute_sql(
                "INSERT INTO audit_log (at, operator, action) VALUES ('2025-03-15 09:00:00', 't', 'x') RETURNING id"
            ).fetchone()[0]
        audit_top = desk.db.execute_sql("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]
        assert new == audit_top + 1
        assert top == desk.db.execute_sql("SELECT max(id) FROM enrollment_employee").fetchone()[0]
        with team.write() as db:
            db.execute_sql("DELETE FROM audit_log WHERE id = ?", (new,))

        back_home = tmp_path / "back"
        back = Store(folder(back_home))
        try:
            again = db_move.move(team, back)
            assert [(t.table, t.rows, t.checksum) for t in again.tables] == \
                [(t.table, t.rows, t.checksum) for t in there.tables]
            assert journal_rows(back) == before
            with back.write() as db:
                fresh = db.execute_sql(
                    "INSERT INTO enrollment_change (unit_id, employee_id, name, id_type, id_number, kind, fields, "
                    "changed_at) SELECT unit_id, employee_id, name, id_type, id_number, 'x', '{}', 'now' "
                    "FROM enrollment_employee LIMIT 1 RETURNING id").fetchone()[0]
            assert fresh > (desk.db.execute_sql("SELECT coalesce(max(id), 0) FROM enrollment_change").fetchone()[0])
        finally:
            back.close()
    finally:
        team.close()
    assert journal_rows(desk) == before  # the source is only read


def test_target_with_data_is_refused_and_left_alone(desk: Store, pg_url: str, tmp_path: Path) -> None:
    team = Store(folder(tmp_path / "team"), pg_url)
    try:
        db_move.move(desk, team)
        rows = team.db.execute_sql("SELECT count(*) FROM enrollment_employee").fetchone()[0]
        with pytest.raises(db_move.ConflictError) as refused:
            db_move.move(desk, team)
        assert refused.value.code == "db_move_not_empty"
        assert "1 个单位、2 条申报记录" in refused.value.message and "不会覆盖" in refused.value.message
        assert team.db.execute_sql("SELECT count(*) FROM enrollment_employee").fetchone()[0] == rows
    finally:
        team.close()


def test_other_rows_also_make_a_target_not_empty(tmp_path: Path, pg_url: str) -> None:
    source = Store(folder(tmp_path / "a"))
    team = Store(folder(tmp_path / "b"), pg_url)
    try:
        with team.write() as db:
            db.execute_sql("INSERT INTO operator_config (key, value) VALUES ('mode', 'multi')")
        with pytest.raises(db_move.ConflictError, match="operator_config 1 行"):
            db_move.move(source, team)
        # The built-in roles a migration seeds do not count: an empty source moves.
        with team.write() as db:
            db.execute_sql("DELETE FROM operator_config")
        report = db_move.move(source, team)
        assert {t.table: t.rows for t in report.tables}["operator_role"] == 4
    finally:
        team.close()
        source.close()


def test_a_difference_rolls_the_whole_target_back(desk: Store, pg_url: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    team = Store(folder(tmp_path / "team"), pg_url)
    real = db_move.table_checksum

    def lossy(db, info):  # the target's read-back of the journal differs (a lost row)
        rows, digest = real(db, info)
        return (rows - 1, digest) if info.name == "submission" and db is team.db else (rows, digest)

    monkeypatch.setattr(db_move, "table_checksum", lossy)
    try:
        with pytest.raises(db_move.MoveError) as failed:
            db_move.move(desk, team)
        assert failed.value.code == "db_move_verify"
        assert "申报记录（提交日志）" in failed.value.message and "已回滚" in failed.value.message
        for name in ("unit", "enrollment_employee", "submission"):
            assert team.db.execute_sql(f'SELECT count(*) FROM "{name}"').fetchone()[0] == 0
        assert team.db.execute_sql("SELECT count(*) FROM operator_role").fetchone()[0] == 4
    finally:
        team.close()


def test_a_row_the_target_cannot_take_names_the_table(tmp_path: Path, pg_url: str) -> None:
    source = Store(folder(tmp_path / "a"))
    team = Store(folder(tmp_path / "b"), pg_url)
    try:
        with source.write() as db:  # SQLite keeps text in an INTEGER column; PostgreSQL cannot
            db.execute_sql("INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
                           "VALUES ('T1', 'U1', 'n', '110000', 'x')")
            db.execute_sql("INSERT INTO feed_cursor (unit_id, feed, mode, generation, updated_at) "
                           "VALUES (1, 'f', 'm', 'abc', 'x')")
        with pytest.raises(db_move.MoveError, match="写入表 feed_cursor 时出错") as failed:
            db_move.move(source, team)
        assert "已回滚" in failed.value.message
        assert team.db.execute_sql("SELECT count(*) FROM unit").fetchone()[0] == 0
    finally:
        team.close()
        source.close()


def test_different_schema_versions_are_refused(tmp_path: Path, pg_url: str, monkeypatch) -> None:
    source = Store(folder(tmp_path / "a"))
    team = Store(folder(tmp_path / "b"), pg_url)
    try:
        with team.write():
            team._set_version(team.schema_version - 1)
        with pytest.raises(db_move.MoveError, match="数据结构版本不同"):
            db_move.move(source, team)
    finally:
        team.close()
        source.close()


def test_checksum_values_are_tagged() -> None:
    assert [db_move.normalised(v) for v in (None, 5, "5", 2.5, True, b"\x01")] == \
        ["n", "i5", "s5", "f2.5", "i1", "b01"]


def test_batches_page_by_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_move, "BATCH", 3)
    store = Store(tmp_path)
    try:
        with store.write() as db:
            db.execute_sql("INSERT INTO unit (id, taxpayer_id, taxside_unit_id, name, region, added_at) "
                           "VALUES (1, 'T', 'U1', 'n', 'r', 'x')")
            for feed in "gfedcba":
                db.execute_sql("INSERT INTO feed_cursor (unit_id, feed, mode, updated_at) VALUES (1, ?, 'm', 'x')",
                               (feed,))
        info = store.table_columns("feed_cursor")
        sizes = [len(b) for b in db_move.batches(store.db, info)]
        assert sizes == [3, 3, 1]
        feeds = [r[1] for b in db_move.batches(store.db, info) for r in b]
        assert feeds == sorted("abcdefg")
    finally:
        store.close()
