"""The signed client version manifest (docs/protocol.md "Client version manifest").

The tax side serves ``GET /v1/client/latest``; the manifest's fields are signed with the
release key (Ed25519) over their canonical JSON, so neither the tax side, a proxy nor a
captive portal can hand the client a package of its own. The public key is built in
(``release_pubkey`` in client/release.json); SOCIALFEE_RELEASE_PUBKEY replaces it for
developers and tests only (they sign with keys of their own). The private key is never
in the repository: ``socialfee dev sign-release`` reads it from a file or an env var.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from client import __version__
from client.errors import SocialFeeError

PUBKEY_ENV = "SOCIALFEE_RELEASE_PUBKEY"  # developer-only: the trusted key of tests and demos
SIGNING_KEY_ENV = "SOCIALFEE_RELEASE_SIGNING_KEY"  # developer command only, never the client
RELEASE_FILE = Path(__file__).resolve().parent.parent / "release.json"

# The signed fields, in the protocol's order (the canonical JSON sorts them anyway).
SIGNED_FIELDS = ("version", "package", "size", "sha256", "min_version", "notes", "published_on")
VERSION_RE = re.compile(r"\d{1,4}(\.\d{1,4}){0,3}")
PACKAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,120}\.(zip|whl)")
MAX_PACKAGE = 1024 * 1024 * 1024  # 1 GiB: far above the onedir build


class UpgradeRefused(SocialFeeError):
    """A manifest or package the client will not install; the message says why."""

    code = "upgrade_refused"
    status = 422
    kind = "validation"


class UpgradeRequired(SocialFeeError):
    """This version is below the release's minimum: declaring and paying are blocked."""

    code = "upgrade_required"
    status = 409
    kind = "conflict"


MSG_UNSIGNED = "税务端返回的版本信息没有签名，可能被篡改或来自非官方服务器，已拒绝升级"
MSG_BAD_SIGNATURE = "税务端返回的版本信息签名校验失败，可能被篡改或来自非官方服务器，已拒绝升级"
MSG_NO_KEY = "本客户端未内置升级签名公钥（release.json），无法校验升级，请从官方渠道重新安装客户端"


def version_key(text: str) -> tuple[int, ...]:
    """``"0.10.1"`` -> ``(0, 10, 1, 0)``; anything else is refused by the caller first."""
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (4 - len(parts)))


def valid_version(text: Any) -> bool:
    return isinstance(text, str) and VERSION_RE.fullmatch(text) is not None


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8 (not \\u escapes)."""
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Manifest:
    version: str
    package: str  # file name of the package (a zip; a wheel on Linux stand-ins)
    size: int
    sha256: str
    min_version: str  # "" when the release blocks no older version
    notes: str
    published_on: str

    def signed_fields(self) -> dict[str, Any]:
        return asdict(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def size_text(self) -> str:
        return f"{self.size / 1024 / 1024:.1f} MB"


# -- keys ----------------------------------------------------------------------------------------
def _b64(text: Any, what: str, length: int) -> bytes:
    try:
        raw = base64.b64decode(str(text).strip(), validate=True)
    except (binascii.Error, ValueError):
        raise UpgradeRefused(f"{what}格式有误") from None
    if len(raw) != length:
        raise UpgradeRefused(f"{what}长度有误")
    return raw


def trusted_key() -> Ed25519PublicKey:
    """The developer key of SOCIALFEE_RELEASE_PUBKEY, else the one built into the release."""
    text = os.environ.get(PUBKEY_ENV, "").strip()
    if not text:
        try:
            data = json.loads(RELEASE_FILE.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        text = data.get("release_pubkey", "") if isinstance(data, dict) else ""
    if not text:
        raise UpgradeRefused(MSG_NO_KEY, code="no_release_key")
    return Ed25519PublicKey.from_public_bytes(_b64(text, "升级签名公钥", 32))


def public_text(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes_raw()).decode()


def private_text(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.private_bytes_raw()).decode()


def load_private(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_b64(text, "签名私钥", 32))


# -- signing (developer command, tests) ----------------------------------------------------------
def sign(manifest: Manifest, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The manifest as the tax side stores and serves it: its fields plus ``signature``."""
    fields = manifest.signed_fields()
    signature = base64.b64encode(key.sign(canonical(fields))).decode()
    return {**fields, "signature": signature}


