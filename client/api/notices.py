"""通知公告: the notices page, read marks, the login pop-ups and the manual refresh."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.api.login import requires_unit
from client.core import notices, refresh

bp = Blueprint("notices", __name__)


@bp.get("/notices")
@requires_unit
def notices_page() -> str:
    return render_template("notices.html", active="notices")


@bp.get("/api/notices")
@requires_unit
def list_notices() -> ResponseReturnValue:
    unit = services().session.require_entered()
    items = [n.to_dict() for n in notices.list_notices(unit.region)]
    state = refresh.state("notices", unit.region).to_dict()
    return jsonify({"ok": True, "items": items, "counts": notices.counts(unit.region), "refresh": state})


@bp.post("/api/notices/<notice_id>/read")
@requires_unit
def mark_read(notice_id: str) -> ResponseReturnValue:
    return jsonify({"ok": True, "notice": notices.mark_read(services().store, notice_id).to_dict()})


@bp.get("/api/notices/popups")
@requires_unit
def popups() -> ResponseReturnValue:
    """Important unread notices to pop up, once per login (after the refresh ran)."""
    session = services().session
    unit = session.require_entered()
    due = session.take_popups()
    if not due:
        return jsonify({"ok": True, "pending": due is None, "items": []})
    return jsonify({"ok": True, "pending": False, "items": [n.to_dict() for n in notices.popups(unit.region)]})


@bp.post("/api/notices/refresh")
@requires_unit
def refresh_notices() -> ResponseReturnValue:
    job = services().session.start_refresh("notices_refresh")
    return jsonify({"ok": True, "job": job.to_dict()}), 202
