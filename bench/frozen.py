"""Start-up of the frozen program (PyInstaller onedir, installer/build.py).

FIGURE frozen_startup: the frozen Linux build, `socialfee run --headless` from process
start until its first page answers (median of the rounds); target < 2 s. Floor, measured
in the same run and alternated with it round by round: the unfrozen
`python -m client run --headless` to its first page. Each start has a fresh data
directory (the first start of an install: the database is created and migrated).
FIGURE freeze: how long PyInstaller took, when this run had to freeze (the CI budget).
Run from the repo root: .venv/bin/python bench/frozen.py [--rounds N] [--force-build]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import figure  # noqa: E402
from client.core.network import TAXSIDE_ENV  # noqa: E402
from installer import build as freezer  # noqa: E402

TARGET_SECONDS = 2.0


def closed_loopback_url() -> str:
    """Where nothing listens: the start's update check stays on this machine, fails fast."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def first_page(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``cmd`` to the 200 of the first page its URL line names."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        while True:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line:
                raise RuntimeError(f"no URL line: {proc.stderr.read() if proc.stderr else ''}")
            if line.startswith("URL: "):
                break
        with httpx.Client(follow_redirects=True, trust_env=False, timeout=30) as client:
            client.get(line[5:].strip()).raise_for_status()
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--force-build", action="store_true", help="freeze again even if fresh")
    args = parser.parse_args()

    done = freezer.build(ROOT / "dist", force=args.force_build)
    if not done.reused:
        figure("freeze", done.seconds, "s")
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": "", TAXSIDE_ENV: closed_loopback_url()}
    env.pop("SOCIALFEE_HOME", None)
    frozen_cmd = [str(done.executable)]
    source_cmd = [sys.executable, "-m", "client"]
    frozen_times: list[float] = []
    source_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="sf-bench-frozen-") as tmp:
        # One start of each first: the OS file cache holds both programs, as on a used PC.
        for cmd in (frozen_cmd, source_cmd):
            first_page([*cmd, "--home", f"{tmp}/warm-{len(cmd)}", "run", "--headless"], env)
        for n in range(args.rounds):
            for cmd, times in ((frozen_cmd, frozen_times), (source_cmd, source_times)):
                home = f"{tmp}/{len(cmd)}-{n}"
                times.append(first_page([*cmd, "--home", home, "run", "--headless"], env))
    value, floor = statistics.median(frozen_times), statistics.median(source_times)
    figure("frozen_startup", value, "s", floor)
    if value >= TARGET_SECONDS:
        print(f"frozen_startup {value:.3f} s is over the {TARGET_SECONDS} s target", file=sys.stderr)


if __name__ == "__main__":
    main()
