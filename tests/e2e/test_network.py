"""网络管理 in chromium: the business server's 测试, a proxy refused then tested, saved and
used (pproxy SOCKS5 with user and password on 127.0.0.1, the live reference tax side)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from client.core import network
from tests.e2e.conftest import ARTIFACTS
from tests.sync import proxies as proxy_fixtures
from tests.sync.proxies import PASSWORD, free_port

pytestmark = pytest.mark.e2e
proxies = proxy_fixtures.proxies


@pytest.fixture(autouse=True)
def no_remembered_passwords() -> Iterator[None]:
    network._memory.clear()
    yield
    network._memory.clear()


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#network-panel").screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_network_panel_tests_then_saves_a_proxy(app_page, ui, services, taxside, proxies) -> None:
    page, problems = app_page
    services.settings.update({"taxside_url": taxside.url})
    proxy = proxies("socks5", auth=True)
    page.goto(ui.base_url + "/settings")
    panel = page.locator("#network-panel")
    panel.scroll_into_view_if_needed()
    page.wait_for_function(f"document.getElementById('server-url').value === {json.dumps(taxside.url)}")
    assert page.locator(".proxy-only").first.is_hidden()  # 不使用代理: nothing else to fill
    assert "演示/测试设置" in page.locator("#server-note").inner_text()
    # The settings form no longer offers the address or the proxy.
    assert page.locator("#settings-form [name=taxside_url]").count() == 0
    assert page.locator("#settings-form [name^=proxy_]").count() == 0

    page.click("#server-test")
    result = page.locator("#server-result")
    result.locator("text=测试通过").wait_for()
    assert "协议版本 v1" in result.inner_text() and "延迟" in result.inner_text()
    shot(page, "network-server-tested")

    # A dead proxy, then the right one with a wrong password: each says what failed.
    page.select_option("#proxy_mode", "socks5")
    page.fill("#proxy_host", "127.0.0.1")
    dead = free_port()
    page.fill("#proxy_port", str(dead))
    page.click("#proxy-test")
    answer = page.locator("#proxy-result")
    answer.locator("text=测试未通过").wait_for()
    assert f"无法连接代理服务器 127.0.0.1:{dead}" in answer.inner_text()
    page.fill("#proxy_port", str(proxy.port))
    page.fill("#proxy_user", proxy.user)
    page.fill("#proxy_password", "wrong-password")
    page.click("#proxy-test")
    page.wait_for_function("document.getElementById('proxy-result').textContent.includes('拒绝了用户名或密码')")
    shot(page, "network-proxy-refused")
    page.click("#proxy-save")  # 保存 tests again: nothing is saved
    page.wait_for_function("document.getElementById('proxy-result').textContent.includes('未保存')")
    assert services.settings.get("proxy_mode") == "none"

    page.fill("#proxy_password", PASSWORD)
    page.click("#proxy-test")
    page.wait_for_function("document.getElementById('proxy-result').textContent.includes('测试通过')")
    page.click("#proxy-save")
    page.locator("text=网络设置已保存").wait_for()
    assert (services.settings.get("proxy_mode"), services.settings.get("proxy_port")) == ("socks5", proxy.port)
    assert PASSWORD not in services.settings.path.read_text(encoding="utf-8")
    shot(page, "network-proxy-saved")

    # After a reload the password is not shown, only where it is kept; the server's 测试
    # now goes through the proxy.
    page.reload()
    page.wait_for_function("document.getElementById('proxy-password-note').textContent.includes('本次运行已输入')")
    assert page.input_value("#proxy_password") == "" and page.input_value("#proxy_user") == proxy.user
    proxy.stop()
    page.click("#server-test")
    page.wait_for_function("document.getElementById('server-result').textContent.includes('测试未通过')")
    assert "无法连接代理服务器" in page.locator("#server-result").inner_text()
    shot(page, "network-server-through-dead-proxy")
    assert problems.unexpected(400) == []


def test_the_login_wizard_leads_to_the_network_panel(app_page, ui) -> None:
    page, problems = app_page
    page.goto(ui.base_url + "/login")
    page.click(".links-row >> text=网络设置")
    page.wait_for_url("**/settings#network-panel")
    assert page.locator("#network-panel h2").inner_text() == "网络管理"
    page.wait_for_function("document.getElementById('server-url').value !== ''")
    assert problems.unexpected() == []
