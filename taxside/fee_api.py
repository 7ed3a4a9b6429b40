"""Fee declaration views (社保费申报, manual 3.1.6): summaries, person details,
declarations, records and voids. The work is in taxside/fees.py and fee_decisions.py."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, Response, g, request

from rules.model import PackError
from rules.periods import parse_period
from taxside import fee_decisions as fd
from taxside import fees
from taxside.decisions import decide_due
from taxside.jsonutil import loads
from taxside.regionrules import find_pack
from taxside.web import (
    ApiError,
    body_json,
    date_arg,
    decode_cursor,
    encode_cursor,
    idempotent,
    json_response,
    parse_limit,
    require_token,
    store,
)

bp = Blueprint("fees", __name__, url_prefix="/v1")
MAX_RECORD_DAYS = 366
MAX_REASON = 100


def _refresh(unit_pk: int, *, strict: bool = False) -> None:
    """Decide what is due, then bring the daily summaries of the current period up to date.
    Without rules for the period only the daily list is refused (``strict``); special
    summaries and stored ones stay readable."""
    decide_due(unit_pk)
    try:
        fees.refresh(store(), unit_pk, find_pack)
    except PackError as exc:
        if strict:
            raise ApiError(
                422, "rules_unavailable", f"税务端没有本期的业务规则，暂不能办理社保费申报：{exc}"
            ) from None


def _summary(unit_pk: int, text: str) -> tuple[Any, ...]:
    pk = fees.parse_summary_id(text)
    row = fees.load_summary(store(), unit_pk, pk) if pk is not None else None
    if row is None:
        raise ApiError(404, "summary_not_found", "未找到该预处理汇总")
    return row


# -- summaries -------------------------------------------------------------------------------------
@bp.get("/units/<unit_id>/fee-summaries")
@require_token()
def summaries(unit_id: str) -> Response:
    args = request.args
    kind, state = args.get("kind", "daily"), args.get("state", "pending")
    if kind not in ("daily", "special"):
        raise ApiError(400, "bad_request", "kind 应为 daily（日常申报）或 special（特殊缴费）")
    if state not in ("pending", "declared", "all"):
        raise ApiError(400, "bad_request", "state 应为 pending（待申报）、declared（已申报）或 all")
    where, params = ["unit_pk = ?", "kind = ?"], [g.unit_pk, kind]
    if state != "all":
        where.append("state = ?")
        params.append(state)
    for name in ("unit_number", "agency"):
        if args.get(name):
            where.append(f"{name} = ?")
            params.append(args[name])
    if args.get("period"):
        if not re.fullmatch(r"\d{6}", args["period"]):
            raise ApiError(400, "bad_period", "费款所属期应为 YYYYMM 格式，如 202503")
        try:
            period = str(parse_period(args["period"]))
        except ValueError as exc:
            raise ApiError(400, "bad_period", str(exc)) from None
        where.append("period_from <= ? AND period_to >= ?")
        params += [period, period]
    limit = parse_limit()
    after = 0
    if args.get("cursor"):
        cur = decode_cursor(args["cursor"], "fee_summaries")
        if cur.get("u") != g.unit_pk:
            raise ApiError(400, "bad_cursor", "查询游标与本单位不符，请重新查询")
        after = int(cur.get("k", 0))
    _refresh(g.unit_pk, strict=kind == "daily")
    st = store()
    rows = st.query(
        f"SELECT {fees.SUMMARY_COLUMNS} FROM fee_summary WHERE {' AND '.join(where)} AND id > ?"
        " ORDER BY id LIMIT ?",
        (*params, after, limit + 1),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = {"f": "fee_summaries", "u": g.unit_pk, "k": rows[-1][0] if rows else after}
    return json_response({
        "items": [fees.summary_json(r, fd.declaration_id) for r in rows],
        "next_cursor": encode_cursor(nxt), "has_more": more,
        "current_period": str(fees.current_period(st.today())), "today": st.today().isoformat(),
    })


@bp.get("/units/<unit_id>/fee-summaries/<summary_id>")
@require_token()
def summary(unit_id: str, summary_id: str) -> Response:
    _refresh(g.unit_pk)
    return json_response(fees.summary_json(_summary(g.unit_pk, summary_id), fd.declaration_id))


def _offset() -> int:
    text = request.args.get("offset", "0")
    if not text.isdigit() or len(text) > 9:
        raise ApiError(400, "bad_offset", "offset 应为不小于0的整数")
    return int(text)


@bp.get("/units/<unit_id>/fee-summaries/<summary_id>/details")
@require_token()
def details(unit_id: str, summary_id: str) -> Response:
    limit = parse_limit()
    offset = _offset()
    _refresh(g.unit_pk)
    row = _summary(g.unit_pk, summary_id)
    stale = ApiError(409, "summary_recomputed", "汇总已重新计算，请重新查询人员明细",
                     version=row[13])
    wanted = request.args.get("version")
    if wanted is not None and wanted != str(row[13]):
        raise stale
    after = 0
    if request.args.get("cursor"):
        cur = decode_cursor(request.args["cursor"], "fee_details")
        if cur.get("s") != row[0]:
            raise ApiError(400, "bad_cursor", "人员明细游标与该汇总不符，请重新查询")
        if cur.get("v") != row[13]:
            raise stale
        after, offset = int(cur.get("k", 0)), 0
    page = fees.detail_rows(store(), row, after=after, offset=offset, limit=limit + 1)
    more = len(page) > limit
    page = page[:limit]
    last = page[-1][0] if page else after
    return json_response({
        "summary_id": fees.summary_id(row[0]), "version": row[13], "total": row[18],
        "offset": offset if not request.args.get("cursor") else None,
        "items": [r for _, r in page],
        "next_cursor": encode_cursor({"f": "fee_details", "s": row[0], "v": row[13], "k": last}),
        "has_more": more,
    })


# -- declarations ----------------------------------------------------------------------------------
def _declaration_refs() -> list[tuple[str, int]]:
    try:
        value = loads(request.get_data() or b"")
    except ValueError:
        raise ApiError(400, "bad_json", "请求内容不是有效的JSON") from None
    items = value.get("summaries") if isinstance(value, dict) else None
    if not isinstance(items, list) or not items:
        raise ApiError(400, "bad_request", "申报内容 summaries 应为非空列表")
    if len(items) > fd.MAX_SUMMARIES:
        raise ApiError(400, "bad_request", f"一次最多申报{fd.MAX_SUMMARIES}条预处理汇总")
    refs: list[tuple[str, int]] = []
    seen: set[str] = set()
    for n, item in enumerate(items, 1):
        ref = item.get("summary_id") if isinstance(item, dict) else None
        version = item.get("version") if isinstance(item, dict) else None
        if (not isinstance(ref, str) or not ref or isinstance(version, bool)
                or not isinstance(version, int) or version < 1):
            raise ApiError(
                400, "bad_request", f"第{n}条应为 {{\"summary_id\": 文本, \"version\": 不小于1的整数}}"
            )
        if ref in seen:
            raise ApiError(400, "bad_request", f"同一预处理汇总在本次申报中重复：{ref}")
        seen.add(ref)
        refs.append((ref, version))
    return refs


@bp.post("/units/<unit_id>/fee-declarations")
@require_token()
@idempotent
def submit(unit_id: str) -> Response:
    refs = _declaration_refs()
    st = store()
    pk = fd.receive(st, g.unit_pk, refs)  # checked at the decision, as in 3.1.6
    row = fd.load_declaration(st, g.unit_pk, pk)
    assert row is not None
    return json_response({
        "declaration_id": fd.declaration_id(pk), "status": "processing",
        "channel": fd.CHANNEL_CLIENT, "received_at": row[3], "summary_count": len(refs),
    }, 202)


def _declaration(unit_pk: int, text: str) -> tuple[Any, ...]:
    pk = fd.parse_id(text, "FD")
    row = fd.load_declaration(store(), unit_pk, pk) if pk is not None else None
    if row is None:
        raise ApiError(404, "fee_declaration_not_found", "未找到该社保费申报记录")
    return row


@bp.get("/units/<unit_id>/fee-declarations/<declaration_id>")
@require_token()
def declaration(unit_id: str, declaration_id: str) -> Response:
    decide_due(g.unit_pk)
    return json_response(fd.declaration_json(store(), _declaration(g.unit_pk, declaration_id)))


@bp.get("/units/<unit_id>/fee-declaration-records")
@require_token()
def records(unit_id: str) -> Response:
    st = store()
    today = st.today()
    first = today.replace(day=1)
    start = date_arg("from", (first - dt.timedelta(days=1)).replace(day=1), "申报日期")
    end = date_arg("to", today, "申报日期")
    if end < start or (end - start).days > MAX_RECORD_DAYS:
        raise ApiError(
            400, "bad_date_range",
            f"申报日期范围无效：起始日期不能晚于结束日期，且相隔不超过{MAX_RECORD_DAYS}天",
        )
    limit = parse_limit(100)
    after: tuple[str, int] = ("", 0)
    if request.args.get("cursor"):
        cur = decode_cursor(request.args["cursor"], "fee_records")
        if cur.get("u") != g.unit_pk:
            raise ApiError(400, "bad_cursor", "查询游标与本单位不符，请重新查询")
        after = (str(cur.get("d", "")), int(cur.get("k", 0)))
    decide_due(g.unit_pk)
    items = fd.records(st, g.unit_pk, start, end, after, limit + 1)
    more = len(items) > limit
    items = items[:limit]
    if items:
        after = (items[-1]["declared_on"], int(items[-1]["declaration_id"][2:]))
    nxt = {"f": "fee_records", "u": g.unit_pk, "d": after[0], "k": after[1]}
    return json_response({
        "items": items, "next_cursor": encode_cursor(nxt), "has_more": more,
        "from": start.isoformat(), "to": end.isoformat(),
    })


# -- voids -----------------------------------------------------------------------------------------
@bp.post("/units/<unit_id>/fee-declarations/<declaration_id>/voids")
@require_token()
@idempotent
def void(unit_id: str, declaration_id: str) -> Response:
    reason = body_json().get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason.strip()) > MAX_REASON:
        raise ApiError(400, "bad_reason", f"请填写作废原因（不超过{MAX_REASON}个字）")
    st = store()
    row = _declaration(g.unit_pk, declaration_id)
    pk = fd.receive_void(st, g.unit_pk, row[0], reason.strip())
    void_row = fd.load_void(st, g.unit_pk, pk)
    assert void_row is not None
    return json_response(fd.void_json(void_row), 202)


@bp.get("/units/<unit_id>/fee-declaration-voids/<void_id>")
@require_token()
def void_state(unit_id: str, void_id: str) -> Response:
    decide_due(g.unit_pk)
    pk = fd.parse_id(void_id, "FV")
    row = fd.load_void(store(), g.unit_pk, pk) if pk is not None else None
    if row is None:
        raise ApiError(404, "void_not_found", "未找到该作废申请")
    return json_response(fd.void_json(row))
