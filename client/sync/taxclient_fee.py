"""Fee-declaration calls of the tax-side client (社保费申报, manual 3.1.6, docs/protocol.md).

Summaries (预处理汇总, daily and special) with their person details, declaring chosen
summaries, one declaration's state, the records of every channel by date range, voids
and their state. Errors map as for every other call (client/sync/taxclient_transport.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from client.sync.taxclient_transport import IdempotencyOutcome, Transport, malformed

_BAD = (KeyError, TypeError, ValueError, InvalidOperation, AttributeError)


@dataclass(frozen=True)
class FeeSummary:
    """One pre-processed summary: unit number x item x part x fee period range."""

    summary_id: str
    kind: str  # daily / special
    special_type: str | None  # 补缴 / 退休补收
    unit_number: str
    agency: str
    item: str
    item_name: str
    part: str  # employer / employee
    part_name: str
    period_from: str
    period_to: str
    headcount: int
    base_total: Decimal
    amount: Decimal
    version: int
    computed_at: str
    pack_version: str
    state: str  # pending / declared
    declaration_id: str | None
    has_details: bool


@dataclass(frozen=True)
class SummaryPage:
    items: tuple[FeeSummary, ...]
    next_cursor: str
    has_more: bool
    current_period: str | None
    today: str | None


@dataclass(frozen=True)
class FeeDetail:
    """One person (and month, for special summaries) behind a summary."""

    employee_id: str
    name: str
    id_type: str
    id_number: str
    period: str
    base: str  # exact text as sent: the check compares text first
    rate: str
    fixed: str
    amount: str


@dataclass(frozen=True)
class DetailPage:
    summary_id: str
    version: int
    total: int
    offset: int | None
    items: tuple[FeeDetail, ...]
    next_cursor: str | None
    has_more: bool


@dataclass(frozen=True)
class FeeDeclarationReceipt:
    declaration_id: str
    status: str  # processing
    channel: str
    received_at: str
    summary_count: int
    replayed: bool


@dataclass(frozen=True)
class DeclaredSummary:
    """A summary as declared: only id and version while the declaration is processed."""

    summary_id: str
    version: int
    kind: str | None = None
    special_type: str | None = None
    unit_number: str | None = None
    agency: str | None = None
    item: str | None = None
    item_name: str | None = None
    part: str | None = None
    part_name: str | None = None
    period_from: str | None = None
    period_to: str | None = None
    headcount: int | None = None
    base_total: Decimal | None = None
    amount: Decimal | None = None


@dataclass(frozen=True)
class SummaryRejection:
    summary_id: str
    version: int | None
    code: str
    message: str


@dataclass(frozen=True)
class Arrear:
    arrear_id: str
    summary_id: str
    amount: Decimal
    deadline: str
    state: str  # unpaid / paid / voided
    voucher_id: str | None


@dataclass(frozen=True)
class FeeDeclaration:
    declaration_id: str
    channel: str  # 本客户端 / 电子税务局
    status: str  # processing / accepted / rejected / voided
    received_at: str
    decided_at: str | None
    declared_on: str | None
    summary_count: int
    total_amount: Decimal | None
    summaries: tuple[DeclaredSummary, ...]
    rejections: tuple[SummaryRejection, ...]
    arrears: tuple[Arrear, ...]
    voided_at: str | None
    void_id: str | None
    record_status: str | None = None  # records only: 申报成功 / 已作废


@dataclass(frozen=True)
class RecordPage:
    items: tuple[FeeDeclaration, ...]
    next_cursor: str
    has_more: bool
    date_from: str
    date_to: str


@dataclass(frozen=True)
class VoidReceipt:
    void_id: str
    declaration_id: str
    status: str
    reason: str
    received_at: str
    replayed: bool


@dataclass(frozen=True)
class VoidDecision:
    void_id: str
    declaration_id: str
    status: str  # processing / accepted / rejected
    reason: str
    received_at: str
    decided_at: str | None
    rejection_code: str | None
    rejection_message: str | None


class FeeCalls(Transport):
    # -- summaries and person details ---------------------------------------------------------
    def fee_summaries(
        self, unit_id: str, *, kind: str = "daily", unit_number: str | None = None,
        agency: str | None = None, period: str | None = None, state: str | None = None,
        cursor: str | None = None, limit: int = 1000,
    ) -> SummaryPage:
        data = self._get(
            f"/v1/units/{unit_id}/fee-summaries", kind=kind, unit_number=unit_number, agency=agency,
            period=period, state=state, cursor=cursor, limit=limit,
        )
        try:
            return SummaryPage(
                items=tuple(_summary(s) for s in data["items"]), next_cursor=str(data["next_cursor"]),
                has_more=bool(data["has_more"]), current_period=_opt(data.get("current_period")),
                today=_opt(data.get("today")),
            )
        except _BAD as exc:
            raise malformed(exc) from None

    def all_fee_summaries(self, unit_id: str, **query: Any) -> tuple[list[FeeSummary], SummaryPage]:
        """Every page of a summary query: (summaries, last page for current_period/today)."""
        out: list[FeeSummary] = []
        cursor: str | None = None
        while True:
            page = self.fee_summaries(unit_id, cursor=cursor, limit=5000, **query)
            out.extend(page.items)
            if not page.has_more:
                return out, page
            cursor = page.next_cursor

    def fee_summary(self, unit_id: str, summary_id: str) -> FeeSummary:
        data = self._get(f"/v1/units/{unit_id}/fee-summaries/{summary_id}")
        try:
            return _summary(data)
        except _BAD as exc:
            raise malformed(exc) from None

    def fee_summary_details(
        self, unit_id: str, summary_id: str, *, offset: int | None = None, cursor: str | None = None,
        limit: int = 1000, version: int | None = None,
    ) -> DetailPage:
        """One page of a summary's persons, by ``offset`` (a UI page) or ``cursor`` (download)."""
        data = self._get(
            f"/v1/units/{unit_id}/fee-summaries/{summary_id}/details", offset=offset, cursor=cursor,
            limit=limit, version=version,
        )
        try:
            return DetailPage(
                summary_id=str(data["summary_id"]), version=int(data["version"]), total=int(data["total"]),
                offset=data.get("offset"),
                items=tuple(
                    FeeDetail(
                        str(d["employee_id"]), str(d["name"]), str(d["id_type"]), str(d["id_number"]),
                        str(d["period"]), _money_text(d["base"]), str(d["rate"]), _money_text(d["fixed"]),
                        _money_text(d["amount"]),
                    )
                    for d in data["items"]
                ),
                next_cursor=_opt(data.get("next_cursor")), has_more=bool(data["has_more"]),
            )
        except _BAD as exc:
            raise malformed(exc) from None

    def iter_fee_summary_details(
        self, unit_id: str, summary_id: str, version: int, limit: int = 5000
    ) -> Iterator[DetailPage]:
        """Every page of one version (409 ConflictError when it is re-computed meanwhile)."""
        cursor: str | None = None
        while True:
            page = self.fee_summary_details(unit_id, summary_id, cursor=cursor, limit=limit, version=version)
            yield page
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    # -- declarations ----------------------------------------------------------------------------
    def submit_fee_declaration(
        self, unit_id: str, summaries: Sequence[tuple[str, int]], *, idempotency_key: str
    ) -> FeeDeclarationReceipt:
        """Declare the given (summary_id, version) pairs. Keep the key with the submission
        first: after a NetworkError ``idempotency_outcome(key)`` says whether it landed."""
        body = {"summaries": [{"summary_id": s, "version": v} for s, v in summaries]}
        data, replayed = self._write(
            "POST", f"/v1/units/{unit_id}/fee-declarations", body, idempotency_key=idempotency_key
        )
        try:
            return _fee_receipt(data, replayed)
        except _BAD as exc:
            raise malformed(exc) from None

    def fee_declaration(self, unit_id: str, declaration_id: str) -> FeeDeclaration:
        data = self._get(f"/v1/units/{unit_id}/fee-declarations/{declaration_id}")
        try:
            return _declaration(data)
        except _BAD as exc:
            raise malformed(exc) from None

    def fee_declaration_records(
        self, unit_id: str, *, date_from: str | None = None, date_to: str | None = None,
        cursor: str | None = None, limit: int = 1000,
    ) -> RecordPage:
        params = {"from": date_from, "to": date_to}
        data = self._get(f"/v1/units/{unit_id}/fee-declaration-records", cursor=cursor, limit=limit, **params)
        try:
            return RecordPage(
                items=tuple(_declaration(r) for r in data["items"]), next_cursor=str(data["next_cursor"]),
                has_more=bool(data["has_more"]), date_from=str(data["from"]), date_to=str(data["to"]),
            )
        except _BAD as exc:
            raise malformed(exc) from None

    def iter_fee_declaration_records(
        self, unit_id: str, *, date_from: str | None = None, date_to: str | None = None
    ) -> Iterator[RecordPage]:
        cursor: str | None = None
        while True:
            page = self.fee_declaration_records(
                unit_id, date_from=date_from, date_to=date_to, cursor=cursor, limit=1000
            )
            yield page
            if not page.has_more:
                return
            cursor = page.next_cursor

    # -- voids ---------------------------------------------------------------------------------
    def void_fee_declaration(
        self, unit_id: str, declaration_id: str, reason: str, *, idempotency_key: str
    ) -> VoidReceipt:
        data, replayed = self._write(
            "POST", f"/v1/units/{unit_id}/fee-declarations/{declaration_id}/voids", {"reason": reason},
            idempotency_key=idempotency_key,
        )
        try:
            return _void_receipt(data, replayed)
        except _BAD as exc:
            raise malformed(exc) from None

    def fee_void(self, unit_id: str, void_id: str) -> VoidDecision:
        data = self._get(f"/v1/units/{unit_id}/fee-declaration-voids/{void_id}")
        try:
            rejection = data.get("rejection") or None
            return VoidDecision(
                void_id=str(data["void_id"]), declaration_id=str(data["declaration_id"]),
                status=str(data["status"]), reason=str(data["reason"]), received_at=str(data["received_at"]),
                decided_at=_opt(data.get("decided_at")),
                rejection_code=str(rejection["code"]) if rejection else None,
                rejection_message=str(rejection["message"]) if rejection else None,
            )
        except _BAD as exc:
            raise malformed(exc) from None


