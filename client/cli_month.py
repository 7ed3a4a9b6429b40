"""`socialfee month ...`: the monthly routine from the command line, for many units.

Each command works on the units named by ``--unit`` (repeatable) or ``--all`` (every unit
known on this PC; with ``--operator`` only the units assigned to that operator, who signs in
first and is who the journal and the log record: client/cli_month_operator.py), one after
another: log in with the declaration password, do the step
through the same core/sync services as the pages (client/cli_month_steps.py), log out.
A unit that fails does not stop the others.

Exit codes (docs/cli.md): 0 done; 1 a business error (rows with errors, a refusal, a
rejected declaration, nothing to confirm without --yes); 2 usage (unknown unit, bad
option, password lines not matching the units); 3 the tax side unreachable or a
submission whose outcome is unknown or still queued (run ``feedback`` again later);
4 the declaration password refused, locked or missing, or the operator's password refused or
their role without the permission; 5 the data folder in use by the
desktop client (one writer). With several units the exit code is the highest of theirs.

The declaration password comes from the OS keyring (saved at a login with 「记住申报密码」
or by ``save-password``) or from standard input (``--password-stdin``: one line for all
units, or one line per unit in the order given), never from an argument or the environment.

``--json`` prints one JSON document on stdout: ``{"ok", "command", "exit_code", "units":
[{"unit_id", "name", "ok", "exit_code", "error", "messages", ...the step's result}]}``,
amounts as decimal text, IDs as text.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from client import cli_month_operator
from client.core import home_lock, operators, passwords, units
from client.errors import AuthError, NetworkError, SocialFeeError
from client.settings import prepare_home, resolve_home
from client.sync.session import MUST_CHANGE

log = logging.getLogger(__name__)

OK, BUSINESS, USAGE, UNREACHABLE, PASSWORD, IN_USE = 0, 1, 2, 3, 4, 5
# Codes of failed jobs (their exception class is gone by then) that mean "no answer".
NETWORK_CODES = frozenset({"bad_response", "offline", "taxside_busy", "no_taxside_url"})
JOB_WAIT_S = 600.0


class Unresolved(NetworkError):
    """A submission saved in the journal whose outcome is not known yet (exit 3)."""

    code = "outcome_unknown"


class PasswordMissing(AuthError):
    code = "password_missing"


class JobFailed(SocialFeeError):
    """A background job of the session failed; its code says which exit code it means."""


def exit_code_of(exc: SocialFeeError) -> int:
    if isinstance(exc, AuthError):
        return PASSWORD
    if isinstance(exc, NetworkError):
        return UNREACHABLE
    if isinstance(exc, JobFailed):
        if exc.code.startswith("network") or exc.code in NETWORK_CODES:
            return UNREACHABLE
        if exc.code.startswith("token") or "password" in exc.code:
            return PASSWORD
    return BUSINESS


@dataclass
class UnitRun:
    """One unit's run of a step: what it says, what it returns, how it ended."""

    services: Any  # client.services.Services
    unit: units.LocalUnit
    options: dict[str, Any]
    messages: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    exit_code: int = OK
    error: dict[str, Any] | None = None

    @property
    def pk(self) -> int:
        return self.unit.id

    @property
    def session(self) -> Any:
        return self.services.session

    @property
    def store(self) -> Any:
        return self.services.store

    def say(self, line: str) -> None:
        self.messages.append(line)

    def hint(self) -> str:
        """How to name this unit in a follow-up command."""
        return f"socialfee month feedback --unit {self.unit.unit_id}"

    def wait_for_jobs(self) -> None:
        """Let this unit's background jobs (the refreshes after login) finish."""
        deadline = time.monotonic() + JOB_WAIT_S
        while self.services.jobs.find(unit_id=self.pk, active_only=True) and time.monotonic() < deadline:
            time.sleep(0.05)

    def job_result(self, job_id: str) -> dict[str, Any]:
        """Follow a started job to its end; its result, or its failure raised as JobFailed."""
        deadline = time.monotonic() + JOB_WAIT_S
        job = self.services.jobs.get(job_id)
        while job.active and time.monotonic() < deadline:
            time.sleep(0.05)
            job = self.services.jobs.get(job_id)
        if job.state != "succeeded":
            error = job.error or {"code": "job_failed", "message": f"「{job.title}」未能完成"}
            raise JobFailed(str(error.get("message") or ""), code=str(error.get("code") or "job_failed"))
        return dict(job.result or {})

    def to_dict(self) -> dict[str, Any]:
        return {"unit_id": self.unit.unit_id, "name": self.unit.name, "ok": self.exit_code == OK,
                "exit_code": self.exit_code, "error": self.error, "messages": self.messages, **self.result}


Step = Callable[[UnitRun], None]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dump_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, default=_json_default)


