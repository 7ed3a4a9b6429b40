"""关于 > 检查更新 / 升级 (manual 3.3.2), and what happens once the UI answers after a start.

Thin views over client/core/upgrade.py. ``after_start`` is called by client/app.py once
the UI server listens: it fetches the first page itself; when that answers, it writes
the "started ok" marker the launcher waits for (a new version on trial), then reads the
manifest (and, in automatic mode, upgrades).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from client import __version__
from client.api.context import services
from client.core import audit, upgrade_install
from client.core.upgrade import MODES
from client.errors import ValidationError

if TYPE_CHECKING:
    from client.api.server import UIServer
    from client.services import Services

log = logging.getLogger(__name__)

bp = Blueprint("upgrade", __name__, url_prefix="/api/upgrade")


@bp.get("")
def status() -> ResponseReturnValue:
    return jsonify({"ok": True, "upgrade": services().upgrade.status().to_dict(),
                    "modes": [{"value": k, "label": v} for k, v in MODES.items()]})


@bp.post("/check")
def check() -> ResponseReturnValue:
    """检查更新: a refused manifest is an error answer with its reason."""
    svc = services()
    svc.upgrade.check()
    return jsonify({"ok": True, "upgrade": svc.upgrade.status().to_dict()})


@bp.post("/start")
def start() -> ResponseReturnValue:
    """升级: download, back up, install and restart, as a job the page follows."""
    svc = services()
    job = svc.upgrade.start()
    audit.record(svc.store, "升级客户端", f"从版本 {__version__} 开始升级")
    return jsonify({"ok": True, "job": job.to_dict()})


@bp.post("/mode")
def set_mode() -> ResponseReturnValue:
    body: Any = request.get_json(silent=True)
    mode = body.get("upgrade_mode") if isinstance(body, dict) else None
    if mode not in MODES:
        raise ValidationError("升级方式只能是：自动升级、有新版本时提示、只手动升级", field="upgrade_mode")
    svc = services()
    svc.settings.update({"upgrade_mode": mode})
    audit.record(svc.store, "修改升级方式", MODES[mode])
    return jsonify({"ok": True, "upgrade": svc.upgrade.status().to_dict()})


# -- after a start --------------------------------------------------------------------------------
def report_started(server: UIServer, timeout: float = 60.0) -> bool:
    """Fetch the first page as the window would; when it answers, write the marker."""
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, trust_env=False) as http:
            ok = http.get(server.launch_url).status_code == 200
    except httpx.HTTPError as exc:
        log.warning("first page did not answer: %s", exc)
        return False
    marker = os.environ.get(upgrade_install.HEALTH_ENV, "").strip()
    if ok and marker:
        upgrade_install.write_json(
            Path(marker), {"version": __version__, "pid": os.getpid()})
    return ok


def after_start(svc: Services, server: UIServer) -> threading.Thread:
    def work() -> None:
        if report_started(server):
            svc.upgrade.on_start()

    thread = threading.Thread(target=work, name="upgrade-start", daemon=True)
    thread.start()
    return thread
