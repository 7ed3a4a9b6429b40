"""The tax-side client: typed calls over httpx for every call of docs/protocol.md.

``TaxClient`` is the transport (client/sync/taxclient_transport.py: retries, error mapping,
no secrets in logs) plus one set of calls per area: login, unit, rules, notices and the
enrollment feed here; payroll-base declarations in taxclient_wage_base.py; fee
declarations in taxclient_fee.py; payment in taxclient_payment.py. Every name callers
use is importable from this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from client.core import network
from client.sync.taxclient_fee import (  # noqa: F401  (re-exported for callers)
    Arrear,
    DeclaredSummary,
    DetailPage,
    FeeCalls,
    FeeDeclaration,
    FeeDeclarationReceipt,
    FeeDetail,
    FeeSummary,
    RecordPage,
    SummaryPage,
    SummaryRejection,
    VoidDecision,
    VoidReceipt,
    fee_receipt_from_outcome,
    void_receipt_from_outcome,
)
from client.sync.taxclient_payment import (  # noqa: F401  (re-exported for callers)
    Agreement,
    ArrearInfo,
    ArrearPage,
    Debit,
    DebitResult,
    PaymentCalls,
    PaymentPage,
    PaymentRecord,
    Voucher,
    VoucherArrear,
    VoucherPage,
    debit_from_outcome,
    voucher_from_outcome,
)
from client.sync.taxclient_transport import (  # noqa: F401  (re-exported for callers)
    MSG_BUSY,
    MSG_DROPPED,
    MSG_MALFORMED,
    MSG_NO_TOKEN,
    MSG_PROXY,
    MSG_TIMEOUT,
    MSG_UNREACHABLE,
    IdempotencyOutcome,
    PasswordError,
    RetryPolicy,
    Transport,
    malformed,
    new_idempotency_key,
    stored_error,
)
from client.sync.taxclient_wage_base import (  # noqa: F401  (re-exported for callers)
    RowRejection,
    WageBaseCalls,
    WageBaseDecision,
    WageBaseReceipt,
    receipt_from_outcome,
)

if TYPE_CHECKING:
    from client.settings import Settings


# -- answers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnitSummary:
    unit_id: str
    taxpayer_id: str
    name: str
    region: str
    password_is_initial: bool
    initial_password_kinds: tuple[str, ...]


@dataclass(frozen=True)
class Session:
    scope: str  # full / change_password
    must_change_password: bool
    expires_at: dt.datetime
    today: dt.date | None = None  # the tax side's business date: windows are decided by it

    # The token itself stays inside TaxClient (never in a repr or a log).


@dataclass(frozen=True)
class PasswordChange:
    changed_at: str
    idempotency_key: str
    replayed: bool


@dataclass(frozen=True)
class UnitNumber:
    number: str
    kind: str
    items: tuple[str, ...]
    agency: str


@dataclass(frozen=True)
class UnitRegistration:
    unit_id: str
    taxpayer_id: str
    name: str
    tax_authority: str
    registration_type: str
    region: str
    industry_risk_class: int
    collection_mode: str
    is_government: bool
    unit_numbers: tuple[UnitNumber, ...]
    password_changed_at: str | None


@dataclass(frozen=True)
class RulePackInfo:
    region: str
    version: str
    sha256: str


@dataclass(frozen=True)
class RulePack:
    region: str
    version: str
    sha256: str
    content: str


@dataclass(frozen=True)
class Notice:
    notice_id: str
    region: str | None
    title: str
    body: str
    published_on: dt.date
    valid_until: dt.date
    importance: str
    popup: bool


@dataclass(frozen=True)
class Employee:
    employee_id: str
    name: str
    id_type: str
    id_number: str
    gender: str
    birth_date: dt.date
    unit_number: str
    items: tuple[str, ...]
    status: str
    bases: Mapping[str, Decimal]
    updated_at: str
    deleted: bool = False


@dataclass(frozen=True)
class Tombstone:
    employee_id: str
    deleted: bool = True


@dataclass(frozen=True)
class RawFeedPage:
    """A feed page whose items are the tax side's JSON objects, unchecked."""

    mode: str
    items: list[Any]
    next_cursor: str
    has_more: bool
    total: int | None


