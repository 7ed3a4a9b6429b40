"""The employee enrollment feed (manual 3.1.4): a full snapshot, then an incremental feed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from taxside.decisions import decide_due
from taxside.jsonutil import raw
from taxside.web import (
    ApiError,
    decode_cursor,
    encode_cursor,
    json_response,
    parse_limit,
    require_token,
    store,
)

bp = Blueprint("enrollment", __name__, url_prefix="/v1")


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


@bp.get("/units/<unit_id>/enrollment")
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