# -- parsing -------------------------------------------------------------------------------------
def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _money(value: Any) -> Decimal:
    if not isinstance(value, str):  # money is text in the protocol; a number is a broken answer
        raise TypeError("money is not text")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError("money is not finite")
    return number


def _money_text(value: Any) -> str:
    _money(value)
    return value


def _summary(s: Mapping[str, Any]) -> FeeSummary:
    return FeeSummary(
        summary_id=str(s["summary_id"]), kind=str(s["kind"]), special_type=_opt(s.get("special_type")),
        unit_number=str(s["unit_number"]), agency=str(s["agency"]), item=str(s["item"]),
        item_name=str(s["item_name"]), part=str(s["part"]), part_name=str(s["part_name"]),
        period_from=str(s["period_from"]), period_to=str(s["period_to"]), headcount=int(s["headcount"]),
        base_total=_money(s["base_total"]), amount=_money(s["amount"]), version=int(s["version"]),
        computed_at=str(s["computed_at"]), pack_version=str(s["pack_version"]), state=str(s["state"]),
        declaration_id=_opt(s.get("declaration_id")), has_details=bool(s["has_details"]),
    )


def _declared(s: Mapping[str, Any]) -> DeclaredSummary:
    def money(name: str) -> Decimal | None:
        return _money(s[name]) if s.get(name) is not None else None

    text = {name: _opt(s.get(name)) for name in (
        "kind", "special_type", "unit_number", "agency", "item", "item_name", "part", "part_name",
        "period_from", "period_to",
    )}
    headcount = s.get("headcount")
    return DeclaredSummary(
        summary_id=str(s["summary_id"]), version=int(s["version"]), **text,
        headcount=int(headcount) if headcount is not None else None,
        base_total=money("base_total"), amount=money("amount"),
    )


