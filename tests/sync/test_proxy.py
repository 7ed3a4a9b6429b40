"""网络管理: the proxy's 测试 and 保存, and tax-side calls through real proxies (pproxy on
127.0.0.1, HTTP and SOCKS5, with and without credentials) to the live reference tax side."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.core import network
from client.errors import NetworkError, ValidationError
from client.settings import Settings
from client.sync.outbox import Outbox
from client.sync.taxclient import from_settings
from tests.sync import proxies as proxy_fixtures
from tests.sync.conftest import NEW_PASSWORD
from tests.sync.proxies import PASSWORD, Portal, free_port
from tests.sync.test_outbox import declarations, draft_entry
from tests.taxside_fixtures import LiveTaxSide

proxies = proxy_fixtures.proxies
portal = proxy_fixtures.portal


@pytest.fixture(autouse=True)
def no_remembered_passwords() -> Iterator[None]:
    """The in-memory passwords are the process's: none leaks from one test to the next."""
    network._memory.clear()
    yield
    network._memory.clear()


@pytest.fixture
def settings(tmp_path: Path, taxside: LiveTaxSide) -> Settings:
    s = Settings(tmp_path)
    s.update({"taxside_url": taxside.url, "http_timeout_seconds": 5})
    return s


def config_of(proxy: object, **changes: object) -> network.ProxyConfig:
    return network.parse_form({**proxy.settings(), **changes})  # type: ignore[attr-defined]


@pytest.mark.parametrize("scheme", ["http", "socks5"])
@pytest.mark.parametrize("auth", [False, True], ids=["open", "credentials"])
def test_probe_passes_through_a_working_proxy(proxies, taxside, scheme: str, auth: bool) -> None:
    proxy = proxies(scheme, auth=auth)
    result = network.probe(taxside.url, config_of(proxy), proxy.password or None)
    assert result.ok, result.message
    assert (result.code, result.protocol) == ("ok", "v1")
    assert isinstance(result.latency_ms, int) and "延迟" in result.message and "协议版本 v1" in result.message


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_wrong_or_missing_credentials_say_the_proxy_refused_them(proxies, taxside, scheme: str) -> None:
    proxy = proxies(scheme, auth=True)
    wrong = network.probe(taxside.url, config_of(proxy), "not-the-password")
    assert (wrong.ok, wrong.code) == (False, "proxy_auth")
    assert "代理服务器 127.0.0.1" in wrong.message and "拒绝" in wrong.message
    missing = network.probe(taxside.url, config_of(proxy, proxy_user=""), None)
    assert (missing.ok, missing.code) == (False, "proxy_auth")
    # The right ones still pass afterwards: nothing was remembered from the refusals.
    assert network.probe(taxside.url, config_of(proxy), PASSWORD).ok


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_a_dead_proxy_is_named(taxside, scheme: str) -> None:
    port = free_port()
    result = network.probe(taxside.url, network.ProxyConfig(scheme, "127.0.0.1", port, ""), None)
    assert (result.ok, result.code) == (False, "proxy_unreachable")
    assert f"无法连接代理服务器 127.0.0.1:{port}" in result.message


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_the_tax_side_down_behind_a_working_proxy(proxies, scheme: str) -> None:
    proxy = proxies(scheme, auth=True)
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = network.probe(nowhere, config_of(proxy), PASSWORD)
    assert (result.ok, result.code) == (False, "taxside_unreachable")
    assert "已连接代理服务器" in result.message and "无法访问税务端" in result.message


def test_https_chosen_for_a_plain_http_proxy_names_the_type(proxies, taxside) -> None:
    proxy = proxies("http")
    result = network.probe(taxside.url, config_of(proxy, proxy_mode="https"), None)
    assert (result.ok, result.code) == (False, "proxy_type") and "代理类型" in result.message


def test_a_page_that_is_not_the_tax_sides(portal: Portal, taxside) -> None:
    result = network.probe(taxside.url, config_of(portal), None)
    assert (result.ok, result.code) == (False, "not_taxside")
    assert "不是来自税务端" in result.message and "代理或网关" in result.message


def test_a_tax_side_that_is_down_directly(taxside) -> None:
    result = network.probe(f"http://127.0.0.1:{free_port()}", network.ProxyConfig(), None)
    assert (result.ok, result.code) == (False, "taxside_unreachable") and "网络不通" in result.message
    direct = network.probe(taxside.url, network.ProxyConfig(), None)
    assert direct.ok and direct.protocol == "v1"


