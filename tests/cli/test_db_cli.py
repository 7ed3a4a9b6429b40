"""`socialfee db status / use / move` (client/cli_db.py) against a real PostgreSQL server and
a desk filled from the live reference tax side."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from client.app import build_services
from client.cli import cli
from client.core import db_location, home_lock, migrations
from client.core.store import DB_FILE, Store
from tests import pg_cluster
from tests.core.test_db_move import fill
from tests.taxside_fixtures import LiveTaxSide


def db(home: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), "db", *args], input=input, catch_exceptions=False)


def db_json(home: Path, *args: str, input: str | None = None) -> tuple[int, dict[str, Any]]:
    result = db(home, *args, "--json", input=input)
    return result.exit_code, json.loads(result.stdout)


def bare(url: str) -> str:
    return db_location.parse(url)[0]


def settings_text(home: Path) -> str:
    path = home / "settings.json"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def everything_written(home: Path, result: Result) -> str:
    logs = "".join(p.read_text(encoding="utf-8") for p in (home / "logs").glob("*.log*"))
    return result.stdout + result.stderr + settings_text(home) + logs


@pytest.fixture(autouse=True)
def no_remembered_passwords() -> Iterator[None]:
    yield
    with db_location._memory_lock:
        db_location._memory.clear()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def desk(home: Path, taxside: LiveTaxSide, tmp_path: Path) -> Path:
    store = Store(home)
    try:
        outbox = tmp_path / "outbox"
        outbox.mkdir()
        fill(store, taxside, outbox)
    finally:
        store.close()
    return home


def test_move_to_postgres_and_back(desk: Path, pg_url: str, memory_keyring: Any, tmp_path: Path) -> None:
    code, before = db_json(desk, "status")
    assert code == 0 and before["engine"] == "sqlite" and before["rows"]["unit"] == 1
    assert before["rows"]["submission"] == 2 and before["rows"]["enrollment_employee"] > 20

    result = db(desk, "move", "--to", bare(pg_url), "--yes", "--password-stdin", input=pg_cluster.PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    assert "enrollment_employee" in result.stdout and "sha256" in result.stdout
    assert "申报记录（提交日志）2 条完整无误" in result.stdout and "保持不变" in result.stdout
    assert pg_cluster.PASSWORD not in everything_written(desk, result)
    assert json.loads(settings_text(desk))["database_url"] == bare(pg_url)
    assert memory_keyring.entries == {(db_location.KEYRING_SERVICE, bare(pg_url)): pg_cluster.PASSWORD}

    code, team = db_json(desk, "status")
    assert code == 0 and team["engine"] == "postgres" and team["location"] == bare(pg_url)
    assert team["rows"] == before["rows"] and team["password"] == "keyring"
    services = build_services(desk)  # the app opens the team database from the setting
    try:
        assert services.store.team and services.store.location == bare(pg_url)
    finally:
        services.close()

    # Back to SQLite: the old file is the fallback and is not overwritten.
    refused = db(desk, "move", "--to", "sqlite", "--yes")
    assert refused.exit_code == 1 and "不会覆盖" in refused.stderr and "移到别处" in refused.stderr
    assert json.loads(settings_text(desk))["database_url"] == bare(pg_url)
    aside = tmp_path / "aside"
    aside.mkdir()
    for part in desk.glob(DB_FILE + "*"):
        part.rename(aside / part.name)
    code, back = db_json(desk, "move", "--to", "sqlite", "--yes")
    assert code == 0 and back["move"]["journal_intact"] and back["move"]["journal_entries"] == 2
    assert json.loads(settings_text(desk))["database_url"] == ""
    code, again = db_json(desk, "status")
    assert again["engine"] == "sqlite" and again["rows"] == before["rows"]
    # Same tables, rows and checksums as the data the desk started with.
    first = Store(aside)
    try:
        original = {t: first.table_columns(t) for t in first.tables()}
        from client.core import db_move

        sums = {t: db_move.table_checksum(first.db, info) for t, info in original.items()}
    finally:
        first.close()
    assert {t["table"]: (t["rows"], t["checksum"]) for t in back["move"]["tables"]} == sums


def test_wrong_password_is_refused_and_nothing_stored(home: Path, pg_url: str, memory_keyring: Any) -> None:
    result = db(home, "use", bare(pg_url), "--password-stdin", input="Wrong-pass-123\n")
    assert result.exit_code == 4
    assert "团队数据库拒绝了用户「postgres」的密码" in result.stderr and "什么都没有保存" in result.stderr
    assert "Wrong-pass-123" not in everything_written(home, result)
    assert "database_url" not in settings_text(home) and memory_keyring.entries == {}


def test_use_keeps_the_password_in_the_keyring_only(home: Path, pg_url: str, memory_keyring: Any) -> None:
    code, body = db_json(home, "use", bare(pg_url), "--password-stdin", input=pg_cluster.PASSWORD + "\n")
    assert code == 0 and body["location"]["engine"] == "postgres"
    assert body["location"]["migrated"] == list(range(1, migrations.LATEST + 1))
    assert body["location"]["password"] == "keyring"
    assert pg_cluster.PASSWORD not in settings_text(home)
    assert json.loads(settings_text(home))["database_url"] == bare(pg_url)
    # Again, the password known: nothing to migrate, none asked.
    code, body = db_json(home, "use", bare(pg_url))
    assert code == 0 and body["location"]["migrated"] == []
    code, body = db_json(home, "use", "sqlite")
    assert code == 0 and body["location"]["engine"] == "sqlite"
    assert json.loads(settings_text(home))["database_url"] == ""


def test_without_a_keyring_the_password_lives_for_this_run_and_says_so(home: Path, pg_url: str) -> None:
    result = db(home, "use", pg_url)  # the password in the URL: warned about, still never shown
    assert result.exit_code == 0, result.stderr
    assert "建议改用 --password-stdin" in result.stderr
    assert "只保存在本次运行的内存中" in result.stdout and "没有可用的系统密钥环" in result.stderr
    assert pg_cluster.PASSWORD not in everything_written(home, result)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server(home: Path) -> None:
    result = db(home, "use", f"postgresql://clerk@127.0.0.1:{_free_port()}/socialfee", "--password-stdin",
                input="x-password\n")
    assert result.exit_code == 3 and "无法连接团队数据库服务器 127.0.0.1:" in result.stderr


@pytest.fixture
def not_postgres() -> Iterator[int]:
    """A server on 127.0.0.1 that answers every connection as a web server would."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


