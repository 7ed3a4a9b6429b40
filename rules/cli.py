"""`socialfee rules ...` and `socialfee check ...` (click groups mounted by client/cli.py).

Errors are shown as Chinese messages with a non-zero exit, never as tracebacks.
"""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal, InvalidOperation

import click

from rules.codes import check_id_number, check_uscc
from rules.engine import FeeResult, PayerFee, calculate
from rules.model import PackError, Provenance, RulePack
from rules.packs import bundled_regions, load_pack
from rules.periods import format_period, parse_period


def _fail(message: str) -> None:
    click.echo(f"错误：{message}", err=True)
    raise SystemExit(1)


def _pack(region: str) -> RulePack:
    try:
        return load_pack(region)
    except PackError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        _fail(f"{what}“{text}”不是有效的数值")
        raise
    if not value.is_finite() or value < 0:
        _fail(f"{what}“{text}”应为不小于0的数值")
    return value


def _percent(rate: Decimal) -> str:
    text = format(rate * 100, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def _pad(text: str, width: int, *, right: bool = False) -> str:
    """Pad by display width: CJK characters take two terminal columns."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    fill = " " * max(width - shown, 0)
    return fill + text if right else text + fill


def _mark(verified: bool) -> str:
    return "" if verified else "*"


@click.group("rules")
def rules_group() -> None:
    """规则包：费额试算等"""


@rules_group.command("regions")
def regions_command() -> None:
    """列出内置规则包的地区"""
    for region in bundled_regions():
        pack = load_pack(region)
        click.echo(f"{pack.region}  {pack.name}  版本 {pack.version}")


@rules_group.command("calc")
@click.option("--region", required=True, help="地区代码，如 110000（北京市）")
@click.option("--period", required=True, help="费款所属期，YYYYMM 或 YYYY-MM")
@click.option("--base", "base_text", required=True, help="缴费工资（元/月）")
@click.option("--risk-class", type=str, default=None, help="工伤行业风险类别 1-8")
@click.option("--injury-float", "float_text", default="1", show_default=True,
              help="工伤浮动比例（1 表示100%）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（金额为文本，如 \"1280.00\"）")
def calc_command(
    region: str, period: str, base_text: str, risk_class: str | None, float_text: str,
    as_json: bool,
) -> None:
    """按规则包试算一名职工一个费款所属期的社保费"""
    pack = _pack(region)
    try:
        wanted = parse_period(period)
    except ValueError as exc:
        _fail(str(exc))
        raise
    base = _decimal(base_text, "缴费工资")
    injury_float = _decimal(float_text, "工伤浮动比例")
    risk: int | None = None
    if risk_class is not None:
        if not risk_class.strip().isdigit() or not (1 <= int(risk_class) <= 8):
            _fail(f"工伤行业风险类别“{risk_class}”无效，应为1-8的整数")
        risk = int(risk_class)
    try:
        result = calculate(pack, wanted, base, risk_class=risk, injury_float=injury_float)
    except (PackError, ValueError, TypeError) as exc:
        _fail(str(exc))
        raise
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print_table(pack, result)


def _payer_cell(fee: PayerFee | None) -> str:
    if fee is None:
        return "-"
    text = f"{_percent(fee.rate)}{_mark(fee.verified)}"
    if fee.fixed:
        text += f"+{fee.fixed}元"
    return f"{text} = {fee.amount}"


def _print_table(pack: RulePack, result: FeeResult) -> None:
    click.echo(f"{pack.name}（{pack.region}）规则包版本 {pack.version}  费款所属期 {result.period}")
    header = (
        _pad("险种", 28) + _pad("缴费基数", 14, right=True) + "  " + _pad("单位", 22)
        + _pad("个人", 24) + _pad("合计", 10, right=True)
    )
    click.echo(header)
    click.echo("-" * 100)
    for item in result.items:
        base = str(item.base)
        if item.clamped == "floor":
            base += "(下限)"
        elif item.clamped == "cap":
            base += "(上限)"
        click.echo(
            _pad(item.name, 28) + _pad(base, 14, right=True) + "  "
            + _pad(_payer_cell(item.employer), 22) + _pad(_payer_cell(item.employee), 24)
            + _pad(str(item.total), 10, right=True)
        )
    click.echo("-" * 100)
    click.echo(f"单位合计 {result.employer_total}  个人合计 {result.employee_total}  总计 {result.total}")
    for note in result.skipped:
        click.echo(f"注：{note}")
    if not result.verified:
        click.echo("注：带 * 的费率或舍入方式未经官方通知核实")


def _prov(prov: Provenance) -> str:
    if prov.verified:
        return f"来源：{prov.source}"
    return "未核实" + (f"（{prov.note}）" if prov.note else "")


@rules_group.command("show")
@click.option("--region", required=True, help="地区代码，如 110000")
def show_command(region: str) -> None:
    """显示一个地区规则包的内容"""
    pack = _pack(region)
    click.echo(f"{pack.name}（{pack.region}）规则包版本 {pack.version}")
    click.echo(f"征收方式：{pack.collection_mode}")
    click.echo(f"缴费年度起始月份：{pack.base_year_start_month}月")
    allowed = "允许" if pack.per_item_bases_for_government else "不允许"
    click.echo(f"机关事业单位按险种申报缴费工资：{allowed}")
    click.echo(f"年度缴费工资申报时间：{pack.annual_window.describe()}  {_prov(pack.annual_window.provenance)}")
    fee = pack.late_fee
    click.echo(
        f"滞纳金：每日{_percent(fee.daily_rate)}  {_prov(fee.provenance)}；"
        f"首日{'计入' if fee.first_day_counts else '不计入'}，"
        f"{'以欠费金额为上限' if fee.cap_at_amount else '不设上限'}，{fee.rounding.label}  "
        f"{_prov(fee.convention)}"
    )
    enabled = [key for key, on in pack.features.items() if on]
    click.echo(f"地区功能：{'、'.join(enabled) or '无'}")
    click.echo("首页常用功能：" + "、".join(f"{f.label}({f.key})" for f in pack.home_functions))
    for rules in pack.periods:
        click.echo("")
        click.echo(f"[{format_period(rules.start, dash=True)} 至 {format_period(rules.end, dash=True)}]")
        click.echo(f"  缴费基数 {rules.base.floor}-{rules.base.cap}  {_prov(rules.base.provenance)}")
        for item in rules.items:
            click.echo(f"  {item.name}（{item.code}）")
            for rule in (item.employer, item.employee):
                if rule is None:
                    continue
                label = "单位" if rule.payer == "employer" else "个人"
                if rule.injury is not None:
                    rates = " ".join(_percent(r) for r in rule.injury.class_rates)
                    figure = f"一至八类基准费率 {rates}"
                else:
                    figure = _percent(rule.rate) + (f"+{rule.fixed}元" if rule.fixed else "")
                click.echo(f"    {label} {figure}  {rule.rounding.label}  {_prov(rule.provenance)}")


@click.group("check")
def check_group() -> None:
    """校验证件号码、统一社会信用代码"""


def _report(reason: str | None) -> None:
    if reason is None:
        click.echo("有效")
        return
    click.echo(f"无效：{reason}", err=True)
    raise SystemExit(1)


@check_group.command("id")
@click.argument("value")
def check_id_command(value: str) -> None:
    """校验18位居民身份证号码（GB 11643）"""
    _report(check_id_number(value))


@check_group.command("uscc")
@click.argument("value")
def check_uscc_command(value: str) -> None:
    """校验统一社会信用代码（GB 32100）"""
    _report(check_uscc(value))
