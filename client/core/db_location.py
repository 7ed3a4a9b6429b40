"""Where the data live: the SQLite file in the data directory (default) or a PostgreSQL
database named by a connection URL (team mode).

settings.json keeps the URL without its password (``database_url``); the password is in
the OS keyring under the redacted URL, never in settings.json in clear.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit, urlunsplit

from client.errors import ValidationError

KEYRING_SERVICE = "socialfee-database"
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