def test_a_server_that_is_not_postgres(home: Path, not_postgres: int) -> None:
    result = db(home, "use", f"postgresql://clerk@127.0.0.1:{not_postgres}/socialfee", "--password-stdin",
                input="pw-12345\n")
    assert result.exit_code == 3, result.stderr
    assert f"127.0.0.1:{not_postgres} 上不是 PostgreSQL 数据库服务器" in result.stderr


def test_missing_foreign_and_newer_databases(home: Path, pg_url: str) -> None:
    server = pg_url.rsplit("/", 1)[0]
    result = db(home, "use", f"{server}/no_such_db")
    assert result.exit_code == 1 and "没有数据库「no_such_db」" in result.stderr
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    result = db(home, "use", pg_url)
    assert result.exit_code == 1 and "1 个其他程序的数据表" in result.stderr
    newer = pg_cluster.fresh_url()
    Store(home, newer).close()
    with psycopg.connect(newer, autocommit=True) as conn:
        conn.execute("UPDATE socialfee_schema SET version = %s", (migrations.LATEST + 1,))
    result = db(home, "use", newer)
    assert result.exit_code == 1 and "更新版本的 socialfee" in result.stderr
    assert "database_url" not in settings_text(home)


def test_bad_url_is_a_usage_error(home: Path) -> None:
    result = db(home, "use", "http://example.com/x")
    assert result.exit_code == 2 and "postgresql://" in result.stderr


def test_refused_while_the_client_runs_on_the_folder(home: Path) -> None:
    held = home_lock.try_hold(home, home_lock.DESKTOP)
    assert held is not None
    try:
        for args in (("status",), ("use", "sqlite"), ("move", "--to", "sqlite", "--yes")):
            result = db(home, *args)
            assert result.exit_code == 5 and "客户端程序正在使用数据目录" in result.stderr
    finally:
        held.release()


def test_move_asks_for_yes_and_refuses_a_target_with_data(desk: Path, pg_url: str) -> None:
    result = db(desk, "move", "--to", pg_url)
    assert result.exit_code == 1 and "请加 --yes" in result.stderr
    with psycopg.connect(pg_url) as conn:  # refused before the target was even opened
        assert conn.execute("SELECT to_regclass('unit')").fetchone()[0] is None
    assert db(desk, "move", "--to", pg_url, "--yes").exit_code == 0
    # The team database has the unit now: a second desk's move into it is refused.
    other = desk.parent / "other"
    other.mkdir()
    Store(other).close()
    code, body = db_json(other, "move", "--to", pg_url, "--yes")
    assert code == 1 and body["error"]["code"] == "db_move_not_empty"
    assert "1 个单位、2 条申报记录" in body["error"]["message"]
    assert "database_url" not in settings_text(other)


def test_move_to_sqlite_from_sqlite_is_refused(home: Path) -> None:
    result = db(home, "move", "--to", "sqlite", "--yes")
    assert result.exit_code == 1 and "当前已在使用本机数据库" in result.stderr


def test_move_with_a_wrong_password_changes_nothing(desk: Path, pg_url: str, memory_keyring: Any) -> None:
    result = db(desk, "move", "--to", bare(pg_url), "--yes", "--password-stdin", input="Not-the-password\n")
    assert result.exit_code == 4
    assert "拒绝了用户「postgres」的密码" in result.stderr and "当前数据没有被修改" in result.stderr
    assert "Not-the-password" not in everything_written(desk, result)
    assert "database_url" not in settings_text(desk) and memory_keyring.entries == {}
    with psycopg.connect(pg_url) as conn:  # not even the tables were created
        assert conn.execute("SELECT to_regclass('unit')").fetchone()[0] is None
