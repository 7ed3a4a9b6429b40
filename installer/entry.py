"""The installed program's stable entry: ``<install dir>/socialfee(.exe)`` and ``socialfee-cli.exe``.

It starts the version ``current.json`` points at, ``versions/<version>/<same name>``, with
the same arguments, and ends with its exit code. That program sees it lies inside an
install root and, for ``run``, becomes the upgrade launcher (installer/launch.py), which
starts the client, waits for "started ok" and takes a failed new version back.

Why a separate, dumb program: an in-app upgrade replaces ``versions/<v>/`` but never the
file the shortcuts point at, so this one must not need changing when the client does. It
imports the standard library only (frozen on its own, a few MB) and knows nothing but
the pointer file; everything that may change lives in the versions it starts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

POINTER = "current.json"  # client/core/upgrade_install.py POINTER
VERSIONS = "versions"
TITLE = "单位社保费管理客户端"
_VERSION = re.compile(r"\d{1,4}(\.\d{1,4}){0,3}")  # upgrade_manifest.VERSION_RE: a name, never a path


def install_root() -> Path:
    here = sys.executable if getattr(sys, "frozen", False) else __file__
    return Path(here).resolve().parent


def target(root: Path, name: str) -> tuple[Path | None, str]:
    """The program to start, or None and why not (in Chinese)."""
    try:
        data = json.loads((root / POINTER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        return None, f"{root} 中的 {POINTER} 缺失或损坏"
    program = root / VERSIONS / version / name
    if not program.is_file():
        return None, f"找不到版本 {version} 的程序 {program}"
    return program, ""


def say(text: str) -> None:
    if sys.stderr is not None:
        print(f"错误：{text}", file=sys.stderr)
    elif sys.platform == "win32":  # the windowed entry has no console
        import ctypes

        ctypes.windll.user32.MessageBoxW(None, text, TITLE, 0x10)  # MB_ICONERROR


def main() -> int:
    root = install_root()
    program, why = target(root, Path(sys.executable).name if getattr(sys, "frozen", False) else "socialfee")
    if program is None:
        say(f"{why}。请运行安装程序，选择【修复】。")
        return 1
    args = [str(program), *sys.argv[1:]]
    if os.name == "posix":
        os.execv(args[0], args)  # signals and the exit code go straight to the program
    # Windows has no exec: wait, relaying the exit code; Ctrl-C reaches the whole console.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return subprocess.call(args)


if __name__ == "__main__":
    sys.exit(main())
