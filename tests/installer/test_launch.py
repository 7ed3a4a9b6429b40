"""installer/launch.py, the frozen program's entry point, run in this process: what the
windowed Windows program does when a start fails (it has no console to say it on)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from installer import launch


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    boxes: list[str] = []
    monkeypatch.setattr(launch, "show_error", boxes.append)
    old_umask = os.umask(0o022)
    os.umask(old_umask)
    yield boxes
    os.umask(old_umask)  # the CLI makes files private for its process: this is the test's


def blocked_home(tmp_path: Path) -> str:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    return str(blocker / "inner")


def test_windowed_start_that_fails_says_why_in_a_message_box(
    shown: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", None)  # as PyInstaller's windowed program has them
    monkeypatch.setattr(sys, "stderr", None)
    monkeypatch.setattr(sys, "argv", ["socialfee", "--home", blocked_home(tmp_path), "run"])
    with pytest.raises(SystemExit) as stopped:
        launch.main()
    assert stopped.value.code == 1
    (box,) = shown
    assert "数据目录不可用" in box  # the CLI's own Chinese message, not a traceback
    assert "Traceback" not in box


def test_console_start_that_fails_prints_and_shows_no_box(
    shown: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = sys.argv
    sys.argv = ["socialfee", "--home", blocked_home(tmp_path), "run", "--headless"]
    try:
        with pytest.raises(SystemExit) as stopped:
            launch.main()
    finally:
        sys.argv = original
    assert stopped.value.code == 1
    assert "数据目录不可用" in capsys.readouterr().err
    assert shown == []


def test_tail_keeps_only_the_last_characters() -> None:
    tail = launch.Tail(limit=10)
    for _ in range(1000):
        tail.write("一二三四五")
    tail.write("end")
    assert len(tail.text) == 10
    assert tail.text.endswith("end")


@pytest.mark.parametrize("args, name", [
    ([], "run"),
    (["run", "--headless"], "run"),
    (["--home", "run", "backup", "create"], "backup"),  # "run" here is the data folder
    (["--home=D:\\data", "run"], "run"),
    (["--home", "D:\\data"], "run"),
    (["--version"], ""),
    (["-h"], ""),
    (["demo", "--headless"], "demo"),
])
def test_command_name_sees_past_the_home_option(args: list[str], name: str) -> None:
    """Only ``run`` becomes the launcher: a command that ends at once must not look like a
    new version that failed to start."""
    assert launch.command_name(args) == name


def test_launcher_root_only_inside_an_install_root(tmp_path: Path) -> None:
    from client.core.upgrade_install import POINTER, ROOT_ENV

    program = tmp_path / "root" / "versions" / "0.1.0" / "socialfee"
    program.parent.mkdir(parents=True)
    program.write_bytes(b"")
    assert launch.launcher_root(program, {}) is None  # no current.json: not installed
    (tmp_path / "root" / POINTER).write_text("{}", encoding="utf-8")
    assert launch.launcher_root(program, {}) == (tmp_path / "root").resolve()
    assert launch.launcher_root(program, {ROOT_ENV: str(tmp_path / "root")}) is None  # the client
    build = tmp_path / "dist" / "socialfee" / "socialfee"
    build.parent.mkdir(parents=True)
    (tmp_path / "dist" / POINTER).write_text("{}", encoding="utf-8")
    assert launch.launcher_root(build, {}) is None  # a build folder is no versions/<v>/


def test_windowed_launcher_without_a_startable_version_says_so(
    shown: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed program started inside an install root whose pointer names a version
    that is not there: the launcher's own message, in the box."""
    from client.core.upgrade_install import ROOT_ENV, write_pointer

    root = tmp_path / "install"
    program = root / "versions" / "0.1.0" / "socialfee.exe"
    program.parent.mkdir(parents=True)
    program.write_bytes(b"")
    write_pointer(root, "0.2.0", "", "ok")  # versions/0.2.0 is missing
    monkeypatch.delenv(ROOT_ENV, raising=False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(program))
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    monkeypatch.setattr(sys, "argv", [str(program)])
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(SystemExit) as stopped:
            launch.main()
    finally:
        for sig, handler in handlers.items():  # the launcher takes them for its child
            signal.signal(sig, handler)
    assert stopped.value.code == 1
    (box,) = shown
    assert "没有可启动的版本" in box and "请重新安装客户端" in box
