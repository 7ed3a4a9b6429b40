"""注册登录 and 单位管理: the login wizard page, the client lock, and their JSON calls.

Pages that need a logged-in unit use ``requires_unit``: without one they send the
operator to /login (and come back afterwards); API calls answer 401 ``not_logged_in``.
When a local login password is set, everything but the lock page waits for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.api.errors import error_response
from client.core import audit, operators, passwords, units
from client.errors import AuthError, ValidationError
from client.sync.session import ENTERED, password_hint

bp = Blueprint("login", __name__)
F = TypeVar("F", bound=Callable[..., Any])

# Reachable while the client is locked by the local login password.
_UNLOCKED_PATHS = ("/static/", "/lock", "/api/lock/")


def login_needed() -> ResponseReturnValue | None:
    """None when a unit is logged in, else where to send the request."""
    if services().session.view().state == ENTERED:
        return None
    if request.path.startswith("/api/"):
        return error_response(401, "not_logged_in", "请先登录单位（输入申报密码）")
    return redirect("/login?" + urlencode({"next": request.full_path.rstrip("?")}))


def requires_unit(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return login_needed() or view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@bp.before_app_request
def _client_lock() -> ResponseReturnValue | None:
    svc = services()
    if svc.session.client_unlocked or request.path.startswith(_UNLOCKED_PATHS):
        return None
    if operators.mode(svc.store) == operators.MULTI:
        return None  # the operator login (client/api/operators.py) takes the lock's place
    if request.path.startswith("/api/"):
        return error_response(401, "client_locked", "客户端已锁定，请先输入登录密码")
    return redirect("/lock")


@bp.app_context_processor
def _inject() -> dict[str, object]:
    session = services().session
    view = session.view()
    # Pages ask for the login pop-ups only while some are due (once per login).
    return {"current": view, "popups_due": view.entered and not session.popups_shown}


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("请求内容格式不正确")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    return value if isinstance(value, str) else ""


def _session_json(**extra: object) -> Response:
    return jsonify({"ok": True, "session": services().session.view().to_dict(), **extra})


def _require_assigned(unit_id: str) -> None:
    """An operator works only on the units assigned to them (多人使用)."""
    if not operators.may_use_unit(unit_id):
        raise AuthError("当前操作员未被分配该单位，请联系管理员", code="unit_not_assigned", field="unit_id")


def _assigned_units() -> list[units.LocalUnit]:
    return [u for u in units.list_units() if operators.may_use_unit(u.unit_id)]


def safe_next(value: str | None) -> str:
    # Only local paths: never send the operator to another host after login.
    # The browser reads a backslash as a slash and drops tabs and newlines: "/\\host" and
    # "/\t/host" are another host too.
    if (value and value.startswith("/") and not value.startswith("//") and "\\" not in value
            and not any(ch < " " for ch in value)):
        return value
    return "/"


def restore_available() -> bool:
    """Whether the backup module offers a restore for the wizard's 从备份恢复."""
    try:
        from client.backup import service
    except ImportError:
        return False
    return callable(getattr(service, "restore", None))


# -- pages -------------------------------------------------------------------------------------
@bp.get("/login")
def login_page() -> str:
    svc = services()
    keyring = passwords.keyring_status()
    data = {
        "units": [u.to_dict() | {"saved": passwords.recall_password(u.unit_id) is not None}
                  for u in _assigned_units()],
        "next": safe_next(request.args.get("next")),
        "preselect": request.args.get("unit", ""),
        "add": request.args.get("add") == "1",
        "session": svc.session.view().to_dict(),
    }
    # The first start offers 单人使用 / 多人使用 (an install with units already chose 单人 by using it).
    first_start = not operators.mode_chosen(svc.store) and not units.list_units()
    return render_template(
        "login.html", bare=True, active="", login_data=data, keyring=keyring,
        restore=restore_available(), first_start=first_start,
    )


@bp.get("/lock")
def lock_page() -> ResponseReturnValue:
    if services().session.client_unlocked:
        return redirect("/")
    return render_template("lock.html", bare=True, active="")