def unit_options(command: Any) -> Any:
    """--unit, --all and --json, shared by every command of the group."""
    for option in reversed((
        click.option("--unit", "unit_ids", multiple=True, metavar="单位编号",
                     help="社保费单位编号（可重复，按给出的顺序处理）"),
        click.option("--all", "all_units", is_flag=True, help="本机已登录过的全部单位"),
        click.option("--json", "as_json", is_flag=True, help="在标准输出打印一个 JSON 文档（供脚本读取）"),
        click.option("--operator", "operator", default=None, metavar="登录名",
                     help="以该操作员身份运行（多人使用时必填）：密码从标准输入读取（第一行），按其角色权限和"
                          "分配的单位处理，记录中为该操作员"),
    )):
        command = option(command)
    return command


def password_option(command: Any) -> Any:
    return click.option(
        "--password-stdin", is_flag=True,
        help="从标准输入读取申报密码：一行用于全部单位，或每个单位一行（按单位顺序）；不指定时用系统密码库中保存的密码",
    )(command)


def read_passwords(unit_ids: Sequence[str], lines: list[str] | None) -> dict[str, str]:
    """One line for every unit, or one line per unit in order; never echoed, never logged.
    ``lines``: standard input's (after the operator's password); None at a terminal, where
    each unit's password is asked for without echo instead."""
    if lines is None:
        return {u: click.prompt(f"单位 {u} 的申报密码", hide_input=True, err=True) for u in unit_ids}
    if not lines or any(not line for line in lines):
        raise click.UsageError("--password-stdin 需要从标准输入读到申报密码（每行一个，不能有空行）")
    if len(lines) == 1:
        return dict.fromkeys(unit_ids, lines[0])
    if len(lines) != len(unit_ids):
        raise click.UsageError(
            f"标准输入有 {len(lines)} 行密码，但要处理 {len(unit_ids)} 个单位：请给一行（全部单位共用）或每个单位一行"
        )
    return dict(zip(unit_ids, lines, strict=True))


def chosen_units(unit_ids: Sequence[str], all_units: bool, *, single: bool = False,
                 allow_none: bool = False) -> list[units.LocalUnit]:
    if all_units and unit_ids:
        raise click.UsageError("--unit 和 --all 只能选一种")
    if all_units:
        found = units.list_units()
        if not found and not allow_none:
            raise click.UsageError("本机还没有单位：请先在客户端中登录单位")
        found.sort(key=lambda u: u.unit_id)
    else:
        if not unit_ids:
            raise click.UsageError("请用 --unit <单位编号> 指定单位，或用 --all 处理本机全部单位")
        found, seen = [], set()
        for unit_id in unit_ids:
            local = units.get_unit(unit_id.strip())
            if local is None:
                raise click.UsageError(f"本机没有单位 {unit_id}：请先在客户端中登录该单位一次（或运行 month units 查看）")
            if local.unit_id not in seen:
                seen.add(local.unit_id)
                found.append(local)
    if single and len(found) != 1:
        raise click.UsageError("该命令一次只处理一个单位：请用一个 --unit 指定")
    return found


def only_assigned(found: list[units.LocalUnit], allowed: frozenset[str] | None, all_units: bool,
                  login_name: str | None) -> list[units.LocalUnit]:
    if allowed is None:
        return found
    if all_units:
        return [u for u in found if u.unit_id in allowed]
    refused = [u.unit_id for u in found if u.unit_id not in allowed]
    if refused:
        raise click.UsageError(f"单位 {'、'.join(refused)} 未分配给操作员 {login_name}")
    return found


def enter(run: UnitRun, password: str | None, *, remember: bool = False) -> None:
    """Log the unit in as the pages do (安全验证, then 确认), and let the refreshes run;
    ``remember``: only check the password and save it in the keyring."""
    unit = run.unit
    if not password:
        password = passwords.recall_password(unit.unit_id)
    if not password:
        raise PasswordMissing(
            f"本机没有保存单位 {unit.unit_id} 的申报密码：请用 --password-stdin 从标准输入提供，"
            f"或先运行 socialfee month save-password --unit {unit.unit_id} --password-stdin"
        )
    session = run.session
    try:
        view = session.login(unit.unit_id, password, remember=remember)
    except NetworkError as exc:
        if exc.code == "offline_available":  # the page's offer; the command line does not enter offline
            reason = exc.message.split("。本机曾登录过")[0]
            raise NetworkError(f"{reason}。请稍后重试", code="network_unreachable") from None
        raise
    if view.state == MUST_CHANGE:
        session.logout(record=False)
        raise PasswordMissing("该单位仍使用初始申报密码：请先在客户端中登录一次并修改申报密码", code="must_change")
    if remember:
        session.logout(record=False)
        return
    session.confirm()
    run.wait_for_jobs()


