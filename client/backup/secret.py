"""The remembered backup password: in the OS keyring only, never in clear."""

from __future__ import annotations

import contextlib
import logging

from client.errors import ValidationError

log = logging.getLogger(__name__)

KEYRING_SERVICE, KEYRING_USER = "socialfee", "backup-password"


def keyring_problem() -> str | None:
    """None when a usable keyring backend exists, else why the password cannot be kept."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
            raise RuntimeError(type(backend).__name__)
    except Exception:
        return "本机没有可用的系统密钥环（keyring），无法记住备份密码；密码不会以明文保存，每次请手动输入。"
    return None


def remember_password(password: str) -> None:
    problem = keyring_problem()
    if problem:
        raise ValidationError(problem, field="remember", code="no_keyring")
    import keyring

    keyring.set_password(KEYRING_SERVICE, KEYRING_USER, password)


def remembered_password() -> str | None:
    if keyring_problem():
        return None
    import keyring

    try:
        return keyring.get_password(KEYRING_SERVICE, KEYRING_USER) or None
    except Exception:
        log.warning("keyring lookup failed", exc_info=True)
        return None


def forget_password() -> None:
    if keyring_problem():
        return
    import keyring
    from keyring.errors import PasswordDeleteError

    with contextlib.suppress(PasswordDeleteError):
        keyring.delete_password(KEYRING_SERVICE, KEYRING_USER)