def test_save_tests_first_and_keeps_the_password_out_of_settings_json(proxies, settings: Settings) -> None:
    proxy = proxies("socks5", auth=True)
    with pytest.raises(ValidationError, match="测试未通过，未保存") as info:
        network.save_proxy(settings, config_of(proxy), "wrong-one")
    assert info.value.code == "proxy_auth"
    assert settings.get("proxy_mode") == "none"  # nothing saved
    saved = network.save_proxy(settings, config_of(proxy), PASSWORD)
    assert saved.probe is not None and saved.probe.ok
    assert saved.password == ("memory" if network.keyring_problem() else "keyring")
    text = settings.path.read_text(encoding="utf-8")
    assert PASSWORD not in text and json.loads(text)["proxy_mode"] == "socks5"
    # Saving again without typing the password keeps the one known.
    assert network.save_proxy(settings, config_of(proxy), None).probe.ok
    with from_settings(settings) as client:
        assert [p.region for p in client.rule_packs()] == ["110000", "140000", "310000"]


def test_without_a_keyring_the_password_is_asked_again_after_a_restart(
    proxies, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(network, "keyring_problem", lambda: "无密钥环")
    proxy = proxies("http", auth=True)
    assert network.save_proxy(settings, config_of(proxy), PASSWORD).password == "memory"
    network._memory.clear()  # a new run: memory is gone, settings.json stays
    again = Settings(settings.path.parent)
    with pytest.raises(NetworkError, match="需要密码，本次运行尚未输入") as info:
        from_settings(again)
    assert info.value.code == "network_proxy"  # the outbox keeps submissions queued
    assert network.probe_saved(again).code == "proxy_password"
    network.save_proxy(again, network.proxy_config(again), PASSWORD)  # typed in 网络管理, 保存
    assert network.probe_saved(again).ok
    with from_settings(again) as client:
        assert client.rule_packs()


def test_a_proxy_saved_while_logged_in_applies_to_the_next_call(proxies, settings: Settings, taxside) -> None:
    with from_settings(settings) as client:  # direct
        assert client.rule_packs()
        proxy = proxies("socks5", auth=True)
        network.save_proxy(settings, config_of(proxy), PASSWORD)
        assert client.rule_packs()
        proxy.stop()  # the next call goes through the proxy: it fails as a proxy failure
        with pytest.raises(NetworkError, match="代理服务器") as info:
            client.rule_packs()
        assert info.value.code == "network_proxy"


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_refused_credentials_in_a_call_name_the_proxy(proxies, settings: Settings, scheme: str) -> None:
    proxy = proxies(scheme, auth=True)
    network.save_proxy(settings, config_of(proxy), PASSWORD)
    network.remember_password(config_of(proxy), "changed-on-the-proxy")
    with from_settings(settings) as client, pytest.raises(NetworkError, match="拒绝了用户名或密码") as info:
        client.rule_packs()
    assert info.value.code == "network_proxy"


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_a_declaration_submitted_through_the_proxy_arrives_once(
    proxies, settings: Settings, taxside, unit, store, unit_pk, tmp_path: Path, scheme: str
) -> None:
    proxy = proxies(scheme, auth=True)
    network.save_proxy(settings, config_of(proxy), PASSWORD)
    with from_settings(settings) as client:
        client.login(unit.unit_id, unit.initial_password)
        client.change_password(unit.unit_id, unit.initial_password, NEW_PASSWORD)
        entry_id = draft_entry(store, client, unit, unit_pk)
        before = declarations(taxside)
        # The first answer is lost after the tax side committed: the retry under the same
        # key, through the proxy again, must not make a second declaration.
        taxside.fault(f"/v1/units/{unit.unit_id}/wage-base-declarations", "drop_after_commit",
                      method="POST", count=1)
        report = Outbox(store, tmp_path / "outbox").send(client, unit_pk, unit.unit_id)
    assert report.sent == 1, report.message
    assert declarations(taxside) == before + 1
    assert entry_id


def test_no_proxy_password_in_the_log(proxies, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    from client import logs

    proxy = proxies("socks5", auth=True)
    caplog.set_level(logging.DEBUG)
    network.save_proxy(settings, config_of(proxy), PASSWORD)
    with from_settings(settings) as client:
        client.rule_packs()
        logging.getLogger("test").warning("using %s", config_of(proxy).url(PASSWORD))
    text = "\n".join(logs.redact(r.getMessage()) for r in caplog.records)
    assert "using" in text and PASSWORD not in text
