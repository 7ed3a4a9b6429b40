"""Payment calls of the tax-side client (费款缴纳, manual 3.1.7, docs/protocol.md "Payment").

Arrears (paged, with totals over the whole query), tripartite agreements, debits and their
status, bank vouchers (issue, get, list, void) and payment records. Money is ``Decimal``
parsed from the protocol's text (a number where text is due is a broken answer); codes,
ids and tax tickets stay text. Errors map as for every other call
(client/sync/taxclient_transport.py): a 409 refusal is a ``ConflictError`` whose code is
the tax side's (``arrear_paid`` / ``arrear_on_voucher`` / ``arrear_in_debit`` / ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# An arrear and a payment record are stored as the tax side sends them: one type each.
from client.core.payment import Arrear as ArrearInfo
from client.core.payment_records import PaymentRow as PaymentRecord
from client.sync.taxclient_transport import IdempotencyOutcome, Transport, malformed

_BAD = (KeyError, TypeError, ValueError, InvalidOperation, AttributeError)
PAID, FAILED, UNKNOWN = "paid", "failed", "unknown"  # per-arrear debit results
DONE, PROCESSING = "done", "processing"  # debit status


@dataclass(frozen=True)
class ArrearPage:
    items: tuple[ArrearInfo, ...]
    next_cursor: str
    has_more: bool
    today: str
    count: int  # of the whole query, not the page
    amount_total: Decimal
    late_fee_total: Decimal


@dataclass(frozen=True)
class Agreement:
    agreement_id: str
    agreement_no: str
    bank: str
    account_masked: str
    account_name: str
    scope: str  # 费批扣 / 所有批扣 / 所有非批扣
    state: str  # 有效 / 已失效
    can_debit_fees: bool
    reason: str | None


@dataclass(frozen=True)
class DebitResult:
    arrear_id: str
    status: str  # paid / failed / unknown
    amount: Decimal
    late_fee: Decimal
    total: Decimal
    tax_ticket: str | None
    payment_id: str | None
    code: str | None
    message: str | None


@dataclass(frozen=True)
class Debit:
    debit_id: str
    agreement_id: str
    agreement_no: str
    received_at: str
    debited_on: str
    status: str  # done / processing
    paid_count: int
    failed_count: int
    unknown_count: int
    paid_total: Decimal
    results: tuple[DebitResult, ...]
    replayed: bool = False


@dataclass(frozen=True)
class VoucherArrear:
    arrear_id: str
    unit_number: str
    agency: str
    item: str
    item_name: str
    part: str
    part_name: str
    period_from: str
    period_to: str
    amount: Decimal
    late_fee: Decimal
    total: Decimal


@dataclass(frozen=True)
class Voucher:
    """A 银行端缴款凭证: figures fixed when issued; ``voucher_no`` is what the bank scans."""

    voucher_id: str
    voucher_no: str
    state: str  # open / paid / voided / expired
    issued_at: str
    issued_on: str
    deadline: str
    taxpayer_id: str
    unit_name: str
    tax_office: str
    count: int
    amount_total: Decimal
    late_fee_total: Decimal
    total: Decimal
    arrears: tuple[VoucherArrear, ...]
    paid_at: str | None
    voided_at: str | None


@dataclass(frozen=True)
class VoucherPage:
    items: tuple[Voucher, ...]
    next_cursor: str
    has_more: bool
    date_from: str
    date_to: str


@dataclass(frozen=True)
class PaymentPage:
    items: tuple[PaymentRecord, ...]
    next_cursor: str
    has_more: bool


class PaymentCalls(Transport):
    # -- arrears and agreements ------------------------------------------------------------------
    def arrears(
        self, unit_id: str, *, state: str | None = None, period: str | None = None,
        cursor: str | None = None, limit: int = 1000,
    ) -> ArrearPage:
        data = self._get(f"/v1/units/{unit_id}/arrears", state=state, period=period, cursor=cursor, limit=limit)
        try:
            return ArrearPage(
                items=tuple(_arrear(a) for a in _list(data["items"])), next_cursor=str(data.get("next_cursor") or ""),
                has_more=bool(data["has_more"]), today=str(data["today"]), count=int(data["count"]),
                amount_total=_money(data["amount_total"]), late_fee_total=_money(data["late_fee_total"]),
            )
        except _BAD as exc:
            raise malformed(exc) from None

    def all_arrears(self, unit_id: str, **query: Any) -> tuple[list[ArrearInfo], ArrearPage]:
        """Every page of an arrears query: (arrears, last page for today and the totals)."""
        out: list[ArrearInfo] = []
        cursor: str | None = None
        while True:
            page = self.arrears(unit_id, cursor=cursor, limit=5000, **query)
            out.extend(page.items)
            if not page.has_more or not page.next_cursor:
                return out, page
            cursor = page.next_cursor

    def agreements(self, unit_id: str) -> list[Agreement]:
        data = self._get(f"/v1/units/{unit_id}/agreements")
        try:
            return [
                Agreement(
                    agreement_id=str(a["agreement_id"]), agreement_no=str(a["agreement_no"]),
                    bank=str(a["bank"]), account_masked=str(a["account_masked"]),
                    account_name=str(a["account_name"]), scope=str(a["scope"]), state=str(a["state"]),
                    can_debit_fees=_bool(a["can_debit_fees"]), reason=_opt(a.get("reason")),
                )
                for a in _list(data["items"])
            ]
        except _BAD as exc:
            raise malformed(exc) from None

    # -- debits ------------------------------------------------------------------------------------
    def submit_debit(
        self, unit_id: str, agreement_id: str, arrear_ids: Sequence[str], *, idempotency_key: str,
        confirmed_total: Decimal | None = None,
    ) -> Debit:
        """One debit of ``arrear_ids`` under the agreement. Keep the key with the choice first:
        after a NetworkError ``idempotency_outcome(key)`` says whether the bank was asked.
        With ``confirmed_total`` the tax side refuses (409 ``amount_changed``) a total that is
        no longer today's, so the bank never takes more than the payer confirmed."""
        body: dict[str, Any] = {"agreement_id": agreement_id, "arrear_ids": list(arrear_ids)}
        if confirmed_total is not None:
            body["confirmed_total"] = f"{confirmed_total:.2f}"
        data, replayed = self._write("POST", f"/v1/units/{unit_id}/debits", body, idempotency_key=idempotency_key)
        return parse_debit(data, replayed)

    def debit(self, unit_id: str, debit_id: str) -> Debit:
        """The debit now: an ``unknown`` result turns paid or failed once the bank knows."""
        return parse_debit(self._get(f"/v1/units/{unit_id}/debits/{debit_id}"))

    # -- vouchers ----------------------------------------------------------------------------------
    def submit_voucher(self, unit_id: str, arrear_ids: Sequence[str], *, idempotency_key: str) -> Voucher:
        data, _replayed = self._write(
            "POST", f"/v1/units/{unit_id}/vouchers", {"arrear_ids": list(arrear_ids)},
            idempotency_key=idempotency_key,
        )
        return parse_voucher(data)

    def voucher(self, unit_id: str, voucher_id: str) -> Voucher:
        return parse_voucher(self._get(f"/v1/units/{unit_id}/vouchers/{voucher_id}"))

    def vouchers(
        self, unit_id: str, *, date_from: str | None = None, date_to: str | None = None,
        cursor: str | None = None, limit: int = 1000,
    ) -> VoucherPage:
        params = {"from": date_from, "to": date_to}
        data = self._get(f"/v1/units/{unit_id}/vouchers", cursor=cursor, limit=limit, **params)
        try:
            return VoucherPage(
                items=tuple(parse_voucher(v) for v in _list(data["items"])),
                next_cursor=str(data.get("next_cursor") or ""), has_more=bool(data["has_more"]),
                date_from=str(data["from"]), date_to=str(data["to"]),
            )
        except _BAD as exc:
            raise malformed(exc) from None

    def iter_vouchers(self, unit_id: str, *, date_from: str | None = None,
                      date_to: str | None = None) -> Iterator[VoucherPage]:
        cursor: str | None = None
        while True:
            page = self.vouchers(unit_id, date_from=date_from, date_to=date_to, cursor=cursor)
            yield page
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    def void_voucher(self, unit_id: str, voucher_id: str, *, idempotency_key: str) -> Voucher:
        data, _replayed = self._write(
            "POST", f"/v1/units/{unit_id}/vouchers/{voucher_id}/voids", {}, idempotency_key=idempotency_key
        )
        return parse_voucher(data)

    # -- payment records ---------------------------------------------------------------------------
    def payments(
        self, unit_id: str, *, period: str | None = None, method: str | None = None,
        cursor: str | None = None, limit: int = 1000,
    ) -> PaymentPage:
        data = self._get(f"/v1/units/{unit_id}/payments", period=period, method=method, cursor=cursor,
                         limit=limit)
        try:
            return PaymentPage(
                items=tuple(_payment(p) for p in _list(data["items"])),
                next_cursor=str(data.get("next_cursor") or ""), has_more=bool(data["has_more"]),
            )
        except _BAD as exc:
            raise malformed(exc) from None

    def iter_payments(
        self, unit_id: str, *, period: str | None = None, method: str | None = None
    ) -> Iterator[PaymentPage]:
        cursor: str | None = None
        while True:
            page = self.payments(unit_id, period=period, method=method, cursor=cursor)
            yield page
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor


