"""The refreshes that run after every login and on the 更新 buttons: unit information,
the rule pack in force for the unit's region, and notices.

Each records its outcome (client.core.refresh) so a failure is shown on the page while
the last good data stays; the error is re-raised so the job ends as failed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from client.core import notices, refresh, rulecache, units
from client.core.store import Store
from client.errors import SocialFeeError
from client.sync.taxclient import TaxClient


def _recorded(store: Store, feed: str, scope: str, work: Any) -> Any:
    try:
        result = work()
    except SocialFeeError as exc:
        refresh.record_error(store, feed, scope, exc.message)
        raise
    refresh.record_ok(store, feed, scope)
    return result


def refresh_unit(store: Store, client: TaxClient, unit_id: str) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        reg = client.unit_registration(unit_id)
        saved = units.save_registration(store, dataclasses.asdict(reg))
        return {"message": f"单位信息已更新：{saved.name}"}

    return _recorded(store, "unit", unit_id, work)


def refresh_rules(store: Store, client: TaxClient, region: str) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        before = rulecache.cached_version(region)
        pack = client.rule_pack(region)
        if before == pack.version:
            rulecache.save(store, pack.region, pack.version, pack.sha256, pack.content)
            return {"message": f"业务规则已是最新版本（{pack.version}）", "version": pack.version}
        rulecache.save(store, pack.region, pack.version, pack.sha256, pack.content)
        return {"message": f"业务规则已更新到版本 {pack.version}", "version": pack.version}

    return _recorded(store, "rules", region, work)


def refresh_notices(store: Store, client: TaxClient, region: str) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        items = client.notices(region)
        new = notices.replace_region(store, region, items)
        return {"message": f"通知公告已更新，共 {len(items)} 条，新增 {new} 条", "new": new}

    return _recorded(store, "notices", region, work)
