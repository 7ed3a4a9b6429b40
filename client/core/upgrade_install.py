"""Installing a package beside the running version, and the pointer the launcher reads.

Layout of an install root (the launcher's folder, client/core/upgrade_launcher.py)::

    current.json      {"version", "previous", "state": "ok" | "trial", "since"}
    versions/<v>/     one folder per installed version, never overwritten while in use
    rollback.json     why the last new version was rolled back (shown at the next start)

A package is a zip. At its top either the onedir program (``socialfee.exe`` or
``socialfee`` with its files) or a pure-Python tree (a wheel: ``client/``, ``rules/``,
``taxside/``, ``*.dist-info/``; the Linux stand-in the tests use). It is hostile until
checked: member names, counts and sizes are bounded and the version inside must be the
signed one. The pointer is switched with one atomic rename.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import stat
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from client.core.upgrade_manifest import UpgradeRefused, valid_version

ROOT_ENV = "SOCIALFEE_INSTALL_ROOT"  # set by the launcher for the client it starts
HEALTH_ENV = "SOCIALFEE_HEALTH_FILE"  # where the started client says "started ok"
POINTER = "current.json"
ROLLBACK = "rollback.json"
VERSIONS = "versions"
MAX_MEMBERS = 20_000
MAX_UNPACKED = 2 * 1024 * 1024 * 1024
PROGRAMS = ("socialfee.exe", "socialfee")
_VERSION_LINE = re.compile(rb'^__version__\s*=\s*"([^"]+)"', re.MULTILINE)
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(10)}


@dataclass(frozen=True)
class Pointer:
    version: str
    previous: str
    state: str  # ok / trial
    since: str

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "previous": self.previous, "state": self.state, "since": self.since}


def install_root() -> Path | None:
    """The launcher's folder when this process was started by it; None in a checkout."""
    text = os.environ.get(ROOT_ENV, "").strip()
    return Path(text) if text else None


def _now() -> str:
    return dt.datetime.now().isoformat(sep=" ", timespec="seconds")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Temp file, fsync, rename: a reader sees the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_pointer(root: Path) -> Pointer | None:
    data = read_json(root / POINTER)
    if not data or not valid_version(data.get("version")):
        return None
    previous = data.get("previous") if valid_version(data.get("previous")) else ""
    state = "trial" if data.get("state") == "trial" else "ok"
    return Pointer(str(data["version"]), str(previous), state, str(data.get("since", "")))


def write_pointer(root: Path, version: str, previous: str, state: str) -> Pointer:
    pointer = Pointer(version, previous, state, _now())
    write_json(root / POINTER, pointer.to_dict())
    return pointer


def version_dir(root: Path, version: str) -> Path:
    return root / VERSIONS / version


# -- checking and unpacking ------------------------------------------------------------------------
def _member_ok(name: str) -> bool:
    if not name or "\\" in name or "\x00" in name or len(name) > 400:
        return False
    for pure in (PurePosixPath(name), PureWindowsPath(name)):
        if pure.anchor or pure.drive or ".." in pure.parts:
            return False
    for part in PurePosixPath(name).parts:
        if part.endswith((".", " ")) or part.split(".")[0].lower() in _RESERVED or ":" in part:
            return False
    return True


