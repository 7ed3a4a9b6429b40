"""The launcher: starts the version ``current.json`` points at, and takes a failed new one back.

    python -m client.core.upgrade_launcher --root <install root> [--health-seconds 60] -- run

It stays as the parent of the client. When the client has installed a new version and
pointed ``current.json`` at it on trial (client/core/upgrade.py), the client exits and
the launcher starts the new one, then waits for its "started ok" marker (written once
its first page answers). No marker within ``--health-seconds``, or the process ends
first: the new one is stopped, the pointer goes back to the old version, the reason is
written to ``rollback.json`` for the old version to show, and the old version starts.
Only one version ever runs at a time (the 网票 client's lesson: two versions fighting).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from client import __version__
from client.core.upgrade_install import (
    HEALTH_ENV,
    PROGRAMS,
    ROLLBACK,
    ROOT_ENV,
    Pointer,
    prune,
    read_json,
    read_pointer,
    version_dir,
    write_pointer,
    write_rollback,
)

DEFAULT_HEALTH_SECONDS = 60.0
_child: subprocess.Popen[bytes] | None = None
_stopping = False  # SIGTERM / Ctrl-C: the child was asked to stop, that is no failed start


def command(folder: Path, args: list[str]) -> list[str]:
    # Frozen, this launcher is the installed program itself (installer/launch.py): start
    # the program of its own name, so socialfee-cli.exe run keeps its console.
    own = (Path(sys.executable).name,) if getattr(sys, "frozen", False) else ()
    for name in (*own, *PROGRAMS):
        program = folder / name
        if program.is_file():
            return [str(program), *args]
    return [sys.executable, "-m", "client", *args]  # a pure-Python version (wheel)


def _start(root: Path, pointer: Pointer, args: list[str], health: Path) -> subprocess.Popen[bytes]:
    folder = version_dir(root, pointer.version)
    env = dict(os.environ, **{ROOT_ENV: str(root), HEALTH_ENV: str(health)})
    env.pop("PYTHONPATH", None)  # the version's own folder comes first (its cwd), nothing else
    # cwd is the version's folder: ``python -m client`` imports that version's code.
    return subprocess.Popen(command(folder, args), cwd=folder, env=env)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_healthy(proc: subprocess.Popen[bytes], health: Path, version: str, seconds: float) -> str:
    """"" when the new version said "started ok" in time; else why not, in Chinese."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        marker = read_json(health)
        if marker is not None:
            if marker.get("version") == version:
                return ""
            return f"新版本 {version} 启动后报告的版本号为 {marker.get('version')}，与安装的版本不一致"
        code = proc.poll()
        if code is not None:
            return f"新版本 {version} 启动失败（程序退出，退出码 {code}）"
        time.sleep(0.1)
    return f"新版本 {version} 在 {seconds:g} 秒内未能正常启动"


def supervise(root: Path, args: list[str], health_seconds: float = DEFAULT_HEALTH_SECONDS) -> int:
    global _child
    run_dir = root / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    while True:
        pointer = read_pointer(root)
        if pointer is None or not version_dir(root, pointer.version).is_dir():
            print(f"错误：{root} 中没有可启动的版本（current.json 缺失或损坏），请重新安装客户端", file=sys.stderr)
            return 1
        health = run_dir / f"{uuid.uuid4().hex}.ok"
        proc = _child = _start(root, pointer, args, health)
        if pointer.state == "trial":
            reason = wait_healthy(proc, health, pointer.version, health_seconds)
            if _stopping:
                _stop(proc)
                return proc.returncode or 0
            if reason:
                _stop(proc)
                back = pointer.previous
                if not back or not version_dir(root, back).is_dir():
                    print(f"错误：{reason}，且没有可恢复的旧版本", file=sys.stderr)
                    return 1
                write_rollback(root, pointer.version, back, reason)
                write_pointer(root, back, "", "ok")
                print(f"{reason}，已恢复为版本 {back}", file=sys.stderr)
                continue
            write_pointer(root, pointer.version, pointer.previous, "ok")
            # Never the folder this launcher runs from (the installed program is its own
            # launcher, installer/launch.py): Windows cannot delete a running program.
            prune(root, (pointer.version, pointer.previous, __version__))
            (root / ROLLBACK).unlink(missing_ok=True)  # an older failure is no news any more
        code = proc.wait()
        health.unlink(missing_ok=True)
        if _stopping:
            return code
        after = read_pointer(root)
        if after is not None and after.state == "trial" and after.version != pointer.version:
            continue  # the client installed a new version and asked to be restarted into it
        return code


def _forward(signum: int, _frame: object) -> None:
    global _stopping
    _stopping = True
    if _child is not None and _child.poll() is None:
        _child.terminate()  # SIGTERM on POSIX: the client stops its jobs and closes the database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="socialfee-launcher")
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--health-seconds", type=float, default=DEFAULT_HEALTH_SECONDS)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    return supervise(ns.root.resolve(), args or ["run"], ns.health_seconds)


if __name__ == "__main__":
    sys.exit(main())
