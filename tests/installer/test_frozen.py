"""The frozen program (PyInstaller onedir) as an operator meets it: nothing it needs was
left out of the folder. Real processes, the real reference tax side over HTTP."""

from __future__ import annotations

import io
import json
import pickle
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from client import __version__
from client.core import sheets, system
from installer import build as freezer
from tests.conftest import NEW_PASSWORD, REPO
from tests.installer.conftest import Running, start

pytestmark = pytest.mark.timeout(900)  # the first test may have to freeze first


def internal(build: freezer.Build) -> Path:
    return build.folder / "_internal"


def test_version(frozen: freezer.Build) -> None:
    result = subprocess.run(
        [str(frozen.executable), "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"socialfee {__version__}"


def test_rule_packs_and_fee_engine_answer_as_from_source(frozen: freezer.Build) -> None:
    """The bundled packs (read through importlib.resources) and the Decimal fee engine:
    the frozen program's answers are the source tree's, to the character."""
    for args in (
        ["rules", "regions"],
        ["rules", "calc", "--region", "110000", "--period", "202507", "--base", "12345.67", "--json"],
    ):
        frozen_out = subprocess.run(
            [str(frozen.executable), *args], capture_output=True, text=True, timeout=60
        )
        source_out = subprocess.run(
            [sys.executable, "-m", "client", *args], capture_output=True, text=True, timeout=60
        )
        assert frozen_out.returncode == 0, frozen_out.stderr
        assert frozen_out.stdout == source_out.stdout
        assert frozen_out.stdout.strip()


def test_folder_holds_every_file_the_packages_read(frozen: freezer.Build) -> None:
    """Templates, static files, rule packs, fonts and release.json: every non-Python file of
    the packages, at the same place under _internal/ as in the tree."""
    wanted = [
        p.relative_to(REPO)
        for d in ("client", "rules", "taxside")
        for p in (REPO / d).rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    for must in ("client/web/templates/base.html", "client/web/static/js/api.js", "rules/packs"):
        assert any(str(p).startswith(must) for p in wanted), must
    missing = sorted(str(p) for p in wanted if not (internal(frozen) / p).is_file())
    assert missing == []
    if (REPO / "client/assets/fonts").is_dir():
        assert any((internal(frozen) / "client/assets/fonts").iterdir())
    # The Linux smoke build leaves the Qt window out (see installer/README.md).
    assert not (internal(frozen) / "PyQt6").exists()


def test_headless_answers_its_first_page(
    frozen: freezer.Build, tmp_path: Path, launched: list[Running]
) -> None:
    running = start(frozen.executable, "--home", str(tmp_path / "home"), "run", "--headless")
    launched.append(running)
    with httpx.Client(follow_redirects=True, timeout=20, trust_env=False) as client:
        page = client.get(running.url)
        assert page.status_code == 200
        assert "注册登录" in page.text  # no unit yet: the login wizard, from the frozen templates
        script = client.get(str(page.url.join("/static/js/api.js")))
        assert script.status_code == 200
        assert script.text == (REPO / "client/web/static/js/api.js").read_text(encoding="utf-8")
    code, err = running.stop()
    assert code == 0
    assert "Traceback" not in err


def test_no_arguments_start_the_client(
    frozen: freezer.Build, tmp_path: Path, launched: list[Running]
) -> None:
    """What the shortcuts and a double click do: no arguments means `run` (here without a
    display, so it falls back to serving only and says so)."""
    running = start(frozen.executable, home=tmp_path / "home")
    launched.append(running)
    assert any("改为仅启动服务" in line for line in running.lines), running.lines
    page = httpx.get(running.url, follow_redirects=True, timeout=20, trust_env=False)
    assert page.status_code == 200 and "注册登录" in page.text
    assert (tmp_path / "home").is_dir()  # SOCIALFEE_HOME honoured: the data went there
    code, err = running.stop()
    assert code == 0, err


def _credentials(lines: list[str]) -> list[tuple[str, str, str]]:
    """(taxpayer id, initial password, unit name) from the demo's printed lines."""
    found = []
    for line in lines:
        m = re.match(r"\s*纳税人识别号 (\S+)\s+初始申报密码 (\S+)\s+地区 \d+\s+职工 \d+ 人\s+(.+)$", line)
        if m:
            found.append((m[1], m[2], m[3].strip()))
    return found


def test_demo_login_through_http(
    frozen: freezer.Build, tmp_path: Path, launched: list[Running]
) -> None:
    """The frozen demo: its tax side, the rule packs, the login wizard end to end."""
    running = start(frozen.executable, "--home", str(tmp_path / "demo"), "demo", "--headless")
    launched.append(running)
    taxside_url = next(x for x in running.lines if x.startswith("参考税务端："))
    taxside_url = taxside_url.split("：", 1)[1].split("（", 1)[0]
    packs = httpx.get(taxside_url + "/v1/rule-packs", timeout=20, trust_env=False)
    assert packs.status_code == 200
    shipped = sorted(p.stem for p in (REPO / "rules/packs").glob("*.toml"))
    assert sorted(item["region"] for item in packs.json()["items"]) == shipped  # its packs too
    creds = _credentials(running.lines)
    assert len(creds) >= 3, running.lines
    taxpayers = [c[0] for c in creds]
    taxpayer, initial, name = next(c for c in creds if taxpayers.count(c[0]) == 1)

    with httpx.Client(follow_redirects=True, timeout=30, trust_env=False) as client:
        first = client.get(running.url)
        assert first.status_code == 200
        client.base_url = f"{first.url.scheme}://{first.url.netloc.decode()}"
        html = client.get("/login").text
        marker = 'name="csrf-token" content="'
        start_at = html.index(marker) + len(marker)
        client.headers["X-CSRF-Token"] = html[start_at : html.index('"', start_at)]

        found = client.post("/api/session/taxpayer", json={"taxpayer_id": taxpayer}).json()
        assert found["ok"], found
        (unit,) = found["units"]
        assert unit["name"] == name
        login = client.post(
            "/api/session/login", json={"unit_id": unit["unit_id"], "password": initial}
        ).json()
        assert login["ok"] and login["next"] == "change", login
        changed = client.post(
            "/api/session/change-initial",
            json={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        ).json()
        assert changed["ok"], changed
        registration = client.get("/api/session/registration").json()
        assert registration["ok"] and registration["registration"], registration
        confirmed = client.post("/api/session/confirm", json={"confirmed": True}).json()
        assert confirmed["ok"] and confirmed["session"]["state"] == "entered", confirmed

        home = client.get("/")
        assert home.status_code == 200 and "/login" not in str(home.url)
        assert name in home.text
        # 关于 of the installed program: its own folder, and the release's channel.
        about = client.get("/api/system/about").json()["about"]
        assert about["installed"] is True
        assert about["program_dir"] == str(frozen.folder.resolve())
        release = json.loads((REPO / "client/release.json").read_text(encoding="utf-8"))
        assert about["channel"] == system.channel_label(release["channel"])
    code, err = running.stop()
    assert code == 0
    assert "Traceback" not in err

    # An encrypted backup of what the login brought in, and its check: zstd, AES-GCM and
    # scrypt from the folder's native libraries.
    data = tmp_path / "demo" / "client"
    backups = tmp_path / "backups"
    made = _cli(frozen, "--home", str(data), "backup", "create", "--to", str(backups),
                "--password-stdin", stdin=NEW_PASSWORD)
    assert made.returncode == 0, made.stderr
    assert "已加密" in made.stdout and "单位 1" in made.stdout, made.stdout
    (backup,) = backups.glob("*.sfbak")
    checked = _cli(frozen, "--home", str(data), "backup", "verify", str(backup),
                   "--password-stdin", stdin=NEW_PASSWORD)
    assert checked.returncode == 0 and "校验通过" in checked.stdout, checked.stdout + checked.stderr
    wrong = _cli(frozen, "--home", str(data), "backup", "verify", str(backup),
                 "--password-stdin", stdin="not-the-password")
    assert wrong.returncode == 1 and "备份密码不正确" in wrong.stderr


def _cli(frozen: freezer.Build, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(frozen.executable), *args], input=stdin + "\n", capture_output=True, text=True,
        timeout=120,
    )


_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def _ods(rows: list[list[str]]) -> bytes:
    """A minimal OpenDocument spreadsheet (the upload kind read by calamine in a child)."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    body = "".join(
        "<table:table-row>"
        + "".join(
            f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'
            for v in row
        )
        + "</table:table-row>"
        for row in rows
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Sheet1">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content)
        z.writestr("META-INF/manifest.xml", _MANIFEST)
    return buf.getvalue()


def test_spreadsheet_child_runs_inside_the_frozen_program(frozen: freezer.Build) -> None:
    """xls/ods uploads are read by `[sys.executable, "-m", "client.core.sheets"]`; frozen,
    sys.executable is socialfee itself, which must serve that child (and nothing else)."""
    rows = [["身份证号", "姓名"], ["110101199003071234", "张三"]]
    child = subprocess.run(
        [str(frozen.executable), "-m", "client.core.sheets", "10"],
        input=_ods(rows), capture_output=True, timeout=60,
    )
    assert child.returncode == 0, child.stderr
    assert pickle.loads(child.stdout) == ([(1, rows[0]), (2, rows[1])], 0)
    broken = subprocess.run(
        [str(frozen.executable), "-m", "client.core.sheets", "10"],
        input=b"\xd0\xcf\x11\xe0 not a workbook", capture_output=True, timeout=60,
    )
    assert pickle.loads(broken.stdout) == sheets.CORRUPT
    refused = subprocess.run(
        [str(frozen.executable), "-m", "os", "x"], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert "不支持的模块" in refused.stderr
