"""Payroll-base declaration views (manual 3.1.5); the decision is in taxside/wage_base.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from rules.wage_base import annual_effective_month
from taxside import wage_base
from taxside.decisions import decide_due
from taxside.jsonutil import loads
from taxside.regionrules import region_pack
from taxside.web import ApiError, idempotent, json_response, load_unit, require_token, store

bp = Blueprint("wage_base", __name__, url_prefix="/v1")


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


@bp.post("/units/<unit_id>/wage-base-declarations")
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


@bp.get("/units/<unit_id>/wage-base-declarations/<declaration_id>")
@require_token()
def wage_base_declaration(unit_id: str, declaration_id: str) -> Response:
    decide_due(g.unit_pk)
    body = wage_base.answer(store(), g.unit_pk, declaration_id)
    if body is None:
        raise ApiError(404, "declaration_not_found", "未找到该缴费工资申报记录")
    return json_response(body)
