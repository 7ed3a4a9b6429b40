"""Job progress for the progress-bar component: poll, re-attach, cancel."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from client.api.context import services

bp = Blueprint("jobs", __name__, url_prefix="/api/jobs")


@bp.get("")
def list_jobs() -> ResponseReturnValue:
    unit = request.args.get("unit_id")
    found = services().jobs.find(
        kind=request.args.get("kind") or None,
        unit_id=int(unit) if unit and unit.isdigit() else None,
        active_only=request.args.get("active") == "1",
    )
    return jsonify({"ok": True, "jobs": [j.to_dict() for j in found]})


@bp.get("/<job_id>")
def get_job(job_id: str) -> ResponseReturnValue:
    return jsonify({"ok": True, "job": services().jobs.get(job_id).to_dict()})


@bp.post("/<job_id>/cancel")
def cancel_job(job_id: str) -> ResponseReturnValue:
    return jsonify({"ok": True, "job": services().jobs.cancel(job_id).to_dict()})
