"""Run by tests/gui/test_window.py in its own process: `socialfee run`'s window while the
command line holds the data folder.

A child process holds the folder's lock as the command line does. ``launch`` opens the real
window; the probe watches what the window asks for: the waiting page's state polls (and
that nothing in the folder is open meanwhile), then, once the holder is gone, the UI
server's first page. It then closes the window.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from flask import Response

from client import app
from client.api import home_wait
from client.core import home_lock
from client.core.store import DB_FILE

HOLDER = (
    "import sys, time; from pathlib import Path; from client.core import home_lock; "
    "lock = home_lock.hold(Path(sys.argv[1]), 'cli'); print('held', flush=True); time.sleep(120)"
)


def open_in_folder(home: Path) -> list[str]:
    lock = str(home / home_lock.LOCK_FILE)
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(home)) and target != lock:
            found.append(target)
    return found


def main(home_arg: str) -> None:
    home = Path(home_arg)
    # An existing data folder with its database, made by another process (this one must
    # hold nothing in it open).
    subprocess.run([sys.executable, "-c", "import sys; from client.app import build_services; "
                    "build_services(sys.argv[1]).close()", str(home)], check=True)
    db_before = (home / DB_FILE).stat().st_mtime_ns
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(home)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    polls: list[str] = []
    served: list[tuple[int, str]] = []
    original_state = home_wait.WaitPage.state

    def state(self: home_wait.WaitPage) -> dict[str, str]:
        found = original_state(self)
        polls.append(found.get("holder", found["state"]))
        return found

    home_wait.WaitPage.state = state  # type: ignore[method-assign]
    original_start = app.start_server

    def start_server(services: Any, port: int = 0) -> Any:
        server = original_start(services, port)

        @server.app.after_request
        def _record(response: Response) -> Response:
            if response.mimetype == "text/html":
                served.append((response.status_code, response.get_data(as_text=True)))
            return response

        return server

    app.start_server = start_server  # type: ignore[assignment]

    def watch() -> None:
        deadline = time.monotonic() + 90
        while len(polls) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        print("WAITING:", polls[0] if polls else "", flush=True)
        print("OPEN WHILE WAITING:", " ".join(open_in_folder(home)) or "nothing", flush=True)
        print("DB UNCHANGED:", (home / DB_FILE).stat().st_mtime_ns == db_before, flush=True)
        holder.kill()  # the command line is done
        holder.wait()
        while not any(status == 200 for status, _ in served) and time.monotonic() < deadline:
            time.sleep(0.1)
        page = next((html for status, html in served if status == 200), "")
        title = re.search(r"<title>(.*?)</title>", page, re.S)
        print("TITLE:", " ".join(title.group(1).split()) if title else "", flush=True)
        print("HOLDER NOW:", home_lock.holder(home).program if home_lock.holder(home) else "", flush=True)
        import webview

        for window in list(webview.windows):
            window.destroy()

    threading.Thread(target=watch, daemon=True).start()
    app.launch(home, mode="window", echo=lambda text: print("ECHO:", text, flush=True))
    print("CLOSED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
