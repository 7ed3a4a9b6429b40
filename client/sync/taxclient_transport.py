"""The transport under the tax-side client: one request path with retries and error mapping.

Failures become ``client.errors`` with Chinese messages: ``NetworkError`` (unreachable,
time-out, 5xx, malformed answer), ``AuthError`` (declaration password, token),
``ConflictError`` (409) and ``TaxSideRejection`` (any other refusal, with the tax side's
code and message). Requests are repeated with backoff only where that is safe: reads,
writes carrying an Idempotency-Key, and any request that provably never left (connect
failure). Passwords and tokens never reach a log record or an exception message.
The calls themselves live in client/sync/taxclient.py and its per-area mixins.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Self

import httpx

from client import __version__
from client.errors import AuthError, ConflictError, NetworkError, TaxSideRejection

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

try:  # httpx[socks] reaches SOCKS proxies through socksio
    from socksio.exceptions import SOCKSError

    _SOCKS_ERRORS: tuple[type[Exception], ...] = (SOCKSError,)
except ImportError:  # pragma: no cover
    _SOCKS_ERRORS = ()


class ProxyRoute(Protocol):
    """Where the saved proxy is read (client/core/network.py ProxyRoute)."""

    def version(self) -> object: ...

    def proxy(self) -> str | None: ...

MSG_UNREACHABLE = "网络不通，无法连接税务端"
MSG_TIMEOUT = "等待税务端响应超时"
MSG_BUSY = "税务端繁忙，请稍后再试"
MSG_MALFORMED = "服务器返回信息格式有误"
MSG_DROPPED = "与税务端的连接意外中断，请稍后再试"
MSG_PROXY = "无法通过代理服务器连接税务端，请检查代理设置"
MSG_PROXY_AUTH = "代理服务器拒绝了用户名或密码，请在「系统设置 > 网络管理」中检查代理设置"
MSG_NO_TOKEN = "尚未通过申报密码验证，请先登录"


class PasswordError(AuthError):
    """Wrong declaration password or lock-out; says how many attempts are left."""

    def __init__(
        self, message: str, *, code: str, attempts_left: int, locked_until: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.attempts_left = attempts_left
        self.locked_until = locked_until


@dataclass(frozen=True)
class IdempotencyOutcome:
    key: str
    method: str
    path: str
    status: int
    response: Mapping[str, Any]
    created_at: str


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


# -- the transport --------------------------------------------------------------------------
class Transport:
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
        route: ProxyRoute | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._token = token
        self._sleep = sleep
        self._base_url = base_url.rstrip("/")
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._route = route
        self._route_version = route.version() if route is not None else None
        self._route_lock = threading.Lock()
        self._retired: list[httpx.Client] = []
        self._http = self._client(proxy)

    def _client(self, proxy: str | None) -> httpx.Client:
        self._proxied = bool(proxy)
        # trust_env off: the operator's proxy setting is the only one that applies.
        return httpx.Client(
            base_url=self._base_url,
            proxy=proxy,
            timeout=self._timeout,
            trust_env=False,
            headers={"User-Agent": f"socialfee/{__version__}", "Accept": "application/json"},
        )

    def _follow_route(self) -> None:
        """A proxy saved in 网络管理 since the last call: the next request goes through it."""
        if self._route is None or self._route.version() == self._route_version:
            return
        with self._route_lock:
            version = self._route.version()
            if version == self._route_version:
                return
            proxy = self._route.proxy()  # may raise: a password this run does not know
            # The old client may still serve a request in another thread: closed at close().
            self._retired.append(self._http)
            self._http = self._client(proxy)
            self._route_version = version

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the token
        return f"{type(self).__name__}({str(self._http.base_url)!r}, authenticated={self._token is not None})"

    def close(self) -> None:
        self._http.close()
        for old in self._retired:
            old.close()

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
        self._follow_route()
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
            text = str(exc).lower()
            message = MSG_PROXY_AUTH if "password" in text or "auth" in text or "407" in text else MSG_PROXY
            raise _Retryable(NetworkError(message, code="network_proxy"), unsent=True) from None
        except _SOCKS_ERRORS as exc:  # a SOCKS answer httpx does not wrap (e.g. auth required)
            log.warning("%s %s failed: %s", method, path, type(exc).__name__)
            raise _Retryable(NetworkError(MSG_PROXY_AUTH, code="network_proxy"), unsent=True) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            log.warning("%s %s failed: %s", method, path, type(exc).__name__)
            if self._proxied:  # the first hop is the proxy: it is the one that did not answer
                raise _Retryable(NetworkError(MSG_PROXY, code="network_proxy"), unsent=True) from None
            raise _Retryable(NetworkError(MSG_UNREACHABLE, code="network_unreachable"), unsent=True) from None
        except httpx.TimeoutException as exc:
            log.warning("%s %s failed: %s", method, path, type(exc).__name__)
            raise _Retryable(NetworkError(MSG_TIMEOUT, code="network_timeout")) from None
        except httpx.TransportError as exc:  # connection dropped, protocol error
            log.warning("%s %s failed: %s", method, path, type(exc).__name__)
            raise _Retryable(NetworkError(MSG_DROPPED, code="network_dropped")) from None
        elapsed = (time.perf_counter() - started) * 1000
        log.debug("%s %s -> %d in %.0f ms", method, path, resp.status_code, elapsed)
        if resp.status_code == 407 and self._proxied:  # the proxy refused: nothing reached the tax side
            raise NetworkError(MSG_PROXY_AUTH, code="network_proxy")
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

    def _write(
        self, method: str, path: str, body: Mapping[str, Any], *, idempotency_key: str
    ) -> tuple[Any, bool]:
        """A write under a key: (answer body, replayed) where replayed says the tax side
        answered with what it stored for an earlier send of the same request."""
        result = self._request(method, path, body=body, idempotency_key=idempotency_key)
        assert result is not None
        data, resp = result
        return data, resp.headers.get("Idempotent-Replayed") == "true"

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
            raise malformed(exc) from None


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


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


def malformed(exc: Exception) -> NetworkError:
    log.warning("malformed answer: %s", type(exc).__name__)
    return NetworkError(MSG_MALFORMED, code="bad_response")
