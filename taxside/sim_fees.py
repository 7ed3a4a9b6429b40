"""Simulation calls for fee declarations (only with ``--simulation``; see taxside/sim.py):
special summaries, declarations made on the 电子税务局, arrears paid or on a voucher."""

from __future__ import annotations

import random
from typing import Any

from flask import Blueprint, Response

from rules.model import PackError
from rules.periods import parse_period, period_range
from taxside import fee_decisions as fd
from taxside import fees
from taxside.data import STATUS_NORMAL
from taxside.regionrules import find_pack
from taxside.web import ApiError, body_json, json_response, load_unit, store

bp = Blueprint("sim_fees", __name__, url_prefix="/sim")
MAX_SPECIAL_MONTHS = 60
MAX_SPECIAL_PERSONS = 1000
DEFAULT_ITEMS = {"补缴": None, "退休补收": ["medical"]}  # None: every item of the pack


def _summaries(st: Any, pks: list[int]) -> list[dict[str, Any]]:
    out = []
    for pk in pks:
        row = st.db.execute_sql(
            f"SELECT {fees.SUMMARY_COLUMNS} FROM fee_summary WHERE id = ?", (pk,)
        ).fetchone()
        out.append(fees.summary_json(row, fd.declaration_id))
    return out


def _employees(st: Any, unit_pk: int, body: dict[str, Any]) -> list[int]:
    ids = body.get("employee_ids")
    if ids is not None:
        if not isinstance(ids, list) or not ids or len(ids) > MAX_SPECIAL_PERSONS:
            raise ApiError(400, "bad_request", f"employee_ids 应为1到{MAX_SPECIAL_PERSONS}个职工编号")
        pks = []
        for text in ids:
            ok = isinstance(text, str) and text[:1] == "E" and text[1:].isdigit()
            row = st.query(
                "SELECT id FROM employee WHERE id = ? AND unit_pk = ? AND deleted = 0",
                (int(text[1:]) if ok else -1, unit_pk),
            )
            if not row:
                raise ApiError(400, "bad_request", f"职工 {text} 不在本单位参保")
            pks.append(row[0][0])
        return sorted(set(pks))
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SPECIAL_PERSONS:
        raise ApiError(400, "bad_count", f"count 应为1到{MAX_SPECIAL_PERSONS}之间的整数")
    pool = [r[0] for r in st.query(
        "SELECT id FROM employee WHERE unit_pk = ? AND deleted = 0 AND status = ? ORDER BY id",
        (unit_pk, STATUS_NORMAL),
    )]
    rng = random.Random(f"{st.get_meta('seed') or 0}:{st.max_seq()}:special")
    return sorted(rng.sample(pool, min(count, len(pool))))


@bp.post("/units/<unit_id>/special-summaries")
def special_summaries(unit_id: str) -> Response:
    body = body_json()
    kind = body.get("special_type")
    if kind not in fees.SPECIAL_TYPES:
        raise ApiError(400, "bad_request", f"special_type 应为{'或'.join(fees.SPECIAL_TYPES)}")
    try:
        start, end = parse_period(str(body.get("from"))), parse_period(str(body.get("to")))
    except ValueError as exc:
        raise ApiError(400, "bad_period", str(exc)) from None
    st = store()
    current = fees.current_period(st.today())
    if end < start or end > current or (end.index - start.index) >= MAX_SPECIAL_MONTHS:
        raise ApiError(
            400, "bad_period",
            f"费款所属期起止应满足 起 ≤ 止 ≤ 当前所属期 {current}，且不超过{MAX_SPECIAL_MONTHS}个月",
        )
    items = body.get("items", DEFAULT_ITEMS[kind])
    if items is not None and (not isinstance(items, list) or not all(isinstance(i, str) for i in items)):
        raise ApiError(400, "bad_request", "items 应为险种代码列表，如 [\"pension\"]")
    with st.write():
        unit = load_unit(unit_id)
        persons = _employees(st, unit["pk"], body)
        if not persons:
            raise ApiError(400, "bad_request", "本单位没有可补缴的正常缴费职工")
        try:
            pack = find_pack(unit["region"])
            known = pack.period_for(start).item_codes
            if items is not None and (not items or set(items) - set(known)):
                raise ApiError(400, "bad_request", f"items 应为本地区规则包中的险种：{'、'.join(known)}")
            pks = fees.create_special(
                st, unit["pk"], pack, kind, list(period_range(start, end)), persons, items or []
            )
        except PackError as exc:
            raise ApiError(422, "rules_unavailable", str(exc)) from None
    return json_response({"items": _summaries(st, pks)}, 201)


