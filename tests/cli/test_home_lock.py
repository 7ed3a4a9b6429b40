"""The data folder's one-writer lock (client/core/home_lock.py): who holds it, taken over
once free, dropped by the OS when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from client.cli_month_export import file_part
from client.core import home_lock


def wait_until(condition, timeout: float = 20) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    first = home_lock.hold(tmp_path, home_lock.DESKTOP)
    assert home_lock.try_hold(tmp_path, home_lock.CLI) is None
    with pytest.raises(home_lock.HomeInUse) as refused:
        home_lock.hold(tmp_path, home_lock.CLI)
    assert "客户端程序正在使用" in refused.value.message and f"进程 {os.getpid()}" in refused.value.message
    first.release()
    again = home_lock.hold(tmp_path, home_lock.CLI)
    assert home_lock.holder(tmp_path).program == home_lock.CLI
    again.release()
    again.release()  # twice is harmless


def test_the_desktop_client_takes_the_lock_once_free(tmp_path: Path) -> None:
    other = home_lock.hold(tmp_path, home_lock.CLI)
    kept = home_lock.keep_held(tmp_path, home_lock.DESKTOP)
    assert not kept.held
    other.release()
    assert wait_until(lambda: kept.held)
    assert home_lock.try_hold(tmp_path, home_lock.CLI) is None
    kept.release()
    assert wait_until(lambda: home_lock.try_hold(tmp_path, home_lock.CLI) is not None)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from client.core import home_lock; "
        "lock = home_lock.hold(Path(sys.argv[1]), 'desktop'); print('held', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(home_lock.HomeInUse):
            home_lock.hold(tmp_path, home_lock.CLI)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    home_lock.hold(tmp_path, home_lock.CLI).release()


def test_unit_ids_in_file_names_are_tame() -> None:
    assert file_part("U000001") == "U000001"
    assert "/" not in file_part("../../etc/passwd") and "\\" not in file_part("..\\x")
    assert file_part("") == "unit"
