"""检查更新 and the download against the live reference tax side: a signed manifest is
taken, an unsigned or wrongly signed one, a downgrade and a spoiled package are refused
with their Chinese reasons, and a broken download resumes where it stopped."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client import __version__
from client.core import upgrade_download
from client.core import upgrade_manifest as um
from client.core.upgrade import UpgradeService
from client.errors import NetworkError
from tests.taxside_fixtures import LiveTaxSide
from tests.upgrade.conftest import publish, state


def test_signed_manifest_is_read_and_remembered(taxside: LiveTaxSide, upgrader: UpgradeService,
                                                release_key: Ed25519PrivateKey, packages: dict[str, Path],
                                                home: Path) -> None:
    publish(taxside, packages["0.2.0"], "0.2.0", release_key, notes="新增：在线升级")
    manifest = upgrader.check()
    assert manifest is not None and manifest.version == "0.2.0"
    assert manifest.size == packages["0.2.0"].stat().st_size
    assert manifest.sha256 == hashlib.sha256(packages["0.2.0"].read_bytes()).hexdigest()
    status = upgrader.status()
    assert status.available and status.latest["notes"] == "新增：在线升级" and not status.error
    assert state(home)["manifest"]["version"] == "0.2.0"
    # What an older version found is judged against this one: after the upgrade to it,
    # its own manifest is no news.
    upgrader._remember(manifest={**state(home)["manifest"], "version": __version__}, available=True)
    assert not upgrader.status().available
    # The same version as this one: nothing to do, and no error.
    publish(taxside, packages[__version__], "9.0.0", release_key)  # newest row, then removed
    taxside.sim("DELETE", "/client-release/9.0.0")
    taxside.sim("DELETE", "/client-release/0.2.0")
    publish(taxside, packages[__version__], __version__, release_key)
    assert upgrader.check() is None
    assert not upgrader.status().available


def test_wrong_signature_is_refused(taxside: LiveTaxSide, upgrader: UpgradeService,
                                    release_key: Ed25519PrivateKey, packages: dict[str, Path]) -> None:
    """Another key; a signed field changed after signing (notes, size)."""
    cases = [(Ed25519PrivateKey.generate(), None), (release_key, {"notes": "已被改动"}),
             (release_key, {"size": 1})]
    for key, edit in cases:
        publish(taxside, packages["0.2.0"], "0.2.0", key, edit=edit)
        with pytest.raises(um.UpgradeRefused) as err:
            upgrader.check()
        assert err.value.message == um.MSG_BAD_SIGNATURE, edit
        status = upgrader.status()
        assert status.error == um.MSG_BAD_SIGNATURE and not status.available and status.latest is None


def test_unsigned_manifest_is_refused(taxside: LiveTaxSide, upgrader: UpgradeService,
                                      release_key: Ed25519PrivateKey, packages: dict[str, Path]) -> None:
    publish(taxside, packages["0.2.0"], "0.2.0", None)
    with pytest.raises(um.UpgradeRefused) as err:
        upgrader.check()
    assert err.value.message == um.MSG_UNSIGNED
    assert "没有签名" in upgrader.status().error


def test_downgrade_is_refused(taxside: LiveTaxSide, upgrader: UpgradeService,
                              release_key: Ed25519PrivateKey, packages: dict[str, Path]) -> None:
    taxside.sim("DELETE", "/client-release/0.1.0")  # the generated (unsigned) release
    publish(taxside, packages[__version__], "0.0.9", release_key)
    with pytest.raises(um.UpgradeRefused) as err:
        upgrader.check()
    assert err.value.message == f"税务端提供的版本 0.0.9 低于当前版本 {__version__}，已拒绝降级"
    assert upgrader.status().error == err.value.message


def test_tampered_package_is_refused(taxside: LiveTaxSide, upgrader: UpgradeService,
                                     release_key: Ed25519PrivateKey, packages: dict[str, Path],
                                     home: Path) -> None:
    good = packages["0.2.0"].read_bytes()
    spoiled = bytearray(good)
    spoiled[len(good) // 2] ^= 0xFF  # same size, one byte different
    publish(taxside, packages["0.2.0"], "0.2.0", release_key, content=bytes(spoiled))
    manifest = upgrader.check()
    assert manifest is not None  # the manifest itself is genuine
    with pytest.raises(um.UpgradeRefused) as err:
        upgrade_download.download(upgrader.settings, home, manifest)
    assert err.value.code == "upgrade_sha_mismatch"
    assert "SHA-256 校验值与版本信息不一致" in err.value.message
    assert list(upgrade_download.updates_dir(home).glob("*.whl*")) == []  # nothing kept
    # Shorter than signed: refused by size.
    publish(taxside, packages["0.2.0"], "0.2.0", release_key, content=good[:-10])
    with pytest.raises(um.UpgradeRefused) as err:
        upgrade_download.download(upgrader.settings, home, manifest)
    assert err.value.code == "upgrade_size_mismatch" and "大小" in err.value.message


def test_interrupted_download_resumes(taxside: LiveTaxSide, upgrader: UpgradeService,
                                      release_key: Ed25519PrivateKey, packages: dict[str, Path],
                                      home: Path) -> None:
    data = packages["0.2.0"].read_bytes()
    publish(taxside, packages["0.2.0"], "0.2.0", release_key)
    manifest = upgrader.check()
    assert manifest is not None
    cut = len(data) // 3
    taxside.fault("/v1/client/download/", "cut_body", after_bytes=cut, count=1)
    with pytest.raises(NetworkError) as err:
        upgrade_download.download(upgrader.settings, home, manifest)
    assert "网络中断" in err.value.message and "断点继续" in err.value.message
    part = upgrade_download.package_path(home, manifest).with_suffix(".whl.part")
    kept = part.stat().st_size
    assert 0 < kept < len(data) and part.read_bytes() == data[:kept]
    done = upgrade_download.download(upgrader.settings, home, manifest)
    assert done.resumed_from == kept  # asked for the rest only (Range), not all again
    assert done.path.read_bytes() == data and not part.exists()


def test_upgrade_job_resumes_by_itself(taxside: LiveTaxSide, upgrader: UpgradeService,
                                       release_key: Ed25519PrivateKey, packages: dict[str, Path],
                                       home: Path) -> None:
    """Two broken transfers in a row: the job's own attempts finish the download."""
    publish(taxside, packages["0.2.0"], "0.2.0", release_key)
    manifest = upgrader.check()
    assert manifest is not None
    taxside.fault("/v1/client/download/", "cut_body", after_bytes=manifest.size // 4, count=2)
    done = upgrader.fetch(manifest)
    assert done.resumed_from > 0
    assert hashlib.sha256(done.path.read_bytes()).hexdigest() == manifest.sha256


def test_check_and_download_go_through_the_saved_proxy(taxside: LiveTaxSide, upgrader: UpgradeService,
                                                       release_key: Ed25519PrivateKey,
                                                       packages: dict[str, Path], home: Path) -> None:
    from tests.sync.proxies import start_pproxy

    publish(taxside, packages["0.2.0"], "0.2.0", release_key)
    proxy = start_pproxy("http")
    try:
        upgrader.settings.update(proxy.settings())
        manifest = upgrader.check()
        assert manifest is not None
        assert upgrader.fetch(manifest).path.read_bytes() == packages["0.2.0"].read_bytes()
    finally:
        proxy.stop()
    # The proxy is gone, the tax side is not: the check fails, so it did use the proxy.
    with pytest.raises(NetworkError) as err:
        upgrader.check()
    assert err.value.message.startswith("检查更新时网络不通")


def test_tax_side_download_ranges(taxside: LiveTaxSide, release_key: Ed25519PrivateKey,
                                  packages: dict[str, Path]) -> None:
    import httpx

    data = packages["0.2.0"].read_bytes()
    publish(taxside, packages["0.2.0"], "0.2.0", release_key)
    url = f"{taxside.url}/v1/client/download/0.2.0"
    with httpx.Client(trust_env=False, timeout=30) as http:
        whole = http.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["Accept-Ranges"] == "bytes"
        part = http.get(url, headers={"Range": "bytes=5-9"})
        assert part.status_code == 206 and part.content == data[5:10]
        assert part.headers["Content-Range"] == f"bytes 5-9/{len(data)}"
        rest = http.get(url, headers={"Range": f"bytes={len(data) - 3}-"})
        assert rest.status_code == 206 and rest.content == data[-3:]
        beyond = http.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(data)}"
        latest = http.get(f"{taxside.url}/v1/client/latest").json()
    assert latest["version"] == "0.2.0" and latest["size"] == len(data) and latest["signature"]
    assert latest["url"] == url  # served beside the signed fields, not signed itself
