"""The frozen build, made once per test session (or reused from dist/ when its sources are
unchanged), and helpers to run it as an operator would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.core.network import TAXSIDE_ENV
from client.core.upgrade_install import ROOT_ENV
from installer import build as freezer
from tests.conftest import REPO


@pytest.fixture(scope="session")
def frozen() -> freezer.Build:
    """The onedir build in dist/ (SOCIALFEE_FROZEN_DIST elsewhere); frozen when stale."""
    dist = Path(os.environ.get("SOCIALFEE_FROZEN_DIST") or REPO / "dist")
    done = freezer.build(dist)
    if not done.reused:
        # The CI budget: how long freezing takes on this machine, in the test log.
        print(f"\nfrozen build: {done.seconds:.1f} s into {done.folder}")
    return done


@dataclass
class Running:
    proc: subprocess.Popen[str]
    lines: list[str]

    @property
    def url(self) -> str:
        return self.lines[-1][5:].strip()

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as the operator stops it; the exit code and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return code, self.proc.stderr.read() if self.proc.stderr else ""


def closed_loopback_url() -> str:
    """A loopback address nothing listens on: the release's business server stays out of
    reach (the start's update check must not leave this machine); the demo sets its own."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def start(
    executable: Path, *args: str, timeout: float = 90, home: Path | None = None,
    env: dict[str, str] | None = None,
) -> Running:
    """Start the program and read stdout up to its ``URL:`` line; ``home``: the data
    directory through SOCIALFEE_HOME (for starts without arguments); ``env``: more variables."""
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": "", TAXSIDE_ENV: closed_loopback_url(),
           **(env or {})}
    env.pop("SOCIALFEE_HOME", None)
    env.pop(ROOT_ENV, None)  # never inherited: it tells the program its launcher started it
    if home is not None:
        env["SOCIALFEE_HOME"] = str(home)
    proc = subprocess.Popen(
        [str(executable), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=executable.parent.parent,  # not the repo: nothing may come from the source tree
    )
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("URL: "):
            return Running(proc, lines)
    proc.kill()
    err = proc.stderr.read() if proc.stderr else ""
    raise AssertionError(f"no URL line from {executable.name} {' '.join(args)}:\n{lines}\n{err}")


@pytest.fixture
def launched() -> Iterator[list[Running]]:
    """Processes a test started; stopped (and killed if need be) afterwards."""
    started: list[Running] = []
    yield started
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait(timeout=10)
