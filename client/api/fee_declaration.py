"""社保费申报 (manual 3.1.6): 日常申报, 特殊缴费申报, the local fee check, 申报记录 and 作废.

Views stay thin: the summaries, declaring, records and voids are client/core/fee_declaration.py;
the fetches are client/sync/fee_declaration.py, called through the session (token renewal,
offline refusal); sending goes through the one sender (the session's outbox job).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.api.files import send_xlsx
from client.api.login import requires_unit
from client.core import audit, fee_views, journal
from client.core import fee_declaration as fees
from client.core.paging import Page, PageRequest
from client.errors import ConflictError, NotFoundError, ValidationError
from client.sync import fee_declaration as fee_sync
from client.sync.session import OUTBOX, CurrentUnit

bp = Blueprint("fee_declaration", __name__)

REFRESH_JOB, CHECK_JOB = "fee_summaries_refresh", "fee_check"
SHOWN_DIFFERENCES = 500  # the page lists this many; the export has them all
KIND_PATTERN = "<any(daily, special):kind>"


def _unit() -> tuple[CurrentUnit, int]:
    unit = services().session.require_entered()
    assert unit.local_id is not None  # an entered unit always has its local row
    return unit, unit.local_id


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _summary_ids(body: dict[str, Any]) -> list[str]:
    ids = body.get("summary_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValidationError("请选择要申报的汇总数据", field="summary_ids")
    return ids


# -- pages ------------------------------------------------------------------------------------------
@bp.get("/fee-declaration")
@requires_unit
def fee_home() -> ResponseReturnValue:
    return redirect("/fee-declaration/daily")


@bp.get(f"/fee-declaration/{KIND_PATTERN}")
@requires_unit
def summaries_page(kind: str) -> ResponseReturnValue:
    svc = services()
    _unit()
    return render_template(
        "fee_summaries.html", active="fee_declaration", tab=kind, kind=kind,
        label=fees.SUMMARY_KIND_LABELS[kind], page_size=svc.settings.get("page_size"),
    )


@bp.get("/fee-declaration/records")
@requires_unit
def records_page() -> ResponseReturnValue:
    svc = services()
    _unit()
    start, end = fee_sync.default_range(svc.session.business_date())
    return render_template(
        "fee_records.html", active="fee_declaration", tab="records", statuses=fees.RECORD_STATUS_LABELS,
        page_size=svc.settings.get("page_size"), date_from=start, date_to=end,
    )


# -- summaries ----------------------------------------------------------------------------------------
@bp.get(f"/api/fee-declaration/{KIND_PATTERN}")
@requires_unit
def list_summaries(kind: str) -> ResponseReturnValue:
    svc = services()
    _, pk = _unit()
    page, totals = fee_views.summary_page(
        svc.store, pk, kind, fees.SummaryFilter.parse(request.args),
        PageRequest.parse(request.args, svc.settings.get("page_size")),
    )
    return jsonify({"ok": True, **page.to_dict(), "totals": totals.to_dict()})


@bp.post(f"/api/fee-declaration/{KIND_PATTERN}/refresh")
@requires_unit
def refresh(kind: str) -> ResponseReturnValue:
    """进入页面 / 刷新: the pending summaries from the tax side, in the background."""
    svc = services()
    unit, pk = _unit()
    svc.session.client()  # offline: say so now, not as a failed job

    def work(_ctx: Any) -> dict[str, Any]:
        found = svc.session.call(lambda c: fee_sync.refresh_summaries(svc.store, c, pk, unit.unit_id, kind))
        return found.to_dict()

    job = svc.jobs.start(f"{REFRESH_JOB}_{kind}", f"查询{fees.SUMMARY_KIND_LABELS[kind]}预处理汇总", work, unit_id=pk)
    return jsonify({"ok": True, "job": job.to_dict()}), 202


@bp.get("/api/fee-declaration/summaries/<summary_id>/details")
@requires_unit
def summary_details(summary_id: str) -> ResponseReturnValue:
    """人员明细 of one summary: from this PC when its version is cached, else from the tax side."""
    svc = services()
    unit, pk = _unit()
    chosen = fee_views.summary(svc.store, pk, summary_id)
    paging = PageRequest.parse(request.args, 20)
    page = fee_views.cached_detail_page(svc.store, pk, summary_id, chosen.version, paging)
    source = "local"
    if page is None:
        if not chosen.has_details:
            raise NotFoundError("该预处理汇总没有人员明细", code="no_details")
        found = svc.session.call(lambda c: c.fee_summary_details(
            unit.unit_id, summary_id, offset=(paging.page - 1) * paging.size, limit=paging.size,
            version=chosen.version,
        ))
        rows = [fee_views.detail_row(d.employee_id, d.name, d.id_type, d.id_number, d.period, d.base, d.amount)
                for d in found.items]
        page, source = Page(rows, found.total, paging.page, paging.size), "taxside"
    return jsonify({"ok": True, **page.to_dict(), "source": source, "summary": chosen.to_dict()})


# -- the local fee check (beyond the official client) -------------------------------------------------
@bp.post("/api/fee-declaration/check")
@requires_unit
def start_check() -> ResponseReturnValue:
    """本地核对: download the person details still missing, then recompute the chosen summaries."""
    svc = services()
    unit, pk = _unit()
    chosen = fees.summaries_by_id(svc.store, pk, _summary_ids(_json()))
    missing = fee_views.to_download(svc.store, pk, chosen)
    if missing:
        svc.session.client()  # the details come from the tax side

    def work(ctx: Any) -> dict[str, Any]:
        for n, s in enumerate(missing, start=1):
            ctx.progress(n - 1, len(missing), f"正在下载人员明细（{n}/{len(missing)}）：{s.label}")
            try:
                svc.session.call(lambda c, s=s: fee_sync.download_details(svc.store, c, pk, unit.unit_id,
                                                                          s.summary_id, s.version))
            except ConflictError:
                raise ConflictError(f"{s.label} 已在税务端重新计算，请点击「刷新」后重新核对",
                                    code="summary_recomputed") from None
        ctx.progress(len(missing), len(missing), "正在核对")
        result = fee_sync.FeeDeclarationService(svc.session).check([s.summary_id for s in chosen])
        return {**result.to_dict(SHOWN_DIFFERENCES), "summary_ids": [s.summary_id for s in chosen]}

    job = svc.jobs.start(CHECK_JOB, "本地核对", work, unit_id=pk)
    return jsonify({"ok": True, "job": job.to_dict()}), 202


@bp.post("/api/fee-declaration/check/export")
@requires_unit
def export_check() -> ResponseReturnValue:
    """差异导出: the check again over the same summaries (details are cached by now)."""
    svc = services()
    _, pk = _unit()
    ids = _summary_ids(_json())
    fees.summaries_by_id(svc.store, pk, ids)  # unknown ids: an error before any file
    service = fee_sync.FeeDeclarationService(svc.session)
    return send_xlsx(lambda target: service.export_check(ids, target), "社保费核对差异.xlsx")


# -- 提交申报 -----------------------------------------------------------------------------------------
def _start_sending(pk: int) -> dict[str, Any] | None:
    """Start the sender, or follow the one already running: it picks up new entries too."""
    svc = services()
    try:
        return svc.session.start_outbox().to_dict()
    except ConflictError:
        running = svc.jobs.find(kind=OUTBOX, unit_id=pk, active_only=True)
        return running[0].to_dict() if running else None


def _send_or_queue(pk: int, what: str) -> tuple[dict[str, Any] | None, str]:
    svc = services()
    if svc.session.outbox.paused():
        return None, (f"{what}已保存为待提交。恢复备份后发送已暂停，请先在「系统设置 > 备份与恢复」中查看备份之后的申报记录")
    if svc.session.view().offline:
        return None, f"离线模式：{what}已保存为待提交，恢复连接后自动发送"
    return _start_sending(pk), f"{what}已保存，正在发送到税务端"


@bp.post("/api/fee-declaration/submit")
@requires_unit
def submit() -> ResponseReturnValue:
    svc = services()
    _, pk = _unit()
    entry_id = fees.declare(svc.store, pk, _summary_ids(_json()), audit.current_operator())
    entry = journal.get(svc.store, entry_id)
    audit.record(svc.store, "提交社保费申报", entry.summary, unit_id=pk)
    job, message = _send_or_queue(pk, "申报")
    return jsonify({"ok": True, "entry": entry.to_dict(), "job": job, "message": message}), 201


# -- 申报记录 -----------------------------------------------------------------------------------------
def _open_counts(pk: int) -> dict[str, int]:
    """Open entries of the fee kinds only (the wage-base page counts its own)."""
    counts = dict.fromkeys(journal.OPEN_STATES, 0)
    for entry in journal.entries(services().store, pk, journal.OPEN_STATES, fees.KINDS):
        counts[entry.state] += 1
    return counts


@bp.get("/api/fee-declaration/records")
@requires_unit
def list_records() -> ResponseReturnValue:
    svc = services()
    _, pk = _unit()
    page = fees.records(svc.store, pk, PageRequest.parse(request.args, svc.settings.get("page_size")),
                        fees.RecordFilter.parse(request.args))
    return jsonify({"ok": True, **page.to_dict(), "open": _open_counts(pk)})


@bp.post("/api/fee-declaration/records/sync")
@requires_unit
def sync_records() -> ResponseReturnValue:
    """同步: the tax side's records of a date range (the last two months when none is given)."""
    svc = services()
    unit, pk = _unit()
    body = _json()
    start, end = str(body.get("date_from") or "").strip(), str(body.get("date_to") or "").strip()
    if not start and not end:
        start, end = fee_sync.default_range(svc.session.business_date())
    start, end = fee_sync.check_range(start, end)
    found = svc.session.call(lambda c: fee_sync.sync_records(svc.store, c, pk, unit.unit_id, start, end))
    return jsonify({"ok": True, **found.to_dict()})


