"""Simulation API and fault injection (only with ``--simulation``; /sim is a 404 otherwise).

/sim is a control channel for demos and tests, not part of the client protocol: its
writes need no Idempotency-Key and faults never apply to it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import json
import random
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from taxside import data, fees, sim_fees, sim_payments
from taxside import queries as sim_queries
from taxside.db import Store
from taxside.decisions import decide_due
from taxside.regionrules import find_pack
from taxside.web import ApiError, body_json, json_response, load_unit, store

sim = Blueprint("sim", __name__, url_prefix="/sim")
MAX_DECISION_DELAY = 86_400

FAULT_KINDS = ("latency", "error", "timeout", "malformed_json", "wrong_content_type", "drop_after_commit",
               "cut_body")
StartResponse = Callable[..., Any]


# -- faults ----------------------------------------------------------------------------------
@dataclass
class Fault:
    id: int
    path_prefix: str
    kind: str
    method: str | None = None  # only this HTTP method, e.g. PUT
    remaining: int | None = None  # None: until cleared
    rate: float = 1.0  # share of matching requests that get the fault
    status: int = 503  # for kind=error
    latency_ms: int = 0  # for kind=latency
    hold_s: float = 30.0  # for kind=timeout
    after_bytes: int = 0  # for kind=cut_body


class FaultRegistry:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next = 1
        self._rng = random.Random(seed)  # shares of 5xx are reproducible
        self._release = threading.Event()

    def add(self, spec: dict[str, Any]) -> Fault:
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ApiError(400, "bad_fault", f"故障类型应为：{'、'.join(FAULT_KINDS)}")
        try:
            fault = Fault(
                id=0,
                path_prefix=str(spec.get("path_prefix", "/v1/")),
                kind=kind,
                method=(str(spec["method"]).upper() if spec.get("method") else None),
                remaining=(int(spec["count"]) if spec.get("count") is not None else None),
                rate=float(spec.get("rate", 1.0)),
                status=int(spec.get("status", 503)),
                latency_ms=int(spec.get("latency_ms", 0)),
                hold_s=float(spec.get("hold_s", 30.0)),
                after_bytes=int(spec.get("after_bytes", 0)),
            )
        except (TypeError, ValueError):
            raise ApiError(400, "bad_fault", "故障参数格式有误") from None
        if not 0 < fault.rate <= 1 or fault.status not in (500, 502, 503, 504):
            raise ApiError(400, "bad_fault", "rate 应在0到1之间，status 应为500、502、503或504")
        with self._lock:
            fault.id = self._next
            self._next += 1
            self._faults.append(fault)
        self._release.clear()
        return fault

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self, fault_id: int | None = None) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if fault_id is not None and f.id != fault_id]

    def take(self, path: str, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not path.startswith(fault.path_prefix):
                    continue
                if fault.method and fault.method != method:
                    continue
                if fault.rate < 1 and self._rng.random() >= fault.rate:
                    return None
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def hold(self, seconds: float) -> None:
        self._release.wait(seconds)

    def release_held(self) -> None:
        self._release.set()


class ConnectionDropped(Exception):
    """Raised where there is no socket to shut (the Flask test client)."""


def _drop(environ: dict[str, Any]) -> None:
    sock = environ.get("werkzeug.socket")
    if sock is None:
        raise ConnectionDropped("connection dropped by fault injection")
    with contextlib.suppress(OSError):  # already closed by the client: fine
        sock.shutdown(socket.SHUT_RDWR)  # the client sees the connection closed, no response


def _cut(environ: dict[str, Any], head: bytes) -> Iterator[bytes]:
    yield head
    _drop(environ)


class FaultMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]], registry: FaultRegistry) -> None:
        self.app = app
        self.registry = registry

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        fault = None if path.startswith("/sim") else self.registry.take(path, environ["REQUEST_METHOD"])
        if fault is None:
            return self.app(environ, start_response)
        if fault.kind == "latency":
            self.registry.hold(fault.latency_ms / 1000)
            return self.app(environ, start_response)
        if fault.kind == "error":
            body = json.dumps(
                {"code": "busy" if fault.status == 503 else "internal",
                 "message": "税务端繁忙，请稍后再试" if fault.status == 503 else "税务端内部错误，请稍后再试"},
                ensure_ascii=False,
            ).encode()
            start_response(f"{fault.status} Fault", [("Content-Type", "application/json")])
            return [body]
        if fault.kind == "timeout":  # nothing is processed: hold, then close without answer
            self.registry.hold(fault.hold_s)
            _drop(environ)
            start_response("504 Gateway Timeout", [("Content-Type", "application/json")])
            return [b""]
        # The remaining faults run the request to the end (a write commits), then spoil
        # the answer.
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda chunk: None

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if fault.kind == "drop_after_commit":
            _drop(environ)
            start_response(captured["status"], [("Content-Type", "application/json")])
            return [b""]
        if fault.kind == "cut_body":  # the full headers, the first bytes, then a dead line
            start_response(captured["status"], captured["headers"])
            return _cut(environ, body[: fault.after_bytes])
        if fault.kind == "malformed_json":
            start_response(captured["status"], [("Content-Type", "application/json")])
            return [body[: max(1, len(body) // 2)] + b"\x00}"]
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return ["<html><body><h1>网络认证</h1>请先登录上网认证页面。</body></html>".encode()]


def install(app: Flask) -> None:
    registry = FaultRegistry()
    app.config["FAULTS"] = registry
    app.register_blueprint(sim)
    app.register_blueprint(sim_fees.bp)
    app.register_blueprint(sim_payments.bp)
    app.register_blueprint(sim_queries.sim_bp)
    app.wsgi_app = FaultMiddleware(app.wsgi_app, registry)  # type: ignore[method-assign]


def faults() -> FaultRegistry:
    return current_app.config["FAULTS"]


@sim.before_request
def _decide_declarations() -> None:
    decide_due()  # /sim calls are a point where due payroll-base declarations get decided


def _settings(st: Store) -> dict[str, Any]:
    return {"decision_delay_seconds": st.decision_delay(), "today": st.today().isoformat(),
            **sim_payments.settings(st)}


@sim.get("/settings")
def get_settings() -> Response:
    return json_response(_settings(store()))


@sim.put("/settings")
def put_settings() -> Response:
    """``decision_delay_seconds`` (payroll-base decisions) and ``today`` (business date)."""
    body = body_json()
    st = store()
    delay, today = body.get("decision_delay_seconds"), body.get("today")
    if delay is not None and (
        isinstance(delay, bool) or not isinstance(delay, int | float)
        or not 0 <= delay <= MAX_DECISION_DELAY
    ):
        raise ApiError(400, "bad_settings", f"decision_delay_seconds 应为0到{MAX_DECISION_DELAY}之间的秒数")
    if today is not None:
        try:
            today = dt.date.fromisoformat(today).isoformat() if isinstance(today, str) else None
        except ValueError:
            today = None
        if today is None:
            raise ApiError(400, "bad_settings", "today 应为 YYYY-MM-DD 格式的日期")
    delays = sim_payments.check_settings(body)
    with st.write():
        for key, value in delays.items():
            st.set_meta(key, str(value))
        if delay is not None:
            st.set_meta("decision_delay_seconds", str(delay))
        if today is not None:
            st.set_meta("today", today)
    decide_due()  # a shorter delay takes effect at once
    return json_response(_settings(st))


@sim.post("/faults")
def add_fault() -> Response:
    return json_response(asdict(faults().add(body_json())), 201)


@sim.get("/faults")
def list_faults() -> Response:
    return json_response({"items": [asdict(f) for f in faults().list()]})


@sim.delete("/faults")
def clear_faults() -> Response:
    faults().clear()
    faults().release_held()
    return json_response({"cleared": True})


@sim.delete("/faults/<int:fault_id>")
def clear_fault(fault_id: int) -> Response:
    faults().clear(fault_id)
    return json_response({"cleared": True})


# -- data changes ------------------------------------------------------------------------------
def _count() -> int:
    value = body_json().get("count", 1)
    if not isinstance(value, int) or not 1 <= value <= 100_000:
        raise ApiError(400, "bad_count", "count 应为1到100000之间的整数")
    return value


def _rng(st: Store, salt: str) -> random.Random:
    return random.Random(f"{st.get_meta('seed') or 0}:{st.max_seq()}:{salt}")


@sim.get("/units")
def sim_units() -> Response:
    st = store()
    rows = st.query(
        "SELECT u.id, u.unit_id, u.taxpayer_id, u.name, u.region, u.initial_number,"
        " u.password_hash IS NULL, (SELECT COUNT(*) FROM employee e WHERE e.unit_pk = u.id"
        " AND e.deleted = 0) FROM unit u ORDER BY u.id"
    )
    return json_response({"items": [
        {"unit_id": r[1], "taxpayer_id": r[2], "name": r[3], "region": r[4],
         "initial_password": r[5][-6:], "password_is_initial": bool(r[6]), "employees": r[7]}
        for r in rows
    ]})


def _touch(st: Store, unit_pk: int, emp_ids: list[int], sql: str, params: tuple[Any, ...]) -> None:
    """Apply one change per employee, each with its own seq (as separate events would)."""
    now = st.now().isoformat()
    for emp in emp_ids:
        seq = st.log_change("enrollment", "upsert", unit_pk=unit_pk, entity_id=f"E{emp:09d}")
        st.db.execute_sql(f"UPDATE employee SET {sql}, seq = ?, updated_at = ? WHERE id = ?",
                          (*params, seq, now, emp))


def _pick(st: Store, unit_pk: int, count: int, where: str, salt: str) -> list[int]:
    ids = [r[0] for r in st.query(
        f"SELECT id FROM employee WHERE unit_pk = ? AND deleted = 0 {where} ORDER BY id", (unit_pk,)
    )]
    return sorted(_rng(st, salt).sample(ids, min(count, len(ids))))


@sim.post("/units/<unit_id>/hires")
def hires(unit_id: str) -> Response:
    count = _count()
    st = store()
    with st.write():
        unit = load_unit(unit_id)
        rng = _rng(st, "hires")
        taken = {r[0] for r in st.query("SELECT id_number FROM employee")}
        number = st.query(
            "SELECT unit_number FROM employee WHERE unit_pk = ? ORDER BY id LIMIT 1", (unit["pk"],)
        ) or [(unit["initial_number"],)]
        items = json.dumps(list(data.ITEMS))
        now = st.now().isoformat()
        created = []
        for _ in range(count):
            person = data.make_person(rng, unit["region"], st.today(), taken)
            base = data.random_base(rng, unit["region"])
            seq = st.log_change("enrollment", "upsert", unit_pk=unit["pk"])
            cur = st.db.execute_sql(
                "INSERT INTO employee(unit_pk, unit_number, name, id_type, id_number, gender,"
                " birth_date, items, status, bases, seq, deleted, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,0,?)",
                (unit["pk"], number[0][0], person.name, data.ID_TYPE_RESIDENT, person.id_number,
                 person.gender, person.birth_date, items, data.STATUS_NORMAL,
                 json.dumps({i: base for i in data.ITEMS}), seq, now),
            )
            created.append(f"E{cur.lastrowid:09d}")
    return json_response({"employee_ids": created}, 201)


@sim.post("/units/<unit_id>/leavers")
def leavers(unit_id: str) -> Response:
    count = _count()
    st = store()
    with st.write():
        unit = load_unit(unit_id)
        ids = _pick(st, unit["pk"], count, f"AND status = '{data.STATUS_NORMAL}'", "leavers")
        _touch(st, unit["pk"], ids, "status = ?", (data.STATUS_STOPPED,))
    return json_response({"employee_ids": [f"E{i:09d}" for i in ids]})


@sim.post("/units/<unit_id>/removals")
def removals(unit_id: str) -> Response:
    """Enrollment records withdrawn by the insurance agency: served as tombstones."""
    count = _count()
    st = store()
    with st.write():
        unit = load_unit(unit_id)
        ids = _pick(st, unit["pk"], count, "", "removals")
        _touch(st, unit["pk"], ids, "deleted = ?", (1,))
    return json_response({"employee_ids": [f"E{i:09d}" for i in ids]})


@sim.post("/units/<unit_id>/base-changes")
def base_changes(unit_id: str) -> Response:
    body = body_json()
    count = _count()
    try:
        ratio = Decimal(str(body.get("ratio", "1.05")))
    except InvalidOperation:
        raise ApiError(400, "bad_ratio", "ratio 应为数字文本，如 \"1.05\"") from None
    st = store()
    with st.write():
        unit = load_unit(unit_id)
        ids = _pick(st, unit["pk"], count, "", "bases")
        now = st.now().isoformat()
        for emp in ids:
            (old,) = st.query("SELECT bases FROM employee WHERE id = ?", (emp,))[0]
            new = {k: str((Decimal(v) * ratio).quantize(Decimal("0.01"), ROUND_HALF_UP))
                   for k, v in json.loads(old).items()}
            seq = st.log_change("enrollment", "upsert", unit_pk=unit["pk"], entity_id=f"E{emp:09d}")
            st.db.execute_sql("UPDATE employee SET bases = ?, seq = ?, updated_at = ? WHERE id = ?",
                              (json.dumps(new), seq, now, emp))
    return json_response({"employee_ids": [f"E{i:09d}" for i in ids]})


@sim.post("/advance-month")
def advance_month() -> Response:
    st = store()
    with st.write():
        day = st.today()
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        new = dt.date(year, month, min(day.day, 28))
        st.set_meta("today", new.isoformat())
    fees.preprocess_all(st, find_pack)  # month start: every unit's daily fee summaries
    return json_response({"today": new.isoformat(), "period": f"{new:%Y-%m}"})


@sim.post("/notices")
def publish_notice() -> Response:
    body = body_json()
    title, text = body.get("title"), body.get("body")
    if not isinstance(title, str) or not title or not isinstance(text, str):
        raise ApiError(400, "bad_notice", "通知公告须有标题和正文")
    st = store()
    with st.write():
        today = st.today()
        seq = st.log_change("notice", "upsert")
        cur = st.db.execute_sql(
            "INSERT INTO notice(region, title, body, published_on, valid_until, importance, popup,"
            " seq, deleted) VALUES (?,?,?,?,?,?,?,?,0)",
            (body.get("region"), title, text, today.isoformat(),
             (today + dt.timedelta(days=int(body.get("valid_days", 30)))).isoformat(),
             body.get("importance", "一般"), int(bool(body.get("popup", False))), seq),
        )
    return json_response({"notice_id": f"N{cur.lastrowid:06d}"}, 201)


@sim.put("/client-release")
def put_release() -> Response:
    """Publish a client version; with ``content_base64`` the package is served for download.
    A signed release comes as ``{"manifest": {..., "signature"}, "content_base64"}``: the
    manifest is stored and served as signed, never checked here (tests publish tampered
    packages and bad signatures on purpose)."""
    body = body_json()
    signed = body.get("manifest")
    if signed is not None and (not isinstance(signed, dict) or not isinstance(signed.get("version"), str)):
        raise ApiError(400, "bad_release", "manifest 应为含版本号的对象")
    version = signed["version"] if signed else body.get("version")
    if not isinstance(version, str) or not version:
        raise ApiError(400, "bad_release", "须提供版本号")
    content = None
    if body.get("content_base64"):
        try:
            content = base64.b64decode(body["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "bad_release", "安装包内容不是有效的Base64") from None
    sha = hashlib.sha256(content).hexdigest() if content is not None else str(body.get("sha256", ""))
    url = body.get("url") or f"{request.host_url.rstrip('/')}/v1/client/download/{version}"
    notes = str(signed.get("notes", "")) if signed else str(body.get("notes", ""))
    st = store()
    with st.write():
        st.db.execute_sql(
            "INSERT OR REPLACE INTO release(version, url, sha256, notes, published_on, content)"
            " VALUES (?,?,?,?,?,?)",
            (version, url, sha, notes, st.today().isoformat(), content),
        )
        st.db.execute_sql("DELETE FROM meta WHERE key = ?", (f"release_manifest:{version}",))
        if signed:
            st.set_meta(f"release_manifest:{version}", json.dumps(signed, ensure_ascii=False))
    return json_response({"version": version, "url": url, "sha256": sha}, 201)


@sim.delete("/client-release/<version>")
def delete_release(version: str) -> Response:
    st = store()
    with st.write():
        st.db.execute_sql("DELETE FROM release WHERE version = ?", (version,))
        st.db.execute_sql("DELETE FROM meta WHERE key = ?", (f"release_manifest:{version}",))
    return json_response({"deleted": version})


@sim.post("/units/<unit_id>/unlock")
def unlock(unit_id: str) -> Response:
    st = store()
    with st.write():
        unit = load_unit(unit_id)
        st.db.execute_sql("UPDATE unit SET failed_attempts = 0, locked_until = NULL WHERE id = ?",
                          (unit["pk"],))
    return json_response({"unlocked": True})
