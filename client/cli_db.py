"""`socialfee db ...`: where this desk's data live (docs/cli.md, docs/team.md).

- ``status``: the engine, the location (never a password), the schema version, the rows of
  the main tables.
- ``use URL`` / ``use sqlite``: test a PostgreSQL database (or the SQLite file) and make it
  this desk's data location (client/core/db_location.py); takes effect at the next start.
- ``move --to URL|sqlite``: copy the current location's data into the empty target, verify
  every table (rows and checksums), then switch to the target; the source is left as it
  was, the fallback (client/core/db_move.py).

The password comes from the URL, from standard input (``--password-stdin``, the first
line) or a prompt without echo; it is never printed or logged and is kept in the OS keyring.
Every command holds the data folder like ``month`` does and refuses while the desktop client
runs on it. Exit codes as ``month``: 0 done; 1 refused (a target with data, a failed check,
no ``--yes``); 2 usage (a bad URL); 3 the database server unreachable; 4 the password
refused or missing; 5 the data folder in use.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from client import logs
from client.core import db_location, db_move, home_lock
from client.core.store import Store
from client.errors import AuthError, NetworkError, SocialFeeError, ValidationError
from client.settings import Settings, prepare_home, resolve_home

OK, BUSINESS, USAGE, UNREACHABLE, PASSWORD, IN_USE = 0, 1, 2, 3, 4, 5
SQLITE = "sqlite"
# The main tables `status` counts, with their names on the screen.
MAIN_TABLES = (
    ("unit", "单位"),
    ("enrollment_employee", "参保职工"),
    ("wage_base_draft", "缴费工资申报草稿"),
    ("submission", "申报记录（提交日志）"),
    ("fee_record", "社保费申报记录"),
    ("payment_record", "缴款记录"),
    ("operator", "操作员"),
    ("audit_log", "操作日志"),
)
KEPT_LABELS = {"keyring": "保存在系统密钥环中", "memory": "只保存在本次运行的内存中", "": "未保存（不需要或未提供）"}


def exit_code_of(exc: SocialFeeError) -> int:
    if isinstance(exc, home_lock.HomeInUse):
        return IN_USE
    if isinstance(exc, AuthError):
        return PASSWORD
    if isinstance(exc, NetworkError):
        return UNREACHABLE
    if isinstance(exc, ValidationError):
        return USAGE
    return BUSINESS


def finish(command: str, as_json: bool, body: dict[str, Any], error: SocialFeeError | None = None) -> None:
    code = exit_code_of(error) if error else OK
    if as_json:
        from client.cli_month import dump_json

        click.echo(dump_json({"ok": code == OK, "command": command, "exit_code": code,
                              "error": error.to_dict() if error else None, **body}))
    if error is not None:
        click.echo(f"错误：{error.message}", err=True)
    if code != OK:
        raise click.exceptions.Exit(code)


@contextmanager
def held_folder(ctx: click.Context) -> Iterator[Settings]:
    """The data folder, held as `month` holds it; its settings."""
    root = ctx.find_root().obj or {}
    home = prepare_home(resolve_home(root.get("home")))
    lock = home_lock.hold(home, home_lock.CLI)
    try:
        logs.setup_logging(home)
        yield Settings(home)
    finally:
        lock.release()


def run(ctx: click.Context, command: str, as_json: bool, work: Callable[[Settings], dict[str, Any]]) -> None:
    try:
        with held_folder(ctx) as settings:
            body = work(settings)
    except SocialFeeError as exc:
        finish(command, as_json, {}, exc)
        return
    finish(command, as_json, body)


def read_password(bare: str, password_stdin: bool) -> str | None:
    """From standard input's first line, else a prompt at a terminal (a known one is kept)."""
    if password_stdin:
        line = sys.stdin.readline(4096).rstrip("\r\n")  # bounded: a password, not a file
        if line:
            logs.register_secret(line)
        return line or None
    if db_location.recall_password(bare) is not None or not sys.stdin.isatty():
        return None  # use() takes the known one; without a terminal: none (trust, .pgpass)
    user = bare.split("//", 1)[1].rpartition("@")[0] or "（默认用户）"
    typed = click.prompt(f"数据库用户 {user} 的密码（不需要密码时直接回车）", hide_input=True, default="",
                         show_default=False, err=True)
    if typed:
        logs.register_secret(typed)
    return typed or None


