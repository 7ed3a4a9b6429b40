"""Shared HTTP helpers of the reference tax side's API (docs/protocol.md).

Every area module (auth, enrollment, public, wage_base_api, fee_api, sim) builds its views
from these: the one error body, the store of the running app, paging and cursors, the
token check and the idempotency of writes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, g, request

from taxside.db import Store
from taxside.jsonutil import dumps, loads

MAX_PAGE = 5000
DEFAULT_PAGE = 1000


class ApiError(Exception):
    """An error answer: always ``{"code", "message"}`` plus optional extra fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self) -> Response:
        return json_response({"code": self.code, "message": self.message, **self.extra}, self.status)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status=status, mimetype="application/json")


def store() -> Store:
    return current_app.config["STORE"]


def body_json() -> dict[str, Any]:
    try:
        value = loads(request.get_data() or b"{}")
    except ValueError:
        raise ApiError(400, "bad_json", "请求内容不是有效的JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_json", "请求内容应为JSON对象")
    return value


def parse_limit(default: int = DEFAULT_PAGE) -> int:
    text = request.args.get("limit")
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise ApiError(400, "bad_limit", f"每页条数应为1到{MAX_PAGE}之间的整数")
    return int(text)


def encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(dumps(data)).decode().rstrip("=")


def decode_cursor(text: str, feed: str) -> dict[str, Any]:
    try:
        data = loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(data, dict) or data.get("f") != feed:
            raise ValueError
    except (ValueError, binascii.Error):
        raise ApiError(400, "bad_cursor", "同步游标无效，请重新进行全量更新") from None
    return data


def load_unit(unit_id: str) -> dict[str, Any]:
    row = store().db.execute_sql(
        "SELECT id, unit_id, taxpayer_id, name, tax_authority, registration_type, region,"
        " industry_risk_class, collection_mode, is_government, initial_number, password_hash,"
        " password_salt, failed_attempts, locked_until, seq, updated_at, password_changed_at"
        " FROM unit WHERE unit_id = ?",
        (unit_id,),
    ).fetchone()
    if row is None:
        raise ApiError(404, "unit_not_found", "未找到该参保单位")
    keys = (
        "pk", "unit_id", "taxpayer_id", "name", "tax_authority", "registration_type", "region",
        "industry_risk_class", "collection_mode", "is_government", "initial_number",
        "password_hash", "password_salt", "failed_attempts", "locked_until", "seq",
        "updated_at", "password_changed_at",
    )
    return dict(zip(keys, row, strict=True))


def unit_numbers(unit_pk: int) -> list[dict[str, Any]]:
    rows = store().query(
        "SELECT number, kind, items, agency FROM unit_number WHERE unit_pk = ? ORDER BY id",
        (unit_pk,),
    )
    return [{"number": n, "kind": k, "items": loads(i), "agency": a} for n, k, i, a in rows]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def require_token(*, allow_restricted: bool = False) -> Callable[..., Any]:
    """Bearer token for the unit in the path; a restricted token only changes the password."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer ") or not header[7:].strip():
                raise ApiError(401, "token_missing", "缺少访问令牌，请先验证申报密码")
            row = store().db.execute_sql(
                "SELECT t.unit_pk, t.scope, t.expires_at, u.unit_id FROM token t"
                " JOIN unit u ON u.id = t.unit_pk WHERE t.token_hash = ?",
                (token_hash(header[7:].strip()),),
            ).fetchone()
            if row is None:
                raise ApiError(401, "token_invalid", "访问令牌无效，请重新验证申报密码")
            unit_pk, scope, expires_at, unit_id = row
            if dt.datetime.fromisoformat(expires_at) <= store().now():
                raise ApiError(401, "token_expired", "登录已过期，请重新验证申报密码")
            path_unit = kwargs.get("unit_id")
            if path_unit is not None and path_unit != unit_id:
                raise ApiError(403, "unit_forbidden", "无权访问该单位的数据")
            if scope != "full" and not allow_restricted:
                raise ApiError(
                    403, "password_change_required", "首次登录须先修改初始申报密码，才能办理其他业务"
                )
            g.unit_pk = unit_pk
            g.token_hash = token_hash(header[7:].strip())
            return view(*args, **kwargs)

        return wrapper

    return decorate


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Every write: the first answer to a key is stored and replayed for the same request;
    the same key with a different request is a conflict. Runs in one IMMEDIATE transaction
    so concurrent repeats of one key serialize."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            raise ApiError(400, "idempotency_key_required", "写操作必须携带 Idempotency-Key 请求头")
        if len(key) > 128 or not key.isascii():
            raise ApiError(400, "idempotency_key_invalid", "Idempotency-Key 应为不超过128位的ASCII字符串")
        st = store()
        secret = (st.get_meta("secret") or "").encode()
        material = request.method.encode() + b" " + request.path.encode() + b"\n" + request.get_data()
        digest = hmac.new(secret, material, hashlib.sha256).hexdigest()  # keyed: bodies hold passwords
        with st.write():
            row = st.db.execute_sql(
                "SELECT request_hash, status, body FROM idempotency WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                if row[0] != digest:
                    raise ApiError(409, "idempotency_conflict", "该幂等键已用于内容不同的请求，请勿重复使用")
                resp = Response(bytes(row[2]), status=row[1], mimetype="application/json")
                resp.headers["Idempotent-Replayed"] = "true"
                return resp
            try:
                resp = view(*args, **kwargs)
            except ApiError as err:
                resp = err.response()
            st.db.execute_sql(
                "INSERT INTO idempotency(key, request_hash, method, path, unit_pk, status, body,"
                " created_at) VALUES (?,?,?,?,?,?,?,?)",
                (key, digest, request.method, request.path, g.get("unit_pk"), resp.status_code,
                 resp.get_data(), st.now().isoformat()),
            )
        return resp

    return wrapper


def date_arg(name: str, default: dt.date, what: str) -> dt.date:
    """A ``YYYY-MM-DD`` query parameter of a date range (``what`` names the range in the message)."""
    text = request.args.get(name)
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "bad_date_range", f"{what}范围无效：{name} 应为 YYYY-MM-DD 格式的日期") from None
