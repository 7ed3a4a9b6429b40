from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from client.app import build_services
from tests.backup.helpers import add_unit, unit_names
from tests.conftest import REPO


def sf(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "client", "--home", str(home), "backup", *args],
        input=stdin, capture_output=True, text=True, timeout=120, env=env,
    )


def test_create_list_verify_restore(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_services(home).close()
    add_unit(home, "甲公司", "U1")
    made = sf(home, "create", "--to", str(tmp_path / "usb"), "--password-stdin", stdin="口令123\n")
    assert made.returncode == 0, made.stderr
    assert "备份完成" in made.stdout and "甲公司" in made.stdout
    (file,) = (tmp_path / "usb").glob("*.sfbak")
    assert sf(home, "create").returncode == 0
    listed = sf(home, "list")
    assert listed.returncode == 0 and "命令行备份" in listed.stdout

    wrong = sf(home, "verify", str(file), "--password-stdin", stdin="错\n")
    assert wrong.returncode == 1 and wrong.stderr.startswith("错误：备份密码不正确")
    ok = sf(home, "verify", str(file), "--password-stdin", stdin="口令123\n")
    assert ok.returncode == 0 and "校验通过" in ok.stdout

    add_unit(home, "乙公司", "U2")
    usage = sf(home, "restore", str(file), "--password-stdin", stdin="口令123\n")
    assert usage.returncode == 2
    declined = sf(home, "restore", str(tmp_path / "usb" / file.name), "--password-stdin", "--yes", stdin="x\n")
    assert declined.returncode == 1
    assert unit_names(home) == ["甲公司", "乙公司"]
    done = sf(home, "restore", str(file), "--password-stdin", "--yes", stdin="口令123\n")
    assert done.returncode == 0, done.stderr
    assert "恢复完成" in done.stdout and "安全备份" in done.stdout
    assert unit_names(home) == ["甲公司"]


def test_restore_asks_and_can_be_declined(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_services(home).close()
    add_unit(home, "甲公司", "U1")
    assert sf(home, "create").returncode == 0
    (file,) = (home / "backups").glob("*.sfbak")
    add_unit(home, "乙公司", "U2")
    answered = sf(home, "restore", str(file), stdin="n\n")
    assert answered.returncode == 1 and "已取消" in answered.stdout
    assert unit_names(home) == ["甲公司", "乙公司"]


def test_missing_file_and_usage(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = sf(home, "verify", str(tmp_path / "nope.sfbak"))
    assert missing.returncode == 1 and "找不到备份文件" in missing.stderr
    assert sf(home, "verify").returncode == 2