@bp.post("/api/fee-declaration/records/feedback")
@requires_unit
def fetch_feedback() -> ResponseReturnValue:
    """获取反馈 of declarations and voids: 无需获取反馈 when nothing waits."""
    svc = services()
    unit, pk = _unit()
    if not _open_counts(pk)[journal.AWAITING]:
        return jsonify({"ok": True, "message": "无需获取反馈", "checked": 0, "accepted": 0, "rejected": 0})
    report = svc.session.call(lambda c: svc.session.outbox.fetch_feedback(c, pk, unit.unit_id, only=fees.KINDS))
    return jsonify({"ok": True, **report.to_dict()})


@bp.post("/api/fee-declaration/records/send")
@requires_unit
def send_pending() -> ResponseReturnValue:
    """发送待提交: what waits goes out now (also resolves 待确认)."""
    svc = services()
    _, pk = _unit()
    if not any(_open_counts(pk)[s] for s in journal.TO_SEND):
        return jsonify({"ok": True, "message": "没有待发送的申报", "job": None})
    if svc.session.outbox.paused():
        raise ValidationError(
            "恢复备份后发送已暂停，请先在「系统设置 > 备份与恢复」中查看备份之后的申报记录", field="send"
        )
    svc.session.client()
    return jsonify({"ok": True, "job": _start_sending(pk), "message": "正在发送"}), 202


@bp.post("/api/fee-declaration/records/<declaration_id>/void")
@requires_unit
def void(declaration_id: str) -> ResponseReturnValue:
    """作废: a void request through the journal; its result comes as feedback."""
    svc = services()
    _, pk = _unit()
    entry_id = fees.request_void(svc.store, pk, declaration_id, _json().get("reason"), audit.current_operator())
    entry = journal.get(svc.store, entry_id)
    audit.record(svc.store, "作废社保费申报", entry.summary, unit_id=pk)
    job, message = _send_or_queue(pk, "作废申请")
    return jsonify({"ok": True, "entry": entry.to_dict(), "job": job,
                    "message": message + "，请稍后获取反馈查看作废结果"}), 201
