"""The reference tax side's HTTP API (docs/protocol.md): a Flask app over one Store."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from rules.codes import check_taxpayer_id, normalize_text
from rules.model import PackError, RulePack
from rules.packs import load_pack, parse_pack
from rules.wage_base import annual_effective_month
from taxside import wage_base
from taxside.db import Store
from taxside.jsonutil import dumps, loads, raw

log = logging.getLogger("taxside")

MAX_ATTEMPTS = 5
MAX_PAGE = 5000
DEFAULT_PAGE = 1000
PBKDF2_ROUNDS = 60_000

v1 = Blueprint("v1", __name__, url_prefix="/v1")


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


# -- app factory ------------------------------------------------------------------------
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
    app.register_blueprint(v1)
    if simulation:
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


# -- helpers ----------------------------------------------------------------------------
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


def _token_hash(token: str) -> str:
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
                (_token_hash(header[7:].strip()),),
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
            g.token_hash = _token_hash(header[7:].strip())
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


# -- registration and login -------------------------------------------------------------
@v1.get("/taxpayers/<taxpayer_id>/units")
def taxpayer_units(taxpayer_id: str) -> Response:
    code = normalize_text(taxpayer_id).upper()
    reason = check_taxpayer_id(code)
    if reason:
        raise ApiError(400, "bad_taxpayer_id", reason)
    rows = store().query(
        "SELECT id, unit_id, name, region, password_hash IS NULL"
        " FROM unit WHERE taxpayer_id = ? ORDER BY id",
        (code,),
    )
    if not rows:
        raise ApiError(404, "taxpayer_not_found", "未查询到该纳税人识别号下的参保单位，请核实后重新输入")
    items = []
    for pk, unit_id, name, region, is_initial in rows:
        numbers = unit_numbers(pk)
        kinds = [n["kind"] for n in numbers]
        # The initial password comes from the medical number when there is one; otherwise
        # from any number, and the operator has to try each kind.
        tried = ["medical"] if "medical" in kinds else kinds
        items.append({
            "unit_id": unit_id, "taxpayer_id": code, "name": name, "region": region,
            "password_is_initial": bool(is_initial), "initial_password_kinds": tried,
        })
    return json_response({"items": items})


def _hash_password(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), PBKDF2_ROUNDS).hex()


def check_password(unit: dict[str, Any], password: str) -> ApiError | None:
    """Verify a declaration password and count failures (caller is inside a write).

    Returns the error to raise *after* the transaction commits, so the failure counter
    sticks even though the request fails."""
    st = store()
    now = st.now()
    failed = unit["failed_attempts"]
    if unit["locked_until"]:
        until = dt.datetime.fromisoformat(unit["locked_until"])
        if now < until:
            return _locked(until)
        failed = 0  # lock expired: start counting again
    if unit["password_hash"] is None:
        ok = hmac.compare_digest(password.encode(), unit["initial_number"][-6:].encode())
    else:
        ok = hmac.compare_digest(_hash_password(password, unit["password_salt"]), unit["password_hash"])
    if ok:
        st.db.execute_sql(
            "UPDATE unit SET failed_attempts = 0, locked_until = NULL WHERE id = ?", (unit["pk"],)
        )
        return None
    failed += 1
    if failed >= MAX_ATTEMPTS:
        until = now + dt.timedelta(minutes=current_app.config["LOCK_MINUTES"])
        st.db.execute_sql(
            "UPDATE unit SET failed_attempts = ?, locked_until = ? WHERE id = ?",
            (failed, until.isoformat(), unit["pk"]),
        )
        return _locked(until)
    st.db.execute_sql(
        "UPDATE unit SET failed_attempts = ?, locked_until = NULL WHERE id = ?", (failed, unit["pk"])
    )
    left = MAX_ATTEMPTS - failed
    return ApiError(401, "wrong_password", f"申报密码错误，还可尝试{left}次", attempts_left=left)


def _locked(until: dt.datetime) -> ApiError:
    return ApiError(
        423, "password_locked",
        f"申报密码连续错误{MAX_ATTEMPTS}次，已被锁定，请于{until:%Y-%m-%d %H:%M}后再试；"
        "如忘记申报密码，请到主管税务机关重置",
        attempts_left=0, locked_until=until.isoformat(),
    )


@v1.post("/units/<unit_id>/session")
def create_session(unit_id: str) -> Response:
    password = body_json().get("password")
    if not isinstance(password, str) or not password:
        raise ApiError(400, "password_required", "请输入申报密码")
    st = store()
    with st.write():
        unit = load_unit(unit_id)
        error = check_password(unit, password)
        if error is None:
            token = secrets.token_urlsafe(32)
            scope = "change_password" if unit["password_hash"] is None else "full"
            expires = st.now() + dt.timedelta(minutes=current_app.config["TOKEN_MINUTES"])
            st.db.execute_sql(
                "INSERT INTO token(token_hash, unit_pk, scope, expires_at) VALUES (?,?,?,?)",
                (_token_hash(token), unit["pk"], scope, expires.isoformat()),
            )
    if error is not None:
        raise error
    return json_response({
        "token": token, "token_type": "Bearer", "scope": scope,
        "must_change_password": scope != "full", "expires_at": expires.isoformat(),
        "today": st.today().isoformat(),  # the client decides windows by the tax side's date
    }, 201)


PASSWORD_RE = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[\x21-\x7e]{8,32}$")


@v1.put("/units/<unit_id>/password")
@require_token(allow_restricted=True)
@idempotent
def change_password(unit_id: str) -> Response:
    body = body_json()
    old, new = body.get("old_password"), body.get("new_password")
    if not isinstance(old, str) or not isinstance(new, str) or not old or not new:
        raise ApiError(400, "password_required", "请输入原申报密码和新申报密码")
    if not PASSWORD_RE.match(new):
        raise ApiError(400, "weak_password", "新申报密码须为8至32位，且同时包含字母和数字")
    st = store()
    unit = load_unit(unit_id)
    if new == old or new == unit["initial_number"][-6:]:
        raise ApiError(400, "same_password", "新申报密码不能与原密码或初始密码相同")
    error = check_password(unit, old)
    if error is not None:
        raise error  # the idempotent wrapper stores this answer and commits the counter
    salt = secrets.token_hex(16)
    now = st.now().isoformat()
    seq = st.log_change("unit", "password_changed", unit_pk=unit["pk"], entity_id=unit_id)
    st.db.execute_sql(
        "UPDATE unit SET password_hash = ?, password_salt = ?, password_changed_at = ?, seq = ?"
        " WHERE id = ?",
        (_hash_password(new, salt), salt, now, seq, unit["pk"]),
    )
    # The token that changed the password becomes a full one; other tokens of the unit are
    # revoked (they were issued for the old password).
    st.db.execute_sql(
        "DELETE FROM token WHERE unit_pk = ? AND token_hash != ?", (unit["pk"], g.token_hash)
    )
    st.db.execute_sql("UPDATE token SET scope = 'full' WHERE token_hash = ?", (g.token_hash,))
    return json_response({"changed_at": now, "scope": "full"})


# -- unit registration --------------------------------------------------------------------
@v1.get("/units/<unit_id>")
@require_token()
def unit_registration(unit_id: str) -> Response:
    u = load_unit(unit_id)
    return json_response({
        "unit_id": u["unit_id"],
        "tax_registration": {
            "taxpayer_id": u["taxpayer_id"], "name": u["name"],
            "tax_authority": u["tax_authority"], "registration_type": u["registration_type"],
        },
        "insurance_registration": {
            "region": u["region"], "industry_risk_class": u["industry_risk_class"],
            "collection_mode": u["collection_mode"], "is_government": bool(u["is_government"]),
            "unit_numbers": unit_numbers(u["pk"]),
        },
        "password_changed_at": u["password_changed_at"],
        "updated_at": u["updated_at"],
    })


# -- enrollment feed ------------------------------------------------------------------------
EMP_COLUMNS = (
    "id, unit_number, name, id_type, id_number, gender, birth_date, items, status, bases,"
    " updated_at, deleted, seq"
)
NO_ID = 1 << 62  # "after every id of this seq": an incremental cursor at a seq boundary


def _employee(row: tuple[Any, ...]) -> dict[str, Any]:
    if row[11]:
        return {"employee_id": f"E{row[0]:09d}", "deleted": True}
    return {
        "employee_id": f"E{row[0]:09d}", "deleted": False, "name": row[2], "id_type": row[3],
        "id_number": row[4], "gender": row[5], "birth_date": row[6], "unit_number": row[1],
        "items": raw(row[7]), "status": row[8], "bases": raw(row[9]), "updated_at": row[10],
    }


@v1.get("/units/<unit_id>/enrollment")
@require_token()
def enrollment(unit_id: str) -> Response:
    limit = parse_limit()
    st = store()
    unit_pk = g.unit_pk
    decide_due(unit_pk)  # decided declarations flow back through this feed
    text = request.args.get("cursor")
    total = None
    if not text:
        cur = {"f": "enrollment", "u": unit_pk, "m": "full", "s": st.max_seq(), "k": 0}
        total = st.query(
            "SELECT COUNT(*) FROM employee WHERE unit_pk = ? AND deleted = 0", (unit_pk,)
        )[0][0]
    else:
        cur = decode_cursor(text, "enrollment")
        if cur.get("u") != unit_pk or cur.get("m") not in ("full", "inc"):
            raise ApiError(400, "bad_cursor", "同步游标与本单位不符，请重新进行全量更新")
    if cur["m"] == "full":
        # Pages by id: a row changed after the snapshot began is also served by the
        # incremental feed that follows, from the seq recorded at the start.
        rows = st.query(
            f"SELECT {EMP_COLUMNS} FROM employee WHERE unit_pk = ? AND deleted = 0 AND id > ?"
            " ORDER BY id LIMIT ?",
            (unit_pk, cur["k"], limit + 1),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        if more:
            nxt = {**cur, "k": rows[-1][0]}
        else:
            nxt = {"f": "enrollment", "u": unit_pk, "m": "inc", "s": cur["s"], "k": NO_ID}
    else:
        rows = st.query(
            f"SELECT {EMP_COLUMNS} FROM employee WHERE unit_pk = ? AND (seq, id) > (?, ?)"
            " ORDER BY seq, id LIMIT ?",
            (unit_pk, cur["s"], cur["k"], limit + 1),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = {**cur, "s": rows[-1][12], "k": rows[-1][0]} if rows else cur
    body: dict[str, Any] = {
        "mode": "full" if cur["m"] == "full" else "incremental",
        "items": [_employee(r) for r in rows],
        "next_cursor": encode_cursor(nxt),
        "has_more": more,
    }
    if total is not None:
        body["total"] = total
    return json_response(body)


# -- payroll-base declarations (manual 3.1.5) ------------------------------------------------
@functools.lru_cache(maxsize=32)
def _parsed_pack(path: str, mtime_ns: int, size: int) -> RulePack | None:
    try:
        return parse_pack(Path(path).read_text(encoding="utf-8"))
    except (OSError, PackError) as exc:
        log.warning("rule pack %s not usable for decisions: %s", path, exc)
        return None


def region_pack(region: str) -> RulePack:
    """The rules the tax side decides by: the pack it serves, else the bundled one (a test
    may serve a stub pack that does not parse)."""
    path = packs_dir() / f"{region}.toml"
    if path.is_file():
        stat = path.stat()
        pack = _parsed_pack(str(path), stat.st_mtime_ns, stat.st_size)
        if pack is not None:
            return pack
    try:
        return load_pack(region)
    except PackError:
        raise ApiError(422, "rules_unavailable", "税务端没有本地区的业务规则，暂不能办理缴费工资申报") from None


def decide_due(unit_pk: int | None = None) -> None:
    """Decide the declarations whose delay has passed (lazily, at the start of a request)."""
    wage_base.decide_due(store(), region_pack, unit_pk)


def _declaration_body() -> tuple[str, list[dict[str, Any]]]:
    try:
        value = loads(request.get_data() or b"")
    except ValueError:
        raise ApiError(400, "bad_json", "请求内容不是有效的JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_request", "申报内容应为JSON对象")
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in wage_base.KINDS:
        raise ApiError(400, "bad_request", "申报类型 kind 应为 daily（日常申报）或 annual（年度申报）")
    rows = value.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ApiError(400, "bad_request", "申报明细 rows 应为非空列表")
    if len(rows) > wage_base.MAX_ROWS:
        raise ApiError(
            400, "bad_request", f"一次申报最多{wage_base.MAX_ROWS}行，本次{len(rows)}行，请分批申报"
        )
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ApiError(400, "bad_request", f"申报明细第{n}行应为JSON对象")
    return kind, rows


@v1.post("/units/<unit_id>/wage-base-declarations")
@require_token()
@idempotent
def submit_wage_base(unit_id: str) -> Response:
    kind, rows = _declaration_body()
    st = store()
    unit = load_unit(unit_id)
    pack = region_pack(unit["region"])
    effective = None
    if kind == "annual":
        effective = annual_effective_month(pack, st.today())
        if effective is None:
            raise ApiError(
                422, "annual_window_closed",
                f"年度缴费工资申报开放时间为{pack.annual_window.describe()}，当前不在开放时间内",
            )
    if any(r.get("bases") is not None for r in rows):
        if not pack.per_item_bases_for_government:
            raise ApiError(422, "per_item_not_allowed", f"{pack.name}不支持按险种申报缴费工资")
        if not unit["is_government"]:
            raise ApiError(422, "per_item_not_allowed", "只有机关事业单位可以按险种申报缴费工资")
    # Rows are checked at the decision, not here: the answer is "received", as in 3.1.5.
    return json_response(wage_base.receive(st, unit["pk"], kind, rows, effective), 202)


@v1.get("/units/<unit_id>/wage-base-declarations/<declaration_id>")
@require_token()
def wage_base_declaration(unit_id: str, declaration_id: str) -> Response:
    decide_due(g.unit_pk)
    body = wage_base.answer(store(), g.unit_pk, declaration_id)
    if body is None:
        raise ApiError(404, "declaration_not_found", "未找到该缴费工资申报记录")
    return json_response(body)


# -- notices ------------------------------------------------------------------------------
@v1.get("/notices")
def notices() -> Response:
    region = request.args.get("region", "")
    if not re.fullmatch(r"\d{6}", region):
        raise ApiError(400, "bad_region", "地区代码应为6位数字")
    limit = parse_limit(100)
    after = 0
    if request.args.get("cursor"):
        after = int(decode_cursor(request.args["cursor"], "notices").get("k", 0))
    today = store().today().isoformat()
    rows = store().query(
        "SELECT id, region, title, body, published_on, valid_until, importance, popup FROM notice"
        " WHERE deleted = 0 AND (region IS NULL OR region = ?) AND published_on <= ?"
        " AND valid_until >= ? AND id > ? ORDER BY id LIMIT ?",
        (region, today, today, after, limit + 1),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {"notice_id": f"N{r[0]:06d}", "region": r[1], "title": r[2], "body": r[3],
         "published_on": r[4], "valid_until": r[5], "importance": r[6], "popup": bool(r[7])}
        for r in rows
    ]
    nxt = encode_cursor({"f": "notices", "k": rows[-1][0] if rows else after})
    return json_response({"items": items, "next_cursor": nxt, "has_more": more, "today": today})


# -- rule packs -----------------------------------------------------------------------------
VERSION_RE = re.compile(r'^version\s*=\s*"([^"]*)"', re.MULTILINE)


def packs_dir() -> Path:
    configured = current_app.config["PACKS_DIR"]
    if configured is not None:
        return configured
    import rules

    return Path(rules.__file__).parent / "packs"


def _pack(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    head = re.split(r"^\s*\[", text, maxsplit=1, flags=re.MULTILINE)[0]  # top-level keys only
    match = VERSION_RE.search(head)
    return {
        "region": path.stem, "version": match.group(1) if match else "",
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "content": text,
    }


@v1.get("/rule-packs")
def rule_packs() -> Response:
    folder = packs_dir()
    paths = sorted(folder.glob("[0-9][0-9][0-9][0-9][0-9][0-9].toml")) if folder.is_dir() else []
    items = []
    for path in paths:
        pack = _pack(path)
        del pack["content"]
        items.append(pack)
    return json_response({"items": items})


@v1.get("/rule-packs/<region>")
def rule_pack(region: str) -> Response:
    if not re.fullmatch(r"\d{6}", region):
        raise ApiError(400, "bad_region", "地区代码应为6位数字")
    path = packs_dir() / f"{region}.toml"
    if not path.is_file():
        raise ApiError(404, "rule_pack_not_found", "未找到该地区的业务规则文件")
    pack = _pack(path)
    wanted = request.args.get("version")
    if wanted and wanted != pack["version"]:
        raise ApiError(404, "rule_pack_version_not_found", f"该地区没有版本为{wanted}的业务规则文件")
    return json_response(pack)


# -- client releases ------------------------------------------------------------------------
def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))


@v1.get("/client/latest")
def client_latest() -> Response:
    rows = store().query("SELECT version, url, sha256, notes, published_on FROM release")
    if not rows:
        raise ApiError(404, "release_not_found", "暂无可用的客户端版本信息")
    version, url, sha, notes, published = max(rows, key=lambda r: _version_key(r[0]))
    return json_response(
        {"version": version, "url": url, "sha256": sha, "notes": notes, "published_on": published}
    )


@v1.get("/client/download/<version>")
def client_download(version: str) -> Response:
    row = store().db.execute_sql(
        "SELECT content FROM release WHERE version = ?", (version,)
    ).fetchone()
    if row is None or row[0] is None:
        raise ApiError(404, "release_not_found", "未找到该版本的安装包")
    return Response(bytes(row[0]), mimetype="application/octet-stream")


# -- idempotency outcome ---------------------------------------------------------------------
@v1.get("/idempotency/<key>")
@require_token(allow_restricted=True)
def idempotency_outcome(key: str) -> Response:
    row = store().db.execute_sql(
        "SELECT method, path, status, body, created_at, unit_pk FROM idempotency WHERE key = ?",
        (key,),
    ).fetchone()
    if row is None or row[5] != g.unit_pk:
        raise ApiError(404, "idempotency_key_not_found", "税务端未收到使用该幂等键的请求")
    return json_response({
        "key": key, "method": row[0], "path": row[1], "status": row[2],
        "response": raw(bytes(row[3]).decode()), "created_at": row[4],
    })
