"""网络管理 (manual 3.2.1): the proxy every tax-side call goes through, and the business server.

- The proxy (none, HTTP, HTTPS, SOCKS5; host, port, optional user) lives in settings.json;
  its password in the OS keyring, or, where no keyring backend exists, in this process's
  memory for this run only (asked again after a restart). Never in settings.json, a log
  or a backup.
- The business server (业务服务器, the tax side) is fixed by the installed release
  (client/release.json). Only developers point it elsewhere: SOCIALFEE_TAXSIDE_URL, or
  the in-run ``taxside_url`` setting that ``socialfee demo`` and the tests set.
- ``connection(settings)`` is the one place every tax-side client takes its address,
  proxy and time-out from (client/sync/taxclient.py from_settings); ``probe`` is 测试.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from client import __version__, logs
from client.errors import NetworkError, ValidationError
from client.settings import PROXY_MODES, SETTINGS, Settings, coerce

log = logging.getLogger(__name__)

RELEASE_FILE = Path(__file__).resolve().parent.parent / "release.json"
TAXSIDE_ENV = "SOCIALFEE_TAXSIDE_URL"
KEYRING_SERVICE = "socialfee-proxy"
PROTOCOL = "v1"  # the tax-side protocol this client speaks (docs/protocol.md)
MODE_LABELS = {"none": "不使用代理", "http": "HTTP", "https": "HTTPS", "socks5": "SOCKS5"}
_SCHEMES = {"http": "http", "https": "https", "socks5": "socks5"}


# -- the business server ----------------------------------------------------------------------
@dataclass(frozen=True)
class Release:
    taxside_url: str
    channel: str


@dataclass(frozen=True)
class BusinessServer:
    url: str
    source: str  # "release", "env" (SOCIALFEE_TAXSIDE_URL) or "developer" (demo, tests)
    channel: str

    @property
    def source_label(self) -> str:
        return {"release": "由安装包固定", "env": f"开发者环境变量 {TAXSIDE_ENV}",
                "developer": "演示/测试设置"}[self.source]


def _http_url(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        return ""
    text = text.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - a bad port raises ValueError
    except ValueError:
        return ""
    return text if parts.scheme in ("http", "https") and parts.hostname else ""


@lru_cache(maxsize=4)
def read_release(path: Path = RELEASE_FILE) -> Release:
    """The release configuration shipped with the program; checked like any file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("release configuration %s unreadable", path)
        return Release("", "")
    if not isinstance(data, dict):
        return Release("", "")
    channel = data.get("channel")
    return Release(_http_url(data.get("taxside_url")), channel if isinstance(channel, str) else "")


def business_server(settings: Settings) -> BusinessServer:
    release = read_release()
    developer = _http_url(settings.get("taxside_url"))
    if developer:
        return BusinessServer(developer, "developer", release.channel)
    env = _http_url(os.environ.get(TAXSIDE_ENV, ""))
    if env:
        return BusinessServer(env, "env", release.channel)
    return BusinessServer(release.taxside_url, "release", release.channel)


# -- the proxy ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProxyConfig:
    mode: str = "none"
    host: str = ""
    port: int = 0
    user: str = ""

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    @property
    def key(self) -> str:
        """The keyring entry of its password."""
        return f"{self.mode}://{self.user}@{self.host}:{self.port}"

    def url(self, password: str | None) -> str | None:
        if not self.enabled:
            return None
        auth = ""
        if self.user:
            auth = quote(self.user, safe="") + (":" + quote(password, safe="") if password else "") + "@"
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{_SCHEMES[self.mode]}://{auth}{host}:{self.port}"

    def shown(self) -> str:
        """For the page and the audit log: never a password."""
        if not self.enabled:
            return MODE_LABELS["none"]
        user = f"{self.user}@" if self.user else ""
        return f"{MODE_LABELS[self.mode]} {user}{self.host}:{self.port}"


def proxy_config(settings: Settings) -> ProxyConfig:
    return ProxyConfig(settings.get("proxy_mode"), settings.get("proxy_host"),
                       int(settings.get("proxy_port")), settings.get("proxy_user"))


