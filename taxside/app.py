"""The reference tax side's HTTP API (docs/protocol.md): a Flask app over one Store.

The views live by area (auth, enrollment, public, wage_base_api, fee_api); the shared
helpers in taxside/web.py; the simulation API in taxside/sim.py.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from taxside import (
    auth,
    contributions_api,
    details_api,
    enrollment,
    fee_api,
    payment_api,
    public,
    wage_base_api,
)
from taxside import queries as queries_api
from taxside.db import Store
from taxside.web import ApiError, json_response


def create_app(
    db_path: str | Path | Store,
    *,
    simulation: bool = False,
    packs_dir: str | Path | None = None,
    lock_minutes: int = 30,
    token_minutes: int = 120,
    decision_delay: float | None = None,
) -> Flask:
    st = db_path if isinstance(db_path, Store) else Store(db_path)
    st.create()
    if decision_delay is not None:
        with st.db.connection_context(), st.write():
            st.set_meta("decision_delay_seconds", str(decision_delay))
    app = Flask("taxside")
    app.config.update(
        STORE=st,
        SIMULATION=simulation,
        PACKS_DIR=Path(packs_dir) if packs_dir else None,
        LOCK_MINUTES=lock_minutes,
        TOKEN_MINUTES=token_minutes,
    )
    for module in (auth, enrollment, public, wage_base_api, fee_api, payment_api, contributions_api):
        app.register_blueprint(module.bp)
    app.register_blueprint(queries_api.bp)
    app.register_blueprint(details_api.bp)
    if simulation:
        app.register_blueprint(details_api.sim_bp)
        from taxside.sim import install

        install(app)

    @app.before_request
    def _open() -> None:
        st.db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if not st.db.is_closed():
            st.db.close()

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Response:
        return err.response()

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response:
        messages = {
            404: ("not_found", "请求的资源不存在"),
            405: ("method_not_allowed", "不支持该请求方法"),
            400: ("bad_request", "请求格式有误"),
            413: ("too_large", "请求内容过大"),
        }
        code, message = messages.get(err.code or 500, ("http_error", "请求无法处理"))
        return json_response({"code": code, "message": message}, err.code or 500)

    @app.errorhandler(Exception)
    def _internal(err: Exception) -> Response:
        app.logger.exception("internal error")
        return json_response({"code": "internal", "message": "税务端内部错误，请稍后再试"}, 500)

    return app
