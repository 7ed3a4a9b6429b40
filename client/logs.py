"""The rotating log file in the data directory, which never holds a secret.

A filter on the handler masks every registered secret (launch key, tokens, passwords the
process has seen) and anything shaped like a credential (``password=...``, bearer tokens,
``key=`` in URLs) before a record is written.
"""

from __future__ import annotations

import logging
import re
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_DIR = "logs"
LOG_FILE = "socialfee.log"
MASK = "***"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()

_PATTERNS = (
    re.compile(r"(?i)(authorization[\"']?\s*[=:]\s*[\"']?(?:bearer\s+|basic\s+)?)[^\s\"',;}]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)((?:password|passwd|pwd|token|secret|key|csrf[_-]?token)[\"']?\s*[=:]\s*[\"']?)"
        r"[^\s&\"',;}]+"
    ),
    re.compile(r"(://[^:/\s@]+:)[^@\s/]+(?=@)"),  # user:password@ in proxy URLs
)


def register_secret(value: str) -> None:
    """Mask this exact value wherever it would be logged (e.g. the launch key)."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def setup_logging(home: Path, level: str = "INFO") -> Path:
    """Send the root logger to ``<home>/logs/socialfee.log`` (1 MB x 5); returns the path."""
    folder = home / LOG_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_socialfee", False):
            root.removeHandler(handler)
            handler.close()
    handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    handler._socialfee = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # One line per UI request drowns what matters and slows every page.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return path
