"""Upgrades (manual 3.3 日常升级 / 手工升级): check, download, back up, install, restart.

- At start, and from 关于 > 检查更新, the client reads the signed manifest
  (client/core/upgrade_manifest.py). Reading is not updating: it always happens, so a
  release's ``min_version`` is known; what happens next is the 升级方式 setting:
  ``auto`` downloads and applies at once (manual 3.3.1), ``notify`` only says a new
  version exists, ``manual`` waits for 关于 > 升级 (corporate PCs that forbid self-updating
  programs).
- 升级 is one job: download (resumable, up to three attempts on a broken line), a backup
  (升级之前), install beside the running version, point the launcher at it on trial, ask
  the process to end; the launcher (client/core/upgrade_launcher.py) starts the new version
  and takes it back if it does not say "started ok" in time.
- The verified manifest is remembered in ``<data dir>/updates/state.json``; a minimum
  version above this one blocks declaring and paying (``require_supported``, called by
  client/core/journal.py where every submission is written).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from client import __version__
from client.core import upgrade_download, upgrade_install
from client.core.jobs import JobContext, JobInfo, JobRunner
from client.core.upgrade_manifest import (
    Manifest,
    UpgradeRefused,
    below_minimum,
    refuse_downgrade,
    state_path,
)
from client.errors import NetworkError, SocialFeeError
from client.settings import Settings

log = logging.getLogger(__name__)

JOB_KIND = "upgrade"
MODES = {"auto": "自动升级", "notify": "有新版本时提示", "manual": "只手动升级"}
DOWNLOAD_ATTEMPTS = 3
MSG_NOT_INSTALLED = (
    "安装包已下载并通过校验，但当前程序不是由安装版的启动器运行的（开发环境），"
    "无法自动替换，请用安装程序安装新版本")

_restart = threading.Event()


def restart_requested() -> bool:
    return _restart.is_set()


def request_restart() -> None:
    """End this process so the launcher starts the version it now points at."""
    _restart.set()
    webview = sys.modules.get("webview")
    if webview is not None:  # the window's loop ends when its windows are gone
        for window in list(getattr(webview, "windows", [])):
            try:
                window.destroy()
            except Exception:  # a window already closing
                log.debug("window destroy failed", exc_info=True)


@dataclass(frozen=True)
class UpgradeStatus:
    current: str
    mode: str
    mode_label: str
    checked_at: str
    latest: dict[str, Any] | None  # the verified manifest
    available: bool  # a newer version than this one
    min_version: str
    blocked: bool  # this version is below the minimum
    error: str  # the last check's failure, in Chinese
    installed: bool  # started by the launcher: 升级 can replace the program
    rollback: dict[str, Any] | None  # why the last new version was taken back
    job: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class UpgradeService:
    def __init__(self, home: Path, settings: Settings, jobs: JobRunner,
                 backup: Callable[[str], Any]) -> None:
        self.home, self.settings, self.jobs, self.backup = home, settings, jobs, backup

    # -- state ---------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return upgrade_install.read_json(state_path(self.home)) or {}

    def _remember(self, **fields: Any) -> None:
        upgrade_download.updates_dir(self.home)
        upgrade_install.write_json(state_path(self.home), {**self._state(), **fields})

    def status(self) -> UpgradeStatus:
        state = self._state()
        latest = state.get("manifest") if isinstance(state.get("manifest"), dict) else None
        min_version = str(state.get("min_version") or "")
        mode = self.settings.get("upgrade_mode")
        jobs = self.jobs.find(kind=JOB_KIND)
        return UpgradeStatus(
            __version__, mode, MODES.get(mode, mode), str(state.get("checked_at", "")), latest,
            # Against this version, not the one that checked: after an upgrade the old
            # check's "newer" is this very version.
            bool(latest) and below_minimum(str(latest.get("version", ""))), min_version,
            below_minimum(min_version),
            str(state.get("error", "")), upgrade_install.install_root() is not None,
            upgrade_install.read_rollback(upgrade_install.install_root()),
            jobs[0].to_dict() if jobs else None,
        )

    # -- check ---------------------------------------------------------------------------------
    def check(self) -> Manifest | None:
        """Read and verify the newest release; refuse a downgrade. Only a verified manifest
        is remembered; a refused one leaves its reason for the 关于 page."""
        checked_at = upgrade_install._now()
        try:
            manifest = upgrade_download.fetch_manifest(self.settings)
            available = refuse_downgrade(manifest) if manifest else False
        except SocialFeeError as exc:
            self._remember(checked_at=checked_at, error=exc.message)
            raise
        self._remember(checked_at=checked_at, error="", available=available,
                       manifest=manifest.to_dict() if manifest else None,
                       min_version=manifest.min_version if manifest else "")
        return manifest if available else None

    # -- upgrade -------------------------------------------------------------------------------
    def start(self) -> JobInfo:
        return self.jobs.start(JOB_KIND, "升级客户端", self._run)

    def _run(self, ctx: JobContext) -> dict[str, Any]:
        ctx.progress(0, 100, "正在检查更新…")
        manifest = self.check()
        if manifest is None:
            return {"upgraded": False, "message": f"当前版本 {__version__} 已是最新版本"}
        downloaded = self.fetch(manifest, ctx)
        root = upgrade_install.install_root()
        if root is None:
            raise UpgradeRefused(MSG_NOT_INSTALLED, code="upgrade_not_installed")
        ctx.progress(96, 100, "正在备份数据（升级之前）…")
        self.backup(f"升级到 {manifest.version} 之前")
        ctx.progress(97, 100, f"正在安装版本 {manifest.version}…")
        upgrade_install.install(root, manifest.version, downloaded.path)
        upgrade_install.switch_to(root, manifest.version, __version__)
        log.info("upgrade to %s installed; restarting", manifest.version)
        ctx.progress(100, 100, f"版本 {manifest.version} 已安装，正在重新启动…")
        request_restart()
        return {"upgraded": True, "version": manifest.version,
                "message": f"版本 {manifest.version} 已安装，程序正在重新启动"}

    def fetch(self, manifest: Manifest, ctx: JobContext | None = None) -> upgrade_download.Downloaded:
        """Download and check the package; a broken line resumes where it stopped."""
        def progress(done: int, total: int) -> None:
            if ctx is not None:
                ctx.progress(int(done * 95 / total), 100,
                             f"正在下载版本 {manifest.version}（{done * 100 // total}%，共 {manifest.size_text}）")

        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                return upgrade_download.download(self.settings, self.home, manifest, progress)
            except NetworkError as exc:
                if attempt == DOWNLOAD_ATTEMPTS or exc.code not in ("network_dropped", "network_timeout"):
                    raise
                if ctx is not None:
                    ctx.progress(0, 100, "网络中断，正在从断点继续下载…")
        raise AssertionError("unreachable")

    # -- at start ------------------------------------------------------------------------------
    def on_start(self) -> None:
        """After the first page answered: read the manifest; in ``auto`` mode upgrade."""
        upgrade_download.prune_downloads(self.home, __version__)
        try:
            manifest = self.check()
        except SocialFeeError as exc:
            log.warning("upgrade check at start: %s", exc.message)
            return
        if manifest is None or self.settings.get("upgrade_mode") != "auto":
            return
        rollback = upgrade_install.read_rollback(upgrade_install.install_root())
        if rollback and rollback.get("failed") == manifest.version:
            log.warning("version %s was rolled back before: not upgrading automatically", manifest.version)
            return
        if upgrade_install.install_root() is None:
            return  # a checkout: nothing to replace
        try:
            self.start()
        except SocialFeeError as exc:
            log.warning("upgrade at start not started: %s", exc.message)
