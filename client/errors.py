"""The one error tree of the client.

Every error the operator can meet is a ``SocialFeeError``: its ``message`` is Chinese text
for the operator, ``code`` a stable machine name, ``status`` the HTTP status the UI server
answers with, and optionally the ``field`` and ``row`` a bad input came from. The UI server
maps them to ``{"ok": false, "error": {"code", "message", "field", "row"}}`` in one place
(client/api/errors.py); the CLI prints ``message`` and exits non-zero.
"""

from __future__ import annotations

from typing import Any


class SocialFeeError(Exception):
    """Base of every error shown to the operator."""

    code = "error"
    status = 500
    kind = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.row = row

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field, "row": self.row}


class ValidationError(SocialFeeError):
    """Bad input from the operator: a form field, a file row, a command-line value."""

    code = "validation"
    status = 400
    kind = "validation"


class NotFoundError(SocialFeeError):
    code = "not_found"
    status = 404
    kind = "validation"


class AuthError(SocialFeeError):
    """Wrong or missing credentials: launch secret, declaration password, login password."""

    code = "auth"
    status = 403
    kind = "auth"


class ConflictError(SocialFeeError):
    """The request clashes with the current state (a job already running, a stale draft)."""

    code = "conflict"
    status = 409
    kind = "conflict"


class NetworkError(SocialFeeError):
    """The tax side could not be reached or answered in a way we cannot use."""

    code = "network"
    status = 502
    kind = "network"


class TaxSideRejection(SocialFeeError):
    """The tax side answered and said no (its own code and Chinese message are kept)."""

    code = "taxside_rejected"
    status = 422
    kind = "taxside"


class StoreError(SocialFeeError):
    """The local database cannot be used: corrupt, from a newer version, not writable."""

    code = "store"
    status = 500
    kind = "store"


class JobCancelled(SocialFeeError):
    code = "cancelled"
    status = 409
    kind = "conflict"

    def __init__(self, message: str = "任务已取消") -> None:
        super().__init__(message)
