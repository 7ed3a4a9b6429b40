"""`socialfee demo` publishes the running version signed with a demo key of its own, so
关于 verifies a genuine manifest instead of refusing the demo's unsigned release."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.core import upgrade_demo
from client.core import upgrade_manifest as um
from client.core.upgrade import UpgradeService
from tests.taxside_fixtures import LiveTaxSide


def test_demo_release_is_signed_and_verified(taxside: LiveTaxSide, upgrader: UpgradeService,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(um.PUBKEY_ENV, raising=False)  # restored after the test
    with pytest.raises(um.UpgradeRefused):
        upgrader.check()  # the generated release is unsigned
    demo_home = tmp_path / "demo"
    demo_home.mkdir()
    assert upgrade_demo.publish_current(demo_home, taxside.url)
    assert (demo_home / upgrade_demo.DEMO_KEY).stat().st_mode & 0o077 == 0
    assert upgrader.check() is None  # verified: this very version
    status = upgrader.status()
    assert status.error == "" and status.latest["notes"] == "演示版本" and not status.available
    # The next run reuses its key and package.
    key_text = (demo_home / upgrade_demo.DEMO_KEY).read_text()
    assert upgrade_demo.publish_current(demo_home, taxside.url)
    assert (demo_home / upgrade_demo.DEMO_KEY).read_text() == key_text
