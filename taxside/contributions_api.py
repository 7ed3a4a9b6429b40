"""Contribution-record views (职工缴费证明, 年金缴款通知单; docs/protocol.md "Contribution
records"). The work is in taxside/contributions.py; these views parse and answer."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from taxside import contributions as co
from taxside.decisions import decide_due
from taxside.web import (
    ApiError,
    decode_cursor,
    encode_cursor,
    json_response,
    parse_limit,
    require_token,
    store,
)

bp = Blueprint("contributions", __name__, url_prefix="/v1")
ID_TYPES = ("201", "208", "210", "213", "233")


def _fail(err: co.ContributionError) -> ApiError:
    return ApiError(err.status, err.code, err.message)


@bp.get("/units/<unit_id>/contributions")
@require_token()
def person(unit_id: str) -> Response:
    args = request.args
    id_type, id_number = args.get("id_type", "").strip(), args.get("id_number", "").strip().upper()
    if id_type not in ID_TYPES:
        raise ApiError(400, "bad_request", "id_type 应为证件类型代码（如 201 居民身份证）")
    if not id_number or len(id_number) > 40:
        raise ApiError(400, "bad_request", "缺少证件号码 id_number")
    decide_due(g.unit_pk)
    try:
        start, end = co.period_range(args.get("period_from"), args.get("period_to"))
        return json_response(co.person(store(), g.unit_pk, id_type, id_number, start, end))
    except co.ContributionError as err:
        raise _fail(err) from None


@bp.get("/units/<unit_id>/contributions/period")
@require_token()
def period(unit_id: str) -> Response:
    args = request.args
    item = args.get("item", "pension")
    if item not in co.ITEM_ORDER:
        raise ApiError(400, "bad_request", "item 应为征收项目代码（pension、medical、unemployment、injury）")
    limit = parse_limit()
    try:
        start, _end = co.period_range(args.get("period"), args.get("period"))
    except co.ContributionError as err:
        raise _fail(err) from None
    after = (0, 0)
    if args.get("cursor"):
        cur = decode_cursor(args["cursor"], "contributions_period")
        if cur.get("u") != g.unit_pk or cur.get("p") != str(start) or cur.get("i") != item:
            raise ApiError(400, "bad_cursor", "查询游标与本次查询不符，请重新查询")
        after = (int(cur.get("b", 0)), int(cur.get("n", 0)))
    decide_due(g.unit_pk)
    items, position = co.period_persons(store(), g.unit_pk, start, item, after=after, limit=limit)
    body = {"period": str(start), "item": item, "items": items, "has_more": position is not None,
            "next_cursor": "", "today": store().today().isoformat()}
    if position is not None:
        body["next_cursor"] = encode_cursor({"f": "contributions_period", "u": g.unit_pk, "p": str(start),
                                             "i": item, "b": position[0], "n": position[1]})
    return json_response(body)
