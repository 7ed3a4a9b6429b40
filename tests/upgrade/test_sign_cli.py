"""`socialfee dev keygen` / `sign-release`: the private key from a file or the env var,
never from the repository; the printed manifest verifies with the printed public key."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from client.cli import cli
from client.core import upgrade_manifest as um


def socialfee(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def test_keygen_then_sign_release(tmp_path: Path, packages: dict[str, Path]) -> None:
    key_file = tmp_path / "release.key"
    made = socialfee("dev", "keygen", "--out", str(key_file))
    assert made.exit_code == 0, made.output
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(made.output.strip()))
    assert key_file.stat().st_mode & 0o077 == 0  # the private key is owner-only
    out = tmp_path / "manifest.json"
    signed = socialfee("dev", "sign-release", str(packages["0.2.0"]), "--version", "0.2.0",
                       "--notes", "修复", "--min-version", "0.1.0", "--key-file", str(key_file),
                       "--out", str(out))
    assert signed.exit_code == 0, signed.output
    manifest = um.verify(json.loads(out.read_text(encoding="utf-8")), public)
    assert (manifest.version, manifest.min_version, manifest.notes) == ("0.2.0", "0.1.0", "修复")
    assert manifest.size == packages["0.2.0"].stat().st_size
    # The env var instead of a file; without either, a usage error in Chinese.
    env: dict[str, str | None] = {um.SIGNING_KEY_ENV: key_file.read_text().strip()}
    by_env = socialfee("dev", "sign-release", str(packages["0.2.0"]), "--version", "0.2.0", env=env)
    assert um.verify(json.loads(by_env.output), public).version == "0.2.0"
    missing = socialfee("dev", "sign-release", str(packages["0.2.0"]), "--version", "0.2.0",
                        env={um.SIGNING_KEY_ENV: None})
    assert missing.exit_code == 2 and "签名私钥" in missing.output
