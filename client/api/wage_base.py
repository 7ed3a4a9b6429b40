"""缴费工资申报 (manual 3.1.5): the daily and annual drafts, import, submit, 申报记录."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, send_file
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.api.files import XLSX, send_xlsx
from client.api.login import requires_unit
from client.backup import service as backup_service
from client.core import (
    audit,
    journal,
    wage_base,
    wage_context,
    wage_import,
    wage_report,
    wage_submit,
)
from client.core.enrollment import ID_TYPES
from client.core.paging import PageRequest
from client.errors import ConflictError, NotFoundError, ValidationError
from client.sync.session import OUTBOX

bp = Blueprint("wage_base", __name__)

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
SHOWN_PROBLEMS = 500  # the page lists this many; the error report has them all
WAGE_BASE_KINDS = tuple(wage_context.JOURNAL_KIND.values())


def _context(kind: str) -> wage_context.DraftContext:
    svc = services()
    unit = svc.session.require_entered()
    assert unit.local_id is not None
    return wage_context.open_draft(
        unit.local_id, unit.unit_id, unit.region, unit.region_label, kind, svc.session.business_date()
    )


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _selection(body: dict[str, Any]) -> wage_base.Selection:
    return wage_base.Selection.parse(body)


def _report_path(kind: str, unit_pk: int) -> Any:
    # One per unit: another unit's report (its employees' IDs) is never handed out.
    return services().home / "reports" / f"wage-base-{unit_pk}-{kind}-import-errors.xlsx"


# -- pages ---------------------------------------------------------------------------------------
@bp.get("/wage-base")
@requires_unit
def wage_base_home() -> ResponseReturnValue:
    return redirect("/wage-base/daily")


@bp.get("/wage-base/<any(daily, annual):kind>")
@requires_unit
def draft_page(kind: str) -> ResponseReturnValue:
    svc = services()
    ctx = _context(kind)
    return render_template(
        "wage_base.html", active="wage_base", tab=kind, kind=kind, label=wage_context.KIND_LABELS[kind],
        info=wage_base.summary(svc.store, ctx), id_types=ID_TYPES,
        unit_numbers=wage_base.unit_numbers(svc.store, ctx.unit_pk), page_size=svc.settings.get("page_size"),
    )


@bp.get("/wage-base/records")
@requires_unit
def records_page() -> ResponseReturnValue:
    _context("daily")
    return render_template(
        "wage_base_records.html", active="wage_base", tab="records", states=journal.STATE_LABELS,
        page_size=services().settings.get("page_size"),
    )


# -- the draft ---------------------------------------------------------------------------------------
@bp.get("/api/wage-base/<any(daily, annual):kind>")
@requires_unit
def list_rows(kind: str) -> ResponseReturnValue:
    svc = services()
    ctx = _context(kind)
    page = wage_base.search(
        svc.store, ctx, PageRequest.parse(request.args, svc.settings.get("page_size")),
        wage_base.DraftFilter.parse(request.args),
    )
    answer = {"ok": True, **page.to_dict()}
    # Paging does not change the summary (a scan of the whole draft): the table asks for it
    # only after loading the page first or changing the draft.
    if request.args.get("summary") != "0":
        answer["summary"] = wage_base.summary(svc.store, ctx).__dict__
    return jsonify(answer)


@bp.post("/api/wage-base/<any(daily, annual):kind>/rows")
@requires_unit
def add_row(kind: str) -> ResponseReturnValue:
    body = _json()
    row = wage_base.add_one(
        services().store, _context(kind), str(body.get("employee_id", "")), str(body.get("new_base", "")),
        str(body.get("effective_month", "")), body.get("item_bases") or None,
    )
    return jsonify({"ok": True, "row": row}), 201


@bp.get("/api/wage-base/<any(daily, annual):kind>/rows/<int:row_id>")
@requires_unit
def get_row(kind: str, row_id: int) -> ResponseReturnValue:
    """One row as it is now (the edit dialog reloads it after a refused save)."""
    ctx = _context(kind)
    return jsonify({"ok": True, "row": wage_base.with_month_check(ctx, wage_base.get_row(services().store, ctx, row_id))})


@bp.put("/api/wage-base/<any(daily, annual):kind>/rows/<int:row_id>")
@requires_unit
def update_row(kind: str, row_id: int) -> ResponseReturnValue:
    """Save one row with the version the page loaded: another clerk's newer save is kept and
    this one refused (409 row_version_conflict); the page then reloads the row."""
    body = _json()
    version = body.get("row_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationError("缺少记录版本，请刷新后再试", field="row_version")
    employee_id = body.get("employee_id")
    row = wage_base.update_row(
        services().store, _context(kind), row_id, str(body.get("new_base", "")),
        str(body.get("effective_month", "")), body.get("item_bases") or None,
        row_version=version, employee_id=str(employee_id) if employee_id is not None else None,
    )
    return jsonify({"ok": True, "row": row})


@bp.post("/api/wage-base/<any(daily, annual):kind>/add")
@requires_unit
def add_many(kind: str) -> ResponseReturnValue:
    body, svc = _json(), services()
    ctx = _context(kind)
    if body.get("mode") == "unit_number":
        result = wage_base.add_by_unit_number(svc.store, ctx, str(body.get("unit_number", "")))
    elif body.get("mode") == "normal":
        result = wage_base.add_all_normal(svc.store, ctx)
    else:
        raise ValidationError("添加方式不正确", field="mode")
    return jsonify({"ok": True, "added": result.added, "already": result.already, "message": result.message})


@bp.post("/api/wage-base/<any(daily, annual):kind>/batch")
@requires_unit
def batch_modify(kind: str) -> ResponseReturnValue:
    body = _json()
    changed = wage_base.batch_modify(
        services().store, _context(kind), _selection(body),
        effective_month=str(body.get("effective_month", "")), ratio_percent=str(body.get("ratio_percent", "")),
        amount=str(body.get("amount", "")), basis=str(body.get("basis", "current")),
    )
    return jsonify({"ok": True, "changed": changed, "message": f"已修改 {changed} 行"})


@bp.post("/api/wage-base/<any(daily, annual):kind>/delete")
@requires_unit
def delete_rows(kind: str) -> ResponseReturnValue:
    deleted = wage_base.delete_rows(services().store, _context(kind), _selection(_json()))
    return jsonify({"ok": True, "deleted": deleted, "message": f"已删除 {deleted} 行"})


@bp.post("/api/wage-base/<any(daily, annual):kind>/collapse-items")
@requires_unit
def collapse_items(kind: str) -> ResponseReturnValue:
    changed = wage_base.collapse_item_bases(services().store, _context(kind))
    return jsonify({"ok": True, "changed": changed, "message": f"已将 {changed} 行改为统一缴费工资（取养老保险缴费工资）"})


@bp.post("/api/wage-base/daily/fix-months")
@requires_unit
def fix_months() -> ResponseReturnValue:
    """调整生效年月: every out-of-range month moves to the nearest allowed one."""
    ctx = _context("daily")
    moved = wage_base.fix_months(services().store, ctx)
    first, last = ctx.effective_range
    return jsonify({"ok": True, "changed": moved, "message": f"已将 {moved} 行的生效年月调整到 {first}-{last} 范围内"})


@bp.post("/api/wage-base/<any(daily, annual):kind>/export")
@requires_unit
def export_rows(kind: str) -> ResponseReturnValue:
    body, svc = _json(), services()
    ctx = _context(kind)
    ids = _selection(body) if body.get("ids") is not None or body.get("all") else None
    name = f"{wage_context.KIND_LABELS[kind]}.xlsx"
    return send_xlsx(lambda target: wage_base.export_xlsx(svc.store, ctx, ids, target), name)


@bp.post("/api/wage-base/<any(daily, annual):kind>/template")
@requires_unit
def template(kind: str) -> ResponseReturnValue:
    _context(kind)
    return send_xlsx(lambda target: wage_report.write_template(target, kind), f"{wage_context.KIND_LABELS[kind]}导入模板.xlsx",
                     stamp=False)


@bp.post("/api/wage-base/<any(daily, annual):kind>/insured")
@requires_unit
def insured(kind: str) -> ResponseReturnValue:
    """下载参保职工: the insured employees in the import format, to fill in offline."""
    svc = services()
    ctx = _context(kind)
    employees = wage_base.insured_employees(svc.store, ctx.unit_pk)
    return send_xlsx(lambda target: wage_report.write_template(target, kind, employees), "参保职工.xlsx")


@bp.post("/api/wage-base/<any(daily, annual):kind>/import")
@requires_unit
def import_file(kind: str) -> ResponseReturnValue:
    svc = services()
    ctx = _context(kind)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("请选择要导入的文件", field="file")
    # Asked before the file is read: the operator decides first, the draft stays as it is.
    mode = request.form.get("mode") or ("replace" if request.form.get("replace") == "1" else "")
    replace, merge = mode == "replace", mode == "merge"
    existing = wage_base.confirm_replace(svc.store, ctx, replace, merge)
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError("文件超过 64 MB，请拆分后分别导入", field="file")
    result = wage_import.import_file(data, upload.filename, wage_base.enrolled(svc.store, ctx.unit_pk), ctx)
    kept = bool(existing and not result.rows)  # nothing good to put in: the list stays as it was
    if existing and not kept:
        backup_service.backup_before(svc, f"导入{'合并到' if merge else '覆盖'}缴费工资申报列表之前")
    saved = 0 if kept else wage_base.save_import(svc.store, ctx, result, replace=not merge, merge=merge)
    report = _report_path(kind, ctx.unit_pk)
    if result.problems:
        report.parent.mkdir(parents=True, exist_ok=True)
        wage_report.write_error_report(result, report)
    else:
        report.unlink(missing_ok=True)
    bad_rows = len({p.row for p in result.problems if p.severity == "error"})
    how = "合并" if merge else ("覆盖" if existing else "")
    audit.record(svc.store, f"导入{wage_context.KIND_LABELS[kind]}",
                 f"{upload.filename}：{how}导入 {saved} 行" + (f"，{bad_rows} 行有错误未导入" if bad_rows else ""),
                 unit_id=ctx.unit_pk)
    return jsonify({
        "ok": True, "imported": saved, "total_rows": result.total_rows, "bad_rows": bad_rows,
        "problem_count": len(result.problems),
        "problems": [p.__dict__ for p in result.problems[:SHOWN_PROBLEMS]],
        "report": bool(result.problems),
        "kept": kept,
        "message": f"共 {result.total_rows} 行：导入 {saved} 行" + (f"，{bad_rows} 行有错误未导入" if bad_rows else "")
        + ("；没有可导入的行，申报列表保持不变" if kept else ""),
    })


@bp.post("/api/wage-base/<any(daily, annual):kind>/import-report")
@requires_unit
def import_report(kind: str) -> ResponseReturnValue:
    report = _report_path(kind, _context(kind).unit_pk)
    if not report.exists():
        raise NotFoundError("没有可下载的错误报告", code="no_report")
    return send_file(report, mimetype=XLSX, as_attachment=True, download_name="导入错误报告.xlsx")


@bp.post("/api/wage-base/<any(daily, annual):kind>/submit")
@requires_unit
def submit(kind: str) -> ResponseReturnValue:
    svc = services()
    ctx = _context(kind)
    entry_id = wage_submit.submit(svc.store, ctx, audit.current_operator(), confirmed=bool(_json().get("confirmed")))
    entry = journal.get(svc.store, entry_id)
    audit.record(svc.store, f"提交{wage_context.KIND_LABELS[kind]}", entry.summary, unit_id=ctx.unit_pk)
    job = None
    message = "申报已保存，正在发送到税务端"
    if svc.session.outbox.paused():
        message = "申报已保存为待提交。恢复备份后发送已暂停，请先在「系统设置 > 备份与恢复」中查看备份之后的申报记录"
    elif svc.session.view().offline:
        message = "离线模式：申报已保存为待提交，恢复连接后自动发送"
    else:
        job = _start_sending(svc, ctx.unit_pk)
    return jsonify({"ok": True, "entry": entry.to_dict(), "job": job, "message": message}), 201


def _start_sending(svc: Any, unit_pk: int) -> dict[str, Any] | None:
    """Start the sender, or follow the one already running: it picks up new entries too."""
    try:
        return svc.session.start_outbox().to_dict()
    except ConflictError:
        running = svc.jobs.find(kind=OUTBOX, unit_id=unit_pk, active_only=True)
        return running[0].to_dict() if running else None


# -- 申报记录 --------------------------------------------------------------------------------------------
@bp.get("/api/wage-base/records")
@requires_unit
def list_records() -> ResponseReturnValue:
    svc = services()
    ctx = _context("daily")
    page = journal.search(
        svc.store, ctx.unit_pk, WAGE_BASE_KINDS, PageRequest.parse(request.args, svc.settings.get("page_size")),
        journal.JournalFilter.parse(request.args),
    )
    return jsonify({"ok": True, **page.to_dict(), "open": journal.count_open(svc.store, ctx.unit_pk, WAGE_BASE_KINDS)})


@bp.get("/api/wage-base/records/<int:entry_id>/reasons")
@requires_unit
def record_reasons(entry_id: int) -> ResponseReturnValue:
    ctx = _context("daily")
    page = wage_submit.reasons_page(services().store, ctx.unit_pk, entry_id, PageRequest.parse(request.args, 20))
    return jsonify({"ok": True, **page.to_dict()})


@bp.post("/api/wage-base/records/feedback")
@requires_unit
def fetch_feedback() -> ResponseReturnValue:
    """获取反馈: 无需获取反馈 when nothing waits; otherwise ask the tax side."""
    svc = services()
    ctx = _context("daily")
    if not journal.count_open(svc.store, ctx.unit_pk, WAGE_BASE_KINDS)[journal.AWAITING]:
        return jsonify({"ok": True, "message": "无需获取反馈", "checked": 0})
    report = svc.session.fetch_feedback(only=WAGE_BASE_KINDS)  # this page's records only
    return jsonify({"ok": True, **report.to_dict()})


@bp.post("/api/wage-base/records/send")
@requires_unit
def send_pending() -> ResponseReturnValue:
    """发送待提交: what waits in the journal goes out now (also resolves 待确认)."""
    svc = services()
    ctx = _context("daily")
    if not any(journal.count_open(svc.store, ctx.unit_pk, WAGE_BASE_KINDS)[s] for s in journal.TO_SEND):
        return jsonify({"ok": True, "message": "没有待发送的申报", "job": None})
    if svc.session.outbox.paused():
        raise ValidationError(
            "恢复备份后发送已暂停，请先在「系统设置 > 备份与恢复」中查看备份之后的申报记录", field="send"
        )
    return jsonify({"ok": True, "job": _start_sending(svc, ctx.unit_pk), "message": "正在发送"}), 202


@bp.get("/api/wage-base/records/send")
@requires_unit
def sending_state() -> ResponseReturnValue:
    svc = services()
    unit = svc.session.require_entered()
    jobs = svc.jobs.find(kind=OUTBOX, unit_id=unit.local_id, active_only=True)
    return jsonify({"ok": True, "job": jobs[0].to_dict() if jobs else None})


@bp.post("/api/wage-base/records/<int:entry_id>/copy-back")
@requires_unit
def copy_back(entry_id: int) -> ResponseReturnValue:
    svc = services()
    entry = journal.get(svc.store, entry_id)
    kind = wage_context.DAILY if entry.kind == "wage_base_daily" else wage_context.ANNUAL
    result = wage_submit.copy_back(svc.store, _context(kind), entry_id)
    return jsonify({"ok": True, "kind": kind, "message": f"已复制 {result.added + result.already} 行到申报列表，请修改后重新提交"})
