"""Smoke test of the real pywebview window (Qt backend) on a virtual X screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def xvfb() -> Iterator[str]:
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is missing: ./dev.sh test installs it")
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not start"
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


def test_window_shows_the_app_and_closes_cleanly(xvfb: str, tmp_path: Path) -> None:
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run(
        [sys.executable, "-m", "tests.gui.window_probe", str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    # A fresh data directory opens on the login wizard.
    assert "TITLE: 注册登录 - socialfee 单位社保费管理客户端" in lines, result.stdout
    assert "HEADING: 注册登录" in lines
    # The window fetched the page's own style sheet and scripts (CSP allows 'self').
    assets = next(line for line in lines if line.startswith("ASSETS:"))
    assert "/static/css/app.css" in assets and "/static/js/app.js" in assets, assets
    assert "DOWNLOADS: True" in lines  # else exports vanish in the window
    assert lines[-1] == "CLOSED"


def test_window_waits_for_the_command_line_then_opens(xvfb: str, tmp_path: Path) -> None:
    """While the command line holds the data folder, the window shows who and opens nothing
    in it; once the command line is done, the same window moves on to the client."""
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run(
        [sys.executable, "-m", "tests.gui.wait_probe", str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    echo = next(line for line in lines if line.startswith("ECHO: 命令行正在处理本机数据"))
    assert "（进程 " in echo and "开始于" in echo, result.stdout
    waiting = next(line for line in lines if line.startswith("WAITING:"))
    assert "命令行正在处理本机数据（进程 " in waiting and "完成后将自动打开" in waiting, result.stdout
    assert "OPEN WHILE WAITING: nothing" in lines and "DB UNCHANGED: True" in lines, result.stdout
    # The window left the waiting page for the client's own first page (the login wizard).
    assert "TITLE: 注册登录 - socialfee 单位社保费管理客户端" in lines, result.stdout
    assert "HOLDER NOW: desktop" in lines
    assert lines[-1] == "CLOSED"
