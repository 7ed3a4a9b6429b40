from __future__ import annotations

import os
from pathlib import Path

import pytest

from client import settings as settings_mod
from client.errors import StoreError, ValidationError
from client.settings import SETTINGS, Settings, prepare_home, resolve_home


def test_every_setting_is_documented() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    for s in SETTINGS:
        assert s.label.strip(), s.name
        assert len(s.help.strip()) >= 8, f"setting {s.name} has no help text"


def test_home_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(settings_mod.HOME_ENV, str(tmp_path / "env"))
    assert resolve_home(tmp_path / "explicit") == (tmp_path / "explicit").resolve()
    assert resolve_home(None) == (tmp_path / "env").resolve()
    monkeypatch.delenv(settings_mod.HOME_ENV)
    assert resolve_home(None).name == "socialfee"


@pytest.mark.skipif(
    os.geteuid() == 0 if hasattr(os, "geteuid") else False, reason="root can write anywhere"
)
def test_unwritable_home_is_a_clear_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(StoreError, match="数据目录不可用"):
        prepare_home(locked / "inner")


def test_home_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="数据目录不可用"):
        prepare_home(blocker)


def test_settings_round_trip_and_validation(tmp_path: Path) -> None:
    s = Settings(tmp_path)
    assert s.get("page_size") == 50
    s.update({"page_size": "100", "proxy_host": " 127.0.0.1 ", "proxy_port": "1080"})
    again = Settings(tmp_path)
    assert again.get("page_size") == 100
    assert (again.get("proxy_host"), again.get("proxy_port")) == ("127.0.0.1", 1080)
    with pytest.raises(ValidationError) as info:
        again.update({"page_size": "abc"})
    assert info.value.field == "page_size"
    with pytest.raises(ValidationError, match="不能大于"):
        again.update({"page_size": 100000})
    with pytest.raises(ValidationError, match="未知的设置项"):
        again.update({"nope": 1})
    assert Settings(tmp_path).get("page_size") == 100  # failed updates changed nothing


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("proxy_mode", "socks4", "只能是"),
        ("proxy_host", "http://10.0.0.1", "只能填写主机名"),
        ("proxy_host", "10.0.0.1:8080", "只能填写主机名"),
        ("proxy_host", "u:p@10.0.0.1", "只能填写主机名"),
        ("proxy_port", "99999", "不能大于"),
        ("proxy_port", "abc", "必须是整数"),
    ],
)
def test_unusable_proxy_is_refused_when_saved(tmp_path: Path, name: str, value: str, message: str) -> None:
    s = Settings(tmp_path)
    with pytest.raises(ValidationError, match=message) as info:
        s.update({name: value})
    assert info.value.field == name and Settings(tmp_path).get(name) == s.get(name)
    s.update({"proxy_mode": "https", "proxy_host": "proxy.example.com", "proxy_port": 3128})  # usable ones are kept


def test_damaged_settings_file_falls_back_to_defaults(tmp_path: Path) -> None:
    (tmp_path / settings_mod.SETTINGS_FILE).write_text("{not json")
    assert Settings(tmp_path).get("page_size") == 50