# -- parsing ---------------------------------------------------------------------------------------
def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):  # ids, codes and tickets are text: a number would lose zeros
        raise TypeError("expected text")
    return value


def _opt_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):  # a dict or text would iterate as something else
        raise TypeError("expected a list")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected a boolean")
    return value


def _money(value: Any) -> Decimal:
    if not isinstance(value, str):  # money is text in the protocol; a number is a broken answer
        raise TypeError("money is not text")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError("money is not finite")
    return number


def _arrear(a: Mapping[str, Any]) -> ArrearInfo:
    return ArrearInfo(
        arrear_id=_text(a["arrear_id"]), declaration_id=_text(a["declaration_id"]),
        summary_id=_text(a["summary_id"]), unit_number=_text(a["unit_number"]), agency=str(a["agency"]),
        item=str(a["item"]), item_name=str(a["item_name"]), part=str(a["part"]), part_name=str(a["part_name"]),
        period_from=_text(a["period_from"]), period_to=_text(a["period_to"]), amount=_money(a["amount"]),
        deadline=_text(a["deadline"]), late_days=int(a["late_days"]), late_fee=_money(a["late_fee"]),
        total=_money(a["total"]), state=str(a["state"]), hold=_opt(a.get("hold")),
        voucher_id=_opt_text(a.get("voucher_id")), debit_id=_opt_text(a.get("debit_id")),
        paid_at=_opt(a.get("paid_at")), tax_ticket=_opt_text(a.get("tax_ticket")),
    )


