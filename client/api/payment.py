"""费款缴纳 (manual 3.1.7) as JSON for the pages: arrears, agreements, 三方协议缴款, 银行端缴款凭证
(issue, print, void, print records) and 缴款记录, plus the home page's alerts.

Views stay thin: local reads are client/core/payment*.py, everything else goes through
client/sync/payment.py ``PaymentService`` (the journal first, then the one sender). Writes
need the page's CSRF header (client/api/server.py). Errors come as the error tree's JSON
(client/api/errors.py): ``{"ok": false, "error": {"code", "message", "field", "row"}}``; a second
debit or voucher of arrears already being paid is 409 ``arrear_held`` naming them.
Money is decimal text ("153600.00"); ids and 电子税票号码 are text.

Routes (all need an entered unit):

- ``GET  /api/payment/arrears?period=YYYYMM`` -> ``{"ok", "items": [arrear], "count" (欠费总条数),
  "amount_total", "late_fee_total", "total", "late_fee_estimate_total", "today", "estimated_on",
  "fetched_at", "estimate_note", "agreements": [agreement], "open": {state: n}}``; an arrear:
  ``{"arrear_id", "label", "unit_number", "agency", "item_name", "part_name", "period_from",
  "period_to", "period_label", "amount", "deadline", "late_days", "late_fee", "total",
  "late_fee_estimate", "total_estimate", "state", "state_label", "hold", "hold_label",
  "voucher_id", "debit_id", "open_entry", "payable", ...}`` (the last list on this PC).
- ``POST /api/payment/arrears/refresh`` ``{"list"?: {"period"?}}`` -> 202 ``{"job", "arrears"?}``
  (the job as it ended when that took under ``REFRESH_WAIT_SECONDS``, else running; with
  ``list``, a job that succeeded so comes with the list as GET arrears answers it); job result ``{"count", "today",
  "amount_total", "late_fee_total", "agreements", "resolved", "message"}`` (sends what waits and
  polls debits whose bank result is unknown first).
- ``POST /api/payment/arrears/selection`` ``{"arrear_ids": [...]}`` -> ``{"ok", "count",
  "amount_total", "late_fee_total", "total"}`` (what 缴款 asks the operator to confirm).
- ``GET  /api/payment/agreements`` -> ``{"ok", "items": [{"agreement_id", "agreement_no", "bank",
  "account_masked", "account_name", "scope", "state", "can_debit_fees", "reason", "warning"}]}``.
- ``POST /api/payment/debits`` ``{"agreement_id", "arrear_ids", "confirmed_total"}`` -> 201
  ``{"ok", "entry", "message", "debit": {"debit_id", "status", "paid_count", "failed_count",
  "unknown_count", "paid_total", "message", "results": [{"arrear_id", "label", "status",
  "status_label", "total", "tax_ticket", "code", "message", "advice"}]} | null, "arrears_refreshed"}``;
  ``ok`` false when the tax side refused it (``message`` says why) or it is still 待提交/待确认.
- ``GET  /api/payment/debits/<debit_id>`` -> ``{"ok", "debit"}``.
- ``GET  /api/payment/entries/<entry_id>`` -> ``{"ok", "entry", "debit", "voucher"}`` (one payment
  journal entry and what came of it).
- ``POST /api/payment/vouchers`` ``{"arrear_ids"}`` -> 201 ``{"ok", "entry", "message", "voucher",
  "pdf_path"}``; a voucher: ``{"voucher_id", "voucher_no", "state", "state_label", "issued_on",
  "deadline", "count", "total", "arrear_ids", "body" (the tax side's voucher), "printed_count",
  "pdf_path", "can_print", "can_void", ...}``.
- ``GET  /api/payment/vouchers?date_from=&date_to=`` (开具日期, YYYY-MM-DD) -> ``{"ok", "items"}``.
- ``POST /api/payment/vouchers/sync`` ``{"date_from"?, "date_to"?}`` -> 202 ``{"job"}``; result
  ``{"count", "message"}`` (the states of this PC's print records from the tax side).
- ``POST /api/payment/vouchers/<voucher_id>/print`` -> ``{"ok", "voucher", "pdf_path"}`` (reprint
  while unpaid; the state is asked of the tax side first).
- ``GET  /api/payment/vouchers/<voucher_id>/pdf`` -> the PDF last printed (``application/pdf``).
- ``POST /api/payment/vouchers/<voucher_id>/open`` ``{"action": "open" | "print"}`` -> ``{"ok", "opened",
  "pdf_path", "message"}``: the saved PDF handed to the system's PDF viewer or printer (the window
  cannot show or download files itself); ``opened`` false with the path when that failed.
- ``POST /api/payment/vouchers/<voucher_id>/void`` -> ``{"ok", "entry", "message", "voucher"}``.
- ``GET  /api/payment/records?period=YYYYMM`` -> ``{"ok", "items": [{"payment_id", "tax_ticket",
  "method", "agreement_no", "bank", "arrear_id", "item_name", "part_name", "period_from",
  "period_to", "amount", "late_fee", "total", "paid_at", "arrival", "stored_at", ...}], "count",
  "total"}``.
- ``POST /api/payment/records/sync`` ``{"period"?}`` -> 202 ``{"job"}``; result ``{"count", "message"}``
  (the unit's 三方协议 payments with their arrival state 已缴款未入库 / 已入库).
- ``GET  /api/payment/records/export?period=YYYYMM`` -> xlsx (tickets and codes as text, amounts numeric).
- ``GET  /api/payment/alerts`` -> ``{"ok", "arrears": [arrear + "days_left"], "arrears_count",
  "arrears_total", "without_base", "fetched_at", "messages"}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.api.files import send_xlsx
from client.api.login import requires_unit
from client.core import audit, journal
from client.core import payment as core
from client.core import payment_records as records
from client.core.jobs import SUCCEEDED, JobInfo
from client.errors import NotFoundError
from client.sync.payment import PaymentService

bp = Blueprint("payment", __name__)
REFRESH_JOB, VOUCHERS_JOB, RECORDS_JOB = "payment_refresh", "payment_vouchers_sync", "payment_records_sync"
# A refresh of a few hundred arrears ends in well under this (~40 ms; 330 ms on a PC busy
# with other work): its answer then carries the result, and the page on entry needs no poll
# (two round trips and their waits, ~70 ms). A slow tax side answers with the running job
# after this long, and the page shows its progress and polls it.
REFRESH_WAIT_SECONDS = 1.0
SETTLE_POLLS = 100


def _service() -> PaymentService:
    return PaymentService(services().session)


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _pk() -> int:
    unit = services().session.require_entered()
    assert unit.local_id is not None  # an entered unit always has its local row
    return unit.local_id


def _open_counts(pk: int) -> dict[str, int]:
    counts = dict.fromkeys(journal.OPEN_STATES, 0)
    for entry in journal.entries(services().store, pk, journal.OPEN_STATES, core.KINDS):
        counts[entry.state] += 1
    return counts


def _started(kind: str, title: str, work: Any, *, wait: float = 0.0) -> JobInfo:
    """Start ``work`` as a job; with ``wait``, the job as it ended when it ends within that
    many seconds (the page then skips polling), else as it runs."""
    svc = services()
    svc.session.client()  # offline: say so now, not as a failed job
    ended = threading.Event()

    def run(ctx: Any) -> Any:
        try:
            return work(ctx)
        finally:
            ended.set()

    job = svc.jobs.start(kind, title, run if wait else work, unit_id=_pk())
    if wait and ended.wait(wait):
        # The runner records the outcome just after the function returns.
        for _ in range(SETTLE_POLLS):
            job = svc.jobs.get(job.id)
            if not job.active:
                break
            time.sleep(0.001)
    return job


def _start(kind: str, title: str, work: Any) -> ResponseReturnValue:
    return jsonify({"ok": True, "job": _started(kind, title, work).to_dict()}), 202


# -- arrears and agreements -------------------------------------------------------------------------
def _list_answer(data: dict[str, Any], status: int = 200) -> Response:
    """A whole list as JSON, compact and in the order built: Flask's jsonify sorts every key
    of every row, a third of the time for a 500-arrear list (its values are str, int, bool
    and None already)."""
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), status,
                    mimetype="application/json")


def _arrears(service: PaymentService, period: str) -> dict[str, Any]:
    view = service.arrears_view(period)
    return {"ok": True, **view.to_dict(), "agreements": [a.to_dict() for a in service.agreements()],
            "open": _open_counts(_pk())}


@bp.get("/api/payment/arrears")
@requires_unit
def arrears() -> ResponseReturnValue:
    return _list_answer(_arrears(_service(), request.args.get("period", "")))


@bp.post("/api/payment/arrears/refresh")
@requires_unit
def refresh() -> ResponseReturnValue:
    """With ``{"list": {"period"}}`` an answer whose job ended well also carries the list then
    stored, as GET /api/payment/arrears answers it: the page shows it without asking again."""
    service, wanted = _service(), _json().get("list")
    period = records.check_period(str(wanted.get("period") or "")) if isinstance(wanted, dict) else None
    job = _started(REFRESH_JOB, "刷新欠费信息", lambda _ctx: service.refresh().to_dict(), wait=REFRESH_WAIT_SECONDS)
    answer: dict[str, Any] = {"ok": True, "job": job.to_dict()}
    if period is not None and job.state == SUCCEEDED:
        answer["arrears"] = _arrears(service, period)
    return _list_answer(answer, 202)


@bp.post("/api/payment/arrears/selection")
@requires_unit
def selection() -> ResponseReturnValue:
    return jsonify({"ok": True, **_service().selection(_json().get("arrear_ids")).to_dict()})


@bp.get("/api/payment/agreements")
@requires_unit
def agreements() -> ResponseReturnValue:
    return jsonify({"ok": True, "items": [a.to_dict() for a in _service().agreements()]})


# -- 三方协议缴款 ------------------------------------------------------------------------------------------
@bp.post("/api/payment/debits")
@requires_unit
def pay_by_debit() -> ResponseReturnValue:
    """缴款: the choice is written to the journal (409 when any arrear is already being paid),
    then sent; the answer decides per arrear."""
    body = _json()
    result = _service().pay_by_debit(str(body.get("agreement_id") or ""), body.get("arrear_ids"),
                                     body.get("confirmed_total"), audit.current_operator())
    audit.record(services().store, "三方协议缴款", result.entry.summary, unit_id=_pk())
    return jsonify({"ok": result.ok, **result.to_dict()}), 201


@bp.get("/api/payment/debits/<debit_id>")
@requires_unit
def debit(debit_id: str) -> ResponseReturnValue:
    return jsonify({"ok": True, "debit": records.debit(services().store, _pk(), debit_id).to_dict()})


@bp.get("/api/payment/entries/<int:entry_id>")
@requires_unit
def entry(entry_id: int) -> ResponseReturnValue:
    svc, pk = services(), _pk()
    found = journal.get(svc.store, entry_id, pk)
    if found.kind not in core.KINDS:
        raise NotFoundError("没有这条缴款记录", code="submission_not_found")
    found_debit = records.debit_for_entry(svc.store, pk, entry_id) if found.kind == core.DEBIT else None
    voucher = None
    if found.kind != core.DEBIT and found.taxside_id and found.state == journal.ACCEPTED:
        voucher = records.voucher(svc.store, pk, found.taxside_id).to_dict()
    data = found.to_dict()
    data["reasons"] = found.reasons[:200]
    return jsonify({"ok": True, "entry": data, "debit": found_debit.to_dict() if found_debit else None,
                    "voucher": voucher})


# -- 银行端缴款凭证 ------------------------------------------------------------------------------------------
@bp.post("/api/payment/vouchers")
@requires_unit
def issue_voucher() -> ResponseReturnValue:
    result = _service().issue_voucher(_json().get("arrear_ids"), audit.current_operator())
    audit.record(services().store, "开具银行端缴款凭证", result.entry.summary, unit_id=_pk())
    return jsonify({"ok": result.ok, **result.to_dict()}), 201


@bp.get("/api/payment/vouchers")
@requires_unit
def voucher_records() -> ResponseReturnValue:
    found = _service().voucher_records(request.args.get("date_from", ""), request.args.get("date_to", ""))
    return jsonify({"ok": True, "items": [v.to_dict() for v in found]})


@bp.post("/api/payment/vouchers/sync")
@requires_unit
def sync_vouchers() -> ResponseReturnValue:
    service, body = _service(), _json()
    start, end = str(body.get("date_from") or ""), str(body.get("date_to") or "")

    def work(_ctx: Any) -> dict[str, Any]:
        count = service.sync_vouchers(start or None, end or None)
        return {"count": count, "message": f"已更新 {count} 张缴款凭证的状态"}

    return _start(VOUCHERS_JOB, "同步缴款凭证", work)


@bp.post("/api/payment/vouchers/<voucher_id>/print")
@requires_unit
def print_voucher(voucher_id: str) -> ResponseReturnValue:
    voucher, path = _service().print_voucher(voucher_id)
    audit.record(services().store, "打印银行端缴款凭证", voucher.voucher_no, unit_id=_pk())
    return jsonify({"ok": True, "voucher": voucher.to_dict(), "pdf_path": str(path)})


@bp.get("/api/payment/vouchers/<voucher_id>/pdf")
@requires_unit
def voucher_pdf(voucher_id: str) -> ResponseReturnValue:
    svc = services()
    found = records.voucher(svc.store, _pk(), voucher_id)
    path = records.pdf_path(svc.home, found)
    if not found.pdf_path or not path.is_file():
        raise NotFoundError("该缴款凭证尚未打印", code="voucher_not_printed")
    return send_file(path, mimetype="application/pdf", download_name=f"缴款凭证{found.voucher_no}.pdf")


def _launch(path: Path, action: str) -> None:
    """Hand a saved PDF to the system: its viewer, or its printer (Windows' print verb, CUPS' lp)."""
    if sys.platform == "win32":
        os.startfile(str(path), "print" if action == "print" else "open")  # type: ignore[attr-defined]
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    command = ["lp", str(path)] if action == "print" else [opener, str(path)]
    subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)


@bp.post("/api/payment/vouchers/<voucher_id>/open")
@requires_unit
def open_voucher(voucher_id: str) -> ResponseReturnValue:
    svc = services()
    found = records.voucher(svc.store, _pk(), voucher_id)
    path = records.pdf_path(svc.home, found)  # only ever the file this PC saved for it
    if not found.pdf_path or not path.is_file():
        raise NotFoundError("该缴款凭证尚未打印", code="voucher_not_printed")
    return open_pdf(path, _json(), "凭证", f"缴款凭证 {found.voucher_no} ")


def open_pdf(path: Path, body: dict[str, Any], saved: str, done: str) -> ResponseReturnValue:
    """Hand a saved PDF to the system's reader or default printer (body's action); a PC
    without one still has the file, and the answer says where (saved names the document)."""
    action = "print" if body.get("action") == "print" else "open"
    verb = "打印机" if action == "print" else "PDF 阅读器"
    try:
        _launch(path, action)  # looked up at call time: tests replace payment._launch
    except OSError as exc:
        return jsonify({"ok": True, "opened": False, "pdf_path": str(path),
                        "message": f"未能调用系统的{verb}（{exc.strerror or exc}），{saved}已保存在：{path}"})
    what = "已发送到系统默认打印机" if action == "print" else "已用系统的 PDF 阅读器打开"
    return jsonify({"ok": True, "opened": True, "pdf_path": str(path), "message": f"{done}{what}"})


@bp.post("/api/payment/vouchers/<voucher_id>/void")
@requires_unit
def void_voucher(voucher_id: str) -> ResponseReturnValue:
    result = _service().void_voucher(voucher_id, audit.current_operator())
    audit.record(services().store, "作废银行端缴款凭证", result.entry.summary, unit_id=_pk())
    return jsonify({"ok": result.ok, **result.to_dict()})


# -- 缴款记录 and home alerts ------------------------------------------------------------------------------------
@bp.get("/api/payment/records")
@requires_unit
def payment_records() -> ResponseReturnValue:
    found = _service().payment_records(request.args.get("period", ""))
    return jsonify({"ok": True, "items": [r.to_dict() for r in found], "count": len(found),
                    "total": str(records.payments_total(found))})


@bp.post("/api/payment/records/sync")
@requires_unit
def sync_records() -> ResponseReturnValue:
    service = _service()
    period = records.check_period(str(_json().get("period") or ""))

    def work(_ctx: Any) -> dict[str, Any]:
        count = service.sync_payments(period)
        return {"count": count, "message": f"已同步税务端缴款记录 {count} 条"}

    return _start(RECORDS_JOB, "同步缴款记录", work)


@bp.get("/api/payment/records/export")
@requires_unit
def export_records() -> ResponseReturnValue:
    service = _service()
    period = records.check_period(request.args.get("period", ""))
    return send_xlsx(lambda target: service.export_payments(period, target), "缴款记录.xlsx")


@bp.get("/api/payment/alerts")
@requires_unit
def alerts() -> ResponseReturnValue:
    return jsonify({"ok": True, **_service().home_alerts().to_dict()})