@bp.post("/units/<unit_id>/fee-summaries/preprocess")
def preprocess(unit_id: str) -> Response:
    st = store()
    unit = load_unit(unit_id)
    try:
        fees.refresh(st, unit["pk"], find_pack)
    except PackError as exc:
        raise ApiError(422, "rules_unavailable", str(exc)) from None
    rows = st.query(
        "SELECT id FROM fee_summary WHERE unit_pk = ? AND kind = 'daily' AND period_from = ?"
        " ORDER BY id",
        (unit["pk"], str(fees.current_period(st.today()))),
    )
    return json_response({"items": _summaries(st, [r[0] for r in rows])})


@bp.post("/units/<unit_id>/fee-declarations")
def etax_declaration(unit_id: str) -> Response:
    """A declaration made on the 电子税务局: decided at once."""
    body = body_json()
    st = store()
    unit = load_unit(unit_id)
    try:
        fees.refresh(st, unit["pk"], find_pack)
    except PackError as exc:
        raise ApiError(422, "rules_unavailable", str(exc)) from None
    ids = body.get("summary_ids")
    if ids is None:
        rows = st.query(
            "SELECT id, version FROM fee_summary WHERE unit_pk = ? AND kind = 'daily'"
            " AND period_from = ? AND state = 'pending' AND headcount > 0 ORDER BY id",
            (unit["pk"], str(fees.current_period(st.today()))),
        )
        refs = [(fees.summary_id(pk), version) for pk, version in rows]
    elif isinstance(ids, list) and ids and all(isinstance(i, str) for i in ids):
        refs = []
        for text in ids:
            pk = fees.parse_summary_id(text)
            row = fees.load_summary(st, unit["pk"], pk) if pk is not None else None
            refs.append((text, row[13] if row else 1))
    else:
        raise ApiError(400, "bad_request", "summary_ids 应为预处理汇总编号列表")
    if not refs:
        raise ApiError(400, "bad_request", "没有待申报的预处理汇总")
    with st.write():
        pk = fd.receive(st, unit["pk"], refs, fd.CHANNEL_ETAX)
    fd.decide(st, pk, find_pack)
    row = fd.load_declaration(st, unit["pk"], pk)
    assert row is not None
    return json_response(fd.declaration_json(st, row), 201)


def _mark(unit_id: str, declaration_id: str, sql: str, params: tuple[Any, ...]) -> Response:
    st = store()
    unit = load_unit(unit_id)
    pk = fd.parse_id(declaration_id, "FD")
    row = fd.load_declaration(st, unit["pk"], pk) if pk is not None else None
    if row is None:
        raise ApiError(404, "fee_declaration_not_found", "未找到该社保费申报记录")
    with st.write():
        for (arrear_pk,) in st.query(
            "SELECT id FROM arrear WHERE declaration_pk = ? AND state = 'unpaid'", (row[0],)
        ):
            seq = st.log_change("arrears", "upsert", unit_pk=unit["pk"], entity_id=fd.arrear_id(arrear_pk))
            st.db.execute_sql(f"UPDATE arrear SET {sql}, seq = ? WHERE id = ?", (*params, seq, arrear_pk))
    row = fd.load_declaration(st, unit["pk"], row[0])
    assert row is not None
    return json_response(fd.declaration_json(st, row))


@bp.post("/units/<unit_id>/fee-declarations/<declaration_id>/paid")
def mark_paid(unit_id: str, declaration_id: str) -> Response:
    now = store().now().isoformat()
    return _mark(unit_id, declaration_id, "state = 'paid', paid_at = ?", (now,))


@bp.post("/units/<unit_id>/fee-declarations/<declaration_id>/voucher")
def mark_voucher(unit_id: str, declaration_id: str) -> Response:
    voucher = body_json().get("voucher_id") or "V-SIM-" + declaration_id
    if not isinstance(voucher, str):
        raise ApiError(400, "bad_request", "voucher_id 应为文本")
    return _mark(unit_id, declaration_id, "voucher_id = ?", (voucher,))
