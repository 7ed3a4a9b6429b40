"""数据位置: where this desk's data are (the first-use wizard's choice, the settings page).

单机使用 keeps the SQLite file in the data directory (the default); 团队使用 names a
PostgreSQL database by URL and password. 测试连接 only connects (client/core/db_location.py
says why not, in Chinese); 保存 tests, opens and migrates the database, then keeps it as the
data location (URL without password in settings.json, the password in the keyring). The
running client keeps its open store: the new location takes effect at the next start,
which the answer says (swapping the store under running jobs and sessions is not safe).
The password never comes back in an answer, nor goes into the log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from client import logs
from client.api.context import services
from client.core import audit, db_location, operators
from client.errors import AuthError, NotFoundError, ValidationError

bp = Blueprint("data_location", __name__, url_prefix="/api/system/data-location")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "team.md"
MODES = ("sqlite", "team")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("请求内容格式不正确")
    return body


def _target(body: dict[str, Any]) -> tuple[str, str | None]:
    """(URL without password, password or None) from the form; the password is a secret."""
    url = str(body.get("url") or "").strip()
    if not url:
        raise ValidationError("请填写团队数据库地址，例如 postgresql://socialfee@192.168.1.10:5432/socialfee",
                              field="url", code="database_url")
    try:
        bare, in_url = db_location.parse(url)
    except ValidationError as exc:
        raise ValidationError(exc.message, field="url", code="database_url") from exc
    password = str(body.get("password") or "") or in_url
    if password:
        logs.register_secret(password)
    return bare, password


def _current() -> dict[str, Any]:
    svc = services()
    configured = db_location.configured(svc.settings)
    return {
        "engine": svc.store.dialect,
        "team": svc.store.team,
        "location": svc.store.location,  # never the password
        "configured": configured,  # what the next start opens ("" = the SQLite file)
        "restart_needed": (configured or "") != (svc.store.location if svc.store.team else ""),
        "password_kept": db_location.password_kept(configured),
        "docs": DOCS.is_file(),
    }


@bp.get("")
def current() -> ResponseReturnValue:
    return jsonify({"ok": True, **_current()})


def _admin_only() -> None:
    """Where every later save goes (and where the declaration data could be sent) is as
    sensitive as the tax-side address: in 多人使用 the administrator's alone, testing too
    (no probing of the network by another role)."""
    identity = operators.current()
    if identity is not None and not identity.is_admin:
        raise AuthError("只有管理员可以设置数据位置。", code="forbidden")


@bp.post("/test")
def test() -> ResponseReturnValue:
    _admin_only()
    bare, password = _target(_body())
    secret = password or db_location.recall_password(bare)
    version = db_location.check_connection(db_location.with_password(bare, secret))
    message = (f"连接成功：{bare}，已有 socialfee 数据（数据结构版本 {version}）。" if version
               else f"连接成功：{bare}，这是一个新的空数据库，保存后将在其中建立数据表。")
    return jsonify({"ok": True, "location": bare, "schema_version": version, "message": message})


@bp.post("/use")
def use() -> ResponseReturnValue:
    svc = services()
    _admin_only()
    body = _body()
    mode = str(body.get("mode") or "")
    if mode not in MODES:
        raise ValidationError("请选择单机使用或团队使用", field="mode")
    if mode == "sqlite":
        report = db_location.use_sqlite(svc.settings)
    else:
        bare, password = _target(body)
        report = db_location.use(svc.settings, bare, password=password)
    audit.record(svc.store, "修改数据位置", report.location)
    state = _current()
    where = "团队数据库" if report.engine == "postgres" else "本机数据库"
    message = (f"已保存：数据位置为{where} {report.location}。请关闭并重新启动客户端，之后的数据将保存在这里。"
               if state["restart_needed"] else f"已保存：数据位置仍为{where} {report.location}。")
    return jsonify({"ok": True, **state, "report": report.to_dict(), "message": message})


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    """docs/team.md as plain text: what team mode is and who backs up the server."""
    if not DOCS.is_file():
        raise NotFoundError("本安装中没有团队模式说明（docs/team.md）。")
    return Response(DOCS.read_text(encoding="utf-8"), mimetype="text/plain; charset=utf-8")
