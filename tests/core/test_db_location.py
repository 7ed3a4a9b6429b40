"""The data location setting (client/core/db_location.py): the URL without password in
settings.json, the password in the keyring, and ``use`` leaving the running client's
store alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.core import db_location
from client.core.models import database_proxy
from client.core.store import Store
from client.errors import StoreError, ValidationError
from client.settings import Settings
from tests import pg_cluster


@pytest.fixture(autouse=True)
def no_remembered_passwords() -> Iterator[None]:
    yield
    with db_location._memory_lock:
        db_location._memory.clear()


def test_the_setting_never_takes_a_password(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    with pytest.raises(ValidationError, match="不能包含密码"):
        settings.update({"database_url": "postgresql://clerk:secret@db.example.cn/socialfee"})
    saved = settings.update({"database_url": "postgres://clerk@db.example.cn:5433/socialfee"})
    assert saved["database_url"] == "postgresql://clerk@db.example.cn:5433/socialfee"
    assert db_location.resolve(settings) == "postgresql://clerk@db.example.cn:5433/socialfee"


def test_a_damaged_setting_is_refused_not_read_as_sqlite(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(
        json.dumps({"database_url": "postgresql://clerk:secret@db/socialfee"}), encoding="utf-8")
    with pytest.raises(StoreError, match="database_url") as refused:
        db_location.resolve(Settings(tmp_path))
    assert "socialfee db use" in refused.value.message
    (tmp_path / "settings.json").write_text(json.dumps({"database_url": 5}), encoding="utf-8")
    with pytest.raises(StoreError):
        db_location.resolve(Settings(tmp_path))
    (tmp_path / "settings.json").write_text(json.dumps({"database_url": ""}), encoding="utf-8")
    assert db_location.resolve(Settings(tmp_path)) is None


def test_resolve_adds_the_keyring_password(tmp_path: Path, memory_keyring: Any) -> None:
    settings = Settings(tmp_path)
    bare = "postgresql://clerk@db.example.cn/socialfee"
    settings.update({"database_url": bare})
    assert db_location.remember_password(bare, "p@ss:w/rd") == "keyring"
    url = db_location.resolve(settings)
    assert url == "postgresql://clerk:p%40ss%3Aw%2Frd@db.example.cn/socialfee"
    assert db_location.parse(url or "") == (bare, "p@ss:w/rd")
    assert db_location.redact(url or "") == bare
    assert "p@ss" not in (tmp_path / "settings.json").read_text(encoding="utf-8")
    db_location.forget_password(bare)
    assert db_location.resolve(settings) == bare


def test_use_leaves_the_running_clients_models_on_its_store(tmp_path: Path, pg_url: str) -> None:
    running = Store(tmp_path)
    try:
        assert database_proxy.obj is running.db
        report = db_location.use(Settings(tmp_path), pg_url)
        assert report.engine == "postgres" and report.password == "memory"
        assert report.notes == (db_location.MSG_NO_KEYRING,)
        assert database_proxy.obj is running.db
        db_location.use_sqlite(Settings(tmp_path))
        assert database_proxy.obj is running.db
    finally:
        running.close()
    assert pg_cluster.PASSWORD not in (tmp_path / "settings.json").read_text(encoding="utf-8")


def test_the_settings_form_neither_sets_nor_resets_the_location(services: Any, browser_client: Any) -> None:
    from tests.conftest import csrf_of

    headers = {"X-CSRF-Token": csrf_of(browser_client)}
    bare = "postgresql://clerk@db.example.cn/socialfee"
    refused = browser_client.post("/api/system/settings", json={"database_url": bare}, headers=headers)
    assert refused.status_code == 400 and "socialfee db use" in refused.json()["error"]["message"]
    services.settings.update({"database_url": bare})  # as `db use` saves it after its test
    reset = browser_client.post("/api/system/settings/reset", headers=headers)
    assert reset.json()["ok"] and services.settings.get("database_url") == bare
