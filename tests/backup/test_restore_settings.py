"""A backup must not redirect the declaration password (issue 11 B): the tax-side address,
the proxy and every folder setting keep their current values on restore; the preview lists
every setting that would change, old → new, with its Chinese label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.app import build_services
from client.backup import service
from client.services import Services
from tests.backup.crafted import Member, rebuilt, unpack
from tests.backup.helpers import add_unit
from tests.backup.test_cli import sf

HOSTILE = {
    "taxside_url": "https://relay.example.net/sbf",
    "proxy_mode": "socks5",
    "proxy_host": "relay.example.net",
    "proxy_port": 1080,
    "proxy_user": "mallory",
    "backup_folder": "/tmp/elsewhere",
    "page_size": 99,
    "http_timeout_seconds": 120,
}


@pytest.fixture
def hostile_backup(tmp_path: Path) -> Path:
    """A backup made on another PC whose settings point at a relay."""
    other = tmp_path / "other"
    svc = build_services(other)
    try:
        svc.settings.update(HOSTILE)
        add_unit(other, "甲公司", "U1")
    finally:
        svc.close()
    return Path(service.create_backup(other, tmp_path / "usb").path)


@pytest.fixture
def current(services: Services) -> Services:
    services.settings.update({"taxside_url": "https://tax.example.gov.cn/sbf", "page_size": 20})
    return services


def test_security_settings_are_kept_and_the_rest_restored(current: Services, hostile_backup: Path) -> None:
    result = service.restore(current, hostile_backup)
    assert result.restored.name == hostile_backup.name
    s = current.settings
    assert s.get("taxside_url") == "https://tax.example.gov.cn/sbf"
    assert (s.get("proxy_mode"), s.get("proxy_host"), s.get("proxy_user")) == ("none", "", "")
    assert s.get("backup_folder") == ""
    assert (s.get("page_size"), s.get("http_timeout_seconds")) == (99, 120)
    on_disk = json.loads((current.home / "settings.json").read_text(encoding="utf-8"))
    assert on_disk["taxside_url"] == "https://tax.example.gov.cn/sbf" and on_disk["proxy_host"] == ""
    # The safety backup went where the operator's setting says, not where the backup said.
    assert Path(result.safety_backup.path).parent == service.default_folder(current.home)


def test_preview_lists_every_change_with_labels_and_hides_the_proxy_password(
    current: Services, hostile_backup: Path
) -> None:
    preview = service.restore_preview(current, hostile_backup)
    changes = {c.name: c for c in preview.settings}
    assert set(changes) == {"taxside_url", "proxy_mode", "proxy_host", "proxy_port", "proxy_user",
                            "backup_folder", "page_size", "http_timeout_seconds"}
    tax = changes["taxside_url"]
    assert (tax.label, tax.current, tax.backup, tax.kept) == (
        "税务端地址", "https://tax.example.gov.cn/sbf", "https://relay.example.net/sbf", True)
    proxy = changes["proxy_host"]
    assert proxy.label == "代理服务器地址" and proxy.kept and proxy.current == "（空）"
    assert proxy.backup == "relay.example.net" and all(changes[n].kept for n in network_settings)
    assert changes["backup_folder"].kept
    page = changes["page_size"]
    assert (page.label, page.current, page.backup, page.kept) == ("每页行数", "20", "99", False)

network_settings = ("proxy_mode", "proxy_host", "proxy_port", "proxy_user")


def test_an_old_backups_proxy_url_is_neither_taken_nor_shown(
    current: Services, hostile_backup: Path, tmp_path: Path
) -> None:
    manifest, members = unpack(hostile_backup)
    old = json.dumps({"proxy_url": "socks5://mallory:s3cret-pw@relay.example.net:1080", "page_size": 30})
    members = [Member(m.name, old.encode()) if m.name == "data/settings.json" else m for m in members]
    path = rebuilt(hostile_backup, tmp_path / "old.sfbak", members=members)
    preview = service.restore_preview(current, path)
    assert "s3cret-pw" not in json.dumps(preview.to_dict(), ensure_ascii=False)
    service.restore(current, path)
    assert current.settings.get("proxy_mode") == "none"
    assert "s3cret-pw" not in (current.home / "settings.json").read_text(encoding="utf-8")


def test_a_backup_without_settings_keeps_the_security_settings(
    current: Services, hostile_backup: Path, tmp_path: Path
) -> None:
    manifest, members = unpack(hostile_backup)
    bare = rebuilt(hostile_backup, tmp_path / "bare.sfbak",
                   members=[m for m in members if m.name != "data/settings.json"])
    preview = service.restore_preview(current, bare)
    assert {c.name for c in preview.settings} == {"taxside_url", "page_size"}
    service.restore(current, bare)
    assert current.settings.get("taxside_url") == "https://tax.example.gov.cn/sbf"
    assert current.settings.get("page_size") == 50  # the default: the backup had none


def test_damaged_or_odd_settings_in_a_backup_fall_back_to_defaults(
    current: Services, hostile_backup: Path, tmp_path: Path
) -> None:
    manifest, members = unpack(hostile_backup)
    odd = json.dumps({"page_size": "lots", "taxside_url": "https://relay", "unknown": 1, "backup_keep": 7})
    members = [Member(m.name, odd.encode()) if m.name == "data/settings.json" else m for m in members]
    path = rebuilt(hostile_backup, tmp_path / "odd.sfbak", members=members)
    service.restore(current, path)
    assert current.settings.get("page_size") == 50
    assert current.settings.get("backup_keep") == 7
    assert current.settings.get("taxside_url") == "https://tax.example.gov.cn/sbf"
    assert "unknown" not in json.loads((current.home / "settings.json").read_text(encoding="utf-8"))


def test_cli_preview_names_each_change_before_asking(tmp_path: Path, hostile_backup: Path) -> None:
    home = tmp_path / "home"
    svc = build_services(home)
    svc.settings.update({"taxside_url": "https://tax.example.gov.cn/sbf"})
    svc.close()
    answered = sf(home, "restore", str(hostile_backup), stdin="n\n")
    assert answered.returncode == 1, answered.stderr
    out = answered.stdout
    assert "税务端地址：https://tax.example.gov.cn/sbf（保留当前值；备份中为 https://relay.example.net/sbf）" in out
    assert "每页行数：50 → 99" in out
    assert "s3cret-pw" not in out
    assert out.index("税务端地址") < out.index("已取消")
