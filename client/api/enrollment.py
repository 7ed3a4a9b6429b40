"""职工参保信息: the list, counts, detail, 增量/全量更新, 导出 and 更新数据导出."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.api.files import send_xlsx
from client.api.login import requires_unit
from client.core import enrollment
from client.core.paging import PageRequest
from client.errors import ValidationError
from client.sync.session import ENROLLMENT_SYNC

bp = Blueprint("enrollment", __name__)

def _unit_pk() -> int:
    unit = services().session.require_entered()
    assert unit.local_id is not None  # an entered unit always has its local row
    return unit.local_id


@bp.get("/enrollment")
@requires_unit
def enrollment_page() -> str:
    svc = services()
    return render_template(
        "enrollment.html",
        active="enrollment",
        id_types=enrollment.ID_TYPES,
        statuses=enrollment.STATUSES,
        page_size=svc.settings.get("page_size"),
    )


@bp.get("/api/enrollment")
@requires_unit
def list_employees() -> ResponseReturnValue:
    svc = services()
    pk = _unit_pk()
    page = enrollment.search(
        svc.store,
        pk,
        PageRequest.parse(request.args, svc.settings.get("page_size")),
        enrollment.EnrollmentFilter.parse(request.args),
    )
    counts = enrollment.counts(svc.store, pk)
    return jsonify({"ok": True, **page.to_dict(), "counts": counts.__dict__})


@bp.get("/api/enrollment/employees/<employee_id>")
@requires_unit
def employee_detail(employee_id: str) -> ResponseReturnValue:
    return jsonify(
        {"ok": True, "employee": enrollment.detail_dict(services().store, _unit_pk(), employee_id)}
    )


@bp.post("/api/enrollment/sync")
@requires_unit
def start_sync() -> ResponseReturnValue:
    mode = (request.get_json(silent=True) or {}).get("mode", "incremental")
    job = services().session.start_enrollment_sync(mode)
    return jsonify({"ok": True, "job": job.to_dict()}), 202


@bp.get("/api/enrollment/sync")
@requires_unit
def sync_state() -> ResponseReturnValue:
    """The running update, if any: the page and the banner re-attach to it."""
    jobs = services().jobs.find(kind=ENROLLMENT_SYNC, unit_id=_unit_pk(), active_only=True)
    return jsonify({"ok": True, "job": jobs[0].to_dict() if jobs else None})


@bp.post("/api/enrollment/export")
@requires_unit
def export_employees() -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    ids = body.get("ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise ValidationError("选中的职工格式不正确", field="ids")
    store, pk = services().store, _unit_pk()
    return send_xlsx(lambda target: enrollment.export_xlsx(store, pk, target, ids), "参保职工.xlsx")


def _change_args() -> tuple[enrollment.EnrollmentFilter, str, str]:
    args = request.args if request.method == "GET" else (request.get_json(silent=True) or {})
    since, until = str(args.get("since", "")).strip(), str(args.get("until", "")).strip()
    for field, value in (("since", since), ("until", until)):
        if value:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValidationError("日期格式应为 YYYY-MM-DD", field=field) from None
    return enrollment.EnrollmentFilter.parse({k: str(v) for k, v in args.items()}), since, until


@bp.get("/api/enrollment/changes")
@requires_unit
def list_changes() -> ResponseReturnValue:
    svc = services()
    filters, since, until = _change_args()
    page = enrollment.changes(
        svc.store, _unit_pk(), PageRequest.parse(request.args, 20), filters, since=since, until=until
    )
    return jsonify({"ok": True, **page.to_dict()})


@bp.post("/api/enrollment/changes/export")
@requires_unit
def export_changes() -> ResponseReturnValue:
    filters, since, until = _change_args()
    store, pk = services().store, _unit_pk()
    return send_xlsx(
        lambda target: enrollment.export_changes_xlsx(store, pk, target, filters, since=since, until=until),
        "更新数据.xlsx",
    )
