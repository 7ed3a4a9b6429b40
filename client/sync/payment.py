"""费款缴纳 against the tax side: the three journal kinds, and the service the pages call.

Kinds (registered with the one sender, client/sync/kinds.py; every push is a journal entry
written with its idempotency key before it is sent, and a lost answer is resolved by the
outbox's lookup of that key, never by a new request):

- ``debit``: payload ``{"agreement_id", "arrear_ids", "confirmed_total", "labels"}``; the 201
  answer decides at once per arrear. A result ``unknown`` (原交易状态不明) keeps the entry
  待反馈 and ``decision`` polls GET /debits/{id} (with every feedback fetch and on 刷新)
  until the bank's result is known. The debit is stored locally (client/core/payment_records.py)
  in the transaction that records the decision; while unknown, a snapshot is stored too.
- ``voucher``: payload ``{"arrear_ids", ...}``; 201 with the voucher (figures fixed).
- ``voucher_void``: payload ``{"voucher_id", "voucher_no"}``; 200 with the voided voucher.

A 409 of the tax side (``arrear_paid`` / ``arrear_on_voucher`` / ``arrear_in_debit``) refuses
the entry with the tax side's Chinese message and the arrears are fetched again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import peewee

from client.core import journal, rulecache
from client.core import payment as core
from client.core import payment_records as records
from client.core import payment_views as views
from client.errors import ConflictError, NetworkError, ValidationError
from client.sync import kinds
from client.sync.taxclient import (
    Debit,
    IdempotencyOutcome,
    TaxClient,
    Voucher,
    debit_from_outcome,
    voucher_from_outcome,
)
from rules.model import RulePack

log = logging.getLogger(__name__)
# Refusals that mean the list on this PC is out of date (amount_changed: the late fee grew).
HELD_CODES = frozenset({"arrear_paid", "arrear_on_voucher", "arrear_in_debit", "arrear_not_found",
                        "amount_changed"})


def _flat(obj: Any) -> dict[str, Any]:
    """A flat answer dataclass as a dict, money as text (vars(): asdict deep-copies every value)."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in vars(obj).items()}


def debit_dict(found: Debit) -> dict[str, Any]:
    data = _flat(found)
    data.pop("replayed", None)
    data["results"] = [_flat(r) for r in found.results]
    return data


def voucher_dict(found: Voucher) -> dict[str, Any]:
    data = _flat(found)
    data["arrears"] = [_flat(a) for a in found.arrears]
    return data


# -- the debit kind ------------------------------------------------------------------------------------
def debit_decision(found: Debit, labels: Mapping[str, str]) -> kinds.Decision:
    """Done: accepted when at least one arrear was paid (failures listed with what to do),
    rejected when none was; processing while a bank result is unknown."""
    detail = debit_dict(found)
    if found.status != "done" or found.unknown_count:
        return kinds.Decision(kinds.PROCESSING, detail=detail)
    reasons = tuple(
        {"row": n, "field": "arrear", "arrear_id": r.arrear_id, "code": r.code or "",
         "message": f"{labels.get(r.arrear_id, f'欠费 {r.arrear_id}')}：{r.message or '扣款失败'}，"
                    f"{records.advice(r.code)}"}
        for n, r in enumerate(found.results, start=1) if r.status == "failed"
    )
    return kinds.Decision(kinds.ACCEPTED if found.paid_count else kinds.REJECTED, reasons, detail)


def _send_debit(client: TaxClient, unit_id: str, payload: Mapping[str, Any], key: str) -> kinds.Receipt:
    found = client.submit_debit(unit_id, str(payload["agreement_id"]), list(payload["arrear_ids"]),
                                idempotency_key=key, confirmed_total=Decimal(str(payload["confirmed_total"])))
    return kinds.Receipt(found.debit_id, found.received_at, debit_decision(found, payload.get("labels") or {}))


def _stored_debit(outcome: IdempotencyOutcome) -> kinds.Receipt | None:
    found = debit_from_outcome(outcome)
    return kinds.Receipt(found.debit_id, found.received_at, debit_decision(found, {})) if found else None


def _decide_debit(client: TaxClient, unit_id: str, entry: journal.Entry, payload: kinds.PayloadLoader) -> kinds.Decision:
    found = client.debit(unit_id, str(entry.taxside_id))
    return debit_decision(found, payload().get("labels") or {})


def _apply_debit(db: peewee.SqliteDatabase, entry: journal.Entry, decision: kinds.Decision) -> None:
    if decision.detail:
        records.save_debit(db, entry.unit_id, decision.detail, entry.id)