@bp.post("/api/lock/unlock")
def unlock() -> ResponseReturnValue:
    svc = services()
    if not passwords.verify_login_password(_text(_body(), "password")):
        raise AuthError("登录密码不正确", code="wrong_login_password", field="password")
    svc.session.client_unlocked = True
    return jsonify({"ok": True})


# -- the wizard --------------------------------------------------------------------------------
@bp.get("/api/session")
def session_state() -> ResponseReturnValue:
    status = passwords.keyring_status()
    return _session_json(keyring={"available": status.available, "reason": status.reason})


@bp.post("/api/session/taxpayer")
def lookup_taxpayer() -> ResponseReturnValue:
    found = services().session.lookup(_text(_body(), "taxpayer_id"))
    rows = [
        {
            "unit_id": u.unit_id, "taxpayer_id": u.taxpayer_id, "name": u.name, "region": u.region,
            "region_label": units.region_label(u.region), "password_is_initial": u.password_is_initial,
            "hint": password_hint(u), "saved": passwords.recall_password(u.unit_id) is not None,
        }
        for u in found if operators.may_use_unit(u.unit_id)
    ]
    return jsonify({"ok": True, "units": rows})


@bp.post("/api/session/login")
def login() -> ResponseReturnValue:
    body = _body()
    session = services().session
    unit_id = _text(body, "unit_id")
    if not unit_id:
        raise ValidationError("请选择要登录的单位", field="unit_id")
    _require_assigned(unit_id)
    if body.get("use_saved") is True:
        view = session.login_with_saved(unit_id)
    else:
        view = session.login(unit_id, _text(body, "password"), remember=body.get("remember") is True)
    return _session_json(next="change" if view.state == "must_change" else "confirm")


@bp.post("/api/session/offline")
def enter_offline() -> ResponseReturnValue:
    body = _body()
    _require_assigned(_text(body, "unit_id"))
    services().session.enter_offline(_text(body, "unit_id"), _text(body, "password"))
    return _session_json()


@bp.post("/api/session/change-initial")
def change_initial() -> ResponseReturnValue:
    body = _body()
    services().session.change_initial_password(
        _text(body, "new_password"), _text(body, "confirm_password")
    )
    return _session_json(next="confirm")


@bp.get("/api/session/registration")
def registration() -> ResponseReturnValue:
    reg, note = services().session.registration()
    return jsonify({"ok": True, "registration": reg.to_dict() if reg else None, "note": note})


@bp.post("/api/session/confirm")
def confirm() -> ResponseReturnValue:
    if _body().get("confirmed") is not True:
        raise ValidationError("请先勾选「以上登记信息确认无误」", field="confirmed")
    services().session.confirm()
    return _session_json()


@bp.post("/api/session/logout")
def logout() -> ResponseReturnValue:
    services().session.logout()
    return _session_json()


# -- 单位管理 ------------------------------------------------------------------------------------
@bp.get("/api/units")
def list_units() -> ResponseReturnValue:
    view = services().session.view()
    current = view.unit.unit_id if view.unit and view.state == ENTERED else None
    rows = [u.to_dict() | {"current": u.unit_id == current} for u in _assigned_units()]
    return jsonify({"ok": True, "units": rows})


@bp.post("/api/units/<unit_id>/remove")
def remove_unit(unit_id: str) -> ResponseReturnValue:
    svc = services()
    keep = _body().get("keep_data")
    if not isinstance(keep, bool):
        raise ValidationError("请选择是否保留该单位的本地数据", field="keep_data")
    local = units.get_unit(unit_id)
    view = svc.session.view()
    if view.unit is not None and view.unit.unit_id == unit_id:
        svc.session.logout()
    units.remove_unit(svc.store, unit_id, keep_data=keep)
    name = local.name if local else unit_id
    audit.record(svc.store, "删除单位", f"{name}（{unit_id}），{'保留' if keep else '不保留'}本地数据")
    return _session_json()
