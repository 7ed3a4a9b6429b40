"""The home page's status (本月待办) and charts as JSON; the page itself renders the same
status (client/api/pages.py ``home``), so its first paint never waits on a request.

Routes (an entered unit; local data only, never the tax side):

- ``GET /api/home/status`` -> ``{"ok", "period", "period_label", "today", "open_count",
  "lines": [{"key", "title", "state" (ok / todo / warn), "state_label", "text", "path", "action"}]}``.
- ``GET /api/home/charts`` -> ``{"ok", "periods": ["YYYYMM", ...12, oldest first], "labels",
  "items": [{"name", "amounts": [decimal text per period]}], "headcount": [int | null],
  "payable": [decimal text], "paid": [decimal text], "empty"}``.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.api.login import requires_unit
from client.backup import archive
from client.backup import common as backup_common
from client.core import home_charts, home_status, rulecache, units
from client.core.home_status import HomeStatus

bp = Blueprint("home", __name__)


def current_status() -> HomeStatus:
    """The entered unit's status as of the tax side's business date (ours when offline)."""
    svc = services()
    unit = svc.session.require_entered()
    assert unit.local_id is not None  # an entered unit always has its local row
    registration = units.registration(unit.unit_id)
    found = rulecache.in_force(unit.region)
    backup_at = home_status.last_backup(
        svc.store, backup_common.backup_folder(svc.home, svc.settings), f"*{archive.SUFFIX}"
    )
    return home_status.home_status(
        svc.store, unit.local_id, today=svc.session.business_date(), now=dt.datetime.now(),
        pack=found.pack if found else None,
        wage_base_shown=not (registration and registration.collection_mode == "税务代征"),
        backup_at=backup_at,
    )


@bp.get("/api/home/status")
@requires_unit
def status() -> ResponseReturnValue:
    return jsonify({"ok": True, **current_status().to_dict()})


@bp.get("/api/home/charts")
@requires_unit
def charts() -> ResponseReturnValue:
    svc = services()
    unit = svc.session.require_entered()
    assert unit.local_id is not None
    period = home_status.current_period(svc.session.business_date())
    return jsonify({"ok": True, **home_charts.home_charts(svc.store, unit.local_id, period).to_dict()})