def target_password(url: str, password_stdin: bool) -> tuple[str, str | None]:
    """(URL without password, password) of a URL typed on the command line."""
    bare, in_url = db_location.parse(url)
    if in_url is not None:
        logs.register_secret(in_url)
        click.echo("提示：写在地址中的密码会留在命令历史和进程列表中，建议改用 --password-stdin。", err=True)
        return bare, in_url
    return bare, read_password(bare, password_stdin)


# -- the group ------------------------------------------------------------------------------------
@click.group("db")
def db_group() -> None:
    """数据位置：本机 SQLite 数据库或团队 PostgreSQL 数据库（查看、改用、迁移）

    退出码：0 成功；1 被拒绝（目标已有数据、校验未通过、未加 --yes 等）；2 用法错误（地址不正确）；
    3 无法连接数据库服务器；4 数据库密码错误或未提供；5 数据目录正被客户端程序使用。
    """


@db_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.pass_context
def db_status(ctx: click.Context, as_json: bool) -> None:
    """当前的数据位置、数据结构版本和主要数据表的行数"""

    def work(settings: Settings) -> dict[str, Any]:
        bare = db_location.configured(settings)
        store = db_location.open_store(settings.path.parent, db_location.resolve(settings))
        try:
            rows = {name: int(store.db.execute_sql(f'SELECT count(*) FROM "{name}"').fetchone()[0])
                    for name, _ in MAIN_TABLES}
            body = {"engine": store.dialect, "location": store.location, "schema_version": store.schema_version,
                    "password": db_location.password_kept(bare), "rows": rows}
        finally:
            store.close()
        if not as_json:
            kind = "团队数据库（PostgreSQL）" if body["engine"] == "postgres" else "本机数据库（SQLite）"
            click.echo(f"数据位置：{kind} {body['location']}")
            click.echo(f"数据结构版本：{body['schema_version']}")
            if bare:
                click.echo(f"数据库密码：{KEPT_LABELS[body['password']]}")
            for name, label in MAIN_TABLES:
                click.echo(f"  {label}：{rows[name]:,} 行")
        return body

    run(ctx, "db status", as_json, work)


@db_group.command("use")
@click.argument("url")
@click.option("--password-stdin", is_flag=True, help="从标准输入的第一行读取数据库密码")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.pass_context
def db_use(ctx: click.Context, url: str, password_stdin: bool, as_json: bool) -> None:
    """改用 URL 所指的团队数据库（postgresql://用户@服务器:端口/数据库名），或 sqlite（本机数据库）

    先测试连接并打开数据库（新的空数据库会建好数据表），通过后才保存；下次启动客户端时生效。
    本机已有的数据不会被带过去：要带上现有数据，请用 socialfee db move。
    """

    def work(settings: Settings) -> dict[str, Any]:
        if url.strip().lower() == SQLITE:
            report = db_location.use_sqlite(settings)
        else:
            _, password = target_password(url, password_stdin)
            report = db_location.use(settings, url, password=password)
        if not as_json:
            say_report(report)
        return {"location": report.to_dict()}

    run(ctx, "db use", as_json, work)


def say_report(report: db_location.Report) -> None:
    kind = "团队数据库（PostgreSQL）" if report.engine == "postgres" else "本机数据库（SQLite）"
    click.echo(f"已改用{kind}：{report.location}（数据结构版本 {report.schema_version}）")
    if report.migrated:
        click.echo(f"  已建立或升级数据表（版本 {report.migrated[0]}–{report.migrated[-1]}）")
    if report.engine == "postgres":
        click.echo(f"  数据库密码：{KEPT_LABELS[report.password]}")
    for note in report.notes:
        click.echo(f"  注意：{note}", err=True)
    click.echo("  重新启动客户端后生效。")


