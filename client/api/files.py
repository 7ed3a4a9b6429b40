"""Sending generated files (exports, templates, error reports) to the page."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from flask import after_this_request, send_file
from flask.typing import ResponseReturnValue

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def send_xlsx(write: Callable[[Path], object], name: str, *, stamp: bool = True) -> ResponseReturnValue:
    """Write to a temporary file (exports can be large), send it, then remove it."""
    folder = Path(tempfile.mkdtemp(prefix="sf-export-"))
    target = folder / name
    try:
        write(target)
    except BaseException:  # a refused or failed export leaves no half-written file behind
        shutil.rmtree(folder, ignore_errors=True)
        raise

    @after_this_request
    def _cleanup(response):  # type: ignore[no-untyped-def]
        response.call_on_close(lambda: (target.unlink(missing_ok=True), folder.rmdir()))
        return response

    suffix = dt.datetime.now().strftime("%Y%m%d%H%M%S") if stamp else ""
    return send_file(target, mimetype=XLSX, as_attachment=True, download_name=f"{target.stem}{suffix}.xlsx")
