"""`socialfee month --operator LOGIN` in 多人使用, against the live reference tax side: the
operator signs in with the password from standard input (the same wrong-password count and
lock as the window), the role's permissions decide whether the command runs (exit 4 before
any unit), the assigned units which units, and the journal and the log record the operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from client.app import build_services
from client.core import operators
from client.core.operators_roles import role_by_key
from tests.cli.test_month_cli import (  # noqa: F401  (live, prepared: fixtures)
    PASSWORD_LINE,
    live,
    local,
    month,
    month_json,
    payroll_file,
    prepared,
    taxside_count,
)
from tests.taxside_fixtures import LiveTaxSide

ADMIN_PW, HR_PW, FIN_PW = "Guanli-2025", "Renshi-2025", "Caiwu-2025"


@pytest.fixture
def multi(home: Path, prepared: list[Any]) -> tuple[str, str]:  # noqa: F811
    """多人使用: 李人事 (人事专员) has the first unit, 赵财务 (财务) both."""
    first, second = (c.unit_id for c in prepared)
    svc = build_services(home)
    try:
        operators.start_multi(svc.store, "王管理", "admin", ADMIN_PW, ADMIN_PW)
        operators.add_operator(svc.store, "李人事", "hr", HR_PW, HR_PW, role_by_key(svc.store, "hr").id, [first])
        operators.add_operator(svc.store, "赵财务", "fin", FIN_PW, FIN_PW, role_by_key(svc.store, "finance").id,
                               [first, second])
    finally:
        svc.close()
    return first, second


def audit_rows(home: Path, operator: str) -> list[str]:
    return [r[0] for r in local(home, "SELECT action FROM audit_log WHERE operator = ? ORDER BY id", (operator,))]


def test_the_operator_runs_with_their_role_and_is_recorded(home: Path, live: LiveTaxSide,  # noqa: F811
                                                           multi: tuple[str, str], tmp_path: Path) -> None:
    first, second = multi
    by_os_user = "SELECT count(*) FROM audit_log WHERE operator NOT IN ('王管理', '李人事', '赵财务')"
    os_before = local(home, by_os_user)  # the units' first logins, before 多人使用
    # 多人使用 needs an operator, as the window asks for one at every start.
    code, doc = month_json(home, "arrears", "--all", "--password-stdin", input=PASSWORD_LINE)
    assert code == 4 and doc["error"]["code"] == "operator_login_required" and doc["units"] == []

    # 人事专员 may not declare fees: refused before any unit, nothing sent to the tax side.
    refused = month(home, "declare", "--all", "--operator", "hr", "--password-stdin", input=HR_PW + "\n" + PASSWORD_LINE)
    assert refused.exit_code == 4
    assert "当前操作员无权执行此操作：社保费申报-提交申报（操作员 李人事，角色 人事专员）" in refused.output
    assert "【" not in refused.output and taxside_count(live, "fee_declaration") == 0
    issue = month(home, "vouchers", "--unit", first, "--issue", "--out", str(tmp_path / "v"), "--operator", "fin",
                  "--password-stdin", input=FIN_PW + "\n" + PASSWORD_LINE)
    assert issue.exit_code == 0, issue.output  # 财务 may issue
    nothing = month(home, "export", "--all", "--what", "payments", "--operator", "hr", "--out", str(tmp_path / "e"),
                    input=HR_PW + "\n")
    assert nothing.exit_code == 4 and "费款缴纳-查看" in nothing.output

    # What the role may do runs, on the operator's units only, recorded under the operator.
    submitted = month(home, "wage-import", str(payroll_file(home, first, tmp_path / "w.xlsx")), "--unit", first,
                      "--replace", "--submit", "--yes", "--operator", "hr", "--password-stdin",
                      input=HR_PW + "\n" + PASSWORD_LINE)
    assert submitted.exit_code == 0, submitted.output
    assert taxside_count(live, "wage_base_declaration") == 1
    assert [r[0] for r in local(home, "SELECT operator FROM submission")] == ["李人事"]
    logged = audit_rows(home, "李人事")
    assert "操作员登录" in logged and len(logged) > 1  # the login and what the step recorded
    not_hers = month(home, "wage-submit", "--unit", second, "--operator", "hr", "--password-stdin",
                     input=HR_PW + "\n" + PASSWORD_LINE)
    assert not_hers.exit_code == 2 and f"单位 {second} 未分配给操作员 hr" in not_hers.output
    code, owed = month_json(home, "arrears", "--all", "--operator", "fin", "--password-stdin",
                            input=FIN_PW + "\n" + PASSWORD_LINE)
    assert code == 0 and [u["unit_id"] for u in owed["units"]] == [first, second]
    assert "操作员登录" in audit_rows(home, "赵财务")
    assert local(home, by_os_user) == os_before  # nothing under the OS user once operators are on


def test_the_password_from_stdin_with_the_window_s_lock(home: Path, multi: tuple[str, str], tmp_path: Path) -> None:
    out = ("--out", str(tmp_path / "x"))
    missing = month(home, "export", "--all", "--operator", "fin", *out, input="")
    assert missing.exit_code == 2 and "操作员密码" in missing.output
    for left in range(operators.MAX_ATTEMPTS - 1, 0, -1):
        wrong = month(home, "export", "--all", "--operator", "fin", *out, input="Wrong-2025\n")
        assert wrong.exit_code == 4 and f"再输错 {left} 次将锁定" in wrong.output
    locked = month(home, "export", "--all", "--operator", "fin", *out, input="Wrong-2025\n")
    assert locked.exit_code == 4 and "已锁定" in locked.output
    still = month(home, "export", "--all", "--operator", "fin", *out, input=FIN_PW + "\n")
    assert still.exit_code == 4 and "已锁定" in still.output  # even the right password waits
    unknown = month(home, "export", "--all", "--operator", "nobody", *out, input=FIN_PW + "\n")
    assert unknown.exit_code == 4 and "登录名或密码不正确" in unknown.output
    failed = [r for r in audit_rows(home, "王管理") + audit_rows(home, operators.os_user()) if r == "操作员登录失败"]
    assert len(failed) == operators.MAX_ATTEMPTS + 2

    # The administrator's reset lifts the lock, and the password is to be changed in the window first.
    svc = build_services(home)
    try:
        fin = next(o for o in operators.list_operators(svc.store) if o.login_name == "fin")
        operators.reset_password(svc.store, fin.id, "Chongzhi-2025", "Chongzhi-2025")
    finally:
        svc.close()
    reset = month(home, "export", "--all", "--operator", "fin", *out, input="Chongzhi-2025\n")
    assert reset.exit_code == 4 and "请先在客户端中登录并修改密码" in reset.output
    frozen_home = build_services(home)
    try:
        hr = next(o for o in operators.list_operators(frozen_home.store) if o.login_name == "hr")
        operators.set_frozen(frozen_home.store, hr.id, True)
    finally:
        frozen_home.close()
    frozen = month(home, "export", "--all", "--operator", "hr", *out, input=HR_PW + "\n")
    assert frozen.exit_code == 4 and operators.FROZEN_MESSAGE in frozen.output
