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
from pathlib import Path
from typing import Any

from client import __version__, logs
from client.api import home_wait
from client.api import upgrade as upgrade_api
from client.api.server import UIServer
from client.backup import service as backup_service
from client.core import db_location, home_lock, network, upgrade
from client.core.jobs import JobRunner
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
    # Refuses corrupt or newer databases before writing anything; a team database that
    # cannot be reached is named in Chinese (wrong password, server down, ...).
    store = db_location.open_store(folder, db_location.resolve(settings))
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


class _Serving:
    """The UI server and its housekeeping, on a folder whose lock is ours."""

    def __init__(self, services: Services, port: int, lock: home_lock.HomeLock | home_lock.KeptLock) -> None:
        self.services, self._lock = services, lock
        try:
            self.server = start_server(services, port)
        except BaseException:
            services.close()
            lock.release()
            raise
        self._periodic = backup_service.PeriodicBackup(services)
        self._periodic.start()
        self._scheduler = SyncScheduler(services)
        self._scheduler.start()
        upgrade_api.after_start(self.services, self.server)  # "started ok" for the launcher, then the check

    def stop(self) -> None:
        self.server.stop()
        self._scheduler.stop()
        self._periodic.stop()
        backup_service.backup_on_exit(self.services)
        self.services.close()
        self._lock.release()
        log.info("socialfee stopped")


def _shown_mode(mode: str, echo: Callable[[str], None]) -> str:
    if mode == "window":
        reason = gui_available()
        if reason is not None:
            echo(f"{reason}，改为仅启动服务（--headless）。")
            return "headless"
    return mode


def run(
    services: Services,
    *,
    mode: str = "window",
    port: int = 0,
    echo: Callable[[str], None] = print,
    lock: home_lock.HomeLock | None = None,
    waiting: home_wait.WaitPage | None = None,
) -> None:
    """Serve the UI and show it; blocks until the window closes or the process is stopped.

    ``lock`` is the folder's lock when the caller took it (``launch``); without it the folder
    is marked as in use here, taken over once free. ``waiting`` is a shown waiting page
    (browser mode) that moves on to the UI instead of a second browser tab."""
    serving = _Serving(services, port, lock or home_lock.keep_held(services.home, home_lock.DESKTOP))
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _on_signal)
    try:
        mode = _shown_mode(mode, echo)
        if mode == "window":
            open_window(serving.server.launch_url)
            return
        if waiting is not None:
            waiting.ready(serving.server.launch_url)
        elif mode == "browser":
            webbrowser.open(serving.server.launch_url)
            echo("已在系统浏览器中打开 socialfee。按 Ctrl-C 退出。")
        echo(f"URL: {serving.server.launch_url}")
        sys.stdout.flush()
        while not stop.wait(0.5) and not upgrade.restart_requested():
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if waiting is not None:
            waiting.stop()
        serving.stop()


def launch(
    home: str | os.PathLike[str] | None,
    *,
    mode: str = "window",
    port: int = 0,
    echo: Callable[[str], None] = print,
) -> None:
    """`socialfee run`: take the data folder's lock before opening anything in it.

    While the command line or another desktop client holds the folder, nothing in it is
    opened (no database, no log, no backup): the window (or browser) shows who holds it
    and opens the UI by itself once it is free; headless, the same sentence is printed."""
    folder = prepare_home(resolve_home(home))
    lock = home_lock.try_hold(folder, home_lock.DESKTOP)
    if lock is not None:
        run(build_services(folder), mode=mode, port=port, echo=echo, lock=lock)
        return
    mode = _shown_mode(mode, echo)
    echo(home_wait.holder_text(folder))
    sys.stdout.flush()
    page = home_wait.WaitPage(folder).start()
    if mode == "window":
        _launch_in_window(folder, page, port)
        return
    if mode == "browser":
        webbrowser.open(page.url)
        echo(f"等待页面：{page.url}")
        sys.stdout.flush()
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: page.quit())
    try:
        lock = page.wait_for_lock()
    except KeyboardInterrupt:
        lock = None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if lock is None:
        page.stop()
        return
    try:
        services = build_services(folder)
    except BaseException:
        lock.release()
        page.stop()
        raise
    run(services, mode=mode, port=port, echo=echo, lock=lock, waiting=page if mode == "browser" else None)
    page.stop()


def _launch_in_window(folder: Path, page: home_wait.WaitPage, port: int) -> None:
    """The window opens on the waiting page; a worker waits for the folder, then serves."""
    started: list[_Serving] = []

    def work() -> None:
        lock = page.wait_for_lock()
        if lock is None:
            _close_windows()
            return
        try:
            services = build_services(folder)
            started.append(_Serving(services, port, lock))
        except SocialFeeError as exc:
            lock.release()
            page.failed(exc.message)
            return
        if page.quit_requested:  # the window closed meanwhile
            return
        page.ready(started[0].server.launch_url)

    worker = threading.Thread(target=work, name="home-wait-worker", daemon=True)
    worker.start()
    try:
        open_window(page.url)
    finally:
        page.quit()
        worker.join(timeout=120)
        page.stop()
        for serving in started:
            serving.stop()


def _close_windows() -> None:
    import webview

    for window in list(webview.windows):
        window.destroy()
