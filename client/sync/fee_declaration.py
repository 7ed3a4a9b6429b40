"""社保费申报 against the tax side: the two journal kinds, and the fetches of 3.1.6.

Kinds (registered with the one sender, client/sync/kinds.py):

- ``fee_declaration``: payload ``{"summaries": [{"summary_id", "version"}], "figures", ...}``
  (client/core/fee_declaration.py ``declare``); 202 with a declaration id, decided later
  (all summaries or none). An accepted declaration is saved as a record (with its arrears)
  in the transaction that marks the entry 申报成功.
- ``fee_void``: payload ``{"declaration_id", "reason"}``; 202 with a void id, decided later;
  an accepted void turns the record 已作废.

Fetches: the summaries of a unit (on entry and 刷新), a summary's person details, and the
records of a date range (同步; the last two months on entry).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import peewee

from client.core import fee_check, journal, rulecache, units
from client.core import fee_declaration as core
from client.core.paging import PageRequest
from client.core.store import Store
from client.errors import SocialFeeError, ValidationError
from client.sync import kinds
from client.sync.taxclient import (
    FeeDeclaration,
    IdempotencyOutcome,
    TaxClient,
    fee_receipt_from_outcome,
    void_receipt_from_outcome,
)

log = logging.getLogger(__name__)
RECORD_DAYS_MAX = 366  # the protocol's widest range


# -- the declaration kind -----------------------------------------------------------------------
def _send_declaration(client: TaxClient, unit_id: str, payload: Mapping[str, Any], key: str) -> kinds.Receipt:
    receipt = client.submit_fee_declaration(unit_id, core.request_body(payload), idempotency_key=key)
    return kinds.Receipt(receipt.declaration_id, receipt.received_at)


def _stored_declaration(outcome: IdempotencyOutcome) -> kinds.Receipt | None:
    receipt = fee_receipt_from_outcome(outcome)
    return kinds.Receipt(receipt.declaration_id, receipt.received_at) if receipt else None


def record_dict(found: FeeDeclaration) -> dict[str, Any]:
    """A declaration as core saves it (the protocol's shape, money as text)."""
    data = asdict(found)
    data["total_amount"] = None if found.total_amount is None else str(found.total_amount)
    data["summaries"] = [{k: (str(v) if k in ("base_total", "amount") and v is not None else v)
                          for k, v in s.items()} for s in data["summaries"]]
    data["arrears"] = [{**a, "amount": str(a["amount"])} for a in data["arrears"]]
    return data


def declaration_decision(found: FeeDeclaration, figures: list[Mapping[str, Any]]) -> kinds.Decision:
    if found.status in (core.ACCEPTED, core.VOIDED):  # voided elsewhere since: it was accepted
        return kinds.Decision(kinds.ACCEPTED, detail=record_dict(found))
    if found.status != kinds.REJECTED:
        return kinds.Decision(kinds.PROCESSING)
    position = {f["summary_id"]: (n, f) for n, f in enumerate(figures, start=1)}
    reasons = []
    for r in found.rejections:
        n, figure = position.get(r.summary_id, (0, {}))
        label = figure.get("label") or r.summary_id
        reasons.append({"row": n, "field": "summary", "summary_id": r.summary_id, "code": r.code,
                        "message": f"{label}：{r.message}"})
    if not reasons:
        reasons.append({"row": 0, "field": "", "message": "税务端未通过该申报"})
    return kinds.Decision(kinds.REJECTED, tuple(reasons))


def _decide_declaration(
    client: TaxClient, unit_id: str, entry: journal.Entry, payload: kinds.PayloadLoader
) -> kinds.Decision:
    found = client.fee_declaration(unit_id, str(entry.taxside_id))
    if found.status == kinds.REJECTED:  # messages name each summary as the operator saw it
        return declaration_decision(found, list(payload().get("figures") or ()))
    return declaration_decision(found, [])


def _apply_declaration(db: peewee.SqliteDatabase, entry: journal.Entry, decision: kinds.Decision) -> None:
    if decision.status == kinds.ACCEPTED and decision.detail:
        core.save_record(db, entry.unit_id, decision.detail)


# -- the void kind --------------------------------------------------------------------------------
def _send_void(client: TaxClient, unit_id: str, payload: Mapping[str, Any], key: str) -> kinds.Receipt:
    receipt = client.void_fee_declaration(
        unit_id, str(payload["declaration_id"]), str(payload["reason"]), idempotency_key=key
    )
    return kinds.Receipt(receipt.void_id, receipt.received_at)


def _stored_void(outcome: IdempotencyOutcome) -> kinds.Receipt | None:
    receipt = void_receipt_from_outcome(outcome)
    return kinds.Receipt(receipt.void_id, receipt.received_at) if receipt else None


def _decide_void(
    client: TaxClient, unit_id: str, entry: journal.Entry, payload: kinds.PayloadLoader
) -> kinds.Decision:
    found = client.fee_void(unit_id, str(entry.taxside_id))
    if found.status == kinds.ACCEPTED:
        return kinds.Decision(kinds.ACCEPTED, detail={**asdict(found)})
    if found.status == kinds.REJECTED:
        message = found.rejection_message or "税务端未同意作废"
        return kinds.Decision(kinds.REJECTED, ({"row": 0, "field": "", "code": found.rejection_code or "",
                                                 "message": message},))
    return kinds.Decision(kinds.PROCESSING)


def _apply_void(db: peewee.SqliteDatabase, entry: journal.Entry, decision: kinds.Decision) -> None:
    if decision.status == kinds.ACCEPTED:
        core.apply_void(db, entry.unit_id, str(decision.detail["declaration_id"]), decision.detail)


kinds.register(
    kinds.SubmissionKind(core.DECLARATION, _send_declaration, _stored_declaration, _decide_declaration,
                         _apply_declaration),
    kinds.SubmissionKind(core.VOID, _send_void, _stored_void, _decide_void, _apply_void),
)


# -- fetches ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SummaryRefresh:
    kind: str
    count: int
    current_period: str | None
    today: str | None

    @property
    def message(self) -> str:
        label = core.SUMMARY_KIND_LABELS.get(self.kind, self.kind)
        if not self.count:
            return f"没有待申报的{label}预处理汇总数据"
        return f"已获取 {self.count} 条待申报的{label}预处理汇总数据"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


def refresh_summaries(store: Store, client: TaxClient, unit_pk: int, unit_id: str, kind: str = "daily") -> SummaryRefresh:
    """进入页面 / 刷新: the unit's pending summaries of ``kind`` replace the cached ones."""
    if kind not in core.SUMMARY_KIND_LABELS:
        raise ValidationError("申报类型不正确", field="kind")
    found, last = client.all_fee_summaries(unit_id, kind=kind, state="pending")
    core.save_summaries(store, unit_pk, kind, (asdict(s) for s in found))
    return SummaryRefresh(kind, len(found), last.current_period, last.today)


def download_details(
    store: Store, client: TaxClient, unit_pk: int, unit_id: str, summary_id: str, version: int,
    progress: Callable[[int, int, str], None] | None = None,
) -> int:
    """The person details of one summary version into the cache (the check reads them).
    A re-computation while paging is a ConflictError: refresh the summaries, then retry."""
    rows: list[dict[str, Any]] = []
    for page in client.iter_fee_summary_details(unit_id, summary_id, version):
        rows.extend(asdict(d) for d in page.items)
        if progress:
            progress(len(rows), page.total, f"正在下载人员明细 {summary_id}")
    return core.save_details(store, unit_pk, summary_id, version, rows)


@dataclass(frozen=True)
class RecordSync:
    date_from: str
    date_to: str
    count: int

    @property
    def message(self) -> str:
        return f"已同步 {self.date_from} 至 {self.date_to} 的税务端申报记录 {self.count} 条"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


def default_range(today: dt.date) -> tuple[str, str]:
    """The last two months: from the first day of the previous month to today."""
    first = today.replace(day=1)
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    return previous.isoformat(), today.isoformat()


def check_range(date_from: str, date_to: str) -> tuple[str, str]:
    start = core.parse_date(date_from, "date_from")
    end = core.parse_date(date_to, "date_to")
    if not start or not end:
        raise ValidationError("请选择同步的申报日期范围", field="date_from" if not start else "date_to")
    if start > end:
        raise ValidationError("申报日期起不能晚于申报日期止", field="date_from")
    if (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days > RECORD_DAYS_MAX:
        raise ValidationError(f"同步的申报日期范围不能超过 {RECORD_DAYS_MAX} 天", field="date_to")
    return start, end


def sync_records(
    store: Store, client: TaxClient, unit_pk: int, unit_id: str, date_from: str, date_to: str
) -> RecordSync:
    """同步: the tax side's records of the range (every channel) upserted by id, page by page."""
    start, end = check_range(date_from, date_to)
    count = 0
    for page in client.iter_fee_declaration_records(unit_id, date_from=start, date_to=end):
        with store.write() as db:
            for found in page.items:
                core.save_record(db, unit_pk, record_dict(found))
        count += len(page.items)
    return RecordSync(start, end, count)


# -- the service the pages call (the logged-in unit; plain arguments, frozen dataclasses out) --------
FEE_REFRESH, FEE_DETAILS, FEE_RECORDS = "fee_refresh", "fee_details", "fee_records"


class FeeDeclarationService:
    """社保费申报 for the unit the session has entered. Reads are local; fetches go through
    the session (token renewed once); declaring and voiding write journal entries and start
    the one sender. ``session`` is client.sync.session.SessionManager."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.store: Store = session.store

    def _call(self, fn: Callable[[TaxClient], Any]) -> Any:
        """One call for the entered unit, online only, its token renewed once if expired."""
        return self.session.call(fn)

    def _unit(self) -> tuple[int, str, str]:
        unit = self.session.require_entered()
        if unit.local_id is None:
            raise ValidationError("请先登录单位", field="unit")
        return unit.local_id, unit.unit_id, unit.region

    # -- summaries ---------------------------------------------------------------------------------
    def refresh(self, kind: str = "daily") -> SummaryRefresh:
        """进入页面 / 刷新: fetch the pending summaries (a time-out leaves the cache as it was)."""
        pk, unit_id, _region = self._unit()
        self.session.client()
        return self._call(lambda c: refresh_summaries(self.store, c, pk, unit_id, kind))

    def summaries(self, kind: str, args: Mapping[str, str]) -> list[core.Summary]:
        pk, _unit_id, _region = self._unit()
        return core.summaries(self.store, pk, kind, core.SummaryFilter.parse(args))

    def details_page(self, summary_id: str, page: int, size: int) -> Any:
        """One page of a summary's persons (缴费人数), straight from the tax side."""
        pk, unit_id, _region = self._unit()
        (summary,) = core.summaries_by_id(self.store, pk, [summary_id])
        if page < 1 or not 1 <= size <= 500:
            raise ValidationError("页码或每页行数不正确", field="page")
        return self._call(lambda c: c.fee_summary_details(
            unit_id, summary.summary_id, offset=(page - 1) * size, limit=size))

    def start_download_details(self, summary_ids: list[str]) -> Any:
        """Download the person details of the chosen summaries (the check compares them)."""
        pk, unit_id, _region = self._unit()
        self.session.client()
        chosen = core.summaries_by_id(self.store, pk, summary_ids)

        def work(ctx: Any) -> dict[str, Any]:
            rows = 0
            for n, s in enumerate(chosen):
                ctx.progress(n, len(chosen), f"正在下载人员明细：{s.label}")
                if s.has_details and core.details_version(self.store, pk, s.summary_id) != s.version:
                    rows += self._call(
                        lambda c, s=s: download_details(self.store, c, pk, unit_id, s.summary_id, s.version)
                    )
            return {"summaries": len(chosen), "rows": rows, "message": f"已下载 {len(chosen)} 条汇总的人员明细"}

        return self.session.jobs.start(FEE_DETAILS, "下载人员明细", work, unit_id=pk)

    # -- the check ---------------------------------------------------------------------------------
    def check(self, summary_ids: list[str]) -> fee_check.FeeCheck:
        """本地核对 of the chosen summaries against local bases and the pack in force."""
        pk, unit_id, region = self._unit()
        chosen = core.summaries_by_id(self.store, pk, summary_ids)
        in_force = rulecache.in_force(region)
        if in_force is None:
            raise ValidationError("本机没有该地区的业务规则，请先更新业务规则", field="rules")
        reg = units.registration(unit_id)
        return fee_check.check(self.store, pk, chosen, in_force.pack, reg.industry_risk_class if reg else None)

    def export_check(self, summary_ids: list[str], target: Path) -> int:
        return fee_check.export_xlsx(self.check(summary_ids), target)

    # -- declaring, records, voids -----------------------------------------------------------------
    def declare(self, summary_ids: list[str], operator: str) -> int:
        """提交申报: the journal entry first, then the sender (queued while offline or paused)."""
        pk, _unit_id, _region = self._unit()
        entry_id = core.declare(self.store, pk, summary_ids, operator)
        self._send()
        return entry_id

    def request_void(self, declaration_id: str, reason: str, operator: str) -> int:
        pk, _unit_id, _region = self._unit()
        entry_id = core.request_void(self.store, pk, declaration_id, reason, operator)
        self._send()
        return entry_id

    def _send(self) -> None:
        try:
            self.session.start_outbox(feedback=True)
        except SocialFeeError as exc:  # offline, or a send already running: it stays queued
            log.info("outbox not started: %s", exc.code)

    def records(self, args: Mapping[str, str], page_size: int = 50) -> Any:
        pk, _unit_id, _region = self._unit()
        return core.records(self.store, pk, PageRequest.parse(dict(args), page_size), core.RecordFilter.parse(args))

    def start_records_sync(self, date_from: str | None = None, date_to: str | None = None) -> Any:
        """进入申报记录 (the last two months) or 同步 (a chosen range): pending entries are sent
        and their feedback fetched first, then the tax side's records are fetched."""
        pk, unit_id, _region = self._unit()
        self.session.client()
        start, end = (date_from, date_to) if date_from or date_to else default_range(self.session.business_date())
        start, end = check_range(start or "", end or "")
        outbox = self.session.outbox

        def work(ctx: Any) -> dict[str, Any]:
            ctx.progress(0, 3, "正在获取申报反馈…")
            sent = self._call(lambda c: outbox.send(c, pk, unit_id, only=core.KINDS))
            feedback = None
            if not sent.paused:
                feedback = self._call(lambda c: outbox.fetch_feedback(c, pk, unit_id, only=core.KINDS))
            ctx.progress(2, 3, "正在同步税务端申报记录…")
            synced = self._call(lambda c: sync_records(self.store, c, pk, unit_id, start, end))
            return {**synced.to_dict(), "send": sent.to_dict(),
                    "feedback": feedback.to_dict() if feedback else None}

        return self.session.jobs.start(FEE_RECORDS, "同步社保费申报记录", work, unit_id=pk)
