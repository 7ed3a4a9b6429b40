"""网络管理 without a network: the first start after proxy_url, where the proxy password
lives, the release's business server and who may point it elsewhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend

from client.app import build_services
from client.backup import service
from client.core import network
from client.errors import NetworkError, ValidationError
from client.settings import SETTINGS_FILE, Settings
from tests.backup.crafted import unpack

OLD = {
    "taxside_url": "https://typed.by.hand.example/sbf",
    "proxy_url": "socks5://clerk%40corp:p%40ss-w0rd@10.1.2.3:1080",
    "page_size": 40,
}


@pytest.fixture(autouse=True)
def no_remembered_passwords() -> Iterator[None]:
    network._memory.clear()
    yield
    network._memory.clear()


def old_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / SETTINGS_FILE).write_text(json.dumps(OLD), encoding="utf-8")
    return home


def test_first_start_moves_proxy_url_to_structured_settings_and_memory(tmp_path: Path) -> None:
    home = old_home(tmp_path)
    svc = build_services(home)
    try:
        on_disk = (home / SETTINGS_FILE).read_text(encoding="utf-8")
        assert "p@ss-w0rd" not in on_disk and "p%40ss-w0rd" not in on_disk
        stored = json.loads(on_disk)
        assert "proxy_url" not in stored and "taxside_url" not in stored  # the release fixes it now
        assert stored["page_size"] == 40  # the rest stays
        config = network.proxy_config(svc.settings)
        assert config == network.ProxyConfig("socks5", "10.1.2.3", 1080, "clerk@corp")
        assert network.password_kept(config) == "memory"  # no keyring on this machine
        assert network.proxy_url(svc.settings) == "socks5://clerk%40corp:p%40ss-w0rd@10.1.2.3:1080"
        assert network.business_server(svc.settings).source == "release"
    finally:
        svc.close()
    # The next start has nothing left to migrate.
    assert network.migrate(Settings(home)) is False


def test_with_a_keyring_the_password_goes_there(tmp_path: Path, memory_keyring: KeyringBackend) -> None:
    home = old_home(tmp_path)
    settings = Settings(home)
    assert network.migrate(settings)
    config = network.proxy_config(settings)
    assert memory_keyring.entries == {(network.KEYRING_SERVICE, config.key): "p@ss-w0rd"}
    assert network.password_kept(config) == "keyring"
    network._memory.clear()  # a restart: the keyring still has it
    assert network.recall_password(config) == "p@ss-w0rd"
    # Saving direct forgets the password of the proxy no longer used.
    network.save_proxy(settings, network.ProxyConfig(), None)
    assert memory_keyring.entries == {}


def test_no_backup_carries_the_proxy_password(tmp_path: Path) -> None:
    home = old_home(tmp_path)
    svc = build_services(home)
    svc.close()
    info = service.create_backup(home, tmp_path / "usb")
    _, members = unpack(Path(info.path))
    settings = next(m for m in members if m.name == "data/settings.json")
    assert b"ss-w0rd" not in settings.data and b"proxy_url" not in settings.data
    assert json.loads(settings.data)["proxy_host"] == "10.1.2.3"
    for member in members:
        assert b"p@ss-w0rd" not in member.data


@pytest.mark.parametrize(
    ("value", "mode"),
    [("", "none"), ("gopher://x:1", "none"), ("http://10.0.0.1:99999", "none"),
     ("http://proxy.corp", "http"), ("socks5h://10.0.0.1:1081", "socks5")],
)
def test_odd_old_proxy_urls(tmp_path: Path, value: str, mode: str) -> None:
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"proxy_url": value}), encoding="utf-8")
    settings = Settings(tmp_path)
    network.migrate(settings)
    assert network.proxy_config(settings).mode == mode
    assert "proxy_url" not in json.loads((tmp_path / SETTINGS_FILE).read_text(encoding="utf-8"))


def test_the_business_server_is_the_releases_unless_a_developer_points_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(tmp_path)
    release = network.read_release()
    assert release.taxside_url.startswith("https://") and release.channel == "stable"
    monkeypatch.delenv(network.TAXSIDE_ENV, raising=False)
    assert network.business_server(settings) == network.BusinessServer(release.taxside_url, "release", "stable")
    monkeypatch.setenv(network.TAXSIDE_ENV, "http://127.0.0.1:8765/")
    assert network.business_server(settings).url == "http://127.0.0.1:8765"
    assert network.business_server(settings).source == "env"
    settings.update({"taxside_url": "http://127.0.0.1:9999"})  # socialfee demo, the tests
    assert network.business_server(settings).source == "developer"


def test_a_damaged_release_file_is_a_clear_error_not_a_guess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for text in ("{not json", "[1]", json.dumps({"taxside_url": "file:///etc/passwd", "channel": 3})):
        bad = tmp_path / f"release-{len(text)}.json"
        bad.write_text(text, encoding="utf-8")
        assert network.read_release(bad) == network.Release("", "")
    monkeypatch.setattr(network, "read_release", lambda: network.Release("", ""))
    monkeypatch.delenv(network.TAXSIDE_ENV, raising=False)
    with pytest.raises(NetworkError, match="业务服务器地址未配置"):
        network.connection(Settings(tmp_path))


@pytest.mark.parametrize(
    ("form", "field"),
    [({"proxy_mode": "socks4"}, "proxy_mode"),
     ({"proxy_mode": "http"}, "proxy_host"),
     ({"proxy_mode": "http", "proxy_host": "10.0.0.1"}, "proxy_port"),
     ({"proxy_mode": "http", "proxy_host": "10.0.0.1", "proxy_port": "70000"}, "proxy_port"),
     ({"proxy_mode": "socks5", "proxy_host": "http://10.0.0.1", "proxy_port": "1080"}, "proxy_host")],
)
def test_the_form_names_the_field_in_error(form: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        network.parse_form(form)
    assert info.value.field == field and info.value.message


def test_a_proxy_url_is_built_with_quoted_credentials() -> None:
    config = network.ProxyConfig("https", "proxy.corp", 3128, "a b")
    assert config.url("x:y@z") == "https://a%20b:x%3Ay%40z@proxy.corp:3128"
    assert network.ProxyConfig("socks5", "::1", 1080, "").url(None) == "socks5://[::1]:1080"
    assert "x:y@z" not in config.shown() and config.shown() == "HTTPS a b@proxy.corp:3128"
    assert network.ProxyConfig().url("ignored") is None


def test_the_settings_form_cannot_change_the_server_or_the_proxy(browser_client, services) -> None:
    from tests.conftest import csrf_of

    token = csrf_of(browser_client)
    for name, value, message in (("taxside_url", "https://relay.example.net", "由安装包固定"),
                                 ("proxy_host", "relay.example.net", "网络管理")):
        answer = browser_client.post("/api/system/settings", json={name: value},
                                     headers={"X-CSRF-Token": token})
        assert answer.status_code == 400 and message in answer.json()["error"]["message"]
    assert services.settings.get("proxy_host") == ""


def test_restoring_default_settings_keeps_the_tested_proxy(browser_client, services) -> None:
    from tests.conftest import csrf_of

    proxy = {"proxy_mode": "socks5", "proxy_host": "10.0.0.1", "proxy_port": 1080, "proxy_user": "clerk"}
    services.settings.update({**proxy, "page_size": 30})
    answer = browser_client.post("/api/system/settings/reset", json={},
                                 headers={"X-CSRF-Token": csrf_of(browser_client)})
    assert answer.status_code == 200
    assert services.settings.get("page_size") == 50
    assert {name: services.settings.get(name) for name in proxy} == proxy
