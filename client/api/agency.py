"""单位总览 (/agency): the units overview, its batch actions and switching to a unit.

The page reads local data only, so it opens with or without a unit logged in. Batches run
as one job (client/sync/agency.py); the page polls its per-unit lines. Permissions are
checked centrally (the operators module maps /agency and /api/agency to theirs); here the
operator's assigned units narrow what is listed and what a batch may touch.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.core import agency, passwords
from client.core.paging import PageRequest
from client.errors import ValidationError
from client.sync import agency as batches
from client.sync.session import ENTERED

bp = Blueprint("agency", __name__)
_EXTENSION = "socialfee_agency"


def _batches() -> batches.AgencyBatches:
    """One batch runner per app, made on first use (it holds the batches' lines)."""
    runner = current_app.extensions.get(_EXTENSION)
    if runner is None:
        runner = current_app.extensions.setdefault(_EXTENSION, batches.AgencyBatches(services().session))
    return runner


def allowed_units() -> frozenset[str] | None:
    """The units the logged-in operator is assigned (None: all, as for 单人使用)."""
    try:
        from client.core import operators
    except ImportError:  # no operator accounts in this build
        return None
    return operators.current_assigned_unit_ids()


def _requester() -> Any:
    """Who starts a batch: its job records audit lines under that operator."""
    try:
        from client.core import operators
    except ImportError:
        return None
    return operators.current()


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("请求内容格式不正确")
    return body


def _current_unit_id() -> str | None:
    view = services().session.view()
    return view.unit.unit_id if view.state == ENTERED and view.unit is not None else None


@bp.get("/agency")
def agency_page() -> str:
    svc = services()
    return render_template("agency.html", active="agency", page_size=svc.settings.get("page_size"),
                           keyring=passwords.keyring_status(), actions=batches.ACTIONS,
                           today=svc.session.business_date().isoformat(), team=svc.store.team)


@bp.get("/api/agency/units")
def overview() -> ResponseReturnValue:
    svc = services()
    page, totals = agency.overview(
        svc.store, PageRequest.parse(request.args, svc.settings.get("page_size")),
        agency.OverviewFilter.parse(request.args), today=svc.session.business_date(),
        allowed=allowed_units(), current=_current_unit_id(),
    )
    # saved: the batch dialog asks no password for a unit whose password the keyring holds.
    rows = [r | {"saved": passwords.recall_password(r["unit_id"]) is not None} for r in page.rows]
    return jsonify({"ok": True, **page.to_dict(), "rows": rows, "totals": totals.to_dict()})


def _chosen(body: dict[str, Any]) -> list[batches.BatchUnit]:
    items = body.get("units")
    if not isinstance(items, list):
        raise ValidationError("请先勾选要处理的单位", field="units")
    chosen = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("unit_id"), str):
            raise ValidationError(f"第{n}个单位的格式不正确", field="units", row=n)
        password = item.get("password") or ""
        if not isinstance(password, str) or len(password) > 64:
            raise ValidationError(f"第{n}个单位的申报密码格式不正确", field="password", row=n)
        chosen.append(batches.BatchUnit(item["unit_id"], password, item.get("remember") is True))
    return chosen


@bp.post("/api/agency/batch")
def start_batch() -> ResponseReturnValue:
    body = _body()
    action = body.get("action")
    view = _batches().start(action if isinstance(action, str) else "", _chosen(body),
                            allowed=allowed_units(), identity=_requester())
    return jsonify({"ok": True, "batch": view.to_dict()}), 202


@bp.get("/api/agency/batch")
def latest_batch() -> ResponseReturnValue:
    view = _batches().latest()
    return jsonify({"ok": True, "batch": view.to_dict() if view else None})


@bp.get("/api/agency/batch/<job_id>")
def batch_state(job_id: str) -> ResponseReturnValue:
    return jsonify({"ok": True, "batch": _batches().view(job_id).to_dict()})


@bp.post("/api/agency/switch")
def switch() -> ResponseReturnValue:
    """Switch to a unit: at once when its password passed earlier in this start, else
    through the login wizard's security check for it (the page logs out first)."""
    unit_id = _body().get("unit_id")
    if not isinstance(unit_id, str) or not unit_id:
        raise ValidationError("请选择要切换的单位", field="unit_id")
    allowed = allowed_units()
    if allowed is not None and unit_id not in allowed:
        raise ValidationError("您无权操作该单位", field="unit_id")
    session = services().session
    if batches.switch_checked(session, unit_id):
        return jsonify({"ok": True, "switched": True, "next": "/"})
    wizard = "/login?" + urlencode({"unit": unit_id, "next": "/"})
    return jsonify({"ok": True, "switched": False, "next": wizard,
                    "entered": session.view().state == ENTERED})
