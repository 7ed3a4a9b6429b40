"""The Windows installer script compiles with makensis (Debian's nsis) around the frozen
folder. Linux has no Windows to run it on: the pages themselves are checked on Windows
(installer/README.md); here the script, its payload and its data folder are."""

from __future__ import annotations

import hashlib
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


def folder_bytes(*folders: Path) -> int:
    """Bytes of the distinct files: makensis stores a file met twice once (Pillow's
    libraries sit both in _internal/ and in _internal/pillow.libs/)."""
    sizes = {
        hashlib.sha256(p.read_bytes()).digest(): p.stat().st_size
        for folder in folders
        for p in folder.rglob("*")
        if p.is_file()
    }
    return sum(sizes.values())


def test_script_compiles_around_the_frozen_folder(
    makensis: str, frozen: freezer.Build, tmp_path: Path
) -> None:
    out = tmp_path / f"socialfee-{__version__}-setup.exe"
    result = freezer.make_installer(frozen.folder, out, compress=False, bootstrapper=None)
    # -WX: any warning (an unused variable, a page without a language string) fails too.
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = out.read_bytes()
    assert data[:2] == b"MZ"
    # Stored uncompressed: the whole payload and the stable entry are in there (less the
    # build's digest stamp).
    assert len(data) >= folder_bytes(frozen.folder, frozen.entry) - 1024


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


def test_installed_layout_is_the_one_the_upgrade_launcher_reads(tmp_path: Path) -> None:
    """The installer writes current.json as the client does, reads the running version back
    from it the way the client writes it, and puts the program under versions\\<version>\\."""
    from client.core import upgrade_install

    text = SCRIPT.read_text(encoding="utf-8")
    (written,) = re.findall(r"FileWrite \$0 '(\{.*\})'", text)
    (pointer_name,) = re.findall(r'^!define POINTER "([^"]+)"', text, flags=re.M)
    assert pointer_name == upgrade_install.POINTER
    (tmp_path / pointer_name).write_text(written.replace("${VERSION}", "1.2.3"), encoding="utf-8")
    pointer = upgrade_install.read_pointer(tmp_path)
    assert pointer is not None and (pointer.version, pointer.state) == ("1.2.3", "ok")
    # ReadPointerVersion cuts the text between these two delimiters out of the file's line.
    (start,) = re.findall(r"\$\{WordFind\} \$2 '([^']+)' \"E\+1\}\" \$0", text)
    upgrade_install.write_pointer(tmp_path, "2.0.1", "1.2.3", "trial")
    line = (tmp_path / pointer_name).read_text(encoding="utf-8")
    assert "\n" not in line and line.split(start, 1)[1].split('"', 1)[0] == "2.0.1"
    # The program under versions\<version>\, the entry at the top, shortcuts at the entry.
    assert 'SetOutPath "$INSTDIR\\versions\\${VERSION}"' in text
    assert 'File /r "${ENTRY}\\*"' in text
    assert re.findall(r'CreateShortCut "[^"]+\.lnk" "(\$INSTDIR\\[^"]+)"', text) == [
        "$INSTDIR\\${EXE}", "$INSTDIR\\${EXE}", "$INSTDIR\\${UNINSTALLER}"]
    uninstall = text[text.index('Section "Uninstall"'):]
    assert 'RMDir /r "$INSTDIR\\versions"' in uninstall
    repair = text[text.index('Section "-program"'):text.index("SectionEnd")]
    assert 'RMDir /r "$INSTDIR\\versions\\${VERSION}"' in repair  # this version only
    assert 'RMDir /r "$INSTDIR\\versions"' not in repair  # the others stay


def test_script_refuses_to_compile_without_the_entry(
    makensis: str, frozen: freezer.Build, tmp_path: Path
) -> None:
    result = freezer.make_installer(frozen.folder, tmp_path / "x.exe", compress=False,
                                    bootstrapper=None, entry=tmp_path / "no-entry")
    assert result.returncode != 0
    assert not (tmp_path / "x.exe").exists()
