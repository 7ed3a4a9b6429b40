"""Where the data live: the SQLite file in the data directory (default) or a PostgreSQL
database named by a connection URL (team mode).

settings.json keeps the URL without its password (``database_url``); the password is in
the OS keyring under the redacted URL, never in settings.json in clear. Where no keyring
exists it is kept in memory for this run only, and the caller is told so.

``use`` tests a database before anything is stored: a wrong password, an unreachable
server, a database that does not exist or holds another program's tables, and a schema
from a newer socialfee each end in one Chinese sentence, with nothing saved.
``socialfee db`` (client/cli_db.py) is the command line over this module.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from client import logs
from client.core.models import database_proxy
from client.core.store import Store
from client.errors import AuthError, NetworkError, SocialFeeError, StoreError, ValidationError

if TYPE_CHECKING:
    from client.settings import Settings

log = logging.getLogger(__name__)

KEYRING_SERVICE = "socialfee-database"
SETTING = "database_url"
SCHEMES = ("postgresql", "postgres")


def parse(url: str) -> tuple[str, str | None]:
    """(URL without password, password or None); refuses what is not a PostgreSQL URL."""
    text = (url or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES or not parts.hostname or not parts.path.strip("/"):
        raise ValidationError(
            "团队数据库地址应为 postgresql://用户名@服务器:端口/数据库名，例如 "
            "postgresql://clerk@192.168.1.10:5432/socialfee",
            code="database_url",
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ValidationError("团队数据库地址中的端口无效", code="database_url") from exc
    user = unquote(parts.username or "")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = (f"{quote(user, safe='')}@" if user else "") + host + (f":{port}" if port else "")
    bare = urlunsplit(("postgresql", netloc, parts.path, parts.query, ""))
    return bare, (unquote(parts.password) if parts.password is not None else None)


def with_password(bare: str, password: str | None) -> str:
    if not password:
        return bare
    parts = urlsplit(bare)
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def redact(url: str) -> str:
    """The URL for the screen and the logs: never the password."""
    try:
        return parse(url)[0]
    except ValidationError:
        return "（无效的数据库地址）"


# -- the password: keyring, else memory for this run (as the proxy's, client/core/network.py) --
_memory: dict[str, str] = {}
_memory_lock = threading.Lock()
MSG_NO_KEYRING = (
    "本机没有可用的系统密钥环（keyring）：数据库密码只在本次运行中保存在内存里，程序退出后即失效。"
    "请安装系统密钥环后重新运行 socialfee db use，或请数据库管理员为本机配置免密码认证（如 .pgpass）。"
)


def _keyring() -> Any | None:
    from client.core import network

    if network.keyring_problem() is not None:
        return None
    import keyring

    return keyring


def remember_password(bare: str, password: str) -> str:
    """Keep the password of ``bare`` (the URL without it); returns "keyring" or "memory"."""
    logs.register_secret(password)
    backend = _keyring()
    if backend is not None:
        try:
            backend.set_password(KEYRING_SERVICE, bare, password)
            with _memory_lock:
                _memory.pop(bare, None)
            return "keyring"
        except Exception:
            log.warning("keyring write failed; database password kept in memory for this run")
    with _memory_lock:
        _memory[bare] = password
    return "memory"


def recall_password(bare: str) -> str | None:
    with _memory_lock:
        if bare in _memory:
            return _memory[bare]
    backend = _keyring()
    if backend is None:
        return None
    try:
        password = backend.get_password(KEYRING_SERVICE, bare)
    except Exception:
        log.warning("keyring read failed for the database password")
        return None
    if password:
        logs.register_secret(password)
    return password or None


def password_kept(bare: str) -> str:
    """Where the password of ``bare`` is: "keyring", "memory" or "" (none known)."""
    if not bare:
        return ""
    with _memory_lock:
        if bare in _memory:
            return "memory"
    return "keyring" if recall_password(bare) else ""


def forget_password(bare: str) -> None:
    with _memory_lock:
        _memory.pop(bare, None)
    backend = _keyring()
    if backend is not None:
        with contextlib.suppress(Exception):  # nothing saved
            backend.delete_password(KEYRING_SERVICE, bare)


# -- the setting ---------------------------------------------------------------------------------
def configured(settings: Settings) -> str:
    """The team database's URL without password, or "" for SQLite in the data directory.

    A value in settings.json that is not a usable URL is refused, not read as "SQLite":
    a team desk must not quietly start working on an empty local file.
    """
    raw = settings.stored().get(SETTING, "")
    if raw in ("", None):
        return ""
    if not isinstance(raw, str):
        raise StoreError(MSG_BAD_SETTING, code="database_url")
    try:
        bare, password = parse(raw)
    except ValidationError as exc:
        raise StoreError(MSG_BAD_SETTING, code="database_url") from exc
    if password is not None:
        raise StoreError(MSG_BAD_SETTING, code="database_url")
    return bare


MSG_BAD_SETTING = (
    "settings.json 中的团队数据库地址（database_url）无效或含有密码。请运行 socialfee db use URL "
    "重新设置，或运行 socialfee db use sqlite 改回本机数据库。"
)


def resolve(settings: Settings) -> str | None:
    """The full URL (password from the keyring) for the store, or None for SQLite."""
    bare = configured(settings)
    if not bare:
        return None
    return with_password(bare, recall_password(bare))


# -- testing a location --------------------------------------------------------------------------
def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    # libpq: 'connection failed: connection to server at "h", port p failed: FATAL:  why'
    text = text.rsplit(" failed: ", 1)[-1]
    return text.replace("FATAL:", "").strip().splitlines()[0].strip() if text else type(exc).__name__


def _where(bare: str) -> tuple[str, str, str]:
    parts = urlsplit(bare)
    # No user in the URL: libpq takes the OS user's name.
    user = unquote(parts.username or "") or "（本机登录名）"
    return user, f"{parts.hostname}:{parts.port or 5432}", parts.path.strip("/")


def check_connection(url: str, after: str = "") -> int:
    """Connect once and say clearly why not: password, server, database, someone else's
    data (``after`` ends each message: what was left as it was). Returns the database's
    socialfee schema version (0: a new, empty database)."""
    import psycopg

    bare, _ = parse(url)
    user, server, name = _where(bare)
    try:
        conn = psycopg.connect(url, connect_timeout=10, autocommit=True)
    except psycopg.Error as exc:
        raise _classified(exc, user, server, name, after) from None
    try:
        row = conn.execute(
            "SELECT count(*), to_regclass('socialfee_schema') IS NOT NULL FROM pg_catalog.pg_tables "
            "WHERE schemaname = current_schema()"
        ).fetchone()
        version = 0
        if row[1]:
            version = int(conn.execute("SELECT coalesce(max(version), 0) FROM socialfee_schema").fetchone()[0])
    finally:
        conn.close()
    tables, ours = int(row[0]), bool(row[1])
    if tables and not ours:
        raise StoreError(
            f"数据库「{name}」（{server}）中已有 {tables} 个其他程序的数据表，不是 socialfee 的团队数据库。"
            f"请使用为 socialfee 新建的空数据库。{after}",
            code="database_foreign",
        )
    return version


def _classified(exc: Exception, user: str, server: str, name: str, after: str) -> SocialFeeError:
    reason = _reason(exc)
    low = reason.lower()
    if "password authentication failed" in low or "authentication failed" in low:
        return AuthError(f"团队数据库拒绝了用户「{user}」的密码（{server}）。请检查密码。{after}",
                         code="database_password")
    if "no password supplied" in low:
        return AuthError(f"团队数据库（{server}）要求用户「{user}」的密码，但没有提供密码。{after}",
                         code="database_password")
    if "pg_hba.conf" in low:
        return AuthError(f"数据库服务器 {server} 不允许本机以用户「{user}」连接数据库「{name}」"
                         f"（pg_hba.conf）：请数据库管理员放行。{after}", code="database_refused")
    if "database" in low and "does not exist" in low:
        return StoreError(f"数据库服务器 {server} 上没有数据库「{name}」：请数据库管理员先建立"
                          f"（CREATE DATABASE），或检查地址中的数据库名。{after}", code="database_missing")
    if "role" in low and "does not exist" in low:
        return AuthError(f"数据库服务器 {server} 上没有用户「{user}」。{after}", code="database_password")
    if "ssl negotiation" in low or "closed the connection unexpectedly" in low or "invalid response" in low:
        return NetworkError(f"{server} 上不是 PostgreSQL 数据库服务器（{reason}）。请检查地址和端口。"
                            f"{after}", code="database_not_postgres")
    return NetworkError(f"无法连接团队数据库服务器 {server}：{reason}。请检查地址、端口、网络和防火墙。"
                        f"{after}", code="database_unreachable")


NOTHING_SAVED = "什么都没有保存。"
NOTHING_CHANGED = "当前数据没有被修改，仍使用原来的数据位置。"


def open_store(home: Path, url: str | None, after: str = "") -> Store:
    """A migrated store on ``url`` (PostgreSQL, checked first) or on the SQLite file in ``home``."""
    if url:
        check_connection(url, after)
    return Store(home, url)


# -- use ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    engine: str  # "sqlite" or "postgres"
    location: str  # the file, or the URL without password
    schema_version: int
    migrated: tuple[int, ...]  # steps applied now (a new database gets them all)
    password: str  # where it is kept: "keyring", "memory" or "" (none needed / none given)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "location": self.location, "schema_version": self.schema_version,
                "migrated": list(self.migrated), "password": self.password, "notes": list(self.notes)}


def _report(store: Store, before: int, password: str, notes: tuple[str, ...] = ()) -> Report:
    version = store.schema_version
    return Report(store.dialect, store.location, version, tuple(range(before + 1, version + 1)),
                  password, notes)


@contextmanager
def _aside(home: Path, url: str | None) -> Iterator[Store]:
    """A store opened only to check and migrate a location, closed afterwards. Opening a
    store binds the models to it: they go back to the running client's store (the settings
    page saves a location while the client keeps working on the current one)."""
    before = database_proxy.obj
    try:
        store = Store(home, url)
    finally:
        if before is not None:
            database_proxy.initialize(before)
    try:
        yield store
    finally:
        store.close()
        if before is not None:
            database_proxy.initialize(before)


def use(settings: Settings, url: str, *, password: str | None = None) -> Report:
    """Test the PostgreSQL database at ``url``, open (and migrate) it, then keep it as this
    desk's data location: the URL without password in settings.json, the password in the
    keyring. Nothing is stored when any step fails."""
    bare, in_url = parse(url)
    secret = in_url if in_url is not None else password
    if secret is None:
        secret = recall_password(bare)  # the same database again: its password is known
    if secret:
        logs.register_secret(secret)
    full = with_password(bare, secret)
    before = check_connection(full, NOTHING_SAVED)
    with _aside(settings.path.parent, full) as store:
        kept, notes = "", ()
        if secret:
            kept = remember_password(bare, secret)
            notes = (MSG_NO_KEYRING,) if kept == "memory" else ()
        settings.update({SETTING: bare})
        report = _report(store, before, kept, notes)
    log.info("data location: %s (schema %s)", bare, report.schema_version)
    return report


def use_sqlite(settings: Settings) -> Report:
    """Back to the SQLite file in the data directory (opened, migrated, checked)."""
    from client.core import store as store_mod

    home = settings.path.parent
    path = home / store_mod.DB_FILE
    before = store_mod.inspect_version(path) if path.exists() and path.stat().st_size else 0
    with _aside(home, None) as store:
        report = _report(store, before, "")
    settings.update({SETTING: ""})
    log.info("data location: SQLite in %s", home)
    return report
