"""Settings, the audit log, the data check and the About figures."""

from __future__ import annotations

import io
from dataclasses import asdict

from flask import Blueprint, jsonify, request, send_file
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.core import audit, export, system
from client.core.paging import PageRequest
from client.errors import ValidationError
from client.settings import SETTINGS

bp = Blueprint("system", __name__, url_prefix="/api/system")


@bp.get("/about")
def about() -> ResponseReturnValue:
    svc = services()
    return jsonify({"ok": True, "about": asdict(system.about(svc.store, svc.home, svc.log_path))})


@bp.get("/settings")
def get_settings() -> ResponseReturnValue:
    return jsonify({"ok": True, "settings": services().settings.all()})


@bp.post("/settings")
def save_settings() -> ResponseReturnValue:
    svc = services()
    changes = request.get_json(silent=True)
    if not isinstance(changes, dict):
        raise ValidationError("设置内容格式不正确")
    refuse_elsewhere(changes)
    saved = svc.settings.update(changes)
    audit.record(svc.store, "修改设置", "、".join(sorted(changes)))
    return jsonify({"ok": True, "settings": saved})


def refuse_elsewhere(changes: dict[str, object]) -> None:
    """The business server is fixed by the release, the proxy is saved in 网络管理 after
    its test: neither through the general settings form."""
    declared = {s.name: s for s in SETTINGS}
    for name in changes:
        setting = declared.get(name)
        if setting is not None and setting.group == "developer":
            raise ValidationError(f"「{setting.label}」由安装包固定，不能修改", field=name)
        if setting is not None and setting.group == "network":
            raise ValidationError(f"「{setting.label}」请在「网络管理」中设置，测试通过后保存", field=name)
        if setting is not None and setting.group == "database":
            raise ValidationError(f"「{setting.label}」请用命令 socialfee db use 设置（先测试连接）", field=name)


@bp.post("/settings/reset")
def reset_settings() -> ResponseReturnValue:
    svc = services()
    # 网络管理 keeps its tested proxy (and the demo its tax side, a team desk its database):
    # only saved after a test.
    kept = {s.name: svc.settings.get(s.name) for s in SETTINGS if s.group in ("network", "developer", "database")}
    svc.settings.reset()
    saved = svc.settings.update(kept)
    audit.record(svc.store, "恢复默认设置")
    return jsonify({"ok": True, "settings": saved})


@bp.get("/audit")
def audit_page() -> ResponseReturnValue:
    svc = services()
    page_request = PageRequest.parse(request.args, svc.settings.get("page_size"))
    page = audit.search(page_request, filters=audit.AuditFilter.parse(request.args))
    return jsonify({"ok": True, **page.to_dict()})


@bp.post("/audit/export")
def audit_export() -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    ids = body.get("ids")
    if isinstance(body.get("filters"), dict):  # everything the operation log's filters find
        entries = audit.entries_matching(audit.AuditFilter.parse(body["filters"]))
    elif not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
        raise ValidationError("请先选择要导出的日志", field="ids")
    else:
        entries = audit.entries_by_ids(ids)
    data = export.to_xlsx(
        ["时间", "操作员", "操作", "内容", "单位"],
        [[e.at, e.operator, e.action, e.detail, e.unit] for e in entries],
        sheet="操作日志",
    )
    return send_file(
        io.BytesIO(data),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name="操作日志.xlsx",
    )


@bp.post("/check")
def start_check() -> ResponseReturnValue:
    svc = services()
    title = "检查团队数据" if svc.store.team else "检查本地数据"  # the audit action keeps one name
    job = svc.jobs.start("data_check", title, lambda ctx: system.check_data(svc.store, ctx).to_dict())
    audit.record(svc.store, "检查本地数据", f"任务 {job.id}")
    return jsonify({"ok": True, "job": job.to_dict()}), 202
