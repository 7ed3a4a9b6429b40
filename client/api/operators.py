"""操作员与角色: the operator gate before every view, the operator login, and the
administrator's pages and calls.

In 单人使用 the gate does nothing (the OS user may do everything, as before). In 多人使用 a
request without a logged-in operator goes to /operator-login (401 for API calls); one with an
operator is checked against client/core/permissions.py: 403 with a Chinese message naming the
function. The operator is set as the request's context (client/core/operators.py), which
jobs started by the request inherit.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.api.errors import error_body, error_response
from client.api.login import safe_next
from client.core import audit, operators, permissions, units
from client.core.operators_roles import delete_role, get_role, list_roles, role_use, save_role
from client.errors import AuthError, ConflictError, NotFoundError, ValidationError

bp = Blueprint("operators", __name__)
_OPEN_WITHOUT_OPERATOR = ("/static/", "/operator-login", "/api/operator/login")
# What an operator whose password was reset may reach before changing it.
_OPEN_BEFORE_CHANGE = _OPEN_WITHOUT_OPERATOR + ("/operator-password", "/api/operator/password",
                                                "/api/operator/logout", "/api/operator/me")


class OperatorSession:
    """Which operator is logged in to this window (in memory: a restart asks again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.operator_id: int | None = None

    def set(self, operator_id: int | None) -> None:
        with self._lock:
            self.operator_id = operator_id


def operator_session() -> OperatorSession:
    return current_app.extensions.setdefault("socialfee_operator", OperatorSession())


def forbidden(needed: str) -> Response:
    message = f"当前操作员无权执行此操作：{permissions.label(needed)}"
    if request.path.startswith("/api/"):
        body = error_body("forbidden", message)
        body["message"] = message
        response = jsonify(body)
        response.status_code = 403
        return response
    return error_response(403, "forbidden", message)


@bp.before_app_request
def _operator_gate() -> ResponseReturnValue | None:
    if request.endpoint in (None, "static"):  # a 404, or the shell's files: nothing to protect
        return None
    svc = services()
    if operators.mode(svc.store) != operators.MULTI:
        return None
    state = operator_session()
    identity = operators.active_identity(svc.store, state.operator_id) if state.operator_id else None
    if identity is None:
        if state.operator_id is not None:  # frozen or deleted meanwhile: out with the unit too
            state.set(None)
            svc.session.logout(record=False)
        if request.path.startswith(_OPEN_WITHOUT_OPERATOR):
            return None
        if request.path.startswith("/api/"):
            return error_response(401, "operator_login_required", "请先登录操作员账号")
        return redirect("/operator-login?" + urlencode({"next": request.full_path.rstrip("?")}))
    g.operator_token = operators.set_current(identity)
    g.operator = identity
    if identity.must_change and not request.path.startswith(_OPEN_BEFORE_CHANGE):
        return _change_first()
    view = svc.session.view()
    if view.entered and view.unit is not None and not operators.may_use_unit(view.unit.unit_id):
        svc.session.logout(record=False)  # a unit taken away from this operator
    needed = permissions.required_permission(request.path, request.method, request.endpoint)
    if not permissions.allowed(identity.permissions, identity.is_admin, needed):
        return forbidden(needed)
    return None


def _change_first() -> ResponseReturnValue:
    """A password reset by an administrator: nothing but changing it (and logging out)."""
    if request.path.startswith("/api/"):
        body = error_body("password_change_required", operators.MUST_CHANGE_MESSAGE)
        body["message"] = operators.MUST_CHANGE_MESSAGE
        response = jsonify(body)
        response.status_code = 403
        return response
    return redirect("/operator-password?" + urlencode({"next": request.full_path.rstrip("?")}))


@bp.teardown_app_request
def _forget_operator(_exc: BaseException | None) -> None:
    token = g.pop("operator_token", None)
    if token is not None:
        operators.reset_current(token)


def current_permissions() -> tuple[frozenset[str], bool]:
    identity = g.get("operator")
    if identity is None:  # 单人使用 (or not logged in yet): everything, as before
        return permissions.ALL_PERMISSIONS, True
    return identity.permissions, identity.is_admin


def can(permission: str) -> bool:
    granted, is_admin = current_permissions()
    return permissions.allowed(granted, is_admin, permission)


def page_perm(path: str) -> str:
    """What opening ``path`` needs, for a link's data-perm ("" when every operator may)."""
    return permissions.required_permission(path.split("?")[0], "GET")


@bp.app_context_processor
def _inject() -> dict[str, object]:
    granted, is_admin = current_permissions()
    shown = {"can": can, "operator": g.get("operator"), "page_perm": page_perm,
             "perms_attr": " ".join(sorted(granted)) if not is_admin else "*"}
    nav = _filtered_nav()
    if nav is not None:
        shown["nav"] = nav
    return shown


def _filtered_nav() -> tuple[Any, ...] | None:
    """The side menu without the modules the operator's role may not open."""
    if g.get("operator") is None:
        return None
    from client.api import pages

    return tuple(e for e in pages.visible_nav(services()) if can(permissions.nav_permission(e.key)))


# -- helpers -------------------------------------------------------------------------------------
def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("请求内容格式不正确")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    return value if isinstance(value, str) else ""


def _safe_next(value: str | None) -> str:
    # Local paths only (login.safe_next), and never back to the login forms themselves.
    target = safe_next(value)
    return "/" if target.startswith(("/operator-login", "/operator-password")) else target


@bp.url_value_preprocessor
def _ids_in_range(endpoint: str | None, values: dict[str, object] | None) -> None:
    # Past SQLite's 64-bit range no row can match, and the driver would raise OverflowError.
    for key in ("operator_id", "role_id"):
        value = (values or {}).get(key)
        if isinstance(value, int) and not 0 < value < 2**63:
            if key == "role_id":
                raise NotFoundError("没有这个角色，可能已被删除", code="role_not_found")
            raise NotFoundError("没有这个操作员，可能已被删除", code="operator_not_found")


def _log_in(identity: operators.Identity) -> None:
    operator_session().set(identity.id)
    with operators.acting_as(identity):
        audit.record(services().store, "操作员登录", f"{identity.name}（{identity.login_name}，{identity.role.name}）")


# -- the operator's own login --------------------------------------------------------------------
@bp.get("/operator-login")
def login_page() -> ResponseReturnValue:
    svc = services()
    if operators.mode(svc.store) != operators.MULTI:
        return redirect("/")
    return render_template("operators_login.html", bare=True, active="",
                           next=_safe_next(request.args.get("next")))


@bp.post("/api/operator/login")
def operator_login() -> ResponseReturnValue:
    svc = services()
    if operators.mode(svc.store) != operators.MULTI:
        raise ConflictError("本客户端为单人使用，无需操作员登录", code="single_mode")
    body = _body()
    login_name = _text(body, "login_name")
    try:
        identity = operators.authenticate(svc.store, login_name, _text(body, "password"))
    except AuthError as exc:
        audit.record(svc.store, "操作员登录失败", f"登录名 {login_name.strip()[:32]}：{exc.message}")
        raise
    svc.session.logout(record=False)  # the previous operator's unit is not this one's
    _log_in(identity)
    return jsonify({"ok": True, "operator": {"name": identity.name, "role": identity.role.name},
                    "must_change": identity.must_change,
                    "next": "/operator-password" if identity.must_change else None})


@bp.post("/api/operator/logout")
def operator_logout() -> ResponseReturnValue:
    svc = services()
    identity = g.get("operator")
    svc.session.logout()
    if identity is not None:
        audit.record(svc.store, "操作员退出", identity.name)
    operator_session().set(None)
    return jsonify({"ok": True})


@bp.get("/api/operator/me")
def me() -> ResponseReturnValue:
    svc = services()
    identity = g.get("operator")
    granted, is_admin = current_permissions()
    return jsonify({
        "ok": True, "mode": operators.mode(svc.store), "mode_chosen": operators.mode_chosen(svc.store),
        "operator": None if identity is None else {
            "id": identity.id, "name": identity.name, "login_name": identity.login_name,
            "role": identity.role.name, "units": None if identity.units is None else sorted(identity.units),
            "must_change": identity.must_change},
        "permissions": sorted(granted), "all": is_admin,
    })


@bp.get("/operator-password")
def own_password_page() -> ResponseReturnValue:
    if g.get("operator") is None:
        return redirect("/settings/operators")  # 单人使用: no operator password
    identity = g.operator
    # Forced after a reset: the bare page (no menu to wander off into), then on to where they were going.
    return render_template("operators_password.html", active="", bare=identity.must_change,
                           must_change=identity.must_change, next=_safe_next(request.args.get("next")))


@bp.post("/api/operator/password")
def change_own_password() -> ResponseReturnValue:
    identity = g.get("operator")
    if identity is None:
        raise ConflictError("单人使用时没有操作员密码", code="single_mode")
    body = _body()
    operators.change_own_password(services().store, identity.id, _text(body, "old_password"),
                                  _text(body, "new_password"), _text(body, "confirm_password"))
    audit.record(services().store, "修改操作员密码", identity.name)
    return jsonify({"ok": True})


@bp.post("/api/operator/setup")
def first_start() -> ResponseReturnValue:
    """The first start's choice: 单人使用 (one click) or 多人使用 with its administrator."""
    svc = services()
    if operators.mode_chosen(svc.store):
        raise ConflictError("使用方式已经选择过，可在「系统设置 > 操作员与角色」中切换", code="mode_chosen")
    body = _body()
    if body.get("mode") == operators.SINGLE:
        operators.choose_single(svc.store)
        audit.record(svc.store, "选择使用方式", "单人使用")
        return jsonify({"ok": True, "mode": operators.SINGLE, "next": "/login"})
    if body.get("mode") != operators.MULTI:
        raise ValidationError("请选择单人使用或多人使用", field="mode")
    identity = _start_multi(body)
    with operators.acting_as(identity):
        audit.record(svc.store, "选择使用方式", f"多人使用，管理员 {identity.name}")
    return jsonify({"ok": True, "mode": operators.MULTI, "next": "/settings/operators"})


def _start_multi(body: dict[str, Any]) -> operators.Identity:
    svc = services()
    identity = operators.start_multi(svc.store, body.get("name"), body.get("login_name"),
                                     _text(body, "password"), _text(body, "confirm_password"))
    _log_in(identity)
    return identity


# -- 系统设置 > 操作员与角色 ------------------------------------------------------------------------
@bp.get("/settings/operators")
def operators_page() -> str:
    svc = services()
    return render_template("operators.html", active="settings", mode=operators.mode(svc.store),
                           mode_label=operators.MODE_LABELS[operators.mode(svc.store)],
                           has_operators=bool(operators.list_operators(svc.store)))


def _overview() -> dict[str, Any]:
    svc = services()
    use = role_use(svc.store)
    return {
        "ok": True,
        "mode": operators.mode(svc.store),
        "operators": [o.to_dict() for o in operators.list_operators(svc.store)],
        "roles": [r.to_dict(use.get(r.id, 0)) for r in list_roles(svc.store)],
        "units": [{"unit_id": u.unit_id, "name": u.name} for u in units.list_units()],
        "tree": permissions.tree_json(),
    }


@bp.get("/api/operators")
def overview() -> ResponseReturnValue:
    return jsonify(_overview())


def _unit_ids(body: dict[str, Any]) -> list[str]:
    chosen = body.get("units", [])
    if not isinstance(chosen, list) or not all(isinstance(u, str) for u in chosen):
        raise ValidationError("分配的单位格式不正确", field="units")
    # Only units registered on this PC can be assigned (the form lists them).
    known = {u.unit_id for u in units.list_units()}
    unknown = [u for u in dict.fromkeys(chosen) if u and u not in known]
    if unknown:
        raise ValidationError(f"本机没有登记单位 {unknown[0][:40]}，请从列表中选择要分配的单位", field="units")
    return chosen


@bp.post("/api/operators")
def add_operator() -> ResponseReturnValue:
    svc = services()
    if operators.mode(svc.store) != operators.MULTI:  # the administrator is made by the switch
        raise ConflictError("单人使用时没有操作员，请先切换为多人使用", code="single_mode")
    body = _body()
    role = get_role(svc.store, body.get("role_id"))
    operator_id = operators.add_operator(svc.store, body.get("name"), body.get("login_name"),
                                         _text(body, "password"), _text(body, "confirm_password"),
                                         role.id, _unit_ids(body))
    added = operators.get_operator(svc.store, operator_id)
    audit.record(svc.store, "新增操作员", f"{added.name}（{added.login_name}，{role.name}）")
    return jsonify({**_overview(), "added": added.to_dict()})


@bp.post("/api/operators/<int:operator_id>")
def update_operator(operator_id: int) -> ResponseReturnValue:
    svc = services()
    body = _body()
    operators.update_operator(svc.store, operator_id, name=body.get("name"), role_id=body.get("role_id"),
                              unit_ids=_unit_ids(body))
    changed = operators.get_operator(svc.store, operator_id)
    audit.record(svc.store, "修改操作员", f"{changed.name}（{changed.role_name}，单位 {len(changed.units)} 个）")
    return jsonify(_overview())


@bp.post("/api/operators/<int:operator_id>/password")
def reset_password(operator_id: int) -> ResponseReturnValue:
    svc = services()
    body = _body()
    identity = g.get("operator")
    itself = identity is not None and identity.id == operator_id
    operators.reset_password(svc.store, operator_id, _text(body, "password"), _text(body, "confirm_password"),
                             must_change=not itself)
    audit.record(svc.store, "重置操作员密码", operators.get_operator(svc.store, operator_id).name)
    return jsonify(_overview())


@bp.post("/api/operators/<int:operator_id>/freeze")
def freeze(operator_id: int) -> ResponseReturnValue:
    svc = services()
    frozen = _body().get("frozen")
    if not isinstance(frozen, bool):
        raise ValidationError("请选择冻结或解冻", field="frozen")
    identity = g.get("operator")
    if frozen and identity is not None and identity.id == operator_id:
        raise ConflictError("不能冻结当前登录的操作员", code="freeze_self")
    changed = operators.set_frozen(svc.store, operator_id, frozen)
    audit.record(svc.store, "冻结操作员" if frozen else "解冻操作员", changed.name)
    return jsonify(_overview())


@bp.post("/api/operators/<int:operator_id>/delete")
def delete(operator_id: int) -> ResponseReturnValue:
    svc = services()
    identity = g.get("operator")
    if identity is not None and identity.id == operator_id:
        raise ConflictError("不能删除当前登录的操作员", code="delete_self")
    gone = operators.delete_operator(svc.store, operator_id)
    audit.record(svc.store, "删除操作员", f"{gone.name}（{gone.login_name}）")
    return jsonify(_overview())


@bp.post("/api/operators/roles")
def add_role() -> ResponseReturnValue:
    return _save_role(None, "新增角色")


@bp.post("/api/operators/roles/<int:role_id>")
def change_role(role_id: int) -> ResponseReturnValue:
    return _save_role(role_id, "修改角色")


def _save_role(role_id: int | None, action: str) -> ResponseReturnValue:
    svc = services()
    body = _body()
    role = save_role(svc.store, role_id, body.get("name"), body.get("permissions"))
    audit.record(svc.store, action, f"{role.name}（{len(role.permissions)} 项权限）")
    return jsonify(_overview())


@bp.post("/api/operators/roles/<int:role_id>/delete")
def remove_role(role_id: int) -> ResponseReturnValue:
    svc = services()
    role = delete_role(svc.store, role_id)
    audit.record(svc.store, "删除角色", role.name)
    return jsonify(_overview())


@bp.post("/api/operators/mode")
def switch_mode() -> ResponseReturnValue:
    """单人使用 <-> 多人使用, from 系统设置 (an administrator's action either way)."""
    svc = services()
    body = _body()
    target = body.get("mode")
    current = operators.mode(svc.store)
    if target == current:
        raise ConflictError(f"当前已经是{operators.MODE_LABELS[current]}", code="same_mode")
    if target == operators.SINGLE:
        operators.switch_to_single(svc.store)
        audit.record(svc.store, "切换使用方式", "多人使用 → 单人使用")
        operator_session().set(None)
        return jsonify({"ok": True, "mode": target, "next": "/settings/operators"})
    if target != operators.MULTI:
        raise ValidationError("请选择单人使用或多人使用", field="mode")
    if operators.has_administrator(svc.store):
        identity = operators.resume_multi(svc.store, _text(body, "login_name"), _text(body, "password"))
        _log_in(identity)
    else:
        identity = _start_multi(body)
    with operators.acting_as(identity):
        audit.record(svc.store, "切换使用方式", f"单人使用 → 多人使用，管理员 {identity.name}")
    return jsonify({"ok": True, "mode": target, "next": "/settings/operators"})