# -- the voucher kinds -----------------------------------------------------------------------------------
def _issued(found: Voucher, received_at: str) -> kinds.Receipt:
    return kinds.Receipt(found.voucher_id, received_at, kinds.Decision(kinds.ACCEPTED, detail=voucher_dict(found)))


def _send_voucher(client: TaxClient, unit_id: str, payload: Mapping[str, Any], key: str) -> kinds.Receipt:
    found = client.submit_voucher(unit_id, list(payload["arrear_ids"]), idempotency_key=key)
    return _issued(found, found.issued_at)


def _stored_voucher(outcome: IdempotencyOutcome) -> kinds.Receipt | None:
    found = voucher_from_outcome(outcome)
    return _issued(found, found.issued_at) if found else None


def _decide_voucher(client: TaxClient, unit_id: str, entry: journal.Entry, payload: kinds.PayloadLoader) -> kinds.Decision:
    return kinds.Decision(kinds.ACCEPTED, detail=voucher_dict(client.voucher(unit_id, str(entry.taxside_id))))


def _apply_voucher(db: peewee.SqliteDatabase, entry: journal.Entry, decision: kinds.Decision) -> None:
    if decision.detail:
        records.save_voucher(db, entry.unit_id, decision.detail)


def _send_void(client: TaxClient, unit_id: str, payload: Mapping[str, Any], key: str) -> kinds.Receipt:
    found = client.void_voucher(unit_id, str(payload["voucher_id"]), idempotency_key=key)
    return _issued(found, found.voided_at or found.issued_at)


def _stored_void(outcome: IdempotencyOutcome) -> kinds.Receipt | None:
    found = voucher_from_outcome(outcome)
    return _issued(found, found.voided_at or found.issued_at) if found else None


def _decide_void(client: TaxClient, unit_id: str, entry: journal.Entry, payload: kinds.PayloadLoader) -> kinds.Decision:
    found = client.voucher(unit_id, str(entry.taxside_id))
    if found.state == "voided":
        return kinds.Decision(kinds.ACCEPTED, detail=voucher_dict(found))
    label = records.VOUCHER_STATE_LABELS.get(found.state, found.state)
    return kinds.Decision(kinds.REJECTED, ({"row": 0, "field": "", "message": f"该凭证{label}，未能作废"},),
                          voucher_dict(found))


kinds.register(
    kinds.SubmissionKind(core.DEBIT, _send_debit, _stored_debit, _decide_debit, _apply_debit),
    kinds.SubmissionKind(core.VOUCHER, _send_voucher, _stored_voucher, _decide_voucher, _apply_voucher),
    kinds.SubmissionKind(core.VOUCHER_VOID, _send_void, _stored_void, _decide_void, _apply_voucher),
)


# -- the service the pages call (the entered unit; plain arguments, frozen dataclasses out) ----------------
@dataclass(frozen=True)
class ArrearsRefresh:
    count: int
    today: str
    amount_total: str
    late_fee_total: str
    agreements: int
    resolved: Mapping[str, Any]

    @property
    def message(self) -> str:
        if not self.count:
            return "没有欠费信息"
        return (f"已获取 {self.count} 条欠费信息，应缴金额 {Decimal(self.amount_total):,.2f} 元，"
                f"滞纳金 {Decimal(self.late_fee_total):,.2f} 元（计算至 {self.today}）")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "resolved": dict(self.resolved), "message": self.message}


@dataclass(frozen=True)
class PushResult:
    """What became of one payment entry right after 缴款 / 开具 / 作废 was clicked."""

    entry: journal.Entry
    message: str
    debit: records.DebitRecord | None = None
    voucher: records.VoucherRecord | None = None
    arrears_refreshed: bool = False
    pdf_path: str | None = None

    @property
    def ok(self) -> bool:
        return self.entry.state == journal.ACCEPTED

    def to_dict(self) -> dict[str, Any]:
        entry = self.entry.to_dict()
        entry["reasons"] = list(self.entry.reasons)[:200]
        return {"entry": entry, "message": self.message, "ok": self.ok,
                "debit": self.debit.to_dict() if self.debit else None,
                "voucher": self.voucher.to_dict() if self.voucher else None,
                "arrears_refreshed": self.arrears_refreshed, "pdf_path": self.pdf_path}


_PACKS: dict[tuple[str, str | None], RulePack | None] = {}