@db_group.command("move")
@click.option("--to", "target", required=True, help="目标：postgresql://用户@服务器:端口/数据库名，或 sqlite")
@click.option("--yes", is_flag=True, help="不再询问，直接迁移")
@click.option("--password-stdin", is_flag=True, help="从标准输入的第一行读取目标数据库的密码")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.pass_context
def db_move_command(ctx: click.Context, target: str, yes: bool, password_stdin: bool, as_json: bool) -> None:
    """把当前数据位置的全部数据迁移到空的目标数据库，逐表校验行数和校验和后改用目标

    原来的数据保持不变，可作为后备。目标必须是空的（没有单位和申报记录）。
    """

    def work(settings: Settings) -> dict[str, Any]:
        home = settings.path.parent
        to_sqlite = target.strip().lower() == SQLITE
        if to_sqlite and not db_location.configured(settings):
            raise db_move.MoveError("当前已在使用本机数据库（SQLite），无需迁移。", code="db_move_same")
        if not yes and not sys.stdin.isatty():  # before anything is opened, let alone created
            raise db_move.MoveError("迁移前需要确认：请加 --yes。什么都没有修改。", code="confirm")
        bare, password = ("", None) if to_sqlite else target_password(target, password_stdin)
        if bare and password is None:
            password = db_location.recall_password(bare)
        source = db_location.open_store(home, db_location.resolve(settings))
        try:
            target_url = db_location.with_password(bare, password) if bare else None
            target_store = db_location.open_store(home, target_url, db_location.NOTHING_CHANGED)
            try:
                report = _move(source, target_store, to_sqlite, yes, as_json)
            finally:
                target_store.close()
        finally:
            source.close()
        # Verified: this desk now works on the target (the source stays as it was).
        kept = db_location.remember_password(bare, password) if bare and password else ""
        settings.update({db_location.SETTING: bare})
        if not as_json:
            say_move(report, kept)
        return {"move": report.to_dict(), "password": kept}

    run(ctx, "db move", as_json, work)


def _move(source: Store, target: Store, to_sqlite: bool, yes: bool, as_json: bool) -> db_move.MoveReport:
    if not yes:  # at a terminal (checked before): the locations are known now
        click.confirm(f"把 {source.location} 的全部数据迁移到 {target.location}，校验通过后改用它。继续？",
                      abort=True, err=True)

    def progress(table: str, done: int, total: int) -> None:
        if not as_json and total >= db_move.BATCH:
            click.echo(f"  正在迁移 {table}：{done:,} / {total:,} 行", err=True)

    try:
        return db_move.move(source, target, progress)
    except db_move.ConflictError as exc:
        if to_sqlite and exc.code == "db_move_not_empty":
            exc.message += (f"数据目录中的 {Path(target.location).name} 可能是改用团队数据库之前的本机数据："
                            f"如需迁回，请先把它移到别处保存。")
        raise


def say_move(report: db_move.MoveReport, kept: str) -> None:
    click.echo(f"已把 {report.source} 的数据迁移到 {report.target}（数据结构版本 {report.schema_version}）：")
    width = max(len(t.table) for t in report.tables)
    for t in sorted(report.tables, key=lambda t: t.table):  # copied parents first; read by name
        click.echo(f"  {t.table:<{width}}  {t.rows:>10,} 行  sha256 {t.checksum}")
    click.echo(f"共 {report.rows:,} 行，逐表校验（行数和校验和）一致；申报记录（提交日志）{report.journal_entries:,} 条完整无误。"
               f"用时 {report.seconds:.1f} 秒。")
    if kept:
        click.echo(f"数据库密码：{KEPT_LABELS[kept]}")
        if kept == "memory":
            click.echo(f"注意：{db_location.MSG_NO_KEYRING}", err=True)
    click.echo(f"已改用 {report.target}，重新启动客户端后生效；原来的数据 {report.source} 保持不变，可作为后备。")
