"""Freeze the client into one folder: ``python installer/build.py [--dist DIR] [--force]``.

``--installer`` then compiles installer/socialfee.nsi with makensis around it;
``--package`` writes the in-app upgrade package ``socialfee-<version>-<platform>.zip``.
The folder is ``<dist>/socialfee/`` (``socialfee`` or ``socialfee.exe`` plus ``_internal/``),
and beside it ``<dist>/socialfee-entry/``, the installed copy's stable entry (installer/entry.py).
A build records the digest of the sources it froze; a later call with the same sources
reuses it (the tests build once, and not again while nothing changed).
PyInstaller does not cross-build: a Windows folder comes from a Windows machine
(installer/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "installer" / "socialfee.spec"
ENTRY_SPEC = ROOT / "installer" / "entry.spec"
NSIS_SCRIPT = ROOT / "installer" / "socialfee.nsi"
# Microsoft's bootstrapper, put there on the Windows build machine (installer/README.md).
WEBVIEW2_SETUP = ROOT / "installer" / "windows" / "MicrosoftEdgeWebview2Setup.exe"
NAME = "socialfee"
ENTRY_NAME = "socialfee-entry"
DIGEST_FILE = ".source-digest"
# What goes into the build: the packages with their templates, static files, rule packs
# and fonts, the spec and entry point, and the dependency list.
SOURCES = ("client", "rules", "taxside")
EXTRA_SOURCES = (
    "installer/socialfee.spec", "installer/launch.py", "installer/entry.spec", "installer/entry.py",
    "pyproject.toml",
)


@dataclass(frozen=True)
class Build:
    folder: Path
    seconds: float  # time spent freezing; 0 when an up-to-date build was reused
    reused: bool

    @property
    def executable(self) -> Path:
        return executable(self.folder)

    @property
    def entry(self) -> Path:
        """The stable entry's folder (installer/entry.py), beside the program's."""
        return self.folder.parent / ENTRY_NAME


def executable(folder: Path, name: str = NAME) -> Path:
    return folder / (f"{name}.exe" if sys.platform == "win32" else name)


def source_digest(root: Path = ROOT) -> str:
    files = [
        p
        for d in SOURCES
        for p in (root / d).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    files += [root / p for p in EXTRA_SOURCES]
    h = hashlib.sha256()
    for p in sorted(files):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    # The same sources frozen with the Qt window are another build.
    h.update(f"qt={os.environ.get('SOCIALFEE_FREEZE_QT', '')}".encode())
    return h.hexdigest()


def is_fresh(folder: Path, digest: str, *, entry: bool = True) -> bool:
    stamp = folder / DIGEST_FILE
    return (
        executable(folder).is_file()
        and (not entry or executable(folder.parent / ENTRY_NAME).is_file())
        and stamp.is_file()
        and stamp.read_text(encoding="utf-8").strip() == digest
    )


def build(
    dist: Path, work: Path | None = None, *, force: bool = False, root: Path = ROOT, entry: bool = True
) -> Build:
    """Freeze into ``dist/socialfee`` (and the stable entry into ``dist/socialfee-entry``)
    unless a build of the same sources is already there. ``root``: another source tree (the
    tests freeze a copy with a newer version for an upgrade package)."""
    folder = dist / NAME
    digest = source_digest(root)
    if not force and is_fresh(folder, digest, entry=entry):
        return Build(folder, 0.0, True)
    work = work or dist.parent / "build" / "pyinstaller"
    (folder / DIGEST_FILE).unlink(missing_ok=True)  # a half-done build is never "fresh"
    started = time.perf_counter()
    specs = [SPEC, ENTRY_SPEC] if entry else [SPEC]
    for spec in (root / s.relative_to(ROOT) for s in specs):  # one spec each: shared work names
        result = subprocess.run(
            [
                sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                "--distpath", str(dist), "--workpath", str(work), str(spec),
            ],
            cwd=root,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"PyInstaller failed on {spec.name} ({result.returncode}):\n{result.stderr[-4000:]}"
            )
    seconds = time.perf_counter() - started
    (folder / DIGEST_FILE).write_text(digest + "\n", encoding="utf-8")
    return Build(folder, seconds, False)


@dataclass(frozen=True)
class Package:
    path: Path
    version: str
    size: int
    sha256: str


def platform_tag() -> str:
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    return f"{system}-{ {'amd64': 'x64', 'x86_64': 'x64'}.get(machine, machine)}"


def package(folder: Path, out_dir: Path, version: str | None = None) -> Package:
    """The in-app upgrade package: a zip with the onedir folder's files at its top, as
    client/core/upgrade_install.py unpacks into ``versions/<version>/``."""
    if version is None:
        from client import __version__ as version
    if not executable(folder).is_file():
        raise RuntimeError(f"{folder} 中没有冻结的程序，请先运行 build.py")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{NAME}-{version}-{platform_tag()}.zip"
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for file in sorted(folder.rglob("*")):
            # The client refuses links in a package: a link (PyInstaller links Pillow's
            # libraries into _internal/ on Linux) goes in as a copy of its file, which
            # must lie inside the folder.
            if file.is_symlink() and not file.resolve().is_relative_to(folder.resolve()):
                raise RuntimeError(f"冻结目录中的符号链接 {file} 指向目录之外，无法打包")
            if file.is_file() and file.name != DIGEST_FILE:
                info = zipfile.ZipInfo(file.relative_to(folder).as_posix(), (1980, 1, 1, 0, 0, 0))
                info.external_attr = (0o755 if os.access(file, os.X_OK) else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(file, "rb") as src, zf.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, path)
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return Package(path, version, path.stat().st_size, digest.hexdigest())


def make_installer(
    folder: Path, out: Path, *, compress: bool = True, bootstrapper: Path | None = WEBVIEW2_SETUP,
    entry: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Compile installer/socialfee.nsi with ``folder`` as the payload (makensis on PATH) and
    ``entry`` (default: the stable entry's folder beside it) at the top of the install folder;
    the WebView2 bootstrapper goes inside when that file exists."""
    from client import __version__

    entry = entry or folder.parent / ENTRY_NAME
    command = [
        "makensis", "-WX", "-V2", "-INPUTCHARSET", "UTF8",
        f"-DPAYLOAD={folder}", f"-DENTRY={entry}", f"-DVERSION={__version__}", f"-DOUTFILE={out}",
    ]
    if not compress:
        command.append("-DNO_COMPRESSION")
    if bootstrapper is not None and bootstrapper.is_file():
        command.append(f"-DWEBVIEW2_BOOTSTRAPPER={bootstrapper}")
    return subprocess.run(
        [*command, str(NSIS_SCRIPT)], cwd=ROOT, capture_output=True, text=True, errors="replace"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="冻结 socialfee（PyInstaller 单文件夹版）")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="输出目录，默认 dist/")
    parser.add_argument("--force", action="store_true", help="即使源文件未变也重新冻结")
    parser.add_argument(
        "--installer", action="store_true", help="再用 makensis 生成 Windows 安装程序（dist/ 中）"
    )
    parser.add_argument(
        "--package", action="store_true", help="再生成程序内升级用的安装包 socialfee-<版本>-<平台>.zip"
    )
    args = parser.parse_args(argv)
    done = build(args.dist.resolve(), force=args.force)
    if done.reused:
        print(f"源文件未变，沿用已有的冻结版本：{done.folder}")
    else:
        print(f"冻结完成：{done.folder}（用时 {done.seconds:.1f} 秒）")
    if args.installer:
        from client import __version__

        out = args.dist.resolve() / f"socialfee-{__version__}-setup.exe"
        result = make_installer(done.folder, out)
        if result.returncode != 0:
            sys.exit(f"安装程序生成失败：\n{result.stdout[-4000:]}{result.stderr[-4000:]}")
        print(f"安装程序：{out}")
    if args.package:
        made = package(done.folder, args.dist.resolve())
        print(f"升级安装包：{made.path}")
        print(f"大小 {made.size} 字节，SHA-256 {made.sha256}")
        print(f"签名：socialfee dev sign-release {made.path} --version {made.version} --key-file <私钥文件>")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # client's version, also from a plain checkout
    main()