def check_proxy(config: ProxyConfig) -> ProxyConfig:
    """A usable proxy or a ValidationError naming the field; refused at 测试 and 保存."""
    if config.mode not in PROXY_MODES:
        raise ValidationError("请选择代理类型", field="proxy_mode")
    if not config.enabled:
        return ProxyConfig()
    if not config.host:
        raise ValidationError("请填写代理服务器地址", field="proxy_host")
    if not 1 <= config.port <= 65535:
        raise ValidationError("代理端口应为 1-65535 之间的整数", field="proxy_port")
    return config


def parse_form(body: dict[str, Any]) -> ProxyConfig:
    """The panel's fields, each checked by its setting's rules (messages name the field)."""
    declared = {s.name: s for s in SETTINGS}
    values = {n: coerce(declared[n], body.get(n) or declared[n].default)
              for n in ("proxy_mode", "proxy_host", "proxy_port", "proxy_user")}
    return check_proxy(ProxyConfig(values["proxy_mode"], values["proxy_host"],
                                   values["proxy_port"], values["proxy_user"]))


# -- the proxy password: keyring, else memory for this run ---------------------------------------
_memory: dict[str, str] = {}
_memory_lock = threading.Lock()
_changes = [0]  # bumped when a password is set or forgotten: live clients rebuild


def keyring_problem() -> str | None:
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
            raise RuntimeError(type(backend).__name__)
    except Exception:
        return "本机没有可用的系统密钥环（keyring）：代理密码只在本次运行中保存在内存里，下次启动需要重新输入。"
    return None


def remember_password(config: ProxyConfig, password: str) -> str:
    """Keep the password; returns where ("keyring" or "memory")."""
    logs.register_secret(password)
    _changes[0] += 1
    if keyring_problem() is None:
        import keyring

        try:
            keyring.set_password(KEYRING_SERVICE, config.key, password)
            with _memory_lock:
                _memory.pop(config.key, None)
            return "keyring"
        except Exception:
            log.warning("keyring write failed; proxy password kept in memory for this run")
    with _memory_lock:
        _memory[config.key] = password
    return "memory"


def recall_password(config: ProxyConfig) -> str | None:
    with _memory_lock:
        if config.key in _memory:
            return _memory[config.key]
    if keyring_problem() is not None:
        return None
    import keyring

    try:
        password = keyring.get_password(KEYRING_SERVICE, config.key)
    except Exception:
        log.warning("keyring read failed for the proxy password")
        return None
    if password:
        logs.register_secret(password)
    return password or None


def forget_password(config: ProxyConfig) -> None:
    _changes[0] += 1
    with _memory_lock:
        _memory.pop(config.key, None)
    if keyring_problem() is None:
        import keyring

        with contextlib.suppress(Exception):  # nothing saved
            keyring.delete_password(KEYRING_SERVICE, config.key)


def password_kept(config: ProxyConfig) -> str:
    """Where its password is: "keyring", "memory" or "" (none known in this run)."""
    with _memory_lock:
        if config.key in _memory:
            return "memory"
    return "keyring" if config.user and recall_password(config) else ""


# -- what every client uses -----------------------------------------------------------------------
MSG_NO_SERVER = "业务服务器地址未配置（安装包中的 release.json 缺失或损坏），请重新安装客户端"


def _missing_password(config: ProxyConfig) -> NetworkError:
    return NetworkError(
        f"代理服务器 {config.host}:{config.port} 需要密码，本次运行尚未输入。"
        "请在「系统设置 > 网络管理」中输入代理密码。", code="network_proxy")


def proxy_url(settings: Settings) -> str | None:
    """The saved proxy with its password, or None for a direct connection."""
    config = proxy_config(settings)
    if not config.enabled:
        return None
    try:
        check_proxy(config)
    except ValidationError as exc:  # a hand-edited settings.json
        raise NetworkError(f"代理设置有误：{exc.message}。请在「系统设置 > 网络管理」中修改",
                           code="network_proxy") from None
    password = recall_password(config) if config.user else None
    if config.user and not password:
        raise _missing_password(config)
    return config.url(password)


@dataclass(frozen=True)
class Connection:
    base_url: str
    proxy: str | None  # holds the password: never log or show it
    timeout: float

    def __repr__(self) -> str:
        return f"Connection({self.base_url!r}, proxied={self.proxy is not None})"


