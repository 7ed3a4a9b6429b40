"""查询统计 (manual 3.1.8): the /queries shell and four of its queries — 单位参保信息,
职工缴费基数, 社保费应缴信息, 社保费到账信息 (申报明细 is client/api/ another module's).

Pages open on local data (client/core/queries*.py) and start an update from the tax side
on entry (and on 更新 / 查询 with a range); offline they say so and show what is here.

- ``GET  /api/queries/unit?tax_authority&unit_number&agency`` -> ``{"items", "options", "state"}``
- ``GET  /api/queries/bases?name&id_type&id_number&item&page&size`` -> a page, ``state``,
  ``without_person`` (employees whose person elements are not on this PC)
- ``GET  /api/queries/payable?from&to&item`` -> ``{"items", "totals", "state"}``
- ``GET  /api/queries/arrival?from&to&paid_from&paid_to`` (费款所属期 YYYY-MM, 缴款日期 YYYY-MM-DD)
  -> ``{"items", "counts", "flagged", "summary", "state"}``
- ``POST /api/queries/<query>/sync`` ``{"from"?, "to"?, "full"?}`` -> 202 ``{"job"}`` (result
  ``{"message", ...}``); 职工缴费基数 brings only the changes since its last update unless ``full``
- ``GET  /api/queries/<query>/export?<the filters>`` -> xlsx of what the filters match
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue

from client.api.context import services
from client.api.files import send_xlsx
from client.api.login import requires_unit
from client.core import queries as q
from client.core import queries_pay as qp
from client.core.enrollment import ID_TYPES
from client.core.paging import PageRequest
from client.errors import NotFoundError
from client.sync.queries import QueryService

bp = Blueprint("queries", __name__)
PAGES = {q.UNIT: "queries_unit.html", q.BASES: "queries_bases.html", q.PAYABLE: "queries_payable.html",
         q.ARRIVAL: "queries_arrival.html"}
TITLES = {q.UNIT: "更新单位参保信息", q.BASES: "查询职工缴费基数", q.PAYABLE: "查询社保费应缴信息",
          q.ARRIVAL: "查询社保费到账信息"}


def job_kind(query: str) -> str:
    return f"queries_{query}_sync"


def _service() -> QueryService:
    return QueryService(services().session)


def _pk() -> int:
    return _service().unit()[0]


def _names() -> dict[str, str]:
    """The unit's item names (its rule pack), the same on every query page and export."""
    session = services().session
    return q.unit_item_names(session.require_entered().region, session.business_date())


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


# -- pages --------------------------------------------------------------------------------------------
@bp.get("/queries")
@requires_unit
def queries_home() -> ResponseReturnValue:
    return redirect("/queries/unit")


def _page(query: str) -> str:
    svc = services()
    pk = _pk()
    return render_template(
        PAGES[query], active="queries", tab=query, state=q.state_dict(svc.store, pk, query),
        offline=svc.session.view().offline, page_size=svc.settings.get("page_size"), id_types=ID_TYPES,
        items=_names(), job_kind=job_kind(query),
    )


@bp.get("/queries/unit")
@requires_unit
def unit_page() -> str:
    return _page(q.UNIT)


@bp.get("/queries/bases")
@requires_unit
def bases_page() -> str:
    return _page(q.BASES)


@bp.get("/queries/payable")
@requires_unit
def payable_page() -> str:
    return _page(q.PAYABLE)


@bp.get("/queries/arrival")
@requires_unit
def arrival_page() -> str:
    return _page(q.ARRIVAL)


# -- the lists ----------------------------------------------------------------------------------------
@bp.get("/api/queries/unit")
@requires_unit
def unit_list() -> ResponseReturnValue:
    store, pk = services().store, _pk()
    found = q.registrations(store, pk, q.RegistrationFilter.parse(request.args), _names())
    return jsonify({"ok": True, "items": [r.to_dict() for r in found], "count": len(found),
                    "options": q.registration_options(store, pk), "state": q.state_dict(store, pk, q.UNIT)})


