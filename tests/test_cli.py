"""The command line as an operator meets it: real processes, real exit codes."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from client import __version__
from client.core.store import DB_FILE

SOCIALFEE = [sys.executable, "-m", "client"]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SOCIALFEE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def assert_clean_failure(result: subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode != 0
    assert needle in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def start_headless(home: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    proc = subprocess.Popen(
        [*SOCIALFEE, "--home", str(home), "run", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("URL: "):
            return proc, line[5:].strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"no URL line: {proc.stderr.read()}")


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"socialfee {__version__}"


def test_unknown_option_is_a_clear_chinese_error() -> None:
    result = run_cli("run", "--frobnicate")
    assert result.returncode == 2
    assert_clean_failure(result, "未知的选项 --frobnicate")


def test_corrupt_database_is_refused_and_not_modified(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = home / DB_FILE
    db.write_bytes(os.urandom(8192))
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    result = run_cli("--home", str(home), "run", "--headless")
    assert_clean_failure(result, "损坏")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_home_that_cannot_be_a_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    result = run_cli("--home", str(blocker / "inner"), "run", "--headless")
    assert_clean_failure(result, "数据目录不可用")


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("--home", str(tmp_path / "h"), "run", "--headless", "--port", str(port))
    assert_clean_failure(result, f"端口 {port} 已被占用")


def test_headless_prints_one_url_line_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    proc, url = start_headless(tmp_path / "home", "--headless")
    assert url.startswith("http://127.0.0.1:") and "?key=" in url
    response = httpx.get(url, follow_redirects=True, timeout=10)
    assert response.status_code == 200
    assert "注册登录" in response.text  # no unit logged in yet: the login wizard
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    assert "Traceback" not in proc.stderr.read()
    # Closed cleanly: the WAL was folded back into the database file.
    wal = tmp_path / "home" / f"{DB_FILE}-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_sigterm_also_stops_cleanly(tmp_path: Path) -> None:
    proc, _url = start_headless(tmp_path / "home", "--headless")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="display detection is X11/Wayland")
def test_run_without_display_falls_back_to_headless(tmp_path: Path) -> None:
    proc, url = start_headless(tmp_path / "home")  # no --headless, no DISPLAY
    try:
        assert url.startswith("http://127.0.0.1:")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_what_the_ui_reported_saved_survives_sigkill(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc, url = start_headless(home, "--headless")
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        html = client.get(url).text
        marker = 'name="csrf-token" content="'
        token = html.split(marker, 1)[1].split('"', 1)[0]
        base = url.split("/?", 1)[0]
        for _ in range(5):
            response = client.post(base + "/api/system/check", headers={"X-CSRF-Token": token})
            assert response.status_code == 202  # reported as started and logged
            job = response.json()["job"]["id"]
            while client.get(f"{base}/api/jobs/{job}").json()["job"]["state"] == "running":
                time.sleep(0.02)
    proc.kill()  # no clean shutdown: the WAL is left behind as after a power cut
    proc.wait(10)
    import sqlite3

    conn = sqlite3.connect(home / DB_FILE)
    (count,) = conn.execute("SELECT count(*) FROM audit_log WHERE action = '检查本地数据'").fetchone()
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert count == 5
