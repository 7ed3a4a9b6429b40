"""`socialfee taxside ...`: the reference tax side (click group mounted by client/cli.py)."""

from __future__ import annotations

import time

import click


@click.group("taxside")
def taxside_group() -> None:
    """参考税务端（演示、培训与集成测试用）"""


@taxside_group.command("generate")
@click.option("--db", "db_path", required=True, type=click.Path(dir_okay=False), help="新建的税务端数据库文件")
@click.option("--units", default=10, show_default=True, type=click.IntRange(1, 100_000), help="参保单位数")
@click.option("--employees", default=1000, show_default=True, type=click.IntRange(0, 200_000), help="职工总数")
@click.option("--seed", default=1, show_default=True, type=int, help="随机种子：同一种子生成相同的数据")
@click.option("--today", default=None, help="税务端业务日期 YYYY-MM-DD（默认固定为 2025-03-15）")
def generate_cmd(db_path: str, units: int, employees: int, seed: int, today: str | None) -> None:
    """生成演示数据（单位、职工、通知公告）"""
    from taxside.db import DEFAULT_TODAY
    from taxside.generate import generate

    started = time.perf_counter()
    try:
        creds = generate(db_path, units=units, employees=employees, seed=seed, today=today or DEFAULT_TODAY)
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    elapsed = time.perf_counter() - started
    click.echo(f"已生成 {units} 个单位、{employees} 名职工，用时 {elapsed:.1f} 秒：{db_path}")
    click.echo("纳税人识别号          单位编号  地区    初始申报密码  (来自)        职工数  单位名称")
    for c in creds:
        click.echo(
            f"{c.taxpayer_id}  {c.unit_id}  {c.region}  {c.initial_password}        "
            f"{c.initial_kind:<12}  {c.employees:>6}  {c.name}"
        )


@taxside_group.command("serve")
@click.option("--db", "db_path", required=True, type=click.Path(dir_okay=False), help="税务端数据库文件")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="端口（仅监听127.0.0.1）")
@click.option("--simulation", is_flag=True, help="开放模拟接口 /sim（人员变动、故障注入等）")
@click.option(
    "--decision-delay", type=click.FloatRange(0, 86_400), default=None,
    help="缴费工资申报、社保费申报和作废申请受理后多少秒给出结果（默认沿用数据库中的设置，初始为3秒）",
)
def serve_cmd(db_path: str, port: int, simulation: bool, decision_delay: float | None) -> None:
    """在 127.0.0.1 上运行参考税务端"""
    from taxside.server import start

    running = start(db_path, simulation=simulation, port=port, decision_delay=decision_delay)
    click.echo(f"参考税务端已启动：{running.url}{'（模拟模式）' if simulation else ''}，按 Ctrl+C 停止")
    try:
        while running.thread.is_alive():
            running.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
        click.echo("参考税务端已停止")
