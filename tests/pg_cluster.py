"""A throwaway PostgreSQL cluster for tests and benches: initdb + pg_ctl on a free port
under a temp folder, as the postgres user when we are root (the binaries refuse root).

``cluster()`` starts one per process and stops it at exit; ``fresh_url()`` gives a new
empty database on it. Where PostgreSQL is not installed, ``unavailable()`` says why
(tests skip with that reason; CI sets ``CI`` and then a missing server is an error).
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

PASSWORD = "team-Secret-2026"
_lock = threading.Lock()
_running: Cluster | None = None
_names = itertools.count(1)


def bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and Path(found).resolve().parent.joinpath("initdb").exists():
        return Path(found).resolve().parent
    for path in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(path, "initdb").exists():
            return Path(path)
    return None


def unavailable() -> str | None:
    if bindir() is None:
        return "未安装 PostgreSQL（需要 initdb 和 pg_ctl；Debian: apt-get install postgresql）"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "未安装 psycopg"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "以 root 运行但没有 runuser，无法以 postgres 用户启动数据库"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self) -> None:
        self.bin = bindir()
        assert self.bin is not None, unavailable()
        self.root = Path(tempfile.mkdtemp(prefix="socialfee-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres", "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._as_root:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--no-locale",
                  "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}")
        # A throwaway cluster: durability settings off for speed (the client's own code
        # does not rely on them; production servers keep theirs).
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o", options, "start")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def url(self, dbname: str = "postgres", password: bool = True) -> str:
        auth = f"postgres:{PASSWORD}" if password else "postgres"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def cluster() -> Cluster:
    global _running
    with _lock:
        if _running is None:
            _running = Cluster()
            atexit.register(_running.stop)
        return _running


def fresh_url() -> str:
    """A new empty database on this process's cluster (with the password in the URL)."""
    c = cluster()
    return c.url(c.create_database())
