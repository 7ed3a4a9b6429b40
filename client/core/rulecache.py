"""The rule pack in force for a region: the last one downloaded from the tax side (kept
in the database, so a backup carries it), else the one bundled with the client.

A downloaded pack is stored only after ``rules.packs.parse_pack`` accepted it and its
region matches; a bad download never replaces the last good pack.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from client.core.models import RulePackCache
from client.core.store import Store
from client.errors import TaxSideRejection
from rules.model import PAYER_LABELS, PackError, RulePack
from rules.packs import load_pack, parse_pack

SOURCE_TAXSIDE = "税务端"
SOURCE_BUNDLED = "客户端内置"


@dataclass(frozen=True)
class PackInForce:
    pack: RulePack
    source: str  # 税务端 / 客户端内置
    fetched_at: str | None


def save(store: Store, region: str, version: str, sha256: str, content: str) -> RulePack:
    try:
        pack = parse_pack(content)
    except PackError as exc:
        raise TaxSideRejection(f"税务端下发的业务规则有误，已保留原规则：{exc}", code="bad_rule_pack") from None
    if pack.region != region or pack.version != version:
        raise TaxSideRejection(
            f"税务端下发的业务规则与请求不符（地区 {pack.region}、版本 {pack.version}），已保留原规则",
            code="bad_rule_pack",
        )
    now = dt.datetime.now().isoformat(sep=" ", timespec="seconds")
    with store.write():
        RulePackCache.insert(
            region=region, version=version, sha256=sha256, content=content, fetched_at=now
        ).on_conflict(  # an upsert both engines take (PostgreSQL has no INSERT OR REPLACE)
            conflict_target=[RulePackCache.region],
            preserve=[RulePackCache.version, RulePackCache.sha256, RulePackCache.content, RulePackCache.fetched_at],
        ).execute()
    return pack


def cached_version(region: str) -> str | None:
    row = RulePackCache.get_or_none(RulePackCache.region == region)
    return row.version if row else None


def in_force(region: str) -> PackInForce | None:
    """The downloaded pack, or the bundled one; None when neither exists."""
    row = RulePackCache.get_or_none(RulePackCache.region == region)
    if row is not None:
        try:
            return PackInForce(parse_pack(row.content), SOURCE_TAXSIDE, row.fetched_at)
        except PackError:
            pass  # a pack from an older client format: fall back to the bundled one
    try:
        return PackInForce(load_pack(region), SOURCE_BUNDLED, None)
    except PackError:
        return None


# -- the 规则信息 page ---------------------------------------------------------------------------
def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


@dataclass(frozen=True)
class RuleTables:
    region: str
    name: str
    version: str
    collection_mode: str
    source: str
    fetched_at: str | None
    annual_window: str
    base_year_start_month: int
    periods: tuple[dict[str, Any], ...]  # {start, end, floor, cap, items: [...]}
    home_functions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tables(found: PackInForce) -> RuleTables:
    """The pack as the rows the 规则信息 page shows (newest period first)."""
    pack = found.pack
    periods = []
    for period in reversed(pack.periods):
        items = []
        for item in period.items:
            row: dict[str, Any] = {
                "code": item.code, "name": item.name,
                "floor": _money(item.base.floor), "cap": _money(item.base.cap),
            }
            for payer in ("employer", "employee"):
                rule = item.payer(payer)
                if rule is None:
                    row[payer] = "—"
                elif rule.injury is not None:
                    rates = rule.injury.class_rates
                    row[payer] = f"按行业风险类别 {_pct(min(rates))}–{_pct(max(rates))}"
                else:
                    text = _pct(rule.rate)
                    if rule.fixed:
                        text += f" + {_money(rule.fixed)} 元"
                    row[payer] = text
                row[f"{payer}_label"] = PAYER_LABELS[payer]
            items.append(row)
        periods.append({
            "start": str(period.start), "end": str(period.end),
            "floor": _money(period.base.floor), "cap": _money(period.base.cap), "items": items,
        })
    return RuleTables(
        pack.region, pack.name, pack.version, pack.collection_mode, found.source, found.fetched_at,
        pack.annual_window.describe(), pack.base_year_start_month, tuple(periods),
        tuple(f.label for f in pack.home_functions),
    )
