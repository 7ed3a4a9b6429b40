"""系统设置 pages of this issue: 单位信息, 规则信息 (each with a manual 更新), 申报密码设置
and 登录密码设置."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.api.login import requires_unit
from client.core import audit, passwords, refresh, rulecache, units
from client.errors import ValidationError

bp = Blueprint("unit_settings", __name__)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("请求内容格式不正确")
    return {k: v if isinstance(v, str) else "" for k, v in body.items()}


@bp.get("/settings/unit")
@requires_unit
def unit_page() -> str:
    unit = services().session.require_entered()
    return render_template(
        "unit_info.html", active="settings", unit=unit, registration=units.registration(unit.unit_id),
        state=refresh.state("unit", unit.unit_id),
    )


@bp.get("/settings/rules")
@requires_unit
def rules_page() -> str:
    unit = services().session.require_entered()
    found = rulecache.in_force(unit.region)
    return render_template(
        "rules_info.html", active="settings", unit=unit,
        rules=rulecache.tables(found) if found else None, state=refresh.state("rules", unit.region),
    )


@bp.get("/settings/declaration-password")
@requires_unit
def declaration_password_page() -> str:
    return render_template(
        "declaration_password.html", active="settings", unit=services().session.require_entered()
    )


@bp.get("/settings/login-password")
def login_password_page() -> str:
    return render_template(
        "login_password.html", active="settings", has_password=passwords.login_password_set()
    )


@bp.post("/api/unit/refresh")
@requires_unit
def refresh_unit() -> ResponseReturnValue:
    return jsonify({"ok": True, "job": services().session.start_refresh("unit_refresh").to_dict()}), 202


@bp.post("/api/rules/refresh")
@requires_unit
def refresh_rules() -> ResponseReturnValue:
    return jsonify({"ok": True, "job": services().session.start_refresh("rules_refresh").to_dict()}), 202


@bp.post("/api/unit/password")
@requires_unit
def change_declaration_password() -> ResponseReturnValue:
    body = _body()
    services().session.change_password(
        body.get("old_password", ""), body.get("new_password", ""), body.get("confirm_password", "")
    )
    return jsonify({"ok": True, "message": "申报密码已修改，下次登录请使用新密码"})


@bp.post("/api/local-password")
def set_login_password() -> ResponseReturnValue:
    svc = services()
    body = _body()
    had = passwords.login_password_set()
    passwords.set_login_password(
        svc.store, body.get("old_password", ""), body.get("new_password", ""), body.get("confirm_password", "")
    )
    audit.record(svc.store, "修改登录密码" if had else "设置登录密码")
    return jsonify({"ok": True, "message": "登录密码已保存，下次启动客户端时需要输入"})


@bp.post("/api/local-password/clear")
def clear_login_password() -> ResponseReturnValue:
    svc = services()
    passwords.clear_login_password(svc.store, _body().get("old_password", ""))
    audit.record(svc.store, "取消登录密码")
    return jsonify({"ok": True, "message": "已取消登录密码，启动客户端时不再需要输入"})
