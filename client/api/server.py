"""The embedded UI server: a Flask app on 127.0.0.1 that only its own window may use.

Three gates run before every view:
1. Host: only ``127.0.0.1:<port>`` and ``localhost:<port>`` (defeats DNS rebinding).
2. Launch secret: the window's first URL carries ``?key=<secret>``; it is swapped for an
   HttpOnly SameSite=Strict cookie ``sf_key_<port>`` and the URL is cleaned. No secret: 403.
3. CSRF: a state-changing request must carry the page's token in ``X-CSRF-Token`` (or a
   ``csrf_token`` form field). Wrong or missing: 403.
Anki's mediasrv does the same with a per-process key.

Browsers send a 127.0.0.1 cookie to every port, so any other local web server the operator
visits sees the cookie. The CSRF token is therefore random per launch, lives only in the
page (a meta tag) and cannot be derived from the cookie. Every response carries a strict
Content-Security-Policy and no-store caching (static files, whose URLs carry their content
hash, are kept: preload.py); idle connections are dropped (slowloris).
"""

from __future__ import annotations

import hmac
import secrets
import socket
import threading
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Flask, Request, Response, g, redirect, request
from werkzeug.exceptions import BadRequest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from client import logs
from client.api import (
    agency,
    backup,
    certificate,
    data_location,
    enrollment,
    errors,
    fee_declaration,
    handover,
    home,
    jobs,
    login,
    network,
    notices,
    operators,
    pages,
    payment,
    preload,
    queries,
    system,
    unit_settings,
    upgrade,
    wage_base,
)
from client.api import query_details as query_details_api
from client.api.errors import error_response

if TYPE_CHECKING:
    from client.services import Services

KEY_PARAM = "key"
KEY_COOKIE_PREFIX = "sf_key_"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# A connection that sends nothing for this long is closed, so it cannot hold a thread.
IDLE_TIMEOUT_SECONDS = 30.0
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def key_cookie(port: int) -> str:
    """The launch cookie's name: one per port, so two clients on one machine do not clash."""
    return f"{KEY_COOKIE_PREFIX}{port}"