def _pack(region: str) -> RulePack | None:
    """The pack in force, parsed once per downloaded version (parsing costs more than the list)."""
    key = (region, rulecache.cached_version(region))
    if key not in _PACKS:
        in_force = rulecache.in_force(region)
        _PACKS[key] = in_force.pack if in_force else None
    return _PACKS[key]


def _date(value: str | None, field: str) -> str:
    value = (value or "").strip()
    if value:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationError("日期格式应为 YYYY-MM-DD", field=field) from None
    return value


MSG_PAUSED = "已保存为待提交。恢复备份后发送已暂停，请先在「系统设置 > 备份与恢复」中查看备份之后的记录"
MSG_QUEUED = "离线：已保存为待提交，恢复连接后自动发送。请勿重复缴款"
MSG_UNSURE = "未收到税务端的应答：客户端将自动向税务端确认结果（不会重复扣款），请勿重复缴款"


class PaymentService:
    """费款缴纳 for the unit the session has entered. Reads are local; fetches go through the
    session (token renewed once); paying writes the journal entry first, then sends it
    through the one sender. ``session`` is client.sync.session.SessionManager."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.store = session.store
        self.home = session.settings.path.parent

    def _unit(self) -> tuple[int, str, str]:
        unit = self.session.require_entered()
        if unit.local_id is None:
            raise ValidationError("请先登录单位", field="unit")
        return unit.local_id, unit.unit_id, unit.region

    # -- arrears and agreements ---------------------------------------------------------------------
    def refresh(self) -> ArrearsRefresh:
        """进入页面 / 刷新: what waits is sent and pending debits polled, then the unpaid arrears
        and the agreements replace the local ones."""
        pk, unit_id, _region = self._unit()
        resolved = self.resolve()
        found, last = self.session.call(lambda c: c.all_arrears(unit_id, state="unpaid"))
        # vars(), not asdict(): the flat fields as they are (asdict deep-copies every value)
        core.save_arrears(self.store, pk, (vars(a) for a in found), today=last.today, count=last.count,
                          amount_total=last.amount_total, late_fee_total=last.late_fee_total)
        agreements = self.session.call(lambda c: c.agreements(unit_id))
        core.save_agreements(self.store, pk, (asdict(a) for a in agreements))
        # A voucher open here may have been paid, voided or expired since: its arrears follow it.
        for voucher in records.vouchers(self.store, pk):
            if voucher.state == "open":
                self._refresh_voucher_quietly(pk, unit_id, voucher.voucher_id)
        return ArrearsRefresh(len(found), last.today, str(last.amount_total), str(last.late_fee_total),
                              len(agreements), resolved)

    def resolve(self) -> dict[str, Any]:
        """Send the payment entries that wait (待确认 resolved by key) and poll the debits whose
        bank result is unknown; decided ones are stored locally."""
        pk, unit_id, _region = self._unit()
        outbox = self.session.outbox
        sent = self.session.call(lambda c: outbox.send(c, pk, unit_id, only=core.KINDS))
        if sent.paused:
            return {"send": sent.to_dict(), "feedback": None}
        feedback = self.session.call(lambda c: outbox.fetch_feedback(c, pk, unit_id, only=core.KINDS))
        self._snapshot_awaiting(pk, unit_id)
        return {"send": sent.to_dict(), "feedback": feedback.to_dict()}

    def _snapshot_awaiting(self, pk: int, unit_id: str) -> None:
        """Store what is known of debits still awaiting a bank result (paid and failed ones
        are final already; the unknown ones stay held)."""
        for entry in journal.entries(self.store, pk, (journal.AWAITING,), (core.DEBIT,)):
            found = self.session.call(lambda c, e=entry: c.debit(unit_id, str(e.taxside_id)))
            with self.store.write() as db:
                if journal.get(self.store, entry.id).state == journal.AWAITING:  # not decided meanwhile
                    records.save_debit(db, pk, debit_dict(found), entry.id)

    def agreements(self) -> list[core.AgreementRow]:
        pk, _unit_id, _region = self._unit()
        return core.agreements(self.store, pk)

    def arrears_view(self, period: str = "") -> views.ArrearsView:
        """The last list with the late fee estimated to today (the tax side's business date) by
        the region's pack."""
        pk, _unit_id, region = self._unit()
        today = self.session.business_date()
        fetch = core.last_fetch(self.store, pk)
        if fetch and fetch.today > today.isoformat():  # the tax side's date moved on since login
            today = dt.date.fromisoformat(fetch.today)
        return views.arrears_view(self.store, pk, _pack(region), today, records.check_period(period))

    def selection(self, arrear_ids: Any) -> views.SelectionTotals:
        pk, _unit_id, _region = self._unit()
        if not isinstance(arrear_ids, list) or not all(isinstance(i, str) for i in arrear_ids):
            raise ValidationError("请选择欠费", field="arrear_ids")
        return views.selection(self.store, pk, arrear_ids)

    def home_alerts(self) -> views.HomeAlerts:
        pk, _unit_id, _region = self._unit()
        return views.home_alerts(self.store, pk, self.session.business_date())

    def voucher_records(self, date_from: str = "", date_to: str = "") -> list[records.VoucherRecord]:
        """缴款凭证打印记录 by 开具日期."""
        pk, _unit_id, _region = self._unit()
        return records.vouchers(self.store, pk, _date(date_from, "date_from"), _date(date_to, "date_to"))

    def payment_records(self, period: str = "") -> list[records.PaymentRow]:
        pk, _unit_id, _region = self._unit()
        return records.payments(self.store, pk, period)

    def export_payments(self, period: str, target: Path) -> int:
        pk, _unit_id, _region = self._unit()
        return records.export_payments(self.store, pk, period, target)

    # -- paying -------------------------------------------------------------------------------------------
    def pay_by_debit(self, agreement_id: str, arrear_ids: Any, confirmed_total: Any, operator: str) -> PushResult:
        """缴款 (三方协议): the choice goes into the journal (refused if any arrear is already
        being paid), then out through the one sender; the answer decides per arrear."""
        pk, _unit_id, _region = self._unit()
        self.session.client()  # offline: refused now; a debit confirmed today is not sent days later
        entry_id = core.request_debit(self.store, pk, agreement_id, arrear_ids, confirmed_total, operator)
        return self.push(entry_id)

    def issue_voucher(self, arrear_ids: Any, operator: str) -> PushResult:
        """开具: the tax side issues the voucher (through the journal), then its PDF is saved."""
        pk, _unit_id, _region = self._unit()
        self.session.client()  # offline: the voucher and its figures come from the tax side
        result = self.push(core.request_voucher(self.store, pk, arrear_ids, operator))
        if result.voucher is None:
            return result
        settings = self.session.settings
        path = records.write_pdf(self.store, pk, self.home, result.voucher, settings.get("print_offset_right_mm"),
                                 settings.get("print_offset_down_mm"))
        voucher = records.voucher(self.store, pk, result.voucher.voucher_id)
        return PushResult(result.entry, f"{result.message}，已生成缴款凭证 PDF", voucher=voucher, pdf_path=str(path))

    def void_voucher(self, voucher_id: str, operator: str) -> PushResult:
        pk, _unit_id, _region = self._unit()
        found = records.voucher(self.store, pk, voucher_id)
        if found.state != "open":
            label = records.VOUCHER_STATE_LABELS.get(found.state, found.state)
            raise ConflictError(f"缴款凭证 {found.voucher_no} {label}，不能作废", code="voucher_not_open")
        return self.push(core.request_void(self.store, pk, voucher_id, found.voucher_no, operator))

    def push(self, entry_id: int) -> PushResult:
        """Send one entry now (with whatever else of its kind waits) and say what became of it."""
        pk, unit_id, _region = self._unit()
        outbox = self.session.outbox
        kind = journal.get(self.store, entry_id, pk).kind
        if outbox.paused():
            return PushResult(journal.get(self.store, entry_id), MSG_PAUSED)
        try:
            self.session.call(lambda c: outbox.send(c, pk, unit_id, only=(kind,)))
        except NetworkError as exc:  # offline: it stays queued
            log.info("payment entry %s not sent: %s", entry_id, exc.code)
        entry = journal.get(self.store, entry_id)
        if entry.state == journal.AWAITING and kind == core.DEBIT:
            try:
                self._snapshot_awaiting(pk, unit_id)
            except NetworkError as exc:
                log.info("debit snapshot not fetched: %s", exc.code)
            entry = journal.get(self.store, entry_id)
        return self._result(pk, unit_id, entry)

    def _result(self, pk: int, unit_id: str, entry: journal.Entry) -> PushResult:
        if entry.state == journal.QUEUED:
            return PushResult(entry, MSG_QUEUED)
        if entry.state in (journal.SENDING, journal.UNKNOWN):
            return PushResult(entry, MSG_UNSURE)
        debit = records.debit_for_entry(self.store, pk, entry.id) if entry.kind == core.DEBIT else None
        voucher = None
        if entry.kind != core.DEBIT and entry.taxside_id and entry.state == journal.ACCEPTED:
            voucher = records.voucher(self.store, pk, entry.taxside_id)
        if debit is not None:
            return PushResult(entry, debit.message, debit=debit)
        if voucher is not None:
            verb = "已作废" if entry.kind == core.VOUCHER_VOID else "已开具"
            return PushResult(entry, f"银行端缴款凭证 {voucher.voucher_no} {verb}", voucher=voucher)
        # Refused as a whole: show the tax side's message; a held arrear means our list is stale.
        reason = entry.reasons[0] if entry.reasons else {}
        message = str(reason.get("message") or "税务端未受理")
        refreshed = False
        if reason.get("code") in HELD_CODES:
            refreshed = self._refresh_quietly()
            message += "。已重新获取欠费信息" if refreshed else ""
        elif reason.get("code") in ("voucher_paid", "voucher_not_open") and entry.kind == core.VOUCHER_VOID:
            payload = journal.payload(self.store, entry.id)
            self._refresh_voucher_quietly(pk, unit_id, str(payload["voucher_id"]))
        return PushResult(entry, message, arrears_refreshed=refreshed)

    def _refresh_quietly(self) -> bool:
        try:
            self.refresh()
        except NetworkError as exc:
            log.info("arrears not refreshed: %s", exc.code)
            return False
        return True

    def _refresh_voucher_quietly(self, pk: int, unit_id: str, voucher_id: str) -> None:
        try:
            found = self.session.call(lambda c: c.voucher(unit_id, voucher_id))
        except NetworkError:
            return
        with self.store.write() as db:
            records.save_voucher(db, pk, voucher_dict(found))

    # -- vouchers and payment records ----------------------------------------------------------------------
    def sync_vouchers(self, date_from: str | None = None, date_to: str | None = None) -> int:
        """The states of this PC's voucher print records from the tax side's vouchers of the
        range (default the last 366 days). Only vouchers printed here are records (manual
        3.1.7.2): another PC's vouchers are not added."""
        pk, unit_id, _region = self._unit()
        known = {v.voucher_id for v in records.vouchers(self.store, pk)}
        pages = self.session.call(lambda c: list(c.iter_vouchers(unit_id, date_from=date_from or None,
                                                                 date_to=date_to or None)))
        count = 0
        with self.store.write() as db:
            for page in pages:
                for v in page.items:
                    if v.voucher_id in known:
                        records.save_voucher(db, pk, voucher_dict(v))
                        count += 1
        return count

    def refresh_voucher(self, voucher_id: str) -> records.VoucherRecord:
        pk, unit_id, _region = self._unit()
        records.voucher(self.store, pk, voucher_id)  # only vouchers of this PC's records
        found = self.session.call(lambda c: c.voucher(unit_id, voucher_id))
        with self.store.write() as db:
            records.save_voucher(db, pk, voucher_dict(found))
        return records.voucher(self.store, pk, voucher_id)

    def sync_payments(self, period: str = "") -> int:
        """缴款记录: the unit's 三方协议 payments from the tax side (arrival state included),
        upserted by id; voucher payments show on their voucher records (manual 3.1.7.3)."""
        pk, unit_id, _region = self._unit()
        period = records.check_period(period)
        pages = self.session.call(lambda c: list(c.iter_payments(unit_id, period=period or None,
                                                                 method=records.METHOD_DEBIT)))
        with self.store.write() as db:
            return sum(records.save_payments(db, pk, (_flat(p) for p in page.items)) for page in pages)

    def print_voucher(self, voucher_id: str) -> tuple[records.VoucherRecord, Path]:
        """打印 / 重新打印 while unpaid: the state is asked of the tax side first when online
        (a voucher paid or voided elsewhere is not printed again), then the PDF is saved."""
        pk, _unit_id, _region = self._unit()
        found = records.voucher(self.store, pk, voucher_id)
        if found.state == "open" and not self.session.view().offline:
            try:
                found = self.refresh_voucher(voucher_id)
            except NetworkError as exc:
                log.info("voucher state not refreshed before printing: %s", exc.code)
        settings = self.session.settings
        path = records.write_pdf(self.store, pk, self.home, found, settings.get("print_offset_right_mm"),
                                 settings.get("print_offset_down_mm"))
        return records.voucher(self.store, pk, voucher_id), path