@dataclass(frozen=True)
class FeedPage:
    """One page of a feed: commit ``items`` and ``next_cursor`` in one transaction."""

    mode: str  # full / incremental
    items: tuple[Employee | Tombstone, ...]
    next_cursor: str
    has_more: bool
    total: int | None


@dataclass(frozen=True)
class ClientRelease:
    version: str
    url: str
    sha256: str
    notes: str
    published_on: str


# -- the client --------------------------------------------------------------------------------
class TaxClient(WageBaseCalls, FeeCalls, PaymentCalls, Transport):
    """One client per unit session; see the area modules for each group of calls."""

    # -- registration and login --------------------------------------------------------------
    def units_for_taxpayer(self, taxpayer_id: str) -> list[UnitSummary]:
        data = self._get(f"/v1/taxpayers/{taxpayer_id}/units", auth=False)
        try:
            return [
                UnitSummary(
                    unit_id=str(u["unit_id"]), taxpayer_id=str(u["taxpayer_id"]), name=str(u["name"]),
                    region=str(u["region"]), password_is_initial=bool(u["password_is_initial"]),
                    initial_password_kinds=tuple(u["initial_password_kinds"]),
                )
                for u in data["items"]
            ]
        except (KeyError, TypeError) as exc:
            raise malformed(exc) from None

    def login(self, unit_id: str, password: str) -> Session:
        """Check the declaration password; on success the client holds the token."""
        result = self._request(
            "POST", f"/v1/units/{unit_id}/session", body={"password": password}, auth=False, safe=False
        )
        assert result is not None
        data = result[0]
        try:
            self._token = str(data["token"])
            today = data.get("today")
            return Session(
                scope=str(data["scope"]), must_change_password=bool(data["must_change_password"]),
                expires_at=dt.datetime.fromisoformat(data["expires_at"]),
                today=dt.date.fromisoformat(today) if today else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(exc) from None

    def change_password(
        self, unit_id: str, old_password: str, new_password: str, *, idempotency_key: str | None = None
    ) -> PasswordChange:
        key = idempotency_key or new_idempotency_key()
        result = self._request(
            "PUT", f"/v1/units/{unit_id}/password", idempotency_key=key,
            body={"old_password": old_password, "new_password": new_password},
        )
        assert result is not None
        data, resp = result
        return PasswordChange(
            changed_at=str(data.get("changed_at", "")), idempotency_key=key,
            replayed=resp.headers.get("Idempotent-Replayed") == "true",
        )

    # -- unit, rules, notices, releases ---------------------------------------------------------
    def unit_registration(self, unit_id: str) -> UnitRegistration:
        data = self._get(f"/v1/units/{unit_id}")
        try:
            tax, ins = data["tax_registration"], data["insurance_registration"]
            return UnitRegistration(
                unit_id=str(data["unit_id"]), taxpayer_id=str(tax["taxpayer_id"]), name=str(tax["name"]),
                tax_authority=str(tax["tax_authority"]), registration_type=str(tax["registration_type"]),
                region=str(ins["region"]), industry_risk_class=int(ins["industry_risk_class"]),
                collection_mode=str(ins["collection_mode"]), is_government=bool(ins["is_government"]),
                unit_numbers=tuple(
                    UnitNumber(str(n["number"]), str(n["kind"]), tuple(n["items"]), str(n["agency"]))
                    for n in ins["unit_numbers"]
                ),
                password_changed_at=data.get("password_changed_at"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(exc) from None

    def rule_packs(self) -> list[RulePackInfo]:
        data = self._get("/v1/rule-packs", auth=False)
        try:
            return [RulePackInfo(str(p["region"]), str(p["version"]), str(p["sha256"])) for p in data["items"]]
        except (KeyError, TypeError) as exc:
            raise malformed(exc) from None

    def rule_pack(self, region: str, version: str | None = None) -> RulePack:
        data = self._get(f"/v1/rule-packs/{region}", auth=False, version=version)
        try:
            return RulePack(str(data["region"]), str(data["version"]), str(data["sha256"]), str(data["content"]))
        except (KeyError, TypeError) as exc:
            raise malformed(exc) from None

    def notices(self, region: str) -> list[Notice]:
        out: list[Notice] = []
        cursor: str | None = None
        while True:
            data = self._get("/v1/notices", auth=False, region=region, cursor=cursor, limit=500)
            try:
                out.extend(
                    Notice(
                        notice_id=str(n["notice_id"]), region=n.get("region"), title=str(n["title"]),
                        body=str(n["body"]), published_on=dt.date.fromisoformat(n["published_on"]),
                        valid_until=dt.date.fromisoformat(n["valid_until"]),
                        importance=str(n["importance"]), popup=bool(n["popup"]),
                    )
                    for n in data["items"]
                )
                if not data["has_more"]:
                    return out
                cursor = str(data["next_cursor"])
            except (KeyError, TypeError, ValueError) as exc:
                raise malformed(exc) from None

    def client_release(self) -> ClientRelease:
        data = self._get("/v1/client/latest", auth=False)
        try:
            return ClientRelease(
                str(data["version"]), str(data["url"]), str(data["sha256"]), str(data["notes"]),
                str(data["published_on"]),
            )
        except (KeyError, TypeError) as exc:
            raise malformed(exc) from None

    # -- enrollment feed -----------------------------------------------------------------------
    def enrollment_page(self, unit_id: str, cursor: str | None = None, limit: int = 1000) -> FeedPage:
        """One page; without ``cursor`` a full update starts."""
        data = self._get(f"/v1/units/{unit_id}/enrollment", cursor=cursor, limit=limit)
        try:
            return FeedPage(
                mode=str(data["mode"]),
                items=tuple(_employee(e) for e in data["items"]),
                next_cursor=str(data["next_cursor"]),
                has_more=bool(data["has_more"]),
                total=data.get("total"),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise malformed(exc) from None

    def enrollment_page_raw(self, unit_id: str, cursor: str | None = None, limit: int = 1000) -> RawFeedPage:
        """The same page with its items left as the tax side's JSON objects: the full update
        turns them into table rows itself (100,000 dataclasses and Decimals per update cost
        more than the update's own work). The caller checks each item's shape."""
        data = self._get(f"/v1/units/{unit_id}/enrollment", cursor=cursor, limit=limit)
        try:
            items = data["items"]
            if not isinstance(items, list):
                raise TypeError("items")
            return RawFeedPage(str(data["mode"]), items, str(data["next_cursor"]), bool(data["has_more"]),
                               data.get("total"))
        except (KeyError, TypeError) as exc:
            raise malformed(exc) from None

    def iter_enrollment_raw(self, unit_id: str, cursor: str | None = None, limit: int = 1000) -> Iterator[RawFeedPage]:
        while True:
            page = self.enrollment_page_raw(unit_id, cursor, limit)
            yield page
            if not page.has_more:
                return
            cursor = page.next_cursor

    def iter_enrollment(
        self, unit_id: str, cursor: str | None = None, limit: int = 1000
    ) -> Iterator[FeedPage]:
        """Page by page until the feed is drained. Full update when ``cursor`` is None,
        incremental otherwise; store each page's ``next_cursor`` with its rows."""
        while True:
            page = self.enrollment_page(unit_id, cursor, limit)
            yield page
            if not page.has_more:
                return
            cursor = page.next_cursor


def _employee(e: Mapping[str, Any]) -> Employee | Tombstone:
    if e["deleted"]:
        return Tombstone(str(e["employee_id"]))
    return Employee(
        employee_id=str(e["employee_id"]), name=str(e["name"]), id_type=str(e["id_type"]),
        id_number=str(e["id_number"]), gender=str(e["gender"]),
        birth_date=dt.date.fromisoformat(e["birth_date"]), unit_number=str(e["unit_number"]),
        items=tuple(e["items"]), status=str(e["status"]),
        bases={k: Decimal(v) for k, v in e["bases"].items()}, updated_at=str(e["updated_at"]),
    )


def from_settings(settings: Settings, *, token: str | None = None) -> TaxClient:
    """The client as installed and configured: the release's business server, the proxy
    of 系统设置 > 网络管理 (client/core/network.py, the one place every client takes them
    from) and the time-out; a proxy saved later applies to its next call."""
    conn = network.connection(settings)
    return TaxClient(conn.base_url, proxy=conn.proxy, timeout=conn.timeout, token=token,
                     route=network.ProxyRoute(settings))