def _result(r: Mapping[str, Any]) -> DebitResult:
    status = str(r["status"])
    if status not in (PAID, FAILED, UNKNOWN):
        raise ValueError("unknown debit result")
    return DebitResult(
        arrear_id=_text(r["arrear_id"]), status=status, amount=_money(r["amount"]),
        late_fee=_money(r["late_fee"]), total=_money(r["total"]), tax_ticket=_opt_text(r.get("tax_ticket")),
        payment_id=_opt_text(r.get("payment_id")), code=_opt(r.get("code")), message=_opt(r.get("message")),
    )


def parse_debit(d: Any, replayed: bool = False) -> Debit:
    try:
        return Debit(
            debit_id=_text(d["debit_id"]), agreement_id=_text(d["agreement_id"]),
            agreement_no=_text(d["agreement_no"]), received_at=str(d["received_at"]),
            debited_on=str(d["debited_on"]), status=str(d["status"]), paid_count=int(d["paid_count"]),
            failed_count=int(d["failed_count"]), unknown_count=int(d["unknown_count"]),
            paid_total=_money(d["paid_total"]), results=tuple(_result(r) for r in _list(d["results"])),
            replayed=replayed,
        )
    except _BAD as exc:
        raise malformed(exc) from None


def _voucher_arrear(a: Mapping[str, Any]) -> VoucherArrear:
    return VoucherArrear(
        arrear_id=_text(a["arrear_id"]), unit_number=_text(a["unit_number"]), agency=str(a["agency"]),
        item=str(a["item"]), item_name=str(a["item_name"]), part=str(a["part"]), part_name=str(a["part_name"]),
        period_from=_text(a["period_from"]), period_to=_text(a["period_to"]), amount=_money(a["amount"]),
        late_fee=_money(a["late_fee"]), total=_money(a["total"]),
    )


def parse_voucher(v: Any) -> Voucher:
    try:
        if int(v["count"]) != len(_list(v["arrears"])):  # the PDF lists what the voucher counts
            raise ValueError("voucher count does not match its arrears")
        return Voucher(
            voucher_id=_text(v["voucher_id"]), voucher_no=_text(v["voucher_no"]), state=str(v["state"]),
            issued_at=str(v["issued_at"]), issued_on=str(v["issued_on"]), deadline=str(v["deadline"]),
            taxpayer_id=_text(v["taxpayer_id"]), unit_name=str(v["unit_name"]), tax_office=str(v["tax_office"]),
            count=int(v["count"]), amount_total=_money(v["amount_total"]),
            late_fee_total=_money(v["late_fee_total"]), total=_money(v["total"]),
            arrears=tuple(_voucher_arrear(a) for a in _list(v["arrears"])), paid_at=_opt(v.get("paid_at")),
            voided_at=_opt(v.get("voided_at")),
        )
    except _BAD as exc:
        raise malformed(exc) from None


def _payment(p: Mapping[str, Any]) -> PaymentRecord:
    return PaymentRecord(
        payment_id=_text(p["payment_id"]), tax_ticket=_text(p["tax_ticket"]), method=str(p["method"]),
        debit_id=_opt_text(p.get("debit_id")), voucher_id=_opt_text(p.get("voucher_id")),
        agreement_no=_opt_text(p.get("agreement_no")), bank=_opt(p.get("bank")), arrear_id=_text(p["arrear_id"]),
        unit_number=_text(p["unit_number"]), agency=str(p["agency"]), item=str(p["item"]),
        item_name=str(p["item_name"]), part=str(p["part"]), part_name=str(p["part_name"]),
        period_from=_text(p["period_from"]), period_to=_text(p["period_to"]), amount=_money(p["amount"]),
        late_fee=_money(p["late_fee"]), total=_money(p["total"]), paid_at=str(p["paid_at"]),
        arrival=str(p["arrival"]), stored_at=_opt(p.get("stored_at")),
    )


def debit_from_outcome(outcome: IdempotencyOutcome) -> Debit | None:
    """The debit stored under a key; None when the tax side refused the request."""
    if not 200 <= outcome.status < 300:
        return None
    return parse_debit(outcome.response, True)


def voucher_from_outcome(outcome: IdempotencyOutcome) -> Voucher | None:
    """The voucher (issued or voided) stored under a key; None for a stored refusal."""
    if not 200 <= outcome.status < 300:
        return None
    return parse_voucher(outcome.response)
