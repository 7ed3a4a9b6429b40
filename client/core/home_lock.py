"""One writer per data folder: the desktop client and the command line mark their use of it.

The mark is an OS lock on ``socialfee.lock`` in the data folder (flock on POSIX, a byte
lock on Windows), held for as long as the process works on the folder. The OS drops it
when the process ends however it ends, so a crash never leaves a stale lock behind; the
file's text (who, which process, since when) is only there to name the holder in messages.

`socialfee run` (client/app.py ``launch``) takes the lock before it opens anything in the
folder; while the command line or another desktop client holds it, the window shows who
(client/api/home_wait.py) and the client opens once the folder is free. ``keep_held`` is
left for callers that already opened the folder (``demo``). The command line's monthly
routine (client/cli_month.py) refuses to touch the folder while anyone holds it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from client.errors import ConflictError

log = logging.getLogger(__name__)

LOCK_FILE = "socialfee.lock"
DESKTOP, CLI = "desktop", "cli"
PROGRAM_LABELS = {DESKTOP: "客户端程序", CLI: "命令行"}
# Windows locks a byte range that blocks reads too: lock a byte past the text, so the text
# naming the holder stays readable.
_WIN_OFFSET = 1 << 20


class HomeInUse(ConflictError):
    code = "home_in_use"


@dataclass(frozen=True)
class Holder:
    program: str
    pid: int
    since: str

    @property
    def label(self) -> str:
        return PROGRAM_LABELS.get(self.program, self.program or "另一个 socialfee 进程")


class HomeLock:
    """A held lock; ``release`` (or the process ending) gives it back."""

    def __init__(self, path: Path, handle: IO[Any]) -> None:
        self.path, self._handle = path, handle

    def release(self) -> None:
        if self._handle.closed:
            return
        try:
            _unlock(self._handle)
        finally:
            self._handle.close()

    def __enter__(self) -> HomeLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _lock(handle: IO[Any]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(_WIN_OFFSET)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(handle: IO[Any]) -> None:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(_WIN_OFFSET)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def holder(home: Path) -> Holder | None:
    """Who wrote the lock file last (the holder, when the lock is held); None if unreadable."""
    try:
        data = json.loads((home / LOCK_FILE).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    return Holder(str(data.get("program") or ""), pid if isinstance(pid, int) else 0, str(data.get("since") or ""))


def try_hold(home: Path, program: str) -> HomeLock | None:
    """Take the folder's lock for ``program``; None when another process holds it."""
    path = home / LOCK_FILE
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held open for the lock's life)
    if not _lock(handle):
        handle.close()
        return None
    # Ours now: say who holds it (the text is rewritten, the lock stays on the open file).
    handle.seek(0)
    handle.truncate()
    since = dt.datetime.now().isoformat(sep=" ", timespec="seconds")
    handle.write(json.dumps({"program": program, "pid": os.getpid(), "since": since}))
    handle.flush()
    return HomeLock(path, handle)


class KeptLock:
    """The desktop client's hold: taken now if free, else as soon as the holder lets go
    (an upgrade's old process still exiting, a command-line run finishing)."""

    RETRY_S = 0.5

    def __init__(self, home: Path, program: str) -> None:
        self._home, self._program = home, program
        self._stop = threading.Event()
        self._held = try_hold(home, program)
        self._thread: threading.Thread | None = None
        if self._held is None:
            log.warning("data folder %s is held by another process; taking it when it is free", home)
            self._thread = threading.Thread(target=self._wait, name="home-lock", daemon=True)
            self._thread.start()

    @property
    def held(self) -> bool:
        return self._held is not None

    def _wait(self) -> None:
        while not self._stop.wait(self.RETRY_S):
            held = try_hold(self._home, self._program)
            if held is not None:
                self._held = held
                if self._stop.is_set():  # released meanwhile
                    held.release()
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._held is not None:
            self._held.release()


def keep_held(home: Path, program: str) -> KeptLock:
    return KeptLock(home, program)


def hold(home: Path, program: str) -> HomeLock:
    """Take the lock or raise HomeInUse naming who holds the folder."""
    held = try_hold(home, program)
    if held is not None:
        return held
    who = holder(home)
    name = who.label if who else "另一个 socialfee 进程"
    detail = f"（进程 {who.pid}，自 {who.since} 起）" if who and who.pid else ""
    raise HomeInUse(
        f"{name}正在使用数据目录 {home}{detail}。同一数据目录同时只能由一个程序写入："
        f"请先退出{name}再运行命令行，或用 --home 指定其他数据目录。"
    )
