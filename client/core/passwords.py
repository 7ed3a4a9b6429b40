"""Password rules, salted hashes and the OS keyring.

- The declaration password (申报密码) belongs to the tax side; locally we keep at most a
  salted scrypt hash of the last accepted one (offline entry) and, if the operator asks,
  the password itself in the OS keyring. Never in clear in a file or the database.
- The local login password (登录密码) locks the client itself; only its hash is stored.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from client.core.models import LocalCredential
from client.core.store import Store
from client.errors import AuthError, ValidationError

log = logging.getLogger(__name__)

MIN_LENGTH = 8
MAX_LENGTH = 32
# scrypt cost: about 50 ms on a desktop; enough to make guessing a stolen hash slow.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
LOGIN_PASSWORD = "login_password"
KEYRING_SERVICE = "socialfee-declaration-password"


def check_new_password(
    new: str,
    confirm: str,
    *,
    old: str | None = None,
    label: str = "新密码",
    field: str = "new_password",
) -> None:
    """The rules for a new password (also the tax side's): 8-32 printable ASCII
    characters with letters and digits, typed twice, different from the old one."""
    if not new:
        raise ValidationError(f"请输入{label}", field=field)
    if not all(33 <= ord(c) <= 126 for c in new):
        raise ValidationError(f"{label}只能包含英文字母、数字和英文符号，不能有空格或中文", field=field)
    if not MIN_LENGTH <= len(new) <= MAX_LENGTH:
        raise ValidationError(f"{label}长度应为{MIN_LENGTH}-{MAX_LENGTH}位", field=field)
    if not (any(c.isalpha() for c in new) and any(c.isdigit() for c in new)):
        raise ValidationError(f"{label}必须同时包含字母和数字", field=field)
    if old is not None and new == old:
        raise ValidationError(f"{label}不能与原密码（或初始密码）相同", field=field)
    if confirm != new:
        raise ValidationError("两次输入的新密码不一致", field="confirm_password")


# -- salted hashes -------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        log.warning("unreadable password hash")
        return False
    return hmac.compare_digest(actual, expected)


# -- local login password (登录密码设置) -------------------------------------------------------
def login_password_set() -> bool:
    return LocalCredential.get_or_none(LocalCredential.name == LOGIN_PASSWORD) is not None


def verify_login_password(password: str) -> bool:
    row = LocalCredential.get_or_none(LocalCredential.name == LOGIN_PASSWORD)
    return row is not None and verify_password(password, row.hash)


def set_login_password(store: Store, old: str, new: str, confirm: str) -> None:
    """Set or change the local login password; the old one is required when one exists."""
    if login_password_set() and not verify_login_password(old):
        raise AuthError("原登录密码不正确", code="wrong_login_password", field="old_password")
    check_new_password(new, confirm, old=old or None, label="新登录密码")
    now = dt.datetime.now().isoformat(timespec="seconds")
    with store.write():
        # An upsert both engines take (PostgreSQL has no INSERT OR REPLACE).
        LocalCredential.insert(name=LOGIN_PASSWORD, hash=hash_password(new), updated_at=now).on_conflict(
            conflict_target=[LocalCredential.name], preserve=[LocalCredential.hash, LocalCredential.updated_at]
        ).execute()


def clear_login_password(store: Store, old: str) -> None:
    if not login_password_set():
        return
    if not verify_login_password(old):
        raise AuthError("原登录密码不正确", code="wrong_login_password", field="old_password")
    with store.write():
        LocalCredential.delete().where(LocalCredential.name == LOGIN_PASSWORD).execute()


# -- OS keyring ------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyringStatus:
    available: bool
    reason: str  # why not, in Chinese; empty when available


def keyring_status() -> KeyringStatus:
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception as exc:  # any import or backend failure means no keyring
        return KeyringStatus(False, f"系统密码库不可用（{type(exc).__name__}），无法记住申报密码")
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return KeyringStatus(
            False,
            "本机没有可用的系统密码库（如 Windows 凭据管理器、macOS 钥匙串或 Secret Service），"
            "为安全起见不会以明文保存申报密码",
        )
    return KeyringStatus(True, "")


def remember_password(unit_id: str, password: str) -> None:
    import keyring

    keyring.set_password(KEYRING_SERVICE, unit_id, password)


def recall_password(unit_id: str) -> str | None:
    if not keyring_status().available:
        return None
    import keyring

    try:
        return keyring.get_password(KEYRING_SERVICE, unit_id)
    except Exception:  # a locked or broken keyring is the same as no saved password
        log.warning("keyring read failed for %s", unit_id)
        return None


def forget_password(unit_id: str) -> None:
    if not keyring_status().available:
        return
    import keyring

    with contextlib.suppress(Exception):  # nothing saved
        keyring.delete_password(KEYRING_SERVICE, unit_id)
