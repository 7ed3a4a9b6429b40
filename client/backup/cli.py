"""`socialfee backup ...`: backups for administrators (click group mounted by client/cli.py).

Exit codes: 0 done, 1 refused or failed (one Chinese line on stderr), 2 usage.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from client.backup import service
from client.backup.service import BackupInfo, SettingChange
from client.core import db_location, operators
from client.core.store import DB_FILE
from client.errors import AuthError, NotFoundError
from client.settings import Settings, prepare_home, resolve_home


def _home(ctx: click.Context) -> Path:
    return prepare_home(resolve_home((ctx.find_root().obj or {}).get("home")))


def _password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.UsageError("--password-stdin 需要从标准输入读到一行密码")
    return line


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"


def _describe(info: BackupInfo) -> list[str]:
    lines = [
        f"文件：{info.path}",
        f"大小：{_size(info.size)}　时间：{info.created_at}　程序版本：{info.app_version}"
        f"　{'已加密' if info.encrypted else '未加密'}",
    ]
    if info.schema_version is not None:
        units = "、".join(u.name for u in info.units) or "（无）"
        rows = "，".join(f"{service.table_label(k)} {v}" for k, v in sorted(info.tables.items()))
        lines += [f"数据结构版本：{info.schema_version}　单位：{units}", f"行数：{rows}"]
    return lines


def journal_warning(entries: tuple[dict[str, Any], ...]) -> list[str]:
    """The submissions a restore would make the local data forget, one line each."""
    if not entries:
        return []
    lines = [
        f"注意：以下 {len(entries)} 条申报记录是在该备份之后提交的或之后状态有变化，备份中没有"
        f"（或只有旧状态）。其中已发送的已经到达税务端，待提交的可能尚未发送。恢复后请先在"
        f"「申报记录」中逐条核对税务端的实际结果，再决定是否重新申报，切勿重复提交："
    ]
    for e in entries:
        was = f"（备份中为：{e['backup_state_label']}）" if e.get("backup_state_label") else ""
        lines.append(
            f"  {e['created_at']}　{e['unit_name'] or e['unit_id']}　{e['kind_label']}　"
            f"{e['state_label']}{was}　{e['summary']}"
        )
    return lines


def settings_lines(changes: tuple[SettingChange, ...]) -> list[str]:
    """Every setting a restore would change; the security-relevant ones stay as they are."""
    if not changes:
        return []
    lines = ["设置："]
    for c in changes:
        if c.kept:
            lines.append(f"  {c.label}：{c.current}（保留当前值；备份中为 {c.backup}）")
        else:
            lines.append(f"  {c.label}：{c.current} → {c.backup}")
    if any(c.kept for c in changes):
        lines.append("  税务端地址、代理服务器和文件夹位置不会从备份中恢复，以免备份把申报密码引向别处。")
    return lines


@click.group("backup")
def backup_group() -> None:
    """备份与恢复"""


@backup_group.command("create")
@click.option("--to", "to", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="备份到这个文件夹（默认：设置中的自动备份位置）")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取备份密码并加密备份")
@click.pass_context
def create(ctx: click.Context, to: Path | None, password_stdin: bool) -> None:
    """立即备份数据目录"""
    home = _home(ctx)
    settings = Settings(home)
    url = db_location.resolve(settings)  # team mode: the logical dump of the team database
    if not url and not (home / DB_FILE).exists():
        raise NotFoundError(f"数据目录 {home} 中没有 socialfee 的数据库，无需备份。请用 --home 指定数据目录。")
    folder = to or service.backup_folder(home, settings)
    password = _password(password_stdin)
    store = db_location.open_store(home, url) if url else None
    try:
        info = service.create_backup(home, folder, password=password, reason="命令行备份", store=store)
    finally:
        if store is not None:
            store.close()
    click.echo("备份完成。")
    for line in _describe(info):
        click.echo(line)


@backup_group.command("list")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="列出这个文件夹中的备份（默认：自动备份位置）")
@click.pass_context
def list_cmd(ctx: click.Context, folder: Path | None) -> None:
    """列出备份文件（最新的在前）"""
    home = _home(ctx)
    folder = folder or service.backup_folder(home, Settings(home))
    found = service.list_backups(folder)
    if not found:
        click.echo(f"{folder} 中没有备份文件。")
        return
    for b in found:
        if b.problem:
            click.echo(f"{b.name}\t无法读取：{b.problem}")
            continue
        units = "已加密" if b.schema_version is None else f"{len(b.units)} 个单位"
        click.echo(f"{b.name}\t{b.created_at}\t{_size(b.size)}\t{b.reason}\t{units}")


@backup_group.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--password-stdin", is_flag=True, help="从标准输入读取备份密码")
@click.pass_context
def verify(ctx: click.Context, file: Path, password_stdin: bool) -> None:
    """校验备份：清单、校验和、数据库完整性"""
    result = service.verify_backup(file, _home(ctx), _password(password_stdin))
    click.echo("校验通过。")
    for check in result.checks:
        click.echo(f"✓ {check}")
    for line in _describe(result.backup):
        click.echo(line)


@backup_group.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="不再询问，直接恢复")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取备份密码")
@click.pass_context
def restore(ctx: click.Context, file: Path, yes: bool, password_stdin: bool) -> None:
    """从备份恢复（先自动做一份当前数据的安全备份）"""
    if password_stdin and not yes:
        raise click.UsageError("使用 --password-stdin 时标准输入不能再用于确认，请同时加 --yes")
    password = _password(password_stdin)
    services = ctx.find_root().obj["build_services"](_home(ctx))
    try:
        if services.store.team and operators.mode(services.store) == operators.MULTI:
            # It replaces every desk's data: only an operator with 恢复, signed in, in the window.
            raise AuthError("团队数据库为多人使用：从备份恢复会替换所有电脑共用的数据，须由有「恢复」权限的操作员"
                            "在程序的「系统设置 → 备份恢复」中进行。数据没有被修改。", code="forbidden")
        preview = service.restore_preview(services, file, password)
        for line in _describe(preview.backup):
            click.echo(line)
        click.echo("当前数据：单位 " + ("、".join(u.name for u in preview.current_units) or "（无）"))
        for t in preview.tables:
            if t.current != t.backup:
                click.echo(f"  {t.label}：当前 {t.current or 0} 行 → 恢复后 {t.backup or 0} 行")
        for line in settings_lines(preview.settings):
            click.echo(line)
        if preview.will_migrate:
            click.echo("该备份来自旧版本，恢复后会自动升级数据结构。")
        for line in journal_warning(preview.newer_journal_entries):
            click.echo(line)
        if not yes and not click.confirm("恢复会用备份替换当前全部数据（会先自动备份当前数据）。确定恢复吗？"):
            click.echo("已取消，数据未改动。")
            ctx.exit(1)
        result = service.restore(services, file, password)
    finally:
        services.close()
    click.echo("恢复完成。")
    click.echo(f"恢复前的数据已保存为安全备份：{result.safety_backup.path}")
    click.echo("自动同步与发送已暂停：请先在程序中核对备份之后的申报记录"
               "（系统设置 → 备份恢复，核对后点「已查看」）。")
