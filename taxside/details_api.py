"""Declaration-details feed views (社保费申报明细查询, manual 3.1.8.3) and the /sim call that
gives a unit a declared history. The work is in taxside/details.py."""

from __future__ import annotations

import re

from flask import Blueprint, Response, g, request

from rules.model import PackError
from rules.periods import Period, parse_period, period_range
from taxside import details
from taxside import fee_decisions as fd
from taxside.decisions import decide_due
from taxside.regionrules import find_pack
from taxside.web import (
    ApiError,
    body_json,
    decode_cursor,
    encode_cursor,
    json_response,
    load_unit,
    require_token,
    store,
)

bp = Blueprint("declaration_details", __name__, url_prefix="/v1")
sim_bp = Blueprint("sim_details", __name__, url_prefix="/sim")
FEED = "declaration_details"
MAX_MONTHS = 60
_PERIOD = re.compile(r"[0-9]{6}")  # ASCII only: \d and isdigit() take full-width and superscripts
_LIMIT = re.compile(r"[0-9]{1,6}")


def _period(name: str, text: object) -> Period:
    if not isinstance(text, str) or not _PERIOD.fullmatch(text):
        raise ApiError(400, "bad_period", f"费款所属期（{name}）应为 YYYYMM 格式，如 202503")
    try:
        return parse_period(text)
    except ValueError as exc:
        raise ApiError(400, "bad_period", f"费款所属期（{name}）无效：{exc}") from None


def _range(start_text: object, end_text: object) -> tuple[Period, Period]:
    start, end = _period("from", start_text), _period("to", end_text)
    if end < start:
        raise ApiError(400, "bad_period_range", "费款所属期范围无效：起始月份晚于终止月份")
    if len(list(period_range(start, end))) > MAX_MONTHS:
        raise ApiError(400, "bad_period_range", f"费款所属期范围不能超过{MAX_MONTHS}个月，请分段查询")
    return start, end


def _limit() -> int:
    text = request.args.get("limit")
    if text is None:
        return details.DEFAULT_LIMIT
    if not _LIMIT.fullmatch(text) or not 1 <= int(text) <= details.MAX_LIMIT:
        raise ApiError(400, "bad_limit", f"每页条数应为1到{details.MAX_LIMIT}之间的整数")
    return int(text)


@bp.get("/units/<unit_id>/declaration-details")
@require_token()
def feed(unit_id: str) -> Response:
    args = request.args
    start, end = _range(args.get("from"), args.get("to"))
    limit = _limit()
    pos = details.Position()
    if args.get("cursor"):
        cur = decode_cursor(args["cursor"], FEED)
        if cur.get("u") != g.unit_pk or cur.get("r") != [str(start), str(end)]:
            raise ApiError(400, "bad_cursor", "查询游标与本单位或费款所属期范围不符，请重新查询")
        try:
            pos = details.Position(int(cur["a"]), int(cur["n"]), int(cur["s"]))
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "bad_cursor", "同步游标无效，请重新查询") from None
    decide_due(g.unit_pk)  # declarations and voids that are due count before the page is read
    page = details.DetailReader(store()).page(g.unit_pk, start, end, pos, limit)
    nxt = {"f": FEED, "u": g.unit_pk, "r": [str(start), str(end)], "a": page.position.arrear,
           "n": page.position.n, "s": page.position.voids_seen}
    return json_response({
        "from": str(start), "to": str(end), "columns": list(details.COLUMNS),
        "summaries": page.summaries, "items": page.rows, "removed": page.removed,
        "next_cursor": encode_cursor(nxt), "has_more": page.has_more, "remaining": page.remaining,
    })


@sim_bp.post("/units/<unit_id>/declaration-history")
def declaration_history(unit_id: str) -> Response:
    """Declare (电子税务局, accepted at once) the daily summaries of every month of a range."""
    body = body_json()
    start, end = _range(body.get("from"), body.get("to"))
    paid = body.get("paid", True)
    if not isinstance(paid, bool):
        raise ApiError(400, "bad_request", "paid 应为 true 或 false")
    st = store()
    unit = load_unit(unit_id)
    current = details.fees.current_period(st.today())
    if end > current:
        raise ApiError(400, "bad_period_range", f"费款所属期不能晚于当前所属期 {current}")
    try:
        made = details.declare_history(st, unit["pk"], list(period_range(start, end)), find_pack, paid=paid)
    except PackError as exc:
        raise ApiError(422, "rules_unavailable", f"税务端没有该所属期的业务规则：{exc}") from None
    return json_response({"declarations": [fd.declaration_id(pk) for pk in made]}, 201)
