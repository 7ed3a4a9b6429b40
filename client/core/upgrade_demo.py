"""`socialfee demo`: a signed release of the running version on the demo tax side.

The demo has a release key of its own (``<demo>/release-demo.key``, owner-only, made on
the first run; never the project's key) which this process trusts through the
developer-only SOCIALFEE_RELEASE_PUBKEY. 关于 then reads a genuine, verified manifest
("已是最新版本"); a trainer can publish a newer demo version with
``socialfee dev sign-release --key-file <demo>/release-demo.key`` and ``PUT /sim/client-release``.
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client import __version__
from client.core import upgrade_install
from client.core import upgrade_manifest as um

log = logging.getLogger(__name__)

DEMO_KEY = "release-demo.key"
SOURCE = Path(__file__).resolve().parent.parent.parent


def demo_key(demo_home: Path) -> Ed25519PrivateKey:
    path = demo_home / DEMO_KEY
    if path.exists():
        return um.load_private(path.read_text(encoding="ascii").strip())
    key = Ed25519PrivateKey.generate()
    path.touch(mode=0o600)
    path.write_text(um.private_text(key) + "\n", encoding="ascii")
    return key


def publish_current(demo_home: Path, taxside_url: str) -> bool:
    """Trust the demo key in this process and publish this version signed with it; False
    (and the reason in the log) where there is no source tree to package (a frozen build)."""
    key = demo_key(demo_home)
    os.environ[um.PUBKEY_ENV] = um.public_text(key)
    if not (SOURCE / "client" / "__init__.py").is_file():
        log.info("demo release not published: no source tree at %s", SOURCE)
        return False
    folder = demo_home / "releases"
    package = folder / f"socialfee-{__version__}-py3-none-any.whl"
    if not package.exists():
        package = upgrade_install.build_wheel(SOURCE, __version__, folder)
    manifest = um.manifest_for(package, __version__, notes="演示版本")
    body = {"manifest": um.sign(manifest, key),
            "content_base64": base64.b64encode(package.read_bytes()).decode()}
    try:
        httpx.put(f"{taxside_url}/sim/client-release", json=body, timeout=30,
                  trust_env=False).raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("demo release not published: %s", exc)
        return False
    return True
