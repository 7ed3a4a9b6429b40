"""Entry point of the frozen program (PyInstaller runs this file as ``__main__``).

What differs from ``python -m client``:

- ``socialfee -m client.core.sheets N``: the client starts helper children with
  ``[sys.executable, "-m", module, ...]``; frozen, ``sys.executable`` is this program, so
  the few modules that serve as children run here (an allow-list, not a Python shell).
- No arguments: the desktop shortcut and a double click start the client (``run``).
- Inside an install root (``<root>/versions/<v>/socialfee`` beside ``<root>/current.json``,
  installer/README.md) and not started by the launcher, ``run`` becomes the upgrade
  launcher for that root (client/core/upgrade_launcher.py): it starts the version the
  pointer names with the root in its environment, so 升级 can replace the program. Other
  commands (``--version``, ``backup``, ...) run as they are: a launcher would mistake a
  command that ends at once for a new version that failed to start.
- The Windows build is a windowed program without a console: stdout and stderr are None
  there. Output goes nowhere, but the last of stderr is kept, and a start that fails (a
  damaged database, a port in use, no WebView2) ends in a message box that says why,
  instead of a program that silently does not open.
"""

from __future__ import annotations

import io
import os
import runpy
import sys
from collections.abc import Mapping
from pathlib import Path

# Modules the client runs as programs of their own: the xls/ods reader child
# (client/core/sheets.py read_isolated) and the upgrade launcher (client/core/upgrade_launcher.py).
CHILD_MODULES = frozenset({"client.core.sheets", "client.core.upgrade_launcher"})
TITLE = "单位社保费管理客户端"
KEEP_CHARS = 4000  # of stderr, for the message box; a long session must not grow it


class Tail(io.TextIOBase):
    """A text stream that keeps only its last ``limit`` characters."""

    def __init__(self, limit: int = KEEP_CHARS) -> None:
        self.limit = limit
        self.text = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.text = (self.text + s)[-self.limit :]
        return len(s)


def show_error(text: str) -> None:
    """A message box on Windows (the windowed program has nowhere else to say it)."""
    if sys.platform == "win32":
        import ctypes

        ctypes.windll.user32.MessageBoxW(None, text, TITLE, 0x10)  # MB_ICONERROR


def _windowed_streams() -> Tail | None:
    """stdout to os.devnull and stderr to a Tail when there is no console; else None."""
    if sys.stdout is not None and sys.stderr is not None:
        return None
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    tail = Tail()
    sys.stderr = tail
    return tail


def command_name(args: list[str]) -> str:
    """The subcommand (``run`` when there is none), or "" for ``--version`` / ``--help``."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--home":
            skip = True
        elif not arg.startswith("--home="):
            return "" if arg.startswith("-") else arg
    return "run"


def launcher_root(program: Path, env: Mapping[str, str]) -> Path | None:
    """The install root this program lies in, when it was not started by its launcher."""
    from client.core.upgrade_install import POINTER, ROOT_ENV, VERSIONS

    if env.get(ROOT_ENV, "").strip():
        return None  # the launcher started this one: be the client
    folder = program.resolve().parent
    root = folder.parent.parent
    if folder.parent.name != VERSIONS or not (root / POINTER).is_file():
        return None  # a build folder (dist/socialfee), not an installed copy
    return root


def main() -> None:
    tail = _windowed_streams()
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "-m":
        module = args[1]
        if module not in CHILD_MODULES:
            print(f"错误：不支持的模块 {module}", file=sys.stderr)
            sys.exit(2)
        sys.argv = [sys.argv[0], *args[2:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return
    root = launcher_root(Path(sys.executable), os.environ) if getattr(sys, "frozen", False) else None
    if root is not None and command_name(args) == "run":
        from client.core import upgrade_launcher

        code = upgrade_launcher.main(["--root", str(root), "--", *(args or ["run"])])
        # Only what the launcher itself said: a client that failed showed its own box.
        if code and tail is not None and tail.text.strip():
            show_error(tail.text.strip())
        sys.exit(code)
    from client.cli import main as cli_main

    try:
        cli_main(args or ["run"])
    except SystemExit as exc:
        if tail is not None and exc.code not in (0, None):
            show_error(tail.text.strip() or f"{TITLE}意外退出（代码 {exc.code}）。")
        raise
    except Exception as exc:
        if tail is None:
            raise
        show_error(f"{TITLE}启动失败：{type(exc).__name__}: {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