def unpack(package: Path, dest: Path, version: str) -> None:
    """Check every member, then extract into ``dest`` (which must not exist yet)."""
    try:
        archive = zipfile.ZipFile(package)
    except (OSError, zipfile.BadZipFile):
        raise UpgradeRefused("安装包不是有效的 zip 文件，已拒绝安装", code="upgrade_bad_package") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise UpgradeRefused(f"安装包的文件数超过 {MAX_MEMBERS} 个，已拒绝安装", code="upgrade_bad_package")
        total = 0
        names = set()
        for info in infos:
            if not _member_ok(info.filename):
                raise UpgradeRefused(f"安装包中的文件名「{info.filename[:80]}」不合规，已拒绝安装",
                                     code="upgrade_bad_package")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UpgradeRefused(f"安装包中含有符号链接「{info.filename[:80]}」，已拒绝安装",
                                     code="upgrade_bad_package")
            total += info.file_size
            names.add(info.filename.rstrip("/"))
        if total > MAX_UNPACKED:
            raise UpgradeRefused("安装包解压后过大，已拒绝安装", code="upgrade_bad_package")
        if not any(p in names for p in PROGRAMS):
            if "client/__init__.py" not in names:
                raise UpgradeRefused("安装包中没有客户端程序，已拒绝安装", code="upgrade_bad_package")
            found = _VERSION_LINE.search(archive.read("client/__init__.py"))
            if not found or found.group(1).decode() != version:
                raise UpgradeRefused(f"安装包内的版本号与版本信息（{version}）不一致，已拒绝安装",
                                     code="upgrade_bad_package")
        dest.mkdir(parents=True)
        written = 0
        for info in infos:
            target = dest / info.filename
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > MAX_UNPACKED:  # the header lied about sizes
                        raise UpgradeRefused("安装包解压后过大，已拒绝安装", code="upgrade_bad_package")
                    out.write(chunk)
            if info.filename in PROGRAMS and os.name == "posix":
                target.chmod(0o700)


def install(root: Path, version: str, package: Path) -> Path:
    """Unpack beside the running version: a staging folder, then one rename."""
    versions = root / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    final = versions / version
    staging = versions / f".{version}.{uuid.uuid4().hex[:8]}.staging"
    try:
        unpack(package, staging, version)
        if final.exists():  # an earlier try of the same version: never the running one
            pointer = read_pointer(root)
            if pointer and pointer.version == version and pointer.state == "ok":
                raise UpgradeRefused(f"版本 {version} 正在使用中，无需再次安装", code="upgrade_in_use")
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return final


def switch_to(root: Path, version: str, current: str) -> Pointer:
    """Point the launcher at ``version`` on trial: it comes back to ``current`` unless the
    new one says "started ok" in time."""
    return write_pointer(root, version, current, "trial")


def prune(root: Path, keep: tuple[str, ...]) -> list[str]:
    """Remove installed versions other than ``keep`` (the running one and the one a rollback
    would go back to): old versions left behind are how two versions come to fight."""
    removed = []
    for folder in sorted((root / VERSIONS).iterdir()) if (root / VERSIONS).is_dir() else []:
        if folder.is_dir() and folder.name not in keep and not folder.name.startswith("."):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


# -- rollback note ---------------------------------------------------------------------------------
def write_rollback(root: Path, failed: str, restored: str, reason: str) -> None:
    write_json(root / ROLLBACK, {"failed": failed, "restored": restored, "reason": reason, "at": _now()})


def read_rollback(root: Path | None) -> dict[str, Any] | None:
    return read_json(root / ROLLBACK) if root else None


# -- packages for developers and tests -------------------------------------------------------------
_SKIP_DIRS = {"__pycache__"}


def _tree(src: Path, top: str) -> list[tuple[str, Path]]:
    out = []
    for path in sorted((src / top).rglob("*")):
        rel = path.relative_to(src)
        if path.is_file() and not _SKIP_DIRS & set(rel.parts) and path.suffix not in (".pyc", ".pyo"):
            out.append((rel.as_posix(), path))
    return out


def build_wheel(src: Path, version: str, out_dir: Path, *,
                overrides: dict[str, bytes] | None = None) -> Path:
    """A pure-Python wheel of ``client``, ``rules`` and ``taxside`` from a source tree, with
    ``__version__`` set to ``version`` (the Linux stand-in for the onedir zip)."""
    overrides = dict(overrides or {})
    init = (src / "client" / "__init__.py").read_bytes()
    overrides.setdefault("client/__init__.py",
                         _VERSION_LINE.sub(f'__version__ = "{version}"'.encode(), init, count=1))
    info = f"socialfee-{version}.dist-info"
    meta = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: socialfee\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: socialfee\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"socialfee-{version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        members = [(name, p.read_bytes()) for top in ("client", "rules", "taxside")
                   for name, p in _tree(src, top)]
        members = [(n, overrides.pop(n, data)) for n, data in members]
        members += list(overrides.items()) + list(meta.items())
        for name, data in members:
            zf.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path
