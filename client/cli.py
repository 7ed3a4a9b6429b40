"""`socialfee ...`: the command line (click).

Every failure the operator can cause ends in one Chinese message on stderr and a non-zero
exit code, never a traceback: usage mistakes exit 2, refused operations exit 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from client import __version__
from client.errors import SocialFeeError

if TYPE_CHECKING:
    from client.services import Services


class OperatorError(click.ClickException):
    """A SocialFeeError on its way to the terminal."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"错误：{self.message}", err=True)


class SocialFeeGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SocialFeeError as exc:
            raise OperatorError(exc.message) from exc


@click.group(cls=SocialFeeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="socialfee", message="%(prog)s %(version)s")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="数据目录（优先于环境变量 SOCIALFEE_HOME 和系统默认位置）",
)
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """socialfee 单位社保费管理客户端"""
    from client.settings import make_private

    make_private()  # every file this process writes (data, backups, logs) is owner-only
    # Subcommand groups (backup) get the composition root's factory here instead of
    # importing client.app themselves: layers point one way.
    ctx.obj = {"home": home, "build_services": _build_services}


def _build_services(home: str | Path | None) -> Services:
    from client.app import build_services

    return build_services(home)


def _mode(browser: bool, headless: bool) -> str:
    if browser and headless:
        raise click.UsageError("--browser 和 --headless 只能选一个")
    return "browser" if browser else "headless" if headless else "window"


def display_options(command: Any) -> Any:
    """--browser, --headless and --port, shared by `run` and `demo`."""
    for option in reversed(
        (
            click.option("--browser", is_flag=True, help="在系统浏览器中打开，而不是程序窗口"),
            click.option("--headless", is_flag=True, help="只启动服务并打印访问地址（服务器、测试用）"),
            click.option(
                "--port", type=click.IntRange(0, 65535), default=0, help="界面服务端口，默认自动选择"
            ),
        )
    ):
        command = option(command)
    return command


@cli.command()
@display_options
@click.pass_context
def run(ctx: click.Context, browser: bool, headless: bool, port: int) -> None:
    """启动客户端（默认打开程序窗口）"""
    from client.app import launch

    # launch takes the data folder's lock before opening anything in it (one writer).
    launch(ctx.obj["home"], mode=_mode(browser, headless), port=port, echo=lambda text: click.echo(text))


@cli.command()
@display_options
@click.pass_context
def demo(ctx: click.Context, browser: bool, headless: bool, port: int) -> None:
    """演示：本机参考税务端 + 演示数据 + 客户端"""

    from client import demo as demo_mod
    from client.app import build_services
    from client.app import run as run_app
    from client.settings import resolve_home

    mode = _mode(browser, headless)
    demo_home = Path(ctx.obj["home"]) if ctx.obj["home"] else resolve_home(None) / "demo"
    creds = demo_mod.prepare(demo_home)
    services = build_services(demo_mod.client_folder(demo_home))
    taxside = demo_mod.start_taxside(demo_home)
    try:
        services.settings.update({"taxside_url": taxside.url})
        from client.core import upgrade_demo

        upgrade_demo.publish_current(demo_home, taxside.url)  # 关于 verifies a genuine manifest
        click.echo(f"演示数据目录：{demo_home}")
        click.echo(f"参考税务端：{taxside.url}（模拟模式）")
        for line in demo_mod.credentials_lines(creds):
            click.echo(line)
        run_app(services, mode=mode, port=port, echo=lambda text: click.echo(text))
    finally:
        taxside.stop()


@cli.group("dev")
def dev_group() -> None:
    """开发者命令：发布签名（正式客户端不需要）"""


@dev_group.command("keygen")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="私钥写入的文件（仅本人可读；切勿提交到代码仓库）")
def dev_keygen(out: Path) -> None:
    """生成发布签名密钥对：私钥写入文件，公钥打印出来（填入 client/release.json 的 release_pubkey）"""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from client.core import upgrade_manifest as um

    if out.exists():
        raise click.UsageError(f"{out} 已存在，不会覆盖")
    key = Ed25519PrivateKey.generate()
    out.touch(mode=0o600)
    out.write_text(um.private_text(key) + "\n", encoding="ascii")
    click.echo(um.public_text(key))