def connection(settings: Settings) -> Connection:
    server = business_server(settings)
    if not server.url:
        raise NetworkError(MSG_NO_SERVER, code="no_taxside_url")
    return Connection(server.url, proxy_url(settings), float(settings.get("http_timeout_seconds")))


class ProxyRoute:
    """What a live client checks before each request: a proxy saved while logged in
    applies to the next call without logging in again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def version(self) -> tuple[Any, ...]:
        return (proxy_config(self.settings), _changes[0])

    def proxy(self) -> str | None:
        return proxy_url(self.settings)


def httpx_options(settings: Settings) -> dict[str, Any]:
    """For a raw httpx.Client (e.g. a download outside the protocol client): the saved
    proxy, the time-out, the environment's proxies ignored."""
    conn = connection(settings)
    return {"proxy": conn.proxy, "timeout": httpx.Timeout(conn.timeout, connect=5.0), "trust_env": False}


# -- 测试 ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    code: str  # ok, proxy_unreachable, proxy_auth, taxside_unreachable, not_taxside, protocol, ...
    message: str
    latency_ms: int | None = None
    protocol: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _socks_errors() -> tuple[type[BaseException], ...]:
    try:
        from socksio.exceptions import SOCKSError
    except ImportError:  # pragma: no cover - httpx[socks] is a dependency
        return ()
    return (SOCKSError,)


def probe(base_url: str, config: ProxyConfig, password: str | None, timeout: float = 10.0) -> ProbeResult:
    """GET /v1/ping through the proxy (or directly) and say in Chinese what failed."""
    if not base_url:
        return ProbeResult(False, "no_server", MSG_NO_SERVER)
    where = f"代理服务器 {config.host}:{config.port}"
    if config.enabled:
        try:
            with socket.create_connection((config.host, config.port), timeout=min(timeout, 5.0)):
                pass
        except OSError as exc:
            reason = "连接被拒绝" if isinstance(exc, ConnectionRefusedError) else (
                "连接超时" if isinstance(exc, TimeoutError) else "地址无法访问")
            return ProbeResult(False, "proxy_unreachable",
                               f"无法连接{where}（{reason}），请检查代理地址、端口以及代理服务是否在运行")
    behind = f"已连接{where}，但通过代理无法访问税务端 {base_url}，请检查代理是否允许访问该地址"
    started = time.perf_counter()
    try:
        with httpx.Client(proxy=config.url(password), trust_env=False,
                          timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                          headers={"User-Agent": f"socialfee/{__version__}"}) as http:
            resp = http.get(base_url.rstrip("/") + "/v1/ping")
    except httpx.ProxyError as exc:
        text = str(exc).lower()
        if "password" in text or "auth" in text or "407" in text:
            return ProbeResult(False, "proxy_auth", f"{where}拒绝了用户名或密码，请检查代理用户名和密码")
        return ProbeResult(False, "taxside_unreachable", behind)
    except _socks_errors():
        return ProbeResult(False, "proxy_auth",
                           f"{where}拒绝了请求：可能需要用户名和密码，或代理类型选择有误")
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        if config.mode == "https" and "ssl" in str(exc).lower():
            return ProbeResult(False, "proxy_type", f"与{where}建立 HTTPS 加密连接失败，请确认代理类型（多数代理为 HTTP）")
        if config.enabled:
            return ProbeResult(False, "taxside_unreachable", behind)
        return ProbeResult(False, "taxside_unreachable", f"网络不通，无法连接税务端 {base_url}")
    except httpx.TimeoutException:
        return ProbeResult(False, "taxside_timeout", f"等待税务端 {base_url} 响应超时")
    except httpx.TransportError:
        if config.enabled:
            return ProbeResult(False, "taxside_unreachable", behind)
        return ProbeResult(False, "taxside_unreachable", f"与税务端 {base_url} 的连接意外中断")
    latency = round((time.perf_counter() - started) * 1000)
    if resp.status_code == 407:
        return ProbeResult(False, "proxy_auth", f"{where}拒绝了用户名或密码（要求代理认证），请检查代理用户名和密码")
    if config.enabled and resp.status_code in (502, 503, 504) and "json" not in resp.headers.get("content-type", ""):
        return ProbeResult(False, "taxside_unreachable", behind)
    protocol = _protocol_of(resp)
    if protocol is None:
        via = "，可能是代理或网关的提示页面" if config.enabled else ""
        return ProbeResult(False, "not_taxside",
                           f"收到的应答不是来自税务端（HTTP {resp.status_code}）{via}，请检查代理设置和业务服务器地址")
    if protocol != PROTOCOL:
        return ProbeResult(False, "protocol", f"税务端协议版本为 {protocol}，本客户端使用 {PROTOCOL}，请升级客户端",
                           latency, protocol)
    return ProbeResult(True, "ok", f"连接正常：延迟 {latency} 毫秒，税务端协议版本 {protocol}", latency, protocol)


