"""Freeze the client into one folder: ``python installer/build.py [--dist DIR] [--force]``.

``--installer`` then compiles installer/socialfee.nsi with makensis around it.
The folder is ``<dist>/socialfee/`` (``socialfee`` or ``socialfee.exe`` plus ``_internal/``).
A build records the digest of the sources it froze; a later call with the same sources
reuses it (the tests build once, and not again while nothing changed).
PyInstaller does not cross-build: a Windows folder comes from a Windows machine
(installer/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "installer" / "socialfee.spec"
NSIS_SCRIPT = ROOT / "installer" / "socialfee.nsi"
# Microsoft's bootstrapper, put there on the Windows build machine (installer/README.md).
WEBVIEW2_SETUP = ROOT / "installer" / "windows" / "MicrosoftEdgeWebview2Setup.exe"
NAME = "socialfee"
DIGEST_FILE = ".source-digest"
# What goes into the build: the packages with their templates, static files, rule packs
# and fonts, the spec and entry point, and the dependency list.
SOURCES = ("client", "rules", "taxside")
EXTRA_SOURCES = ("installer/socialfee.spec", "installer/launch.py", "pyproject.toml")


@dataclass(frozen=True)
class Build:
    folder: Path
    seconds: float  # time spent freezing; 0 when an up-to-date build was reused
    reused: bool

    @property
    def executable(self) -> Path:
        return executable(self.folder)


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


def is_fresh(folder: Path, digest: str) -> bool:
    stamp = folder / DIGEST_FILE
    return (
        executable(folder).is_file()
        and stamp.is_file()
        and stamp.read_text(encoding="utf-8").strip() == digest
    )


def build(dist: Path, work: Path | None = None, *, force: bool = False) -> Build:
    """Freeze into ``dist/socialfee`` unless a build of the same sources is already there."""
    folder = dist / NAME
    digest = source_digest()
    if not force and is_fresh(folder, digest):
        return Build(folder, 0.0, True)
    work = work or dist.parent / "build" / "pyinstaller"
    (folder / DIGEST_FILE).unlink(missing_ok=True)  # a half-done build is never "fresh"
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
            "--distpath", str(dist), "--workpath", str(work), str(SPEC),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"PyInstaller failed ({result.returncode}):\n{result.stderr[-4000:]}")
    (folder / DIGEST_FILE).write_text(digest + "\n", encoding="utf-8")
    return Build(folder, seconds, False)


def make_installer(
    folder: Path, out: Path, *, compress: bool = True, bootstrapper: Path | None = WEBVIEW2_SETUP
) -> subprocess.CompletedProcess[str]:
    """Compile installer/socialfee.nsi with ``folder`` as the payload (makensis on PATH);
    the WebView2 bootstrapper goes inside when that file exists."""
    from client import __version__

    command = [
        "makensis", "-WX", "-V2", "-INPUTCHARSET", "UTF8",
        f"-DPAYLOAD={folder}", f"-DVERSION={__version__}", f"-DOUTFILE={out}",
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


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # client's version, also from a plain checkout
    main()
