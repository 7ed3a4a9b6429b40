"""`socialfee month --operator LOGIN`: the operator signs in before any unit is touched.

The operator's password comes from standard input (the first line; at a terminal it is
asked without echo), never from an argument, and is checked by the same rule as the
window's operator login (client/core/operators.py: frozen, the count of wrong passwords, the
timed lock, a reset password to change first). The command then runs as that operator: their
role's permissions decide whether it may run at all (refused with exit 4 before any unit),
their units which units it works on, and the journal and the operation log record their
name (client/core/operators.py ``acting_as``; the jobs a step starts inherit it).

In 单人使用 ``--operator`` is not needed (the OS user acts, as in the window); in 多人使用 it
is, as the window asks every start for an operator login.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import click

from client.core import audit, operators, passwords, permissions
from client.errors import AuthError

# What each command needs: every group must be met, a group by any one of its permissions.
# The same as the pages' buttons (client/core/permissions.py RULES); asking the tax side
# for figures (summaries, arrears, printing issued vouchers) is viewing there too.
NEEDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "month save-password": (),  # the unit login wizard is open to every operator
    "month enrollment": (("enrollment.edit",),),
    "month wage-import": (("wage_base.edit",),),
    "month wage-submit": (("wage_base.submit",),),
    # Sends what is already queued and fetches results: whoever may submit either kind.
    "month feedback": (("wage_base.submit", "fee_declaration.submit"),),
    "month summaries": (("fee_declaration.view",),),
    "month declare": (("fee_declaration.submit",),),
    "month arrears": (("payment.view",),),
    "month vouchers": (("payment.view",),),
    "month export": (),
}
EXPORT_NEEDS = {"enrollment": "enrollment.view", "wage-base": "wage_base.view", "fees": "fee_declaration.view",
                "payments": "payment.view"}
MULTI_NEEDS_OPERATOR = ("本客户端为多人使用：请用 --operator <登录名> 指定操作员（操作员密码从标准输入读取，"
                        "与 --password-stdin 同用时为第一行）")


class OperatorRefused(AuthError):
    """The operator's role may not run this command (exit 4, as a refused password)."""

    code = "forbidden"


def needs(command: str, options: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    found = list(NEEDS.get(command, ((permissions.ADMIN_ONLY,),)))  # a new command nobody mapped: administrators
    if command == "month wage-import" and options.get("submit"):
        found.append(("wage_base.submit",))
    if command == "month vouchers" and options.get("issue"):
        found.append(("payment.pay",))
    if command == "month export":
        found += [(EXPORT_NEEDS[w],) for w in options.get("what") or EXPORT_NEEDS]
    return tuple(found)


STDIN_LIMIT = 256 * 1024


def stdin_lines() -> list[str]:
    """Standard input's lines, read once (the operator's password, then declaration passwords).
    Bounded: passwords are short, and one line per unit is a few KB even for many units."""
    text = sys.stdin.read(STDIN_LIMIT + 1)
    if len(text) > STDIN_LIMIT:
        raise click.UsageError(f"标准输入超过 {STDIN_LIMIT // 1024} KB：这里只应有密码，每行一个")
    lines = [line.rstrip("\r\n") for line in text.splitlines()]
    for number, line in enumerate(lines, 1):
        if len(line) > passwords.MAX_LENGTH:
            # Never sent to the tax side: a line this long is no password and would spend an attempt.
            raise click.UsageError(f"标准输入第 {number} 行超过 {passwords.MAX_LENGTH} 个字符，不是密码")
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _operator_password(login_name: str, lines: list[str] | None) -> str:
    if lines is None:  # a terminal: asked without echo
        return str(click.prompt(f"操作员 {login_name} 的密码", hide_input=True, err=True))
    if not lines or not lines[0]:
        raise click.UsageError("--operator 需要从标准输入读到操作员密码（第一行；与 --password-stdin 同用时其后为申报密码）")
    return lines.pop(0)


def sign_in(store: Any, login_name: str | None, command: str,
            lines: list[str] | None) -> operators.Identity | None:
    """The operator the command runs as (None: 单人使用 without --operator, the OS user);
    ``lines``: standard input's lines (None at a terminal), the password taken off the front."""
    if login_name is None:
        if operators.mode(store) == operators.MULTI and command != "month units":
            raise AuthError(MULTI_NEEDS_OPERATOR, code="operator_login_required", field="operator")
        return None
    password = _operator_password(login_name, lines)
    where = f"命令行 {command}"
    try:
        identity = operators.authenticate(store, login_name, password)
    except AuthError as exc:
        audit.record(store, "操作员登录失败", f"登录名 {login_name.strip()[:32]}（{where}）：{exc.message}")
        raise
    with operators.acting_as(identity):
        audit.record(store, "操作员登录", f"{identity.name}（{identity.login_name}，{identity.role.name}，{where}）")
    if identity.must_change:
        raise AuthError(f"管理员已重置操作员 {identity.name} 的密码：请先在客户端中登录并修改密码",
                        code="password_change_required", field="operator")
    return identity


def check_allowed(identity: operators.Identity | None, command: str, options: Mapping[str, Any]) -> None:
    """Refuse, before any unit, a command the operator's role may not run."""
    if identity is None:
        return
    for group in needs(command, options):
        if not any(permissions.allowed(identity.permissions, identity.is_admin, p) for p in group):
            what = "或".join(permissions.label(p) for p in group)
            raise OperatorRefused(
                f"当前操作员无权执行此操作：{what}（操作员 {identity.name}，角色 {identity.role.name}）",
                field="operator",
            )
