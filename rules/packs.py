"""Loading and validating rule packs (TOML, one file per region; format in docs/rules.md).

``parse_pack`` is also how packs downloaded from the tax side are checked: anything
malformed raises PackError with a Chinese message naming the key path, and unknown keys
are errors too, so a typo never silently drops a figure.
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib.resources
import re
import tomllib
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from rules.model import (
    COLLECTION_MODES,
    PAYERS,
    WAGE_BASE_FUNCTIONS,
    AnnualWindow,
    AnnuityRule,
    BaseLimits,
    HomeFunction,
    InjuryRates,
    ItemRule,
    LateFeeRule,
    PackError,
    PayerRule,
    PeriodRules,
    Provenance,
    RulePack,
)
from rules.periods import Period, parse_period
from rules.rounding import Rounding, parse_rounding

__all__ = [
    "PackError",
    "RulePack",
    "bundled_pack_text",
    "bundled_regions",
    "load_pack",
    "parse_pack",
]

FORMAT_VERSION = 1
INJURY_CLASSES = 8

_REGION = re.compile(r"^\d{6}$")
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^\d{4}\.\d{2}\.\d+$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_PROVENANCE_KEYS = ("source", "verified", "note")


class _Table:
    """A TOML table being read: typed getters with key paths, unknown keys rejected."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise PackError("应为表（table）", path or "（顶层）")
        self.data = data
        self.path = path
        self.used: set[str] = set()

    def sub(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, required: bool = True) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise PackError("缺少必填项", self.sub(key))
            return None
        return self.data[key]

    def text(self, key: str, required: bool = True) -> str | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise PackError("应为非空文本", self.sub(key))
        return value.strip()

    def flag(self, key: str, default: bool | None = None) -> bool:
        value = self.raw(key, default is None)
        if value is None:
            return bool(default)
        if not isinstance(value, bool):
            raise PackError("应为 true 或 false", self.sub(key))
        return value

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.raw(key, default is None)
        if value is None:
            return int(default or 0)
        if isinstance(value, bool) or not isinstance(value, int):
            raise PackError("应为整数", self.sub(key))
        return value

    def number(self, key: str, default: Decimal | None = None) -> Decimal:
        value = self.raw(key, default is None)
        if value is None:
            return default if default is not None else Decimal(0)
        return _decimal(value, self.sub(key))

    def table(self, key: str, required: bool = True) -> _Table | None:
        value = self.raw(key, required)
        if value is None:
            return None
        return _Table(value, self.sub(key))

    def tables(self, key: str, required: bool = True) -> list[_Table]:
        value = self.raw(key, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise PackError("应为表数组（[[...]]）", self.sub(key))
        return [_Table(entry, f"{self.sub(key)}[{i}]") for i, entry in enumerate(value)]

    def array(self, key: str) -> list[Any]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise PackError("应为数组", self.sub(key))
        return value

    def provenance(self, inherited: Provenance | None = None) -> Provenance:
        """``source`` or ``verified = false`` here, else what the enclosing table says."""
        has_own = any(self.has(k) for k in ("source", "verified"))
        source = self.text("source", required=False)
        verified = self.raw("verified", required=False)
        note = self.text("note", required=False)
        if verified is not None and not isinstance(verified, bool):
            raise PackError("应为 true 或 false", self.sub("verified"))
        if not has_own and inherited is not None:
            return Provenance(inherited.source, inherited.verified, note or inherited.note)
        if verified is None:
            verified = True
        if verified and not source:
            raise PackError("数值须注明来源 source（官方通知网址或文号），或标明 verified = false", self.path)
        return Provenance(source, verified, note)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise PackError("未知的键（拼写错误？）", self.sub(unknown[0]))


def _decimal(value: Any, path: str) -> Decimal:
    if isinstance(value, bool):
        raise PackError("应为数值", path)
    if isinstance(value, Decimal | int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise PackError(f"“{value}”不是有效的数值", path) from None
    else:
        raise PackError("应为数值", path)
    if not number.is_finite():
        raise PackError("应为有限数值", path)
    return number


def _rate(table: _Table, key: str, default: Decimal | None = None) -> Decimal:
    rate = table.number(key, default)
    if not (Decimal(0) <= rate < Decimal(1)):
        raise PackError(f"费率 {rate} 应在0到1之间（例如 0.16 表示16%）", table.sub(key))
    return rate


def _rounding(table: _Table, key: str, required: bool = True) -> Rounding | None:
    name = table.text(key, required)
    if name is None:
        return None
    try:
        return parse_rounding(name)
    except ValueError as exc:
        raise PackError(str(exc), table.sub(key)) from None


def _period(table: _Table, key: str) -> Period:
    value = table.raw(key)
    if not isinstance(value, str):
        raise PackError("费款所属期应为文本，如 \"202407\"", table.sub(key))
    try:
        return parse_period(value)
    except ValueError as exc:
        raise PackError(str(exc), table.sub(key)) from None


def _month_day(value: Any, path: str) -> tuple[int, int]:
    match = _MONTH_DAY.match(value) if isinstance(value, str) else None
    if not match:
        raise PackError("应为“MM-DD”格式的月日，如 \"07-01\"", path)
    month, day = int(match.group(1)), int(match.group(2))
    try:
        _dt.date(2000, month, day)  # a leap year, so 02-29 is allowed
    except ValueError:
        raise PackError(f"“{value}”不是有效的月日", path) from None
    return month, day


def _base_limits(table: _Table, inherited: Provenance | None = None) -> BaseLimits:
    floor = table.number("floor")
    cap = table.number("cap")
    if floor <= 0:
        raise PackError("缴费基数下限应大于0", table.sub("floor"))
    if cap < floor:
        raise PackError(f"缴费基数上限 {cap} 低于下限 {floor}", table.sub("cap"))
    limits = BaseLimits(floor, cap, table.provenance(inherited))
    table.finish()
    return limits


def _injury(table: _Table) -> InjuryRates:
    rates_path = table.sub("class_rates")
    raw_rates = table.array("class_rates")
    if len(raw_rates) != INJURY_CLASSES:
        raise PackError(f"应有{INJURY_CLASSES}个行业风险类别的基准费率", rates_path)
    rates = []
    for i, value in enumerate(raw_rates):
        rate = _decimal(value, f"{rates_path}[{i}]")
        if not (Decimal(0) <= rate < Decimal(1)):
            raise PackError("费率应在0到1之间", f"{rates_path}[{i}]")
        rates.append(rate)
    limits_path = table.sub("float_limits")
    raw_limits = table.array("float_limits")
    if len(raw_limits) != INJURY_CLASSES:
        raise PackError(f"应有{INJURY_CLASSES}组浮动范围 [下限, 上限]", limits_path)
    limits = []
    for i, pair in enumerate(raw_limits):
        path = f"{limits_path}[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise PackError("应为 [下限, 上限]", path)
        low, high = _decimal(pair[0], f"{path}[0]"), _decimal(pair[1], f"{path}[1]")
        if not (Decimal(0) < low <= high):
            raise PackError("浮动范围应满足 0 < 下限 ≤ 上限", path)
        limits.append((low, high))
    return InjuryRates(tuple(rates), tuple(limits))


def _payer(
    table: _Table, payer: str, kind: str, inherited: Provenance | None,
    default_rounding: tuple[Rounding, Provenance],
) -> PayerRule:
    injury = None
    if kind == "injury" and payer == "employer":
        injury = _injury(table)
        rate = Decimal(0)
    else:
        rate = _rate(table, "rate", Decimal(0) if table.has("fixed") else None)
    fixed = table.number("fixed", Decimal(0))
    if fixed < 0:
        raise PackError("固定金额不能为负", table.sub("fixed"))
    provenance = table.provenance(inherited)
    own_rounding = _rounding(table, "rounding", required=False)
    if own_rounding is None:
        rounding, rounding_provenance = default_rounding
    else:
        rounding, rounding_provenance = own_rounding, provenance
    table.finish()
    return PayerRule(payer, rate, fixed, rounding, provenance, rounding_provenance, injury)


def _item(table: _Table, period_base: BaseLimits, rounding: dict[str, tuple[Rounding, Provenance]]) -> ItemRule:
    code = table.text("code")
    assert code is not None
    if not _CODE.match(code):
        raise PackError("险种代码只能由小写字母、数字和下划线组成", table.sub("code"))
    name = table.text("name")
    kind = table.text("kind", required=False) or "rate"
    if kind not in ("rate", "injury"):
        raise PackError("kind 应为 rate 或 injury", table.sub("kind"))
    includes = table.raw("includes", required=False) or []
    if not isinstance(includes, list) or not all(isinstance(x, str) for x in includes):
        raise PackError("应为文本数组，如 [\"maternity\"]", table.sub("includes"))
    # Item-level provenance is inherited by payers that do not give their own.
    inherited = table.provenance() if any(table.has(k) for k in ("source", "verified")) else None
    if inherited is None:
        table.text("note", required=False)
    base_table = table.table("base", required=False)
    base = _base_limits(base_table) if base_table else period_base
    payers: dict[str, PayerRule | None] = {}
    for payer in PAYERS:
        sub = table.table(payer, required=False)
        payers[payer] = _payer(sub, payer, kind, inherited, rounding[payer]) if sub else None
    if payers["employer"] is None and payers["employee"] is None:
        raise PackError("险种至少应有单位（employer）或个人（employee）一方", table.path)
    if kind == "injury" and payers["employer"] is None:
        raise PackError("工伤保险须有单位（employer）费率", table.path)
    table.finish()
    assert name is not None
    return ItemRule(code, name, kind, base, payers["employer"], payers["employee"], tuple(includes))


def _period_rules(table: _Table) -> PeriodRules:
    start, end = _period(table, "from"), _period(table, "to")
    if end < start:
        raise PackError(f"结束期 {end} 早于起始期 {start}", table.sub("to"))
    base_table = table.table("base")
    assert base_table is not None
    base = _base_limits(base_table)
    rounding_table = table.table("rounding")
    assert rounding_table is not None
    rounding_provenance = rounding_table.provenance()
    rounding = {}
    for payer in PAYERS:
        mode = _rounding(rounding_table, payer)
        assert mode is not None
        rounding[payer] = (mode, rounding_provenance)
    rounding_table.finish()
    items = tuple(_item(t, base, rounding) for t in table.tables("items"))
    if not items:
        raise PackError("至少应有一个险种", table.sub("items"))
    codes = [item.code for item in items]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            raise PackError(f"险种代码 {code} 重复", f"{table.sub('items')}[{i}].code")
    table.finish()
    return PeriodRules(start, end, base, items)


def _annual_window(table: _Table) -> AnnualWindow:
    ranges = []
    for entry in table.tables("ranges"):
        start = _month_day(entry.raw("from"), entry.sub("from"))
        end = _month_day(entry.raw("to"), entry.sub("to"))
        entry.finish()
        ranges.append((start, end))
    window = AnnualWindow(tuple(ranges), table.provenance())
    table.finish()
    return window


def _late_fee(table: _Table) -> LateFeeRule:
    daily_rate = _rate(table, "daily_rate")
    provenance = table.provenance()
    convention_table = table.table("convention")
    assert convention_table is not None
    first_day_counts = convention_table.flag("first_day_counts")
    cap_at_amount = convention_table.flag("cap_at_amount")
    rounding = _rounding(convention_table, "rounding")
    assert rounding is not None
    convention = convention_table.provenance()
    convention_table.finish()
    table.finish()
    return LateFeeRule(daily_rate, first_day_counts, cap_at_amount, rounding, provenance, convention)


def _home_functions(top: _Table, collection_mode: str) -> tuple[HomeFunction, ...]:
    functions = []
    seen: set[str] = set()
    for entry in top.tables("home_functions"):
        key = entry.text("key")
        label = entry.text("label")
        assert key is not None and label is not None
        if not _CODE.match(key):
            raise PackError("功能键只能由小写字母、数字和下划线组成", entry.sub("key"))
        if key in seen:
            raise PackError(f"功能键 {key} 重复", entry.sub("key"))
        if collection_mode == "税务代征" and key in WAGE_BASE_FUNCTIONS:
            raise PackError("税务代征地区没有缴费工资申报功能", entry.sub("key"))
        seen.add(key)
        entry.finish()
        functions.append(HomeFunction(key, label))
    return tuple(functions)


def _features(top: _Table) -> MappingProxyType[str, bool]:
    table = top.table("features", required=False)
    if table is None:
        return MappingProxyType({})
    features = {}
    for key in list(table.data):
        if not _CODE.match(key):
            raise PackError("功能开关名只能由小写字母、数字和下划线组成", table.sub(key))
        features[key] = table.flag(key)
    table.finish()
    return MappingProxyType(features)


def _annuity(top: _Table) -> AnnuityRule | None:
    table = top.table("annuity", required=False)
    if table is None:
        return None
    employer, employee = _rate(table, "employer_rate"), _rate(table, "employee_rate")
    base_item = table.text("base_item", required=False) or "pension"
    if not _CODE.match(base_item):
        raise PackError("缴费基数取自的险种代码只能由小写字母、数字和下划线组成", table.sub("base_item"))
    provenance = table.provenance()
    table.finish()
    return AnnuityRule(employer, employee, base_item, provenance)


def _pack(top: _Table) -> RulePack:
    fmt = top.integer("format", FORMAT_VERSION)
    if fmt != FORMAT_VERSION:
        raise PackError(f"规则包格式版本 {fmt} 不受支持（本客户端支持 {FORMAT_VERSION}），请升级客户端", "format")
    region = top.text("region")
    if not _REGION.match(region or ""):
        raise PackError("地区代码应为6位数字，如 \"110000\"", "region")
    name = top.text("name")
    version = top.text("version")
    if not _VERSION.match(version or ""):
        raise PackError("版本号应形如 \"2025.07.1\"", "version")
    collection_mode = top.text("collection_mode")
    if collection_mode not in COLLECTION_MODES:
        raise PackError(f"征收方式应为{'或'.join(COLLECTION_MODES)}", "collection_mode")
    start_month = top.integer("base_year_start_month", 7)
    if not (1 <= start_month <= 12):
        raise PackError("缴费年度起始月份应为1-12", "base_year_start_month")
    per_item = top.flag("per_item_bases_for_government", False)
    features = _features(top)
    annuity = _annuity(top)
    home = _home_functions(top, collection_mode or "")
    window_table = top.table("annual_window")
    late_table = top.table("late_fee")
    assert window_table is not None and late_table is not None
    window = _annual_window(window_table)
    late_fee = _late_fee(late_table)
    periods = sorted((_period_rules(t) for t in top.tables("periods")), key=lambda p: p.start)
    if not periods:
        raise PackError("至少应有一个有效期（[[periods]]）", "periods")
    for before, after in zip(periods, periods[1:], strict=False):
        if after.start <= before.end:
            raise PackError(
                f"有效期 {before.start}-{before.end} 与 {after.start}-{after.end} 重叠", "periods"
            )
    top.finish()
    assert region and name and version and collection_mode
    return RulePack(
        region=region, name=name, version=version, collection_mode=collection_mode,
        base_year_start_month=start_month, per_item_bases_for_government=per_item,
        home_functions=home, annual_window=window, late_fee=late_fee,
        periods=tuple(periods), features=features, annuity=annuity,
    )


def parse_pack(text: str) -> RulePack:
    """Parse and validate a pack from TOML text (bundled, or downloaded from the tax side)."""
    if not isinstance(text, str):
        raise PackError("规则包内容应为文本")
    try:
        # parse_float=Decimal: 0.16 in the file is exactly Decimal("0.16"), never a float.
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PackError(f"规则包不是有效的 TOML：{exc}") from None
    return _pack(_Table(data, ""))


def bundled_regions() -> list[str]:
    """Region codes of the packs shipped with the client, sorted."""
    folder = importlib.resources.files("rules") / "packs"
    return sorted(
        entry.name[: -len(".toml")]
        for entry in folder.iterdir()
        if entry.name.endswith(".toml") and _REGION.match(entry.name[: -len(".toml")])
    )


def bundled_pack_text(region: str) -> str:
    """The TOML text of a bundled pack; PackError when there is none for the region."""
    if not isinstance(region, str) or not _REGION.match(region):
        raise PackError(f"地区代码“{region}”无效，应为6位数字，如 110000")
    resource = importlib.resources.files("rules") / "packs" / f"{region}.toml"
    if not resource.is_file():
        known = "、".join(bundled_regions())
        raise PackError(f"没有地区 {region} 的内置规则包；内置地区：{known}")
    return resource.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=64)
def load_pack(region: str) -> RulePack:
    """The bundled pack of a region, parsed and validated (cached: packs are immutable)."""
    pack = parse_pack(bundled_pack_text(region))
    if pack.region != region:
        raise PackError(f"文件 {region}.toml 中的地区代码为 {pack.region}", "region")
    return pack