@dev_group.command("sign-release")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", required=True, help="安装包的版本号，例如 0.2.0")
@click.option("--notes", default="", help="更新说明")
@click.option("--min-version", default="", help="低于此版本的客户端不能申报和缴费（可留空）")
@click.option("--key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="签名私钥文件；不指定时读环境变量 SOCIALFEE_RELEASE_SIGNING_KEY")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="签名后的版本信息写入的文件，默认打印")
def dev_sign_release(package: Path, version: str, notes: str, min_version: str,
                     key_file: Path | None, out: Path | None) -> None:
    """为安装包签名，输出税务端发布用的版本信息（JSON）"""
    import json
    import os

    from client.core import upgrade_manifest as um

    text = key_file.read_text(encoding="ascii").strip() if key_file else os.environ.get(um.SIGNING_KEY_ENV, "")
    if not text:
        raise click.UsageError(f"须用 --key-file 或环境变量 {um.SIGNING_KEY_ENV} 提供签名私钥")
    manifest = um.manifest_for(package, version, notes=notes, min_version=min_version)
    signed = json.dumps(um.sign(manifest, um.load_private(text)), ensure_ascii=False, indent=2)
    if out:
        out.write_text(signed + "\n", encoding="utf-8")
    else:
        click.echo(signed)


@dev_group.command("build-wheel")
@click.option("--version", "version", required=True, help="写入安装包的版本号")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
def dev_build_wheel(version: str, out: Path) -> None:
    """把本源码树打成纯 Python 安装包（Linux 上代替 onedir 压缩包）"""
    from client.core import upgrade_install

    click.echo(str(upgrade_install.build_wheel(Path(__file__).resolve().parent.parent, version, out)))


def _register() -> None:
    from client.backup.cli import backup_group
    from client.cli_db import db_group
    from client.cli_month import month_group
    from rules.cli import check_group, rules_group
    from taxside.cli import taxside_group

    cli.add_command(backup_group)
    cli.add_command(db_group)
    cli.add_command(month_group)
    cli.add_command(rules_group)
    cli.add_command(check_group)
    cli.add_command(taxside_group)


_register()


def usage_message(exc: click.UsageError) -> str:
    """click's own usage errors in Chinese (ours are written in Chinese already)."""
    ctx = exc.ctx
    if isinstance(exc, click.exceptions.NoSuchOption):
        return f"未知的选项 {exc.option_name}"
    if isinstance(exc, click.exceptions.MissingParameter) and exc.param is not None:
        return f"缺少 {exc.param.get_error_hint(ctx) if ctx else exc.param.name}"
    if isinstance(exc, click.exceptions.BadParameter) and exc.param is not None:
        hint = exc.param.get_error_hint(ctx) if ctx else exc.param.name
        kind = exc.param.type
        if isinstance(kind, click.Choice):
            return f"{hint} 只能是 {'、'.join(map(str, kind.choices))}"
        if isinstance(kind, click.Path):
            return f"{hint} 的路径不可用（不存在、类型不对或没有权限）"
        return f"{hint} 的值不正确"
    if isinstance(exc, click.exceptions.BadOptionUsage):
        return f"选项 {exc.option_name} 的用法不正确（需要一个值？）"
    message = exc.format_message().rstrip("。.")
    if message.isascii():  # click's other English messages (extra arguments, unknown commands)
        return f"命令行参数不正确（{message}）"
    return message


def _usage_error(exc: click.UsageError, argv: list[str]) -> None:
    message = usage_message(exc)
    if "--json" in argv:  # a script asked for JSON: it gets JSON, also for a usage error
        from client.cli_month import dump_json

        click.echo(dump_json({"ok": False, "exit_code": 2, "units": [],
                              "error": {"code": "usage", "message": message, "field": None, "row": None}}))
    click.echo(f"用法错误：{message}。运行 socialfee --help 查看用法。", err=True)
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        result = cli.main(args=args, prog_name="socialfee", standalone_mode=False)
    except click.UsageError as exc:
        _usage_error(exc, args)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("已取消。", err=True)
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)
