"""The Windows installer script compiles with makensis (Debian's nsis) around the frozen
folder. Linux has no Windows to run it on: the pages themselves are checked on Windows
(installer/README.md); here the script, its payload and its data folder are."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from client import __version__
from installer import build as freezer
from tests.conftest import REPO

SCRIPT = REPO / "installer" / "socialfee.nsi"
pytestmark = pytest.mark.timeout(900)  # the first test may have to freeze first


@pytest.fixture(scope="module")
def makensis() -> str:
    found = shutil.which("makensis")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI 缺少 makensis（Debian 软件包 nsis，由 dev.sh 安装）")
        pytest.skip("makensis not installed (apt-get install nsis)")
    return found


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_script_compiles_around_the_frozen_folder(
    makensis: str, frozen: freezer.Build, tmp_path: Path
) -> None:
    out = tmp_path / f"socialfee-{__version__}-setup.exe"
    result = freezer.make_installer(frozen.folder, out, compress=False, bootstrapper=None)
    # -WX: any warning (an unused variable, a page without a language string) fails too.
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = out.read_bytes()
    assert data[:2] == b"MZ"
    # Stored uncompressed: the whole payload is in there (less the build's digest stamp).
    assert len(data) >= folder_bytes(frozen.folder) - 1024


def test_script_compiles_with_the_webview2_bootstrapper_inside(
    makensis: str, frozen: freezer.Build, tmp_path: Path
) -> None:
    """The branch that ships and runs Microsoft's bootstrapper compiles too (a stand-in file:
    the real one is put in installer/windows/ on the Windows build machine)."""
    stand_in = tmp_path / "MicrosoftEdgeWebview2Setup.exe"
    stand_in.write_bytes(b"MZ" + b"\0" * 4096 + b"webview2-stand-in")
    out = tmp_path / "with-webview2.exe"
    result = freezer.make_installer(frozen.folder, out, compress=False, bootstrapper=stand_in)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert b"webview2-stand-in" in out.read_bytes()


def test_script_refuses_to_compile_without_a_payload(makensis: str, tmp_path: Path) -> None:
    result = freezer.make_installer(tmp_path / "no-such-folder", tmp_path / "x.exe")
    assert result.returncode != 0
    assert not (tmp_path / "x.exe").exists()


def test_data_folder_the_uninstaller_may_delete_is_the_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """同时删除数据 removes DATA_DIR: it must be where the client keeps its data on
    Windows (platformdirs, not roaming), and the program folder must lie elsewhere."""
    import platformdirs
    import platformdirs.windows as windows

    from client.settings import HOME_ENV, resolve_home

    text = SCRIPT.read_text(encoding="utf-8")
    (data_dir,) = re.findall(r'^!define DATA_DIR "([^"]+)"', text, flags=re.M)
    (install_dir,) = re.findall(r'^InstallDir "([^"]+)"', text, flags=re.M)
    monkeypatch.setattr(platformdirs, "PlatformDirs", windows.Windows)
    folders = {"CSIDL_LOCAL_APPDATA": "$LOCALAPPDATA", "CSIDL_APPDATA": "$APPDATA"}
    monkeypatch.setattr(windows, "get_win_folder", lambda csidl: folders[csidl])
    monkeypatch.delenv(HOME_ENV, raising=False)
    home = resolve_home(None)
    assert f"{home.parent.name}\\{home.name}" == data_dir
    assert not install_dir.lower().startswith(data_dir.lower())
    # The uninstaller honours the same override the client does.
    assert f'ReadEnvStr $HomeOverride "{HOME_ENV}"' in text