def manifest_for(package: Path, version: str, *, notes: str = "", min_version: str = "",
                 published_on: str | None = None) -> Manifest:
    import hashlib

    digest = hashlib.sha256()
    with open(package, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    manifest = Manifest(version, package.name, package.stat().st_size, digest.hexdigest(),
                        min_version, notes, published_on or dt.date.today().isoformat())
    check_fields(manifest)
    return manifest


# -- reading (the client) ------------------------------------------------------------------------
def check_fields(m: Manifest) -> None:
    if not valid_version(m.version):
        raise UpgradeRefused(f"版本信息中的版本号「{m.version}」格式有误，已拒绝升级")
    if m.min_version and not valid_version(m.min_version):
        raise UpgradeRefused(f"版本信息中的最低版本「{m.min_version}」格式有误，已拒绝升级")
    if not PACKAGE_RE.fullmatch(m.package):
        raise UpgradeRefused(f"版本信息中的安装包文件名「{m.package}」不合规，已拒绝升级")
    if not 0 < m.size <= MAX_PACKAGE:
        raise UpgradeRefused(f"版本信息中的安装包大小 {m.size} 字节不合理，已拒绝升级")
    if not re.fullmatch(r"[0-9a-f]{64}", m.sha256):
        raise UpgradeRefused("版本信息中的 SHA-256 校验值格式有误，已拒绝升级")


def verify(data: Any, key: Ed25519PublicKey | None = None) -> Manifest:
    """The manifest of a ``/v1/client/latest`` answer, or UpgradeRefused: unsigned, wrongly
    signed, or with fields out of shape. Only the signed fields are read."""
    if not isinstance(data, dict):
        raise UpgradeRefused("服务器返回信息格式有误（版本信息不是 JSON 对象），已拒绝升级")
    signature = data.get("signature")
    if not signature:
        raise UpgradeRefused(MSG_UNSIGNED, code="upgrade_unsigned")
    key = key or trusted_key()
    fields = {name: data.get(name) for name in SIGNED_FIELDS}
    try:
        raw = base64.b64decode(str(signature), validate=True)
        key.verify(raw, canonical(fields))
    except (binascii.Error, ValueError, InvalidSignature):
        raise UpgradeRefused(MSG_BAD_SIGNATURE, code="upgrade_bad_signature") from None
    try:
        manifest = Manifest(
            str(fields["version"]), str(fields["package"]), int(fields["size"]), str(fields["sha256"]),
            str(fields["min_version"] or ""), str(fields["notes"] or ""), str(fields["published_on"]),
        )
    except (TypeError, ValueError):
        raise UpgradeRefused("版本信息字段格式有误，已拒绝升级") from None
    check_fields(manifest)
    return manifest


def refuse_downgrade(manifest: Manifest, current: str = __version__) -> bool:
    """True when the manifest offers a newer version; False when it is this one. A lower
    version is refused: never two versions fighting, never backwards."""
    if version_key(manifest.version) < version_key(current):
        raise UpgradeRefused(
            f"税务端提供的版本 {manifest.version} 低于当前版本 {current}，已拒绝降级",
            code="upgrade_downgrade")
    return version_key(manifest.version) > version_key(current)


def below_minimum(min_version: str, current: str = __version__) -> bool:
    return bool(min_version) and valid_version(min_version) and version_key(current) < version_key(min_version)


# -- the minimum version (the one check of the submission path) ------------------------------------
def state_path(home: Path) -> Path:
    """What the last verified check found (client/core/upgrade.py writes it)."""
    return home / "updates" / "state.json"


def require_supported(home: Path) -> None:
    """Raise UpgradeRequired when the last verified release needs a newer version than
    this one: declaring and paying wait for the upgrade."""
    try:
        state = json.loads(state_path(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    minimum = state.get("min_version") if isinstance(state, dict) else None
    if isinstance(minimum, str) and below_minimum(minimum):
        raise UpgradeRequired(
            f"当前客户端版本 {__version__} 低于税务端要求的最低版本 {minimum}，申报和缴费已暂停。"
            "请先在「关于」页面点击【升级】完成升级后再申报、缴费。")
