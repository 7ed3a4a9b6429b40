"""Applying an upgrade for real: the launcher starts the installed version, the client
downloads, backs up, installs the new version beside itself and asks to be restarted,
the launcher starts the new one and waits for its "started ok"; a new version that cannot
start is taken back and the old one starts again, showing why. Real processes, real
packages (wheels of this tree), the live reference tax side."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client import __version__
from client.backup import service as backup_service
from client.core import upgrade, upgrade_install
from client.core.upgrade import UpgradeService
from client.settings import Settings
from tests.taxside_fixtures import LiveTaxSide
from tests.upgrade.conftest import publish

WAIT = 120  # a guard against hanging, not a time being measured


def wait_for(what: Callable[[], object], message: str, proc: subprocess.Popen[bytes] | None = None) -> object:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"launcher ended ({proc.returncode}) before: {message}")
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting: {message}")


@pytest.fixture
def root(tmp_path: Path, packages: dict[str, Path]) -> Path:
    """An install root holding this version, as the installer leaves it."""
    folder = tmp_path / "install"
    upgrade_install.install(folder, __version__, packages[__version__])
    upgrade_install.write_pointer(folder, __version__, "", "ok")
    return folder


@pytest.fixture
def launch(root: Path, home: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "client.core.upgrade_launcher", "--root", str(root),
               "--health-seconds", "60", "--", "--home", str(home), "run", "--headless"]
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(autouse=True)
def _no_restart_left() -> Iterator[None]:
    yield
    upgrade._restart.clear()  # an in-process upgrade asked this test process to restart


def healthy(root: Path, version: str) -> bool:
    """A client of ``version`` said "started ok" and is running now."""
    for marker in (root / "run").glob("*.ok"):
        data = upgrade_install.read_json(marker)
        if data and data.get("version") == version:
            return True
    return False


def test_good_upgrade_restarts_into_the_new_version(
        taxside: LiveTaxSide, release_key: Ed25519PrivateKey, packages: dict[str, Path],
        root: Path, home: Path, launch: Callable[[], subprocess.Popen[bytes]]) -> None:
    Settings(home).update({"taxside_url": taxside.url, "upgrade_mode": "auto"})
    publish(taxside, packages["0.2.0"], "0.2.0", release_key, notes="新版本")
    (root / "versions" / "0.0.5" / "client").mkdir(parents=True)  # left by an old install
    proc = launch()
    pointer = wait_for(lambda: (p := upgrade_install.read_pointer(root)) and p.version == "0.2.0"
                       and p.state == "ok" and p, "the launcher confirms 0.2.0", proc)
    assert pointer.previous == __version__  # the old version stays installed beside it
    assert healthy(root, "0.2.0")
    assert sorted(os.listdir(root / "versions")) == [__version__, "0.2.0"]  # 0.0.5 removed
    assert (root / "versions" / "0.2.0" / "client" / "__init__.py").read_text().count('"0.2.0"') == 1
    # Downloaded into the data dir, checked, and a backup made before applying.
    # The package went to the data dir; the new version, once started, removed it.
    log = (home / "logs" / "socialfee.log").read_text(encoding="utf-8")
    assert "upgrade to 0.2.0 installed" in log
    wait_for(lambda: not list((home / "updates").glob("*.whl*")), "0.2.0 removes the installed package", proc)
    reasons = [(b.reason, b.app_version) for b in backup_service.list_backups(home / "backups")]
    assert ("升级到 0.2.0 之前", __version__) in reasons  # made by the old version, before applying
    assert not (root / "rollback.json").exists()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0  # the launcher ends with its client


def test_failed_start_rolls_back_with_the_reason(
        taxside: LiveTaxSide, release_key: Ed25519PrivateKey, packages: dict[str, Path],
        root: Path, home: Path, upgrader: UpgradeService, monkeypatch: pytest.MonkeyPatch,
        launch: Callable[[], subprocess.Popen[bytes]]) -> None:
    upgrader.settings.update({"upgrade_mode": "auto"})
    monkeypatch.setenv(upgrade_install.ROOT_ENV, str(root))  # as if the launcher had started us
    publish(taxside, packages["0.3.0"], "0.3.0", release_key)
    job = upgrader.start()
    while (info := upgrader.jobs.get(job.id)).active:
        time.sleep(0.05)
    assert info.state == "succeeded", info.error
    assert info.result["version"] == "0.3.0" and upgrade.restart_requested()
    assert upgrader.backups == ["升级到 0.3.0 之前"]
    pointer = upgrade_install.read_pointer(root)
    assert (pointer.version, pointer.previous, pointer.state) == ("0.3.0", __version__, "trial")
    # The launcher starts 0.3.0, which ends before its first page: back to this version.
    proc = launch()
    wait_for(lambda: healthy(root, __version__), "the old version runs again", proc)
    pointer = upgrade_install.read_pointer(root)
    assert (pointer.version, pointer.state) == (__version__, "ok")
    note = json.loads((root / "rollback.json").read_text(encoding="utf-8"))
    assert note["failed"] == "0.3.0" and note["restored"] == __version__
    assert note["reason"] == "新版本 0.3.0 启动失败（程序退出，退出码 3）"
    # The old version shows why, and does not try the same version again by itself.
    status = upgrader.status()
    assert status.rollback["reason"] == note["reason"] and status.installed
    log = home / "logs" / "socialfee.log"
    wait_for(lambda: log.exists() and "0.3.0 was rolled back before" in log.read_text(encoding="utf-8"),
             "the restored client declines 0.3.0 at its start", proc)
    assert upgrade_install.read_pointer(root).version == __version__


def hostile(path: Path, name: str, *, link: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("client/__init__.py", '__version__ = "0.4.0"\n')
        info = zipfile.ZipInfo(name)
        if link:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd" if link else "x")
    return path


@pytest.mark.parametrize("name, link, reason", [
    ("../outside.py", False, "文件名「../outside.py」不合规"),
    ("/abs/evil.py", False, "文件名「/abs/evil.py」不合规"),
    ("client/C:evil.py", False, "不合规"),
    ("client/nul.py", False, "不合规"),
    ("client/link.py", True, "符号链接"),
])
def test_install_refuses_hostile_packages(root: Path, tmp_path: Path, name: str, link: bool, reason: str) -> None:
    with pytest.raises(upgrade.UpgradeRefused) as err:
        upgrade_install.install(root, "0.4.0", hostile(tmp_path / "p.whl", name, link=link))
    assert reason in err.value.message
    assert not (tmp_path / "outside.py").exists() and not (root / "outside.py").exists()
    assert os.listdir(root / "versions") == [__version__]  # no staging folder left


def test_install_refuses_a_package_of_another_version(root: Path, packages: dict[str, Path]) -> None:
    with pytest.raises(upgrade.UpgradeRefused) as err:
        upgrade_install.install(root, "0.4.0", packages["0.2.0"])
    assert "版本号与版本信息（0.4.0）不一致" in err.value.message
    assert not (root / "versions" / "0.4.0").exists()
    assert os.listdir(root / "versions") == [__version__]


def test_launcher_gives_up_on_a_start_that_never_answers(tmp_path: Path) -> None:
    """No "started ok" within the limit (a hung start), or one of the wrong version."""
    from client.core.upgrade_launcher import wait_healthy

    hung = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        reason = wait_healthy(hung, tmp_path / "never.ok", "0.3.0", 0.5)
    finally:
        hung.kill()
        hung.wait()
    assert reason == "新版本 0.3.0 在 0.5 秒内未能正常启动"
    marker = tmp_path / "wrong.ok"
    upgrade_install.write_json(marker, {"version": "0.1.0", "pid": 1})
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert "报告的版本号为 0.1.0" in wait_healthy(alive, marker, "0.3.0", 30)
    finally:
        alive.kill()
        alive.wait()
