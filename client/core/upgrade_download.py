"""Reading the manifest and downloading the package, resumably, through the saved proxy.

Both go to the business server (client/core/network.py: its address, proxy and time-out);
the package comes from ``/v1/client/download/{version}`` into ``<data dir>/updates/``.
A broken transfer leaves ``<package>.part``; the next try asks for the rest with
``Range: bytes=N-``. Nothing counts as downloaded before its size and SHA-256 match the
signed manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from client.core import network
from client.core.upgrade_manifest import (
    Manifest,
    UpgradeRefused,
    valid_version,
    verify,
    version_key,
)
from client.errors import NetworkError
from client.settings import Settings

log = logging.getLogger(__name__)

UPDATES_DIR = "updates"
CHUNK = 64 * 1024
MSG_MALFORMED = "服务器返回信息格式有误（版本信息），请稍后再试"
MAX_MANIFEST = 64 * 1024  # a manifest is a few hundred bytes; a portal's page is refused early

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    resumed_from: int  # bytes already on disk when this attempt started (0: from the start)


def updates_dir(home: Path) -> Path:
    folder = home / UPDATES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _client(settings: Settings) -> httpx.Client:
    return httpx.Client(**network.httpx_options(settings))


def _base(settings: Settings) -> str:
    return network.connection(settings).base_url


def _network_error(exc: httpx.HTTPError, what: str) -> NetworkError:
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(f"{what}时等待税务端响应超时，请稍后再试", code="network_timeout")
    if isinstance(exc, httpx.ConnectError | httpx.ProxyError):
        return NetworkError(f"{what}时网络不通，无法连接税务端（请检查网络和代理设置）", code="network_unreachable")
    return NetworkError(f"{what}时与税务端的连接意外中断，请稍后再试", code="network_dropped")


def fetch_manifest(settings: Settings) -> Manifest | None:
    """The verified manifest of the newest release; None when the tax side has none."""
    body = b""
    try:
        with _client(settings) as http, http.stream("GET", f"{_base(settings)}/v1/client/latest") as resp:
            status = resp.status_code
            for chunk in resp.iter_bytes(8192):
                body += chunk
                if len(body) > MAX_MANIFEST:
                    raise NetworkError(MSG_MALFORMED, code="network_malformed")
    except httpx.HTTPError as exc:
        raise _network_error(exc, "检查更新") from None
    if status == 404:
        return None
    if status != 200:
        raise NetworkError(f"检查更新失败：税务端返回 HTTP {status}，请稍后再试", code="network_status")
    try:
        data = json.loads(body)
    except ValueError:
        raise NetworkError(MSG_MALFORMED, code="network_malformed") from None
    return verify(data)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_path(home: Path, manifest: Manifest) -> Path:
    """Named by version and digest: a part of another build of the same version is never
    resumed into this one."""
    return updates_dir(home) / f"{manifest.version}-{manifest.sha256[:12]}-{manifest.package}"


def prune_downloads(home: Path, current: str) -> list[str]:
    """Packages (and parts) of this version or older: installed already, or never needed."""
    removed = []
    for path in updates_dir(home).iterdir():
        version = path.name.split("-", 1)[0]
        if path.is_file() and valid_version(version) and version_key(version) <= version_key(current):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def check_package(path: Path, manifest: Manifest) -> None:
    """Size, then SHA-256, against the signed manifest; a mismatch deletes the file."""
    size = path.stat().st_size
    if size != manifest.size:
        path.unlink(missing_ok=True)
        raise UpgradeRefused(
            f"下载的安装包大小（{size} 字节）与版本信息（{manifest.size} 字节）不一致，"
            "可能已被篡改，已删除并拒绝安装", code="upgrade_size_mismatch")
    if _sha256(path) != manifest.sha256:
        path.unlink(missing_ok=True)
        raise UpgradeRefused(
            "下载的安装包 SHA-256 校验值与版本信息不一致，可能已被篡改，已删除并拒绝安装",
            code="upgrade_sha_mismatch")


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def download(settings: Settings, home: Path, manifest: Manifest,
             progress: Progress | None = None) -> Downloaded:
    """One attempt: the rest of ``.part`` (or all of it), then the checks. A broken line
    raises NetworkError and keeps what arrived for the next attempt."""
    final = package_path(home, manifest)
    if final.exists():
        with contextlib.suppress(UpgradeRefused):
            check_package(final, manifest)
            return Downloaded(final, manifest.size, manifest.size)
    part = final.with_name(final.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if have > manifest.size:  # more than the signed size: start over
        part.unlink()
        have = 0
    resumed_from = have
    url = f"{_base(settings)}/v1/client/download/{manifest.version}"
    headers = {"Range": f"bytes={have}-"} if 0 < have < manifest.size else {}
    try:
        if have < manifest.size:
            with _client(settings) as http, http.stream("GET", url, headers=headers) as resp:
                if resp.status_code == 206:
                    match = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", ""))
                    if not match or int(match.group(1)) != have or int(match.group(3)) != manifest.size:
                        raise NetworkError("服务器返回信息格式有误（续传范围不符），请重新下载", code="network_malformed")
                    mode = "ab"
                elif resp.status_code == 200:
                    have = resumed_from = 0  # the server sent it whole: start the file again
                    mode = "wb"
                elif resp.status_code == 404:
                    raise UpgradeRefused(f"税务端没有版本 {manifest.version} 的安装包，请稍后再试", code="upgrade_missing")
                else:
                    raise NetworkError(f"下载安装包失败：税务端返回 HTTP {resp.status_code}，请稍后再试",
                                       code="network_status")
                with open(part, mode) as fh:
                    for chunk in resp.iter_bytes(CHUNK):
                        have += len(chunk)
                        if have > manifest.size:
                            raise UpgradeRefused("下载的安装包比版本信息中的大小更大，可能已被篡改，已拒绝安装",
                                                 code="upgrade_size_mismatch")
                        fh.write(chunk)
                        if progress:
                            progress(have, manifest.size)
                    fh.flush()
                    os.fsync(fh.fileno())
    except httpx.HTTPError as exc:
        log.info("package download of %s broke after %d bytes: %s", manifest.version, have, exc)
        raise NetworkError(
            f"下载安装包时网络中断（已下载 {have}/{manifest.size} 字节），再次升级将从断点继续",
            code="network_dropped") from None
    except UpgradeRefused:
        part.unlink(missing_ok=True)
        raise
    check_package(part, manifest)
    os.replace(part, final)
    return Downloaded(final, manifest.size, resumed_from)
