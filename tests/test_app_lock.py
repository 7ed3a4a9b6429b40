"""One writer per data folder, seen from the desktop client: real `socialfee run` processes
started while another process holds the folder open nothing in it until the folder is free."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from client.api import home_wait
from client.app import build_services
from client.core import home_lock
from client.core.store import DB_FILE

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/fd")

SOCIALFEE = [sys.executable, "-m", "client"]
HOLDER = (
    "import sys, time; from pathlib import Path; from client.core import home_lock; "
    "lock = home_lock.hold(Path(sys.argv[1]), sys.argv[2]); print('held', flush=True); time.sleep(120)"
)


def prepared_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    build_services(home).close()  # a real database exists, as on an operator's PC
    return home


def start_holder(home: Path, program: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(home), program], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def start_client(home: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [*SOCIALFEE, "--home", str(home), "run", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": "", **(env or {})},
    )


def read_until(proc: subprocess.Popen, prefix: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen.append(line)
        if line.startswith(prefix):
            return line.strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"no line {prefix!r}: {''.join(seen)} {proc.stderr.read()}")


def opened_files(pid: int) -> set[str]:
    fd_dir = Path(f"/proc/{pid}/fd")
    found = set()
    for fd in fd_dir.iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            found.add(os.readlink(fd))
    return found


def touches_data(pid: int, home: Path) -> bool:
    """Whether the process holds anything in the folder open but the lock file."""
    lock = str(home / home_lock.LOCK_FILE)
    return any(path.startswith(str(home)) and path != lock for path in opened_files(pid))


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def database_state(home: Path) -> tuple[int, int, bool]:
    db = home / DB_FILE
    return db.stat().st_mtime_ns, db.stat().st_size, (home / f"{DB_FILE}-wal").exists()


def test_the_client_waits_for_the_command_line_without_opening_the_data(tmp_path: Path) -> None:
    home = prepared_home(tmp_path)
    before = database_state(home)
    holder = start_holder(home, home_lock.CLI)
    client = start_client(home, "--headless")
    try:
        line = read_until(client, "命令行正在处理本机数据")
        assert f"进程 {holder.pid}" in line and "开始于" in line and "完成后将自动打开" in line
        # Waits well past the point it would have opened the database, yet nothing in the folder is open.
        for _ in range(6):
            time.sleep(0.5)
            assert client.poll() is None
            assert not touches_data(client.pid, home)
        assert database_state(home) == before
    finally:
        holder.kill()
        holder.wait()
    try:
        url = read_until(client, "URL: ")[5:]
        assert httpx.get(url, timeout=10, follow_redirects=True).status_code == 200
        assert any(path == str(home / DB_FILE) for path in opened_files(client.pid))
        assert home_lock.holder(home).program == home_lock.DESKTOP
        assert home_lock.try_hold(home, home_lock.CLI) is None  # the client now holds the folder
    finally:
        stop(client)
    assert client.returncode == 0, client.stderr.read()


def test_a_second_desktop_client_waits_for_the_first(tmp_path: Path) -> None:
    home = prepared_home(tmp_path)
    first = start_client(home, "--headless")
    second = None
    try:
        read_until(first, "URL: ")
        second = start_client(home, "--headless")
        line = read_until(second, "本机已有一个客户端程序在使用这些数据")
        assert f"进程 {first.pid}" in line
        for _ in range(4):
            time.sleep(0.5)
            assert second.poll() is None and not touches_data(second.pid, home)
        stop(first)
        url = read_until(second, "URL: ")[5:]
        assert httpx.get(url, timeout=10, follow_redirects=True).status_code == 200
        assert home_lock.holder(home).pid == second.pid
    finally:
        stop(first)
        if second is not None:
            stop(second)


def test_the_waiting_page_names_the_holder_and_quit_ends_the_client(tmp_path: Path) -> None:
    home = prepared_home(tmp_path)
    before = database_state(home)
    holder = start_holder(home, home_lock.CLI)
    # Browser mode opens the waiting page; BROWSER=true makes "opening" it a no-op.
    client = start_client(home, "--browser", env={"BROWSER": "true"})
    try:
        url = read_until(client, "等待页面：").split("：", 1)[1]
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200
        assert f"命令行正在处理本机数据（进程 {holder.pid}，开始于" in page.text
        assert re.search(r'<button[^>]*id="wait-quit"[^>]*>退出</button>', page.text)
        assert "script-src 'nonce-" in page.headers["content-security-policy"]
        state = httpx.get(url + "state", timeout=10).json()
        assert state["state"] == "waiting" and f"进程 {holder.pid}" in state["holder"]
        base = url.rsplit("/", 2)[0]
        assert httpx.get(base + "/state", timeout=10).status_code == 404  # no token, nothing
        assert httpx.post(base + "/quit", timeout=10).status_code == 404
        assert client.poll() is None
        assert httpx.post(url + "quit", timeout=10).status_code == 200
        assert client.wait(timeout=30) == 0
        assert database_state(home) == before
    finally:
        holder.kill()
        holder.wait()
        stop(client)
    assert "URL: " not in client.stdout.read()


def test_the_waiting_page_moves_on_once_the_folder_is_free(tmp_path: Path) -> None:
    holder = home_lock.hold(tmp_path, home_lock.DESKTOP)
    page = home_wait.WaitPage(tmp_path).start()
    try:
        assert "本机已有一个客户端程序" in page.state()["holder"]
        assert httpx.get(page.url, headers={"Host": "evil.example"}, timeout=10).status_code == 404
        holder.release()
        lock = page.wait_for_lock()
        assert lock is not None and home_lock.try_hold(tmp_path, home_lock.CLI) is None
        page.ready("http://127.0.0.1:1/?key=k")
        assert httpx.get(page.url + "state", timeout=10).json() == {"state": "ready", "url": "http://127.0.0.1:1/?key=k"}
        lock.release()
    finally:
        page.stop()
