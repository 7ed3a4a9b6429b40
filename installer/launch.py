"""Entry point of the frozen program (PyInstaller runs this file as ``__main__``).

Three things differ from ``python -m client``:

- ``socialfee -m client.core.sheets N``: the client starts helper children with
  ``[sys.executable, "-m", module, ...]``; frozen, ``sys.executable`` is this program, so
  the few modules that serve as children run here (an allow-list, not a Python shell).
- No arguments: the desktop shortcut and a double click start the client (``run``).
- The Windows build is a windowed program without a console: stdout and stderr are None
  there, so they go to os.devnull instead of failing on the first print.
"""

from __future__ import annotations

import os
import runpy
import sys

# Modules the client runs as programs of their own: the xls/ods reader child
# (client/core/sheets.py read_isolated) and the upgrade launcher (client/core/upgrade_launcher.py).
CHILD_MODULES = frozenset({"client.core.sheets", "client.core.upgrade_launcher"})


def _streams() -> None:
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def main() -> None:
    _streams()
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "-m":
        module = args[1]
        if module not in CHILD_MODULES:
            print(f"错误：不支持的模块 {module}", file=sys.stderr)
            sys.exit(2)
        sys.argv = [sys.argv[0], *args[2:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return
    from client.cli import main as cli_main

    cli_main(args or ["run"])


if __name__ == "__main__":
    main()