class _Request(Request):
    """JSON nested a hundred thousand deep makes json.loads raise RecursionError, which
    get_json does not catch (a 500 on every JSON endpoint): it is bad JSON like any other."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            if silent:
                return None
            raise BadRequest("请求内容不是有效的 JSON") from None


def create_app(services: Services, secret: str, port: int) -> Flask:
    app = Flask(
        "socialfee",
        template_folder=str(WEB_DIR / "templates"),
        static_folder=str(WEB_DIR / "static"),
    )
    app.request_class = _Request
    app.config.update(
        MAX_CONTENT_LENGTH=200 * 1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=0,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["socialfee"] = services
    allow_port(app, port)
    cookie_name = key_cookie(port)
    # Independent of the launch secret: whoever sees the cookie learns nothing about it.
    csrf_token = secrets.token_urlsafe(32)
    app.config["CSRF_TOKEN"] = csrf_token
    logs.register_secret(secret)
    logs.register_secret(csrf_token)

    @app.before_request
    def _gates() -> Response | None:
        if request.host not in app.config["ALLOWED_HOSTS"]:
            return error_response(403, "bad_host", "禁止访问：请求的主机名不正确")
        offered = request.args.get(KEY_PARAM)
        if offered is not None and hmac.compare_digest(offered, secret):
            rest = {k: v for k, v in request.args.items(multi=True) if k != KEY_PARAM}
            target = request.path + (f"?{urlencode(rest)}" if rest else "")
            response = redirect(target, code=303)
            response.set_cookie(
                cookie_name, secret, httponly=True, samesite="Strict", path="/"
            )
            return response
        cookie = request.cookies.get(cookie_name, "")
        if not hmac.compare_digest(cookie, secret):
            return error_response(
                403, "no_launch_key", "未授权：请从 socialfee 程序打开此页面"
            )
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token", "")
            if not hmac.compare_digest(sent, csrf_token):
                return error_response(403, "csrf", "请求已过期，请刷新页面后重试")
        g.csrf_token = csrf_token
        return None

    def _csp_nonce() -> str:
        # The error page is shown even without the cookie (so without app.css): its one
        # <style> element is allowed by a nonce of this response alone (as is a test page's
        # inline script).
        if "csp_nonce" not in g:
            g.csp_nonce = secrets.token_urlsafe(16)
        return g.csp_nonce

    app.jinja_env.globals["csp_nonce"] = _csp_nonce

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        if "csp_nonce" in g:
            nonce = f"'self' 'nonce-{g.csp_nonce}'"
            response.headers["Content-Security-Policy"] = (
                f"{CSP}; script-src {nonce}; style-src {nonce}"
            )
        if request.endpoint != "static":
            # Pages, JSON and exports hold names and ID numbers: never keep them on disk.
            response.headers["Cache-Control"] = "no-store"
        elif response.status_code in (200, 304) and _current_version():
            # This file's content hash is in its URL (preload.py): that URL never changes
            # meaning, so the browser keeps it instead of asking again on every page (a
            # refusal, say without the launch cookie, is never kept).
            response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
            response.headers.pop("Expires", None)
        elif response.status_code in (200, 304):
            response.headers["Cache-Control"] = "no-cache"  # revalidated (ETag) each time
        else:
            response.headers["Cache-Control"] = "no-store"
        return response

    def _current_version() -> bool:
        offered = request.args.get(preload.VERSION_PARAM)
        filename = (request.view_args or {}).get("filename", "")
        return bool(offered) and offered == preload.version(str(filename))

    @app.url_defaults
    def _static_version(endpoint: str, values: dict[str, object]) -> None:
        # Every url_for('static', ...) of every page, new ones too, gets its file's hash.
        if endpoint == "static" and preload.VERSION_PARAM not in values:
            found = preload.version(str(values.get("filename", "")))
            if found:
                values[preload.VERSION_PARAM] = found

    @app.teardown_request
    def _close_connection(_exc: BaseException | None) -> None:
        # Request threads are short-lived: give their SQLite connection back.
        services.store.db.close()

    @app.context_processor
    def _inject() -> dict[str, object]:
        return {"csrf_token": csrf_token, "nav": pages.visible_nav(services),
                "module_preloads": partial(preload.module_preloads, nonce=_csp_nonce)}

    errors.register(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(system.bp)
    app.register_blueprint(data_location.bp)  # under /api/system: its permissions
    app.register_blueprint(backup.bp)
    app.register_blueprint(network.bp)
    app.register_blueprint(login.bp)
    # 多人使用: the operator login and the permission table before every view (after the gates above).
    app.register_blueprint(operators.bp)
    app.register_blueprint(notices.bp)
    app.register_blueprint(unit_settings.bp)
    app.register_blueprint(enrollment.bp)
    app.register_blueprint(wage_base.bp)
    app.register_blueprint(fee_declaration.bp)
    app.register_blueprint(payment.bp)
    app.register_blueprint(upgrade.bp)
    app.register_blueprint(handover.bp)
    app.register_blueprint(certificate.bp)
    app.register_blueprint(agency.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(queries.bp)
    app.register_blueprint(query_details_api.bp)
    return app


def allow_port(app: Flask, port: int) -> None:
    app.config["ALLOWED_HOSTS"] = {f"127.0.0.1:{port}", f"localhost:{port}"}


def _handler(idle_timeout: float) -> type[WSGIRequestHandler]:
    class IdleTimeoutHandler(WSGIRequestHandler):
        # socketserver applies this to every accepted connection (reads and writes).
        timeout = idle_timeout

    return IdleTimeoutHandler


class UIServer:
    """The Flask app served from a background thread on 127.0.0.1."""

    def __init__(
        self, services: Services, port: int = 0, *, idle_timeout: float = IDLE_TIMEOUT_SECONDS
    ) -> None:
        self.secret = new_secret()
        # We bind ourselves so a taken port is an OSError the caller words, not
        # werkzeug's own English message and exit.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._socket.bind(("127.0.0.1", port))
            self._socket.listen(64)
        except OSError:
            self._socket.close()
            raise
        self.port = self._socket.getsockname()[1]
        self.app = create_app(services, self.secret, self.port)
        self.csrf_token: str = self.app.config["CSRF_TOKEN"]
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1",
            self.port,
            self.app,
            threaded=True,
            request_handler=_handler(idle_timeout),
            fd=self._socket.fileno(),
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ui-server", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def launch_url(self) -> str:
        return f"{self.base_url}/?{KEY_PARAM}={self.secret}"

    @property
    def cookie_name(self) -> str:
        return key_cookie(self.port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._socket.close()
