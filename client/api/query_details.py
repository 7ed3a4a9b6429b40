"""社保费申报明细查询 (manual 3.1.8.3): the page, the filtered list, 查询 (download a
费款所属期 range from the tax side as a job) and 导出 (an xlsx written by a job, then sent)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.api.files import XLSX
from client.api.login import requires_unit
from client.core import query_details
from client.core.jobs import JobContext
from client.core.paging import PageRequest
from client.errors import ValidationError
from client.sync import details as details_sync

bp = Blueprint("query_details", __name__)
EXPORT_KIND = "query_details_export"
EXPORT_NAME = "社保费申报明细.xlsx"

# Finished export files by job id: sent once, then removed with their folder. One never
# downloaded (the page closed, the download refused) goes after EXPORT_TTL_SECONDS or at
# the unit's next export, not only when the program exits.
EXPORT_TTL_SECONDS = 600.0


@dataclass(frozen=True)
class _Export:
    target: Path
    unit_pk: int
    timer: threading.Timer


_exports: dict[str, _Export] = {}
_exports_lock = threading.Lock()


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def discard_export(job_id: str) -> bool:
    """Drop an undownloaded export's file; False when it was already sent or dropped."""
    with _exports_lock:
        entry = _exports.pop(job_id, None)
    if entry is None:
        return False
    entry.timer.cancel()
    _remove(entry.target.parent)
    return True


def _keep_export(job_id: str, target: Path, unit_pk: int) -> None:
    timer = threading.Timer(EXPORT_TTL_SECONDS, discard_export, args=(job_id,))
    timer.daemon = True
    with _exports_lock:
        _exports[job_id] = _Export(target, unit_pk, timer)
    timer.start()


def _discard_unit_exports(unit_pk: int) -> None:
    with _exports_lock:
        stale = [job_id for job_id, e in _exports.items() if e.unit_pk == unit_pk]
    for job_id in stale:
        discard_export(job_id)


def _unit_pk() -> int:
    unit = services().session.require_entered()
    assert unit.local_id is not None  # an entered unit always has its local row
    return unit.local_id


def _filter() -> query_details.DetailFilter:
    args = request.args if request.method == "GET" else (request.get_json(silent=True) or {})
    if not isinstance(args, dict) and request.method != "GET":
        raise ValidationError("请求内容格式不正确")
    return query_details.DetailFilter.parse(dict(args.items()))


@bp.get("/queries/details")
@requires_unit
def details_page() -> str:
    svc = services()
    return render_template("queries_details.html", active="queries", tab="details",
                           page_size=svc.settings.get("page_size"),
                           today=svc.session.business_date())


@bp.get("/api/queries/details")
@requires_unit
def list_details() -> ResponseReturnValue:
    svc = services()
    page = query_details.search(svc.store, _unit_pk(), PageRequest.parse(request.args, svc.settings.get("page_size")),
                                _filter())
    return jsonify({"ok": True, **page.to_dict()})


@bp.get("/api/queries/details/options")
@requires_unit
def detail_options() -> ResponseReturnValue:
    store, pk = services().store, _unit_pk()
    return jsonify({"ok": True, "options": query_details.options(store, pk),
                    "ranges": query_details.local_ranges(store, pk)})


@bp.post("/api/queries/details/sync")
@requires_unit
def start_sync() -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise ValidationError("请求内容格式不正确")
    job = details_sync.start_sync(services().session, body.get("period_from"), body.get("period_to"))
    return jsonify({"ok": True, "job": job.to_dict()}), 202


@bp.get("/api/queries/details/sync")
@requires_unit
def sync_state() -> ResponseReturnValue:
    jobs = services().jobs.find(kind=details_sync.JOB_KIND, unit_id=_unit_pk(), active_only=True)
    return jsonify({"ok": True, "job": jobs[0].to_dict() if jobs else None})


@bp.post("/api/queries/details/export")
@requires_unit
def start_export() -> ResponseReturnValue:
    """导出 as a job: a million rows take a while; the page downloads the file when done."""
    svc, pk, flt = services(), _unit_pk(), _filter()
    _discard_unit_exports(pk)  # an earlier file not downloaded is superseded

    def work(ctx: JobContext) -> dict[str, Any]:
        folder = Path(tempfile.mkdtemp(prefix="sf-details-"))
        target = folder / EXPORT_NAME
        try:
            count = query_details.export_xlsx(
                svc.store, pk, flt, target,
                lambda n: (ctx.check_cancelled(), ctx.progress(n, 0, f"已导出 {n:,} 条")))
        except BaseException:
            _remove(folder)
            raise
        _keep_export(ctx.job_id, target, pk)
        return {"rows": count, "message": f"已导出 {count:,} 条申报明细"}

    job = svc.jobs.start(EXPORT_KIND, "导出社保费申报明细", work, unit_id=pk)
    return jsonify({"ok": True, "job": job.to_dict()}), 202


@bp.get("/api/queries/details/export/<job_id>")
@requires_unit
def download_export(job_id: str) -> ResponseReturnValue:
    from flask import after_this_request, send_file

    job = services().jobs.get(job_id)
    if job.kind != EXPORT_KIND or job.unit_id != _unit_pk():
        raise ValidationError("没有这个导出任务", field="job_id")
    with _exports_lock:
        entry = _exports.pop(job_id, None)
    if entry is not None:
        entry.timer.cancel()
    if entry is None or not entry.target.exists():
        raise ValidationError("导出文件不存在或已下载，请重新导出", field="job_id")
    target = entry.target

    @after_this_request
    def _cleanup(response):  # type: ignore[no-untyped-def]
        response.call_on_close(lambda: _remove(target.parent))
        return response

    return send_file(target, mimetype=XLSX, as_attachment=True, download_name=EXPORT_NAME)
