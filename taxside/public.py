"""Public and shared reads: ping, notices (3.1.3), rule packs, client releases, idempotency outcomes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, request

from taxside.jsonutil import raw
from taxside.regionrules import packs_dir
from taxside.web import (
    ApiError,
    decode_cursor,
    encode_cursor,
    json_response,
    parse_limit,
    require_token,
    store,
)

bp = Blueprint("public", __name__, url_prefix="/v1")


@bp.get("/notices")
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


# -- ping (the client's 网络管理 > 业务服务器 测试) --------------------------------------------------
@bp.get("/ping")
def ping() -> Response:
    """Public and cheap: says which protocol this tax side speaks, and its business time."""
    now = dt.datetime.combine(store().today(), dt.datetime.now().time()).isoformat(timespec="seconds")
    return json_response({"protocol": "v1", "time": now})


# -- rule packs -----------------------------------------------------------------------------
VERSION_RE = re.compile(r'^version\s*=\s*"([^"]*)"', re.MULTILINE)



def _pack(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    head = re.split(r"^\s*\[", text, maxsplit=1, flags=re.MULTILINE)[0]  # top-level keys only
    match = VERSION_RE.search(head)
    return {
        "region": path.stem, "version": match.group(1) if match else "",
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "content": text,
    }


@bp.get("/rule-packs")
def rule_packs() -> Response:
    folder = packs_dir()
    paths = sorted(folder.glob("[0-9][0-9][0-9][0-9][0-9][0-9].toml")) if folder.is_dir() else []
    items = []
    for path in paths:
        pack = _pack(path)
        del pack["content"]
        items.append(pack)
    return json_response({"items": items})


@bp.get("/rule-packs/<region>")
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


@bp.get("/client/latest")
def client_latest() -> Response:
    """The newest release; with the signed manifest the demo or test published (sim.py),
    whose fields and ``signature`` are served exactly as signed."""
    rows = store().query("SELECT version, url, sha256, notes, published_on, content FROM release")
    if not rows:
        raise ApiError(404, "release_not_found", "暂无可用的客户端版本信息")
    version, url, sha, notes, published, content = max(rows, key=lambda r: _version_key(r[0]))
    body: dict[str, Any] = {
        "version": version, "url": url, "sha256": sha, "notes": notes, "published_on": published,
        "package": "", "size": len(content) if content is not None else 0, "min_version": "",
        "signature": "",
    }
    signed = store().get_meta(f"release_manifest:{version}")
    if signed:
        body.update(json.loads(signed))
    return json_response(body)


_RANGE_RE = re.compile(r"bytes=(\d+)-(\d*)")


@bp.get("/client/download/<version>")
def client_download(version: str) -> Response:
    """The package; ``Range: bytes=N-`` (or ``N-M``) answers 206 so a download resumes."""
    row = store().db.execute_sql(
        "SELECT content FROM release WHERE version = ?", (version,)
    ).fetchone()
    if row is None or row[0] is None:
        raise ApiError(404, "release_not_found", "未找到该版本的安装包")
    content = bytes(row[0])
    wanted = request.headers.get("Range")
    if not wanted:
        return Response(content, mimetype="application/octet-stream",
                        headers={"Accept-Ranges": "bytes"})
    match = _RANGE_RE.fullmatch(wanted.strip())
    start = int(match.group(1)) if match else -1
    end = int(match.group(2)) if match and match.group(2) else len(content) - 1
    if not match or start >= len(content) or end < start:
        return Response(b"", status=416, headers={"Content-Range": f"bytes */{len(content)}"})
    end = min(end, len(content) - 1)
    return Response(content[start:end + 1], status=206, mimetype="application/octet-stream",
                    headers={"Content-Range": f"bytes {start}-{end}/{len(content)}",
                             "Accept-Ranges": "bytes"})


# -- idempotency outcome ---------------------------------------------------------------------
@bp.get("/idempotency/<key>")
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
