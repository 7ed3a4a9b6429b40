"""The tax-side client: typed calls over httpx for every call of docs/protocol.md.

Failures become ``client.errors`` with Chinese messages: ``NetworkError`` (unreachable,
time-out, 5xx, malformed answer), ``AuthError`` (declaration password, token),
``ConflictError`` (409) and ``TaxSideRejection`` (any other refusal, with the tax side's
code and message). Requests are repeated with backoff only where that is safe: reads,
writes carrying an Idempotency-Key, and any request that provably never left (connect
failure). Passwords and tokens never reach a log record or an exception message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import httpx

from client import __version__
from client.errors import (
    AuthError,
    ConflictError,
    NetworkError,
    TaxSideRejection,
    ValidationError,
)

if TYPE_CHECKING:
    from client.settings import Settings

try:  # faster parsing of big feed pages and encoding of big declarations when available
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads

    def _dumps(value: Any) -> bytes:
        return orjson.dumps(value)
except ImportError:  # pragma: no cover

    _loads = json.loads

    def _dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

log = logging.getLogger("socialfee.sync.taxclient")

MSG_UNREACHABLE = "网络不通，无法连接税务端"
MSG_TIMEOUT = "等待税务端响应超时"
MSG_BUSY = "税务端繁忙，请稍后再试"
MSG_MALFORMED = "服务器返回信息格式有误"
MSG_DROPPED = "与税务端的连接意外中断，请稍后再试"
MSG_PROXY = "无法通过代理服务器连接税务端，请检查代理设置"
MSG_NO_TOKEN = "尚未通过申报密码验证，请先登录"


class PasswordError(AuthError):
    """Wrong declaration password or lock-out; says how many attempts are left."""

    def __init__(
        self, message: str, *, code: str, attempts_left: int, locked_until: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.attempts_left = attempts_left
        self.locked_until = locked_until


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


@dataclass(frozen=True)
class IdempotencyOutcome:
    key: str
    method: str
    path: str
    status: int
    response: Mapping[str, Any]
    created_at: str


@dataclass(frozen=True)
class WageBaseReceipt:
    """The tax side received a payroll-base declaration (202); the decision comes later."""

    declaration_id: str
    status: str  # processing
    received_at: str
    row_count: int
    replayed: bool  # the answer of an earlier send under the same key


@dataclass(frozen=True)
class RowRejection:
    row: int  # 1-based position in the submitted rows
    employee_id: str | None
    id_number: str | None
    name: str | None
    field: str  # employee / name / id_number / base / effective_month / bases.pension ...
    message: str


@dataclass(frozen=True)
class WageBaseDecision:
    declaration_id: str
    kind: str  # daily / annual
    status: str  # processing / accepted / rejected
    received_at: str
    decided_at: str | None
    row_count: int
    rejections: tuple[RowRejection, ...]
    effective_month: str | None = None  # annual: the month the bases take effect


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # total tries, first one included
    backoff_s: float = 0.2  # doubles each time
    max_backoff_s: float = 2.0

    def delay(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * (2 ** (attempt - 1)))


class _Retryable(Exception):
    def __init__(self, error: NetworkError, *, unsent: bool = False) -> None:
        self.error = error
        self.unsent = unsent  # the request provably never reached the tax side


# -- the client --------------------------------------------------------------------------------
class TaxClient:
    def __init__(
        self,
        base_url: str,
        *,
        proxy: str | None = None,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        token: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._token = token
        self._sleep = sleep
        # trust_env off: the operator's proxy setting is the only one that applies.
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            proxy=proxy,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            trust_env=False,
            headers={"User-Agent": f"socialfee/{__version__}", "Accept": "application/json"},
        )

    def __enter__(self) -> TaxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the token
        return f"TaxClient({str(self._http.base_url)!r}, authenticated={self._token is not None})"

    def close(self) -> None:
        self._http.close()

    @property
    def authenticated(self) -> bool:
        return self._token is not None

    def set_token(self, token: str | None) -> None:
        self._token = token

    # -- transport -------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        auth: bool = True,
        idempotency_key: str | None = None,
        safe: bool | None = None,
        not_found_ok: bool = False,
    ) -> tuple[Any, httpx.Response] | None:
        headers: dict[str, str] = {}
        if auth:
            if self._token is None:
                raise AuthError(MSG_NO_TOKEN, code="token_missing")
            headers["Authorization"] = f"Bearer {self._token}"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        content = None
        if body is not None:
            # Encoded once: every retry under the key sends the very same bytes.
            content = _dumps(body)
            headers["Content-Type"] = "application/json"
        if safe is None:
            safe = method == "GET" or idempotency_key is not None
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(method, path, params, content, headers, not_found_ok)
            except _Retryable as exc:
                if (safe or exc.unsent) and attempt < self.retry.attempts:
                    delay = self.retry.delay(attempt)
                    log.info("%s %s: %s, retry %d in %.1fs", method, path, exc.error.code, attempt, delay)
                    self._sleep(delay)
                    continue
                raise exc.error from None  # no httpx chain: it may hold the proxy credentials

    def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        content: bytes | None,
        headers: dict[str, str],
        not_found_ok: bool,
    ) -> tuple[Any, httpx.Response] | None:
        started = time.perf_counter()
        try:
            resp = self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.ProxyError as exc:
            log.warning("%s %s failed: %s", method, path, type(exc).__name__)
            raise _Retryable(NetworkError(MSG_PROXY, code="network_proxy"), unsent=True) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            log.warning("%s %s failed: %s", method, path, type(exc).__name__)
            raise _Retryable(NetworkError(MSG_UNREACHABLE, code="network_unreachable"), unsent=True) from None
        except httpx.TimeoutException as exc:
            log.warning("%s %s failed: %s", method, path, type(exc).__name__)
            raise _Retryable(NetworkError(MSG_TIMEOUT, code="network_timeout")) from None
        except httpx.TransportError as exc:  # connection dropped, protocol error
            log.warning("%s %s failed: %s", method, path, type(exc).__name__)
            raise _Retryable(NetworkError(MSG_DROPPED, code="network_dropped")) from None
        elapsed = (time.perf_counter() - started) * 1000
        log.debug("%s %s -> %d in %.0f ms", method, path, resp.status_code, elapsed)
        if resp.status_code >= 500:
            raise _Retryable(NetworkError(MSG_BUSY, code="taxside_busy"))
        data = self._parse(resp)
        if resp.status_code < 400:
            return data, resp
        code = str(data.get("code", "")) if isinstance(data, dict) else ""
        message = data.get("message") if isinstance(data, dict) else None
        if not code or not isinstance(message, str):
            raise _Retryable(NetworkError(MSG_MALFORMED, code="bad_response"))
        if resp.status_code == 404 and not_found_ok and code == "idempotency_key_not_found":
            return None
        if code in ("wrong_password", "password_locked"):
            left = int(data.get("attempts_left", 0))
            if code == "wrong_password":
                message = f"申报密码错误，还可尝试{left}次"
            raise PasswordError(message, code=code, attempts_left=left, locked_until=data.get("locked_until"))
        if resp.status_code in (401, 403, 423):
            raise AuthError(message, code=code)
        if resp.status_code == 409:
            raise ConflictError(message, code=code)
        raise TaxSideRejection(message, code=code)

    @staticmethod
    def _parse(resp: httpx.Response) -> Any:
        ctype = resp.headers.get("content-type", "")
        if not ctype.startswith("application/json"):
            raise _Retryable(NetworkError(MSG_MALFORMED, code="bad_response"))
        try:
            return _loads(resp.content)
        except ValueError:
            raise _Retryable(NetworkError(MSG_MALFORMED, code="bad_response")) from None

    def _get(self, path: str, *, auth: bool = True, **params: Any) -> Any:
        result = self._request("GET", path, params={k: v for k, v in params.items() if v is not None}, auth=auth)
        assert result is not None
        return result[0]

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
            raise _malformed(exc) from None

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
            raise _malformed(exc) from None

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

    def idempotency_outcome(self, key: str) -> IdempotencyOutcome | None:
        """What the tax side committed under ``key``; None when it never received it."""
        result = self._request("GET", f"/v1/idempotency/{key}", not_found_ok=True)
        if result is None:
            return None
        data = result[0]
        try:
            return IdempotencyOutcome(
                key=str(data["key"]), method=str(data["method"]), path=str(data["path"]),
                status=int(data["status"]), response=data["response"], created_at=str(data["created_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed(exc) from None

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
            raise _malformed(exc) from None

    def rule_packs(self) -> list[RulePackInfo]:
        data = self._get("/v1/rule-packs", auth=False)
        try:
            return [RulePackInfo(str(p["region"]), str(p["version"]), str(p["sha256"])) for p in data["items"]]
        except (KeyError, TypeError) as exc:
            raise _malformed(exc) from None

    def rule_pack(self, region: str, version: str | None = None) -> RulePack:
        data = self._get(f"/v1/rule-packs/{region}", auth=False, version=version)
        try:
            return RulePack(str(data["region"]), str(data["version"]), str(data["sha256"]), str(data["content"]))
        except (KeyError, TypeError) as exc:
            raise _malformed(exc) from None

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
                raise _malformed(exc) from None

    def client_release(self) -> ClientRelease:
        data = self._get("/v1/client/latest", auth=False)
        try:
            return ClientRelease(
                str(data["version"]), str(data["url"]), str(data["sha256"]), str(data["notes"]),
                str(data["published_on"]),
            )
        except (KeyError, TypeError) as exc:
            raise _malformed(exc) from None

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
            raise _malformed(exc) from None

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


    # -- payroll-base declarations (manual 3.1.5) ------------------------------------------
    def submit_wage_base(
        self, unit_id: str, kind: str, rows: list[dict[str, Any]], *, idempotency_key: str
    ) -> WageBaseReceipt:
        """Send a declaration as given. Keep ``idempotency_key`` with the submission before
        calling: after a NetworkError, ``idempotency_outcome(key)`` tells whether it landed."""
        result = self._request(
            "POST", f"/v1/units/{unit_id}/wage-base-declarations", idempotency_key=idempotency_key,
            body={"kind": kind, "rows": rows},
        )
        assert result is not None
        data, resp = result
        try:
            return _receipt(data, replayed=resp.headers.get("Idempotent-Replayed") == "true")
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed(exc) from None

    def wage_base_declaration(self, unit_id: str, declaration_id: str) -> WageBaseDecision:
        data = self._get(f"/v1/units/{unit_id}/wage-base-declarations/{declaration_id}")
        try:
            return WageBaseDecision(
                declaration_id=str(data["declaration_id"]), kind=str(data["kind"]),
                status=str(data["status"]), received_at=str(data["received_at"]),
                decided_at=data.get("decided_at"), row_count=int(data["row_count"]),
                rejections=tuple(
                    RowRejection(
                        row=int(r["row"]), employee_id=r.get("employee_id"), id_number=r.get("id_number"),
                        name=r.get("name"), field=str(r["field"]), message=str(r["message"]),
                    )
                    for r in data.get("rejections") or ()
                ),
                effective_month=data.get("effective_month"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed(exc) from None


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def _receipt(data: Mapping[str, Any], *, replayed: bool) -> WageBaseReceipt:
    return WageBaseReceipt(
        declaration_id=str(data["declaration_id"]), status=str(data["status"]),
        received_at=str(data["received_at"]), row_count=int(data["row_count"]), replayed=replayed,
    )


def receipt_from_outcome(outcome: IdempotencyOutcome) -> WageBaseReceipt | None:
    """The receipt a declaration sent under a key got, resolved from the key's stored
    outcome; None when the tax side refused it (see ``stored_error``)."""
    if not 200 <= outcome.status < 300:
        return None
    try:
        return _receipt(outcome.response, replayed=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed(exc) from None


def stored_error(outcome: IdempotencyOutcome) -> tuple[str, str]:
    """(code, message) of a refusal stored under a key, e.g. ("annual_window_closed",
    "年度缴费工资申报开放时间为…")."""
    body = outcome.response
    code = body.get("code") if isinstance(body, Mapping) else None
    message = body.get("message") if isinstance(body, Mapping) else None
    if not isinstance(code, str) or not isinstance(message, str):
        if 200 <= outcome.status < 300:
            return "", ""  # not an error: the request was accepted
        return "bad_response", MSG_MALFORMED
    return code, message


def _malformed(exc: Exception) -> NetworkError:
    log.warning("malformed answer: %s", type(exc).__name__)
    return NetworkError(MSG_MALFORMED, code="bad_response")


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
    """The client as the operator configured it (系统设置: 税务端地址, 代理服务器, 网络超时)."""
    base_url = settings.get("taxside_url")
    if not base_url:
        raise NetworkError("尚未设置税务端地址，请在「系统设置」中填写", code="no_taxside_url")
    if not base_url.startswith(("http://", "https://")):
        raise ValidationError("税务端地址必须以 http:// 或 https:// 开头", field="taxside_url")
    proxy = settings.get("proxy_url") or None
    if proxy and not proxy.startswith(("http://", "https://", "socks5://", "socks5h://")):
        raise ValidationError(
            "代理服务器地址必须以 http://、https:// 或 socks5:// 开头", field="proxy_url"
        )
    return TaxClient(
        base_url, proxy=proxy, timeout=float(settings.get("http_timeout_seconds")), token=token
    )