def run_step(ctx: click.Context, step: Step, *, command: str, unit_ids: Sequence[str], all_units: bool,
             as_json: bool, login: bool = True, password_stdin: bool = False, single: bool = False,
             remember: bool = False, allow_none: bool = False, operator: str | None = None,
             options: dict[str, Any] | None = None) -> None:
    """Run ``step`` for every chosen unit with the data folder held; exits with the code."""
    root = ctx.find_root().obj or {}
    home = prepare_home(resolve_home(root.get("home")))
    try:
        lock = home_lock.hold(home, home_lock.CLI)
    except home_lock.HomeInUse as exc:
        finish(command, [], as_json, IN_USE, exc)
        return
    services = None
    try:
        services = root["build_services"](home)
        chosen = chosen_units(unit_ids, all_units, single=single, allow_none=allow_none or operator is not None)
        reading = operator is not None or (login and password_stdin)
        lines = cli_month_operator.stdin_lines() if reading and not sys.stdin.isatty() else None
        # The operator signs in before any unit is touched; everything after runs as them.
        identity = cli_month_operator.sign_in(services.store, operator, command, lines)
        cli_month_operator.check_allowed(identity, command, options or {})
        chosen = only_assigned(chosen, identity.units if identity else None, all_units, operator)
        secrets = read_passwords([u.unit_id for u in chosen], lines) if login and password_stdin else {}
        with operators.acting_as(identity):
            runs = run_units(services, step, chosen, secrets, command=command, as_json=as_json, login=login,
                             remember=remember, options=options)
        if not chosen and not as_json:
            click.echo("没有分配给该操作员的单位" if operator else "本机还没有单位：请先在客户端中登录单位")
        finish(command, runs, as_json, max((r.exit_code for r in runs), default=OK))
    except SocialFeeError as exc:  # before any unit ran (a corrupt database, the operator refused, ...)
        finish(command, [], as_json, exit_code_of(exc), exc)
    finally:
        if services is not None:
            services.close()
        lock.release()


def run_units(services: Any, step: Step, chosen: Sequence[units.LocalUnit], secrets: dict[str, str], *,
              command: str, as_json: bool, login: bool, remember: bool,
              options: dict[str, Any] | None) -> list[UnitRun]:
    """One unit after another; a unit that fails does not stop the others."""
    runs = []
    for unit in chosen:
        run = UnitRun(services, unit, dict(options or {}))
        runs.append(run)
        try:
            if login:
                enter(run, secrets.get(unit.unit_id), remember=remember)
            step(run)
        except SocialFeeError as exc:
            run.exit_code, run.error = exit_code_of(exc), exc.to_dict()
        except OSError as exc:  # e.g. --out on a read-only or full disk: say which file, not "意外失败"
            run.exit_code = BUSINESS
            where = exc.filename or "输出文件夹"
            run.error = {"code": "write_failed", "message": f"无法写入 {where}：{exc.strerror or exc}",
                         "field": "out", "row": None}
        except Exception:  # a defect: this unit fails, the others still run
            log.exception("month %s failed for unit %s", command, unit.unit_id)
            run.exit_code = BUSINESS
            run.error = {"code": "internal", "message": "意外失败，详情已记录在日志中", "field": None, "row": None}
        finally:
            if login:
                run.wait_for_jobs()
                services.session.logout()
        if not as_json:  # as each unit ends: a long run shows its progress
            show(run)
    return runs


def show(run: UnitRun) -> None:
    click.echo(f"【{run.unit.name}（{run.unit.unit_id}）】")
    for line in run.messages:
        click.echo(f"  {line}")
    if run.error:
        click.echo(f"  错误：{run.error['message']}", err=True)


def finish(command: str, runs: Sequence[UnitRun], as_json: bool, code: int,
           error: SocialFeeError | None = None) -> None:
    if as_json:
        click.echo(dump_json({"ok": code == OK, "command": command, "exit_code": code,
                              "error": error.to_dict() if error else None, "units": [r.to_dict() for r in runs]}))
    if error is not None:
        click.echo(f"错误：{error.message}", err=True)
    if code != OK:
        raise click.exceptions.Exit(code)


# -- the group ------------------------------------------------------------------------------------
@click.group("month")
def month_group() -> None:
    """每月例行业务（可批量处理多个单位）：更新参保信息、缴费工资申报、获取反馈、社保费申报、欠费、缴款凭证、导出

    退出码：0 成功；1 业务错误（数据有误、被拒绝等）；2 用法错误；3 无法连接税务端或申报结果未知（稍后运行 feedback）；
    4 申报密码错误、锁定或未提供；5 数据目录正被客户端程序使用。
    """


def _register() -> None:
    from client import cli_month_commands  # noqa: F401  (the commands attach themselves)


_register()
