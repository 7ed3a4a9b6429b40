"""Registration, login, password change and unit registration (manual 3.1.1)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Any

from flask import Blueprint, Response, current_app, g

from rules.codes import check_taxpayer_id, normalize_text
from taxside.web import (
    ApiError,
    body_json,
    idempotent,
    json_response,
    load_unit,
    require_token,
    store,
    token_hash,
    unit_numbers,
)

MAX_ATTEMPTS = 5
PBKDF2_ROUNDS = 60_000

bp = Blueprint("auth", __name__, url_prefix="/v1")


@bp.get("/taxpayers/<taxpayer_id>/units")
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


@bp.post("/units/<unit_id>/session")
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
                (token_hash(token), unit["pk"], scope, expires.isoformat()),
            )
    if error is not None:
        raise error
    return json_response({
        "token": token, "token_type": "Bearer", "scope": scope,
        "must_change_password": scope != "full", "expires_at": expires.isoformat(),
        "today": st.today().isoformat(),  # the client decides windows by the tax side's date
    }, 201)


PASSWORD_RE = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[\x21-\x7e]{8,32}$")


@bp.put("/units/<unit_id>/password")
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
@bp.get("/units/<unit_id>")
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
