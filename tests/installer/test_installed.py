"""The installed layout on Linux, with the frozen build: the stable entry at the top of the
install folder, the program under versions/<v>/ and current.json, as installer/socialfee.nsi
lays them out. Started through the entry it is launcher-started (in-app 升级 can replace it),
and a real upgrade goes from the frozen build to a frozen package of a newer version,
published signed on the live reference tax side."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client import __version__
from client.core import upgrade_install
from client.core import upgrade_manifest as um
from client.core.network import TAXSIDE_ENV
from client.core.upgrade import MSG_NOT_INSTALLED
from client.settings import Settings
from installer import build as freezer
from tests.conftest import REPO
from tests.installer.conftest import Running, start
from tests.upgrade.conftest import publish

pytestmark = pytest.mark.timeout(900)  # the first test may have to freeze first
WAIT = 180  # a guard against hanging, not a time being measured
NEXT = "9.0.0"  # the version of the package the upgrade test builds


def clone(src: Path, dest: Path) -> None:
    """Copy a frozen folder; hard links where the file system allows (100 MB, read only)."""
    try:
        shutil.copytree(src, dest, copy_function=os.link)
    except OSError:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest)


def lay_out(build: freezer.Build, root: Path) -> Path:
    """An install folder as the installer leaves it."""
    clone(build.entry, root)
    clone(build.folder, root / upgrade_install.VERSIONS / __version__)
    (root / upgrade_install.VERSIONS / __version__ / freezer.DIGEST_FILE).unlink()  # left out too
    upgrade_install.write_pointer(root, __version__, "", "ok")
    return root


def session(running: Running) -> httpx.Client:
    """The browser's side: the launch key becomes the cookie, the page's CSRF token is kept."""
    client = httpx.Client(follow_redirects=True, timeout=30, trust_env=False)
    first = client.get(running.url)
    assert first.status_code == 200
    client.base_url = f"{first.url.scheme}://{first.url.netloc.decode()}"
    html = client.get("/about").text
    marker = 'name="csrf-token" content="'
    at = html.index(marker) + len(marker)
    client.headers["X-CSRF-Token"] = html[at : html.index('"', at)]
    return client


def wait_for(what: Callable[[], object], message: str, proc: subprocess.Popen[str]) -> object:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        if proc.poll() is not None:
            raise AssertionError(f"the installed program ended ({proc.returncode}) before: {message}")
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting: {message}")


def healthy(root: Path, version: str) -> bool:
    return any((upgrade_install.read_json(m) or {}).get("version") == version
               for m in (root / "run").glob("*.ok"))


def test_started_through_the_entry_it_is_launcher_started(
    frozen: freezer.Build, tmp_path: Path, launched: list[Running]
) -> None:
    root = lay_out(frozen, tmp_path / "install")
    entry = freezer.executable(root)
    assert entry.stat().st_size < freezer.executable(frozen.folder).stat().st_size  # small
    version = subprocess.run([str(entry), "--version"], capture_output=True, text=True, timeout=60)
    assert (version.returncode, version.stdout.strip()) == (0, f"socialfee {__version__}")
    assert not (root / "run").exists()  # a command, not a start: no launcher around it

    running = start(entry, "--home", str(tmp_path / "home"), "run", "--headless")
    launched.append(running)
    with closing(session(running)) as client:
        status = client.get("/api/upgrade").json()["upgrade"]
        assert status["installed"] is True  # 关于 > 升级 no longer says 开发环境
        about = client.get("/api/system/about").json()["about"]
        assert about["program_dir"] == str((root / "versions" / __version__).resolve())
    assert healthy(root, __version__)  # the launcher handed the client its "started ok" file
    code, err = running.stop()
    assert code == 0, err
    assert "Traceback" not in err


def test_the_build_folder_itself_is_not_an_installed_copy(
    frozen: freezer.Build, tmp_path: Path, launched: list[Running]
) -> None:
    """dist/socialfee started directly: no install root, so 升级 says why it cannot."""
    running = start(frozen.executable, "--home", str(tmp_path / "home"), "run", "--headless")
    launched.append(running)
    with closing(session(running)) as client:
        assert client.get("/api/upgrade").json()["upgrade"]["installed"] is False
    assert "开发环境" in MSG_NOT_INSTALLED
    assert running.stop()[0] == 0


@pytest.mark.parametrize("pointer", ["", '{"version": "../../etc"}', '{"version": "7.7.7"}'])
def test_entry_without_a_usable_pointer_says_to_repair(
    frozen: freezer.Build, tmp_path: Path, pointer: str
) -> None:
    root = tmp_path / "install"
    clone(frozen.entry, root)
    if pointer:
        (root / upgrade_install.POINTER).write_text(pointer, encoding="utf-8")
    result = subprocess.run([str(freezer.executable(root)), "run"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "请运行安装程序，选择【修复】" in result.stderr
    assert "Traceback" not in result.stderr


# -- a real upgrade, frozen to frozen --------------------------------------------------------------
@pytest.fixture(scope="session")
def newer(frozen: freezer.Build) -> freezer.Build:
    """This tree frozen again with ``__version__`` = NEXT (a copy of the sources; reused
    from dist/ while they are unchanged, like the frozen fixture)."""
    src = frozen.folder.parent / f"src-{NEXT}"
    shutil.rmtree(src, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for top in freezer.SOURCES + ("installer",):
        shutil.copytree(REPO / top, src / top, ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", src / "pyproject.toml")
    init = src / "client" / "__init__.py"
    text = init.read_text(encoding="utf-8")
    assert f'__version__ = "{__version__}"' in text
    init.write_text(text.replace(f'__version__ = "{__version__}"', f'__version__ = "{NEXT}"'),
                    encoding="utf-8")
    done = freezer.build(frozen.folder.parent / f"next-{NEXT}", root=src, entry=False)
    if not done.reused:
        print(f"\nfrozen {NEXT}: {done.seconds:.1f} s")
    return done


def test_upgrade_from_the_installed_program_to_a_frozen_package(
    frozen: freezer.Build, newer: freezer.Build, tmp_path: Path, launched: list[Running],
    taxside_factory: Callable[..., object],
) -> None:
    taxside = taxside_factory(units=1, employees=3)
    key = Ed25519PrivateKey.generate()
    package = freezer.package(newer.folder, tmp_path / "out", NEXT)
    assert package.path.name == f"socialfee-{NEXT}-{freezer.platform_tag()}.zip"
    signed = json.loads(subprocess.run(
        [str(frozen.executable), "dev", "sign-release", str(package.path), "--version", NEXT],
        capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, um.SIGNING_KEY_ENV: um.private_text(key)}).stdout)
    assert (signed["size"], signed["sha256"]) == (package.size, package.sha256)
    publish(taxside, package.path, NEXT, key, notes="新版本")  # type: ignore[arg-type]

    root = lay_out(frozen, tmp_path / "install")
    home = tmp_path / "home"
    home.mkdir()
    Settings(home).update({"taxside_url": taxside.url, "upgrade_mode": "auto"})  # type: ignore[attr-defined]
    running = start(freezer.executable(root), "--home", str(home), "run", "--headless",
                    env={TAXSIDE_ENV: taxside.url, um.PUBKEY_ENV: um.public_text(key)})  # type: ignore[attr-defined]
    launched.append(running)
    # At its start the old version finds NEXT, downloads, backs up, installs and restarts;
    # the launcher starts NEXT on trial and confirms it once it said "started ok".
    pointer = wait_for(lambda: (p := upgrade_install.read_pointer(root)) and p.version == NEXT
                       and p.state == "ok" and p, f"the launcher confirms {NEXT}", running.proc)
    assert pointer.previous == __version__  # type: ignore[attr-defined]
    assert healthy(root, NEXT)
    assert sorted(os.listdir(root / "versions")) == sorted([__version__, NEXT])
    assert not (root / upgrade_install.ROLLBACK).exists()
    version = subprocess.run([str(freezer.executable(root)), "--version"], capture_output=True,
                             text=True, timeout=60)
    assert version.stdout.strip() == f"socialfee {NEXT}"  # the entry now starts the new one
    log = (home / "logs" / "socialfee.log").read_text(encoding="utf-8")
    assert f"upgrade to {NEXT} installed" in log
    running.proc.send_signal(signal.SIGINT)
    assert running.proc.wait(60) == 0


def test_a_version_started_directly_is_the_launcher_and_keeps_its_own_folder(
    frozen: freezer.Build, newer: freezer.Build, tmp_path: Path, launched: list[Running]
) -> None:
    """versions/0.1.0/socialfee started by hand, the pointer on trial of NEXT (installed
    beside it, previous 0.0.5): it launches NEXT, confirms it, and the pruning keeps the
    folder the running launcher lives in, which is neither of the two."""
    root = lay_out(frozen, tmp_path / "install")
    clone(newer.folder, root / "versions" / NEXT)
    (root / "versions" / "0.0.5").mkdir()
    (root / "versions" / "0.0.4").mkdir()  # neither running nor a way back: pruned
    upgrade_install.switch_to(root, NEXT, "0.0.5")
    own = freezer.executable(root / "versions" / __version__)
    running = start(own, "--home", str(tmp_path / "home"), "run", "--headless")
    launched.append(running)
    wait_for(lambda: (p := upgrade_install.read_pointer(root)) and p.state == "ok",
             "the launcher confirms the trial", running.proc)
    assert healthy(root, NEXT)
    assert sorted(os.listdir(root / "versions")) == sorted(["0.0.5", __version__, NEXT])
    code, err = running.stop()
    assert code == 0, err
