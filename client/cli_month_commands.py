"""The commands of `socialfee month` (client/cli_month.py runs them per unit; the work is
client/cli_month_steps.py and client/cli_month_export.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from client import cli_month_export, cli_month_steps
from client.cli_month import UnitRun, month_group, password_option, run_step, unit_options
from client.core import passwords

KIND_DAILY_ANNUAL = click.Choice(["daily", "annual"])
KIND_DAILY_SPECIAL = click.Choice(["daily", "special"])


def _folder(value: Path) -> Path:
    return value.expanduser().resolve()


@month_group.command("units")
@click.option("--json", "as_json", is_flag=True, help="在标准输出打印一个 JSON 文档")
@click.pass_context
def units_cmd(ctx: click.Context, as_json: bool) -> None:
    """列出本机的单位（--all 处理的就是这些），以及是否已在系统密码库中保存申报密码"""

    def step(run: UnitRun) -> None:
        saved = passwords.recall_password(run.unit.unit_id) is not None
        run.result.update(taxpayer_id=run.unit.taxpayer_id, region=run.unit.region_label,
                          last_login_at=run.unit.last_login_at, password_saved=saved)
        run.say(f"纳税人识别号 {run.unit.taxpayer_id}　{run.unit.region_label}　最近登录 {run.unit.last_login_at or '从未'}"
                f"　{'已保存申报密码' if saved else '未保存申报密码'}")

    run_step(ctx, step, command="month units", unit_ids=(), all_units=True, as_json=as_json, login=False,
             allow_none=True)


@month_group.command("save-password")
@unit_options
@click.pass_context
def save_password(ctx: click.Context, unit_ids: tuple[str, ...], all_units: bool, as_json: bool,
                  operator: str | None) -> None:
    """验证申报密码并保存到系统密码库，之后的命令无需再提供（从标准输入读取：每个单位一行，或全部共用一行）"""

    def step(run: UnitRun) -> None:
        run.say("申报密码正确，已保存到系统密码库")

    run_step(ctx, step, command="month save-password", unit_ids=unit_ids, all_units=all_units, as_json=as_json,
             password_stdin=True, remember=True, operator=operator)


@month_group.command("enrollment")
@unit_options
@password_option
@click.option("--full", is_flag=True, help="全量更新（默认增量更新；全量更新前自动备份）")
@click.pass_context
def enrollment_cmd(ctx: click.Context, full: bool, **opts: Any) -> None:
    """职工参保信息更新（增量或全量）"""
    run_step(ctx, cli_month_steps.enrollment, command="month enrollment", options={"full": full}, **opts)


@month_group.command("wage-import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@unit_options
@password_option
@click.option("--kind", type=KIND_DAILY_ANNUAL, default="daily", show_default=True,
              help="daily 日常缴费工资申报，annual 年度缴费工资申报")
@click.option("--merge", is_flag=True, help="申报列表已有数据时：按职工合并文件中的行")
@click.option("--replace", is_flag=True, help="申报列表已有数据时：清空后只保留文件中的行")
@click.option("--submit", is_flag=True, help="导入没有错误时立即提交申报")
@click.option("--yes", is_flag=True, help="提交时有提示（如超出上下限）也确认提交")
@click.pass_context
def wage_import(ctx: click.Context, file: Path, kind: str, merge: bool, replace: bool, submit: bool, yes: bool,
                **opts: Any) -> None:
    """导入缴费工资申报文件（xlsx、xls、csv），逐行列出错误；加 --submit 导入无误后提交"""
    if merge and replace:
        raise click.UsageError("--merge 和 --replace 只能选一个")
    run_step(ctx, cli_month_steps.wage_import_file, command="month wage-import", single=True,
             options={"file": file.resolve(), "kind": kind, "merge": merge, "replace": replace,
                      "submit": submit, "yes": yes}, **opts)


@month_group.command("wage-submit")
@unit_options
@password_option
@click.option("--kind", type=KIND_DAILY_ANNUAL, default="daily", show_default=True)
@click.option("--yes", is_flag=True, help="有提示（如超出上下限）也确认提交")
@click.pass_context
def wage_submit(ctx: click.Context, kind: str, yes: bool, **opts: Any) -> None:
    """提交缴费工资申报列表中的数据"""
    run_step(ctx, cli_month_steps.wage_submit_draft, command="month wage-submit",
             options={"kind": kind, "yes": yes}, **opts)


@month_group.command("feedback")
@unit_options
@password_option
@click.pass_context
def feedback(ctx: click.Context, **opts: Any) -> None:
    """获取反馈：发送待提交的申报、确认结果未知的申报（不会重复提交），并获取全部待反馈申报的结果"""
    run_step(ctx, cli_month_steps.feedback, command="month feedback", **opts)


@month_group.command("summaries")
@unit_options
@password_option
@click.option("--kind", type=KIND_DAILY_SPECIAL, default="daily", show_default=True,
              help="daily 日常申报，special 特殊缴费申报")
@click.pass_context
def summaries(ctx: click.Context, kind: str, **opts: Any) -> None:
    """查询待申报的预处理汇总数据"""
    run_step(ctx, cli_month_steps.summaries, command="month summaries", options={"kind": kind}, **opts)


@month_group.command("declare")
@unit_options
@password_option
@click.option("--kind", type=KIND_DAILY_SPECIAL, default="daily", show_default=True)
@click.option("--summary", "summary_ids", multiple=True, metavar="汇总编号",
              help="只申报这些汇总（可重复）；默认申报全部待申报的汇总")
@click.pass_context
def declare(ctx: click.Context, kind: str, summary_ids: tuple[str, ...], **opts: Any) -> None:
    """社保费申报：提交待申报的预处理汇总数据"""
    run_step(ctx, cli_month_steps.declare, command="month declare",
             options={"kind": kind, "summary_ids": summary_ids}, **opts)


@month_group.command("arrears")
@unit_options
@password_option
@click.pass_context
def arrears(ctx: click.Context, **opts: Any) -> None:
    """查询欠费信息（应缴金额、滞纳金、缴款期限）"""
    run_step(ctx, cli_month_steps.arrears, command="month arrears", **opts)


@month_group.command("vouchers")
@unit_options
@password_option
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="缴款凭证 PDF 保存到这个文件夹")
@click.option("--issue", is_flag=True, help="先为全部可缴款的欠费开具银行端缴款凭证")
@click.pass_context
def vouchers(ctx: click.Context, out: Path, issue: bool, **opts: Any) -> None:
    """打印银行端缴款凭证（PDF）到文件夹；加 --issue 先开具"""
    run_step(ctx, cli_month_steps.vouchers, command="month vouchers",
             options={"out": _folder(out), "issue": issue}, **opts)


@month_group.command("export")
@unit_options
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="导出的 xlsx 文件保存到这个文件夹（每个单位一组文件）")
@click.option("--what", "what", multiple=True, type=click.Choice(list(cli_month_export.WRITERS)),
              help="只导出这些（可重复）：enrollment 参保职工、wage-base 缴费工资申报记录、fees 社保费申报记录、"
                   "payments 缴款记录；默认全部")
@click.pass_context
def export(ctx: click.Context, out: Path, what: tuple[str, ...], unit_ids: tuple[str, ...], all_units: bool,
           as_json: bool, operator: str | None) -> None:
    """导出本机的记录到 xlsx（不连接税务端，无需申报密码）"""
    folder, chosen = _folder(out), list(what or cli_month_export.WRITERS)

    def step(run: UnitRun) -> None:
        written = cli_month_export.export_unit(run.store, run.pk, run.unit.unit_id, folder, chosen)
        run.result["files"] = written
        for w in written:
            run.say(f"{w['label']}：{w['rows']} 条 → {w['file']}")

    run_step(ctx, step, command="month export", unit_ids=unit_ids, all_units=all_units, as_json=as_json,
             login=False, operator=operator, options={"what": chosen})
