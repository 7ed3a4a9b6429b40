"""Fixtures for upgrade tests: a release key of the test's own, packages built from this
source tree, and publishing signed (or spoiled) releases on the live reference tax side."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client import __version__
from client.core import upgrade_install
from client.core import upgrade_manifest as um
from client.core.jobs import JobRunner
from client.core.upgrade import UpgradeService
from client.settings import Settings
from tests.taxside_fixtures import LiveTaxSide

REPO = Path(__file__).resolve().parent.parent.parent
# A version whose start fails: the program ends before its first page can answer.
BROKEN_MAIN = b"raise SystemExit(3)\n"


@pytest.fixture
def release_key(monkeypatch: pytest.MonkeyPatch) -> Ed25519PrivateKey:
    """The test's own release key, trusted through the developer-only env var."""
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv(um.PUBKEY_ENV, um.public_text(key))
    return key


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Wheels of this tree: the running version, a newer one, and one that cannot start."""
    out = tmp_path_factory.mktemp("packages")
    return {
        __version__: upgrade_install.build_wheel(REPO, __version__, out / "cur"),
        "0.2.0": upgrade_install.build_wheel(REPO, "0.2.0", out / "new"),
        "0.3.0": upgrade_install.build_wheel(REPO, "0.3.0", out / "broken",
                                             overrides={"client/__main__.py": BROKEN_MAIN}),
    }


def publish(taxside: LiveTaxSide, package: Path, version: str, key: Ed25519PrivateKey | None, *,
            min_version: str = "", notes: str = "修复问题", content: bytes | None = None,
            edit: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sign the manifest of ``package`` and publish it with ``content`` (default: the package).
    ``key=None`` publishes the old unsigned way; ``edit`` changes fields after signing."""
    data = package.read_bytes() if content is None else content
    body: dict[str, Any] = {"content_base64": base64.b64encode(data).decode()}
    if key is None:
        body.update(version=version, notes=notes)
    else:
        manifest = um.manifest_for(package, version, notes=notes, min_version=min_version,
                                   published_on="2025-03-15")
        body["manifest"] = {**um.sign(manifest, key), **(edit or {})}
    taxside.sim("PUT", "/client-release", body)
    return body


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def upgrader(home: Path, taxside: LiveTaxSide) -> Iterator[UpgradeService]:
    settings = Settings(home)
    settings.update({"taxside_url": taxside.url})
    jobs = JobRunner()
    backups: list[str] = []
    service = UpgradeService(home, settings, jobs, backups.append)
    service.backups = backups  # type: ignore[attr-defined]
    yield service
    jobs.shutdown()


def state(home: Path) -> dict[str, Any]:
    return json.loads(um.state_path(home).read_text(encoding="utf-8"))


@pytest.fixture
def taxside(taxside_factory: Any) -> LiveTaxSide:
    """A small live tax side: releases need no employees."""
    return taxside_factory(units=1, employees=3)
