"""Composition root: settings -> store -> services -> Flask -> window.

``run`` serves the UI and shows it in one of three ways: the pywebview window (default),
the system browser (``--browser``) or nothing at all (``--headless``, for servers and
tests). However it ends (window closed, Ctrl-C, SIGTERM), jobs are stopped, the server
is closed and the database is checkpointed and closed.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import webbrowser
from collections.abc import Callable
from typing import Any

from client import __version__, logs
from client.api import upgrade as upgrade_api
from client.api.server import UIServer
from client.backup import service as backup_service
from client.core import home_lock, network, upgrade
from client.core.jobs import JobRunner
from client.core.store import Store
from client.errors import SocialFeeError
from client.services import Services
from client.settings import Settings, prepare_home, resolve_home
from client.sync.scheduler import SyncScheduler

log = logging.getLogger(__name__)

WINDOW_TITLE = "socialfee 单位社保费管理客户端"


def build_services(home: str | os.PathLike[str] | None = None) -> Services:
    folder = prepare_home(resolve_home(home))
    log_path = logs.setup_logging(folder)
    backup_service.recover(folder)  # finish or discard a restore that a crash interrupted
    settings = Settings(folder)
    # An earlier version's proxy_url (password in clear) goes to the keyring before any
    # backup copies settings.json.
    network.migrate(settings)
    backup_service.backup_before_migration(folder, settings)
    store = Store(folder)  # refuses corrupt or newer databases before writing anything
    # Each job gives its worker thread's SQLite connection back when it ends.
    jobs = JobRunner(on_finish=store.db.close)
    return Services(folder, settings, store, jobs, log_path)


class PortInUse(SocialFeeError):
    code = "port_in_use"


def start_server(services: Services, port: int = 0) -> UIServer:
    try:
        server = UIServer(services, port)
    except OSError as exc:
        raise PortInUse(
            f"端口 {port} 已被占用或不可用（{exc.strerror or exc}）。请换一个端口，"
            f"或不指定 --port 让程序自动选择。"
        ) from exc
    logs.register_secret(server.secret)
    server.start()
    log.info("socialfee %s serving on %s (data: %s)", __version__, server.base_url, services.home)
    return server


def has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_window(
    url: str, *, on_ready: Callable[[Any], None] | None = None, debug: bool = False
) -> None:
    """Show ``url`` in the pywebview window (Qt backend on Linux); returns when it closes."""
    if sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0:
        # QtWebEngine refuses to start its sandbox as root.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    import webview

    # Exports (xlsx, 缴款记录) are downloads: without this the window drops them silently;
    # with it the window asks where to save, as a browser does.
    webview.settings["ALLOW_DOWNLOADS"] = True
    window = webview.create_window(WINDOW_TITLE, url, width=1280, height=820, min_size=(960, 600))
    gui = "qt" if sys.platform.startswith("linux") else None
    args = (window,) if on_ready is not None else ()
    webview.start(on_ready, args, gui=gui, debug=debug, private_mode=False)


def gui_available() -> str | None:
    """None when the window can be shown, else the Chinese reason it cannot."""
    if not has_display():
        return "未检测到图形显示环境（DISPLAY 未设置）"
    try:
        import webview  # noqa: F401

        if sys.platform.startswith("linux"):
            import qtpy  # noqa: F401
            from qtpy import QtWebEngineWidgets  # noqa: F401
    except Exception as exc:  # any import failure means no window
        return f"未安装窗口组件（{exc.__class__.__name__}）：请安装 socialfee[gui]"
    return None


def run(
    services: Services,
    *,
    mode: str = "window",
    port: int = 0,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the UI and show it; blocks until the window closes or the process is stopped."""
    # Marks the folder as in use, so the command line's monthly routine stays out (one writer).
    folder_lock = home_lock.keep_held(services.home, home_lock.DESKTOP)
    server = start_server(services, port)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _on_signal)
    periodic = backup_service.PeriodicBackup(services)
    periodic.start()
    scheduler = SyncScheduler(services)
    scheduler.start()
    upgrade_api.after_start(services, server)  # "started ok" for the launcher, then the check
    try:
        if mode == "window":
            reason = gui_available()
            if reason is None:
                open_window(server.launch_url)
                return
            echo(f"{reason}，改为仅启动服务（--headless）。")
            mode = "headless"
        if mode == "browser":
            webbrowser.open(server.launch_url)
            echo("已在系统浏览器中打开 socialfee。按 Ctrl-C 退出。")
        echo(f"URL: {server.launch_url}")
        sys.stdout.flush()
        while not stop.wait(0.5) and not upgrade.restart_requested():
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
        scheduler.stop()
        periodic.stop()
        backup_service.backup_on_exit(services)
        services.close()
        folder_lock.release()
        log.info("socialfee stopped")