@bp.get("/api/queries/bases")
@requires_unit
def bases_list() -> ResponseReturnValue:
    svc = services()
    pk = _pk()
    page = q.bases(svc.store, pk, PageRequest.parse(request.args, svc.settings.get("page_size")),
                   q.BaseFilter.parse(request.args), _names())
    return jsonify({"ok": True, **page.to_dict(), "state": q.state_dict(svc.store, pk, q.BASES),
                    "without_person": q.without_person_now(svc.store, pk)})


def _months() -> tuple[str, str]:
    return qp.check_months(request.args.get("from", ""), request.args.get("to", ""))


@bp.get("/api/queries/payable")
@requires_unit
def payable_list() -> ResponseReturnValue:
    store, pk = services().store, _pk()
    start, end = _months()
    found = qp.payables(store, pk, start, end, request.args.get("item", ""), _names())
    return jsonify({"ok": True, "items": [r.to_dict() for r in found], "count": len(found),
                    "totals": qp.payable_totals(found), "state": q.state_dict(store, pk, q.PAYABLE)})


@bp.get("/api/queries/arrival")
@requires_unit
def arrival_list() -> ResponseReturnValue:
    store, pk = services().store, _pk()
    view = qp.arrivals(store, pk, qp.ArrivalRange.parse(request.args), _names())
    return jsonify({"ok": True, **view.to_dict(), "state": q.state_dict(store, pk, q.ARRIVAL)})


# -- updates from the tax side --------------------------------------------------------------------------
@bp.post("/api/queries/<query>/sync")
@requires_unit
def start_sync(query: str) -> ResponseReturnValue:
    if query not in PAGES:
        raise NotFoundError("没有该查询", code="not_found")
    svc = services()
    service = _service()
    body = _json()
    if query in (q.PAYABLE, q.ARRIVAL):
        start, end = qp.check_months(body.get("from"), body.get("to"))
    asked = qp.ArrivalRange.parse(body) if query == q.ARRIVAL else qp.ArrivalRange()
    full = body.get("full") is True  # 职工缴费基数: every base again, not only the changes

    def work(ctx: Any) -> dict[str, Any]:
        if query == q.PAYABLE:
            return service.sync_payables(start, end)
        if query == q.ARRIVAL:
            return service.sync_arrivals(asked)
        if query == q.BASES:
            return service.sync_bases(ctx.progress, ctx.check_cancelled, full=full)
        return service.sync_registrations()

    svc.session.client()  # offline: said now, not as a failed job
    job = svc.jobs.start(job_kind(query), TITLES[query], work, unit_id=_pk())
    return jsonify({"ok": True, "job": job.to_dict()}), 202


# -- exports: what the filters match, IDs as text, amounts as numbers ----------------------------------
@bp.get("/api/queries/unit/export")
@requires_unit
def unit_export() -> ResponseReturnValue:
    store, pk = services().store, _pk()
    filters, names = q.RegistrationFilter.parse(request.args), _names()
    return send_xlsx(lambda target: q.export_registrations(store, pk, filters, target, names), "单位参保信息.xlsx")


@bp.get("/api/queries/bases/export")
@requires_unit
def bases_export() -> ResponseReturnValue:
    store, pk = services().store, _pk()
    filters, names = q.BaseFilter.parse(request.args), _names()
    return send_xlsx(lambda target: q.export_bases(store, pk, filters, target, names), "职工缴费基数.xlsx")


@bp.get("/api/queries/payable/export")
@requires_unit
def payable_export() -> ResponseReturnValue:
    store, pk = services().store, _pk()
    start, end = _months()
    item = request.args.get("item", "")
    qp.payables(store, pk, start, end, item)  # a bad item is refused before a file is made
    names = _names()
    return send_xlsx(lambda target: qp.export_payables(store, pk, start, end, item, target, names),
                     "社保费应缴信息.xlsx")


@bp.get("/api/queries/arrival/export")
@requires_unit
def arrival_export() -> ResponseReturnValue:
    store, pk = services().store, _pk()
    asked, names = qp.ArrivalRange.parse(request.args), _names()
    return send_xlsx(lambda target: qp.export_arrivals(store, pk, asked, target, names), "社保费到账信息.xlsx")