def _protocol_of(resp: httpx.Response) -> str | None:
    if resp.status_code != 200 or not resp.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        data = resp.json()
    except ValueError:
        return None
    protocol = data.get("protocol") if isinstance(data, dict) else None
    return protocol if isinstance(protocol, str) and protocol and isinstance(data.get("time"), str) else None


def probe_saved(settings: Settings) -> ProbeResult:
    """业务服务器 测试: the saved route (proxy included) to the fixed address."""
    config = proxy_config(settings)
    password = recall_password(config) if config.enabled and config.user else None
    if config.enabled and config.user and not password:
        return ProbeResult(False, "proxy_password", _missing_password(config).message)
    timeout = float(settings.get("http_timeout_seconds"))
    return probe(business_server(settings).url, config, password, timeout)


# -- 保存 -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SavedProxy:
    config: ProxyConfig
    password: str  # where it is kept: "keyring", "memory" or ""
    probe: ProbeResult | None


def save_proxy(settings: Settings, config: ProxyConfig, password: str | None) -> SavedProxy:
    """测试 then 保存 (manual 3.2.1): a proxy is saved only when the test through it passes.

    ``password`` None or empty keeps the one already known for the same user and proxy.
    """
    config = check_proxy(config)
    old = proxy_config(settings)
    if config.enabled and config.user and not password:
        password = recall_password(config)
        if not password:
            raise ValidationError("请输入代理密码", field="proxy_password")
    result = None
    if config.enabled:
        result = probe(business_server(settings).url, config, password if config.user else None,
                       float(settings.get("http_timeout_seconds")))
        if not result.ok:
            raise ValidationError(f"测试未通过，未保存：{result.message}", code=result.code, field="proxy_test")
    kept = ""
    if config.enabled and config.user and password:
        kept = remember_password(config, password)
    if old.user and (old.key != config.key or not config.user):
        forget_password(old)
    settings.update({"proxy_mode": config.mode, "proxy_host": config.host,
                     "proxy_port": config.port, "proxy_user": config.user})
    return SavedProxy(config, kept, result)


# -- the first start after proxy_url --------------------------------------------------------------
def migrate(settings: Settings) -> bool:
    """An earlier version's ``proxy_url`` (password inside) becomes the structured proxy
    settings with the password in the keyring (or memory); the clear text leaves
    settings.json. Its ``taxside_url``, typed by the operator then, goes too: the release
    fixes the address now. Returns whether anything changed."""
    stored = settings.stored()
    if "proxy_url" not in stored:
        return False
    text = stored.pop("proxy_url")
    stored.pop("taxside_url", None)
    config, password = _parse_old(text if isinstance(text, str) else "")
    if config.enabled:
        stored |= {"proxy_mode": config.mode, "proxy_host": config.host,
                   "proxy_port": config.port, "proxy_user": config.user}
        if password:
            remember_password(config, password)
    settings.replace_stored(stored)
    log.info("settings: proxy_url migrated to %s", config.shown())
    return True


def _parse_old(text: str) -> tuple[ProxyConfig, str]:
    text = text.strip()
    if not text:
        return ProxyConfig(), ""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        log.warning("settings: unusable proxy_url dropped")
        return ProxyConfig(), ""
    mode = {"socks5h": "socks5"}.get(parts.scheme.lower(), parts.scheme.lower())
    if mode not in ("http", "https", "socks5") or not parts.hostname:
        log.warning("settings: unusable proxy_url dropped")
        return ProxyConfig(), ""
    port = port or {"http": 80, "https": 443, "socks5": 1080}[mode]
    config = ProxyConfig(mode, parts.hostname, port, unquote(parts.username or ""))
    return config, unquote(parts.password or "")