def _declaration(d: Mapping[str, Any]) -> FeeDeclaration:
    total = d.get("total_amount")
    return FeeDeclaration(
        declaration_id=str(d["declaration_id"]), channel=str(d["channel"]), status=str(d["status"]),
        received_at=str(d["received_at"]), decided_at=_opt(d.get("decided_at")),
        declared_on=_opt(d.get("declared_on")), summary_count=int(d["summary_count"]),
        total_amount=_money(total) if total is not None else None,
        summaries=tuple(_declared(s) for s in d.get("summaries") or ()),
        rejections=tuple(
            SummaryRejection(
                str(r["summary_id"]), int(r["version"]) if r.get("version") is not None else None,
                str(r["code"]), str(r["message"]),
            )
            for r in d.get("rejections") or ()
        ),
        arrears=tuple(
            Arrear(
                str(a["arrear_id"]), str(a["summary_id"]), _money(a["amount"]), str(a["deadline"]),
                str(a["state"]), _opt(a.get("voucher_id")),
            )
            for a in d.get("arrears") or ()
        ),
        voided_at=_opt(d.get("voided_at")), void_id=_opt(d.get("void_id")),
        record_status=_opt(d.get("record_status")),
    )


def _fee_receipt(data: Mapping[str, Any], replayed: bool) -> FeeDeclarationReceipt:
    return FeeDeclarationReceipt(
        declaration_id=str(data["declaration_id"]), status=str(data["status"]),
        channel=str(data.get("channel", "")), received_at=str(data["received_at"]),
        summary_count=int(data["summary_count"]), replayed=replayed,
    )


def _void_receipt(data: Mapping[str, Any], replayed: bool) -> VoidReceipt:
    return VoidReceipt(
        void_id=str(data["void_id"]), declaration_id=str(data["declaration_id"]), status=str(data["status"]),
        reason=str(data["reason"]), received_at=str(data["received_at"]), replayed=replayed,
    )


def fee_receipt_from_outcome(outcome: IdempotencyOutcome) -> FeeDeclarationReceipt | None:
    """The receipt stored under a key; None when the tax side refused the request."""
    if not 200 <= outcome.status < 300:
        return None
    try:
        return _fee_receipt(outcome.response, True)
    except _BAD as exc:
        raise malformed(exc) from None


def void_receipt_from_outcome(outcome: IdempotencyOutcome) -> VoidReceipt | None:
    if not 200 <= outcome.status < 300:
        return None
    try:
        return _void_receipt(outcome.response, True)
    except _BAD as exc:
        raise malformed(exc) from None
