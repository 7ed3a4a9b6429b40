"""职工缴费证明 (manual 3.1.7) as JSON and files for /certificate: preview, print (PDF), export
(xlsx) and 核验 of a printed copy. The data is the tax side's (client/sync/certificate.py),
checked into client/core/certificate.py's types; each print is recorded locally.

Routes (all need an entered unit; writes need the page's CSRF header):

- ``POST /api/certificate/preview`` ``{"employee_ids": [...], "period_from", "period_to"}`` ->
  ``{"ok", "persons": [person]}``; a person: ``{"name", "id_type", "id_type_name", "id_number",
  "period_from", "period_to", "rows": [{"period", "item_name", "kind_label", "base", "employer",
  "employee", "total", "state", "state_label", "paid_on", ...}], "employer_total", "employee_total",
  "total", "count", "months"}``. Employees are local enrollment ids (1-50), the range YYYYMM (<= 120 months).
- ``POST /api/certificate/print`` (the same body) -> 202 ``{"job"}`` (kind ``certificate_print``); result
  ``{"pdf_name", "pdf_path", "printed_at", "certificates": [{"name", "id_number", "sha256", "qr_text",
  "total", "rows"}], "message"}``.
- ``GET  /api/certificate/employees?q=`` (a name or ID number, prefix) -> ``{"ok", "rows": [{"employee_id",
  "name", "id_type", "id_number", "status"}] (the first 20), "total", "size"}``: 查找职工 under this page's
  permission.
- ``GET  /api/certificate/pdf/<pdf_name>`` -> the saved PDF (``application/pdf``), only one this unit printed
  (its print record); another unit's is 404 ``certificate_not_found``.
- ``POST /api/certificate/pdf/<pdf_name>/open`` ``{"action": "open" | "print"}`` -> ``{"ok", "opened",
  "pdf_path", "message"}`` (the system's viewer or printer, as for vouchers).
- ``POST /api/certificate/export`` (the same body) -> xlsx (ID numbers and months text, amounts numbers).
- ``POST /api/certificate/verify`` ``{"text"}`` (the hash or the QR text) -> ``{"ok", "sha256", "found",
  "record": {...} | null, "message"}``.
- ``GET  /api/certificate/records`` -> ``{"ok", "items": [record]}`` (this unit's last prints).

年金缴款通知单 (only where the unit's pack has ``annuity_notice`` and ``[annuity]`` rates, and only for a
机关事业单位; otherwise 404 ``annuity_unavailable`` saying why, and the page is absent):

- ``POST /api/payment/annuity/preview`` ``{"period_from", "period_to"?}`` (1-12 periods) -> 202 ``{"job"}``
  (kind ``annuity_notice``); result ``{"notice": {"periods": [{"period", "rows": [{"name", "id_number",
  "base", "employer", "employee", "total"}] (the first 500), "rows_total", "headcount", "employer_total",
  "employee_total", "total"}], "employer_rate", "employee_rate", "source", "employer_total",
  "employee_total", "total", ...} | null, "empty", "message"}``; no 机关事业单位 person with a pension base in
  the periods: ``notice`` null, ``empty`` true and ``message`` says so (a print of that fails, printing nothing).
- ``POST /api/payment/annuity/print`` (the same body) -> 202 ``{"job"}``; result ``{"pdf_name", "pdf_path",
  "sha256", "qr_text", "notice", "message"}``; the PDF is served and opened by the certificate routes above.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request, send_file
from flask.typing import ResponseReturnValue

from client.api import payment as payment_api
from client.api.context import services
from client.api.files import send_xlsx
from client.api.login import requires_unit
from client.core import (
    annuity,
    annuity_pdf,
    audit,
    certificate,
    certificate_pdf,
    enrollment,
    pdf_common,
    rulecache,
    units,
)
from client.core.paging import PageRequest
from client.errors import NotFoundError, ValidationError
from client.sync import certificate as remote
from rules.model import RulePack

bp = Blueprint("certificate", __name__)
PDF_NAME = re.compile(r"(缴费证明|年金缴款通知单)_\d{14}_[0-9a-f]{8}\.pdf")


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _pk() -> int:
    unit = services().session.require_entered()
    assert unit.local_id is not None
    return unit.local_id


PRINT_JOB = "certificate_print"


def _chosen(body: dict[str, Any]) -> tuple[list[enrollment.EmployeeDetail], str, str]:
    """The chosen employees (this unit's local enrollment) and the checked range."""
    ids = body.get("employee_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise ValidationError("请至少选择一名职工", field="employee_ids")
    ids = list(dict.fromkeys(ids))
    if len(ids) > certificate.MAX_PERSONS:
        raise ValidationError(f"一次最多为 {certificate.MAX_PERSONS} 名职工打印缴费证明，已选 {len(ids)} 名",
                              field="employee_ids")
    start, end = certificate.check_range(body.get("period_from", ""), body.get("period_to", ""))
    svc, pk = services(), _pk()
    people = []
    for n, i in enumerate(ids, start=1):
        try:
            people.append(enrollment.detail(svc.store, pk, i))
        except NotFoundError:  # another unit's id, a removed row, or made up: say which one
            shown = i if len(i) <= 40 else i[:40] + "…"
            raise NotFoundError(f"所选第 {n} 名职工（{shown}）不在本单位的职工参保信息中，请重新查找职工后选择",
                                code="employee_not_found", field="employee_ids", row=n) from None
    return people, start, end


def _persons(body: dict[str, Any]) -> list[certificate.PersonContributions]:
    """The chosen employees' contributions, asked of the tax side one by one."""
    people, start, end = _chosen(body)
    return [remote.person(services().session, e.id_type, e.id_number, start, end) for e in people]


def _unit_facts() -> tuple[str, str, tuple[str, ...]]:
    unit = services().session.require_entered()
    reg = units.registration(unit.unit_id)
    return unit.name, unit.taxpayer_id, tuple(n.number for n in reg.unit_numbers) if reg else ()


def _folder() -> Path:
    return services().home / "certificates"


def _saved(name: str) -> Path:
    if not PDF_NAME.fullmatch(name):  # it names a file: only the names print() gives
        raise NotFoundError("没有这份缴费证明", code="certificate_not_found")
    if not certificate.printed_here(services().store, _pk(), name):  # another unit's print: as if absent
        raise NotFoundError("本单位没有打印过这份缴费证明", code="certificate_not_found")
    path = _folder() / name
    if not path.is_file():
        raise NotFoundError("这份缴费证明的 PDF 已不在本机", code="certificate_not_found")
    return path


@bp.get("/certificate")
@requires_unit
def certificate_page() -> str:
    svc = services()
    today = svc.session.business_date()
    return render_template("certificate.html", active="certificate", page_size=svc.settings.get("page_size"),
                           period_from=f"{today.year}01", period_to=f"{today:%Y%m}",
                           max_persons=certificate.MAX_PERSONS)


SEARCH_SIZE = 20
ID_LIKE = re.compile(r"[0-9A-Za-z]{4,}")


@bp.get("/api/certificate/employees")
@requires_unit
def find_employees() -> ResponseReturnValue:
    """查找职工 for this page: the local enrollment data, under the certificate permission (a
    role that may only print certificates cannot read /api/enrollment), and only what choosing needs."""
    q = request.args.get("q", "").strip()
    if not q:
        raise ValidationError("请输入姓名或证件号码", field="q")
    if len(q) > 60:
        raise ValidationError(f"姓名或证件号码最长 60 个字符，输入了 {len(q)} 个", field="q")
    key = "id_number" if ID_LIKE.fullmatch(q) else "name"
    svc = services()
    page = enrollment.search(svc.store, _pk(), PageRequest(1, SEARCH_SIZE),
                             enrollment.EnrollmentFilter.parse({key: q}))
    rows = [{k: r[k] for k in ("employee_id", "name", "id_type", "id_number", "status")} for r in page.rows]
    return jsonify({"ok": True, "rows": rows, "total": page.total, "size": SEARCH_SIZE})


@bp.post("/api/certificate/preview")
@requires_unit
def preview() -> ResponseReturnValue:
    return jsonify({"ok": True, "persons": [p.to_dict() for p in _persons(_json())]})


@bp.post("/api/certificate/print")
@requires_unit
def print_certificate() -> ResponseReturnValue:
    """A job: up to 50 employees x 10 years is thousands of rows to fetch and draw."""
    people, start, end = _chosen(_json())
    svc, pk = services(), _pk()
    session, store, folder = svc.session, svc.store, _folder()
    session.client()  # offline: say so now, not as a failed job
    unit_name, taxpayer_id, numbers = _unit_facts()
    operator = audit.current_operator()

    def work(ctx: Any) -> dict[str, Any]:
        persons = []
        for done, e in enumerate(people):
            ctx.check_cancelled()
            ctx.progress(done, len(people) + 1, f"读取 {e.name} 的缴费记录")
            persons.append(remote.person(session, e.id_type, e.id_number, start, end))
        ctx.progress(len(people), len(people) + 1, "生成缴费证明 PDF")
        doc = certificate.CertificateDoc(unit_name, taxpayer_id, numbers, dt.datetime.now().replace(microsecond=0),
                                         operator, tuple(persons))
        return _save_certificate(store, pk, folder, doc)

    job = svc.jobs.start(PRINT_JOB, "打印职工缴费证明", work, unit_id=pk)
    return jsonify({"ok": True, "job": job.to_dict()}), 202


def _save_certificate(store: Any, pk: int, folder: Path, doc: certificate.CertificateDoc) -> dict[str, Any]:
    persons = doc.persons
    data = certificate_pdf.render(doc)
    digests = [certificate.content_hash(doc, p) for p in persons]
    name = f"缴费证明_{doc.printed_at:%Y%m%d%H%M%S}_{digests[0][:8]}.pdf"
    target = folder / name
    pdf_common.save(target, data)
    certificate.record(store, pk, [certificate.print_record(doc, p, name) for p in persons])
    who = "、".join(p.name for p in persons[:5]) + (f"等 {len(persons)} 人" if len(persons) > 5 else "")
    audit.record(store, "打印职工缴费证明", f"{who} {persons[0].period_from}-{persons[0].period_to}", unit_id=pk)
    return {
        "pdf_name": name, "pdf_path": str(target), "printed_at": doc.printed_at.isoformat(sep=" "),
        "certificates": [{"name": p.name, "id_number": p.id_number, "sha256": d, "qr_text": certificate.qr_text(d),
                          "total": str(p.total), "rows": len(p.rows)} for p, d in zip(persons, digests, strict=True)],
        "message": f"已生成 {len(persons)} 名职工的缴费证明：{target}",
    }


@bp.get("/api/certificate/pdf/<pdf_name>")
@requires_unit
def certificate_pdf_file(pdf_name: str) -> ResponseReturnValue:
    return send_file(_saved(pdf_name), mimetype="application/pdf", download_name=pdf_name)


@bp.post("/api/certificate/pdf/<pdf_name>/open")
@requires_unit
def open_certificate(pdf_name: str) -> ResponseReturnValue:
    return payment_api.open_pdf(_saved(pdf_name), _json(), "证明", "缴费证明")


@bp.post("/api/certificate/export")
@requires_unit
def export() -> ResponseReturnValue:
    persons = _persons(_json())
    audit.record(services().store, "导出职工缴费证明", "、".join(p.name for p in persons[:5]), unit_id=_pk())
    return send_xlsx(lambda target: certificate.export_xlsx(persons, target), "职工缴费证明.xlsx")


@bp.post("/api/certificate/verify")
@requires_unit
def verify() -> ResponseReturnValue:
    text = _json().get("text", "")
    if not isinstance(text, str):  # a list or number is not what was printed
        raise ValidationError("核验码应为一段文本：证明上的 64 位核验码或二维码内容", field="text")
    digest, found = certificate.verify(services().store, text)
    if found is None:
        message = "本客户端没有打印过这份证明的记录：核验码不符，或证明由其他电脑打印"
    else:
        message = (f"本客户端于 {found.printed_at.replace('T', ' ')} 为 {found.name}（{found.id_number}）打印，"
                   f"费款所属期 {found.period_from}-{found.period_to}，经办人 {found.operator}")
    return jsonify({"ok": True, "sha256": digest, "found": found is not None,
                    "record": found.to_dict() if found else None, "message": message})


@bp.get("/api/certificate/records")
@requires_unit
def records() -> ResponseReturnValue:
    return jsonify({"ok": True, "items": [r.to_dict() for r in certificate.recent(services().store, _pk())]})


# -- 年金缴款通知单 (山西: where the pack switches annuity_notice on) -------------------------------
def _annuity_pack() -> tuple[RulePack | None, annuity.Availability]:
    unit = services().session.require_entered()
    found = rulecache.in_force(unit.region)
    reg = units.registration(unit.unit_id)
    pack = found.pack if found else None
    return pack, annuity.availability(pack, reg.is_government if reg else None)


ANNUITY_JOB = "annuity_notice"
PREVIEW_ROWS = 500  # per period on the page; the PDF has every person


def _annuity_job(print_it: bool) -> ResponseReturnValue:
    """Preview or print as a job: a large unit's bases are many pages from the tax side and its
    PDF many pages to draw. Everything the job needs is taken here, in the request."""
    pack, available = _annuity_pack()
    if not available.available or pack is None or pack.annuity is None:
        raise NotFoundError(available.reason, code="annuity_unavailable")
    body = _json()
    months = annuity.check_periods(body.get("period_from", ""), body.get("period_to", ""))
    for month in months:
        annuity.base_rule(pack, month)  # a period the pack lacks is refused now, not as a failed job
    svc, pk = services(), _pk()
    session, store, folder = svc.session, svc.store, _folder()
    session.client()  # offline: say so now, not as a failed job
    unit = session.require_entered()
    reg = units.registration(unit.unit_id)
    info = {"name": unit.name, "taxpayer_id": unit.taxpayer_id,
            "unit_numbers": [n.number for n in reg.unit_numbers] if reg else []}
    operator, base_item = audit.current_operator(), pack.annuity.base_item

    def work(ctx: Any) -> dict[str, Any]:
        periods = []
        for done, month in enumerate(months):
            ctx.check_cancelled()
            ctx.progress(done, len(months) + print_it, f"读取费款所属期 {month} 的缴费基数")
            periods.append(annuity.build_period(pack, month, remote.period_records(session, month, base_item)))
        empty = annuity.empty_reason(periods)
        if empty and not print_it:  # the preview says so; a print is refused by notice() below
            return {"notice": None, "empty": True, "message": empty}
        found = annuity.notice(pack, info, periods, operator, dt.datetime.now())
        shown = found.to_dict()
        for period in shown["periods"]:
            period["rows_total"] = len(period["rows"])
            period["rows"] = period["rows"][:PREVIEW_ROWS]
        if not print_it:
            return {"notice": shown, "empty": False, "message": f"应缴职业年金合计 {found.total} 元"}
        ctx.progress(len(months), len(months) + 1, "生成通知单 PDF")
        return {**_save_notice(store, pk, folder, found), "notice": shown}

    title = "打印年金缴款通知单" if print_it else "计算职业年金"
    job = svc.jobs.start(ANNUITY_JOB, title, work, unit_id=pk)
    return jsonify({"ok": True, "job": job.to_dict()}), 202


def _save_notice(store: Any, pk: int, folder: Path, found: annuity.AnnuityNotice) -> dict[str, Any]:
    data = annuity_pdf.render(found)
    digest = annuity.content_hash(found)
    name = f"年金缴款通知单_{found.printed_at:%Y%m%d%H%M%S}_{digest[:8]}.pdf"
    target = folder / name
    pdf_common.save(target, data)
    headcount = sum(len(p.rows) for p in found.periods)
    first, last = found.periods[0].period, found.periods[-1].period
    certificate.record(store, pk, [certificate.PrintRecord(
        digest, "annuity", found.unit_name, f"{found.unit_name}（{headcount} 人次）", "", "", first, last,
        headcount, str(found.total), found.printed_at.isoformat(), found.operator, name)])
    audit.record(store, "打印年金缴款通知单", f"{first}-{last} 合计 {found.total}", unit_id=pk)
    return {"pdf_name": name, "pdf_path": str(target), "sha256": digest, "qr_text": certificate.qr_text(digest),
            "message": f"年金缴款通知单已生成：{target}"}


@bp.get("/payment/annuity")
@requires_unit
def annuity_page() -> ResponseReturnValue:
    pack, available = _annuity_pack()
    if pack is None or not pack.feature("annuity_notice") or pack.annuity is None:
        abort(404)  # the region has no such function: absent, not faked
    today = services().session.business_date()
    rule = pack.annuity
    return render_template("annuity.html", active="payment", tab="annuity", available=available,
                           period=f"{today:%Y-%m}", employer_rate=rule.employer_rate, employee_rate=rule.employee_rate,
                           source=rule.provenance.source or "未核实")


@bp.post("/api/payment/annuity/preview")
@requires_unit
def annuity_preview() -> ResponseReturnValue:
    return _annuity_job(False)


@bp.post("/api/payment/annuity/print")
@requires_unit
def annuity_print() -> ResponseReturnValue:
    return _annuity_job(True)
