"""The one place errors become responses.

API paths (``/api/...``) and requests that accept only JSON answer ``{"ok": false, "error": {"code", "message", "field",
"row"}}``; pages answer a Chinese error page.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from client.errors import SocialFeeError

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: "请求格式不正确",
    401: "未授权，请从 socialfee 程序打开此页面",
    403: "禁止访问",
    404: "找不到该页面或数据",
    405: "不支持该操作",
    413: "上传的文件太大",
}


def error_body(code: str, message: str, field: str | None = None, row: int | None = None) -> dict:
    return {"ok": False, "error": {"code": code, "message": message, "field": field, "row": row}}


def error_response(status: int, code: str, message: str, **extra: object) -> Response:
    wants_json = request.accept_mimetypes.best == "application/json"
    if request.path.startswith("/api/") or wants_json:
        response = jsonify(error_body(code, message, **extra))  # type: ignore[arg-type]
    else:
        # Past the launch-secret gate the page keeps the navigation; before it (a request
        # without the secret) nothing of the client is shown.
        template = "error_page.html" if g.get("csrf_token") else "error.html"
        response = Response(render_template(template, status=status, message=message), mimetype="text/html")
    response.status_code = status
    return response


def register(app: Flask) -> None:
    @app.errorhandler(SocialFeeError)
    def _domain(exc: SocialFeeError) -> Response:
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        return error_response(exc.status, exc.code, exc.message, field=exc.field, row=exc.row)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = HTTP_MESSAGES.get(status, exc.description or "请求失败")
        return error_response(status, f"http_{status}", message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "程序内部错误，详情已记录在日志中")
