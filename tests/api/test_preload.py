"""The pages' modulepreload links: every module a page's scripts import, transitively, so the
browser fetches them at once; nothing outside static/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from client.api import preload

STATIC = preload.STATIC
IMPORT = re.compile(r'from\s*["\'](\.{1,2}/[^"\']+)["\']|import\s*["\'](\.{1,2}/[^"\']+)["\']')


def links(html: str) -> list[str]:
    return re.findall(r'href="/static/([^"]+)"', str(preload.module_preloads(html)))


def test_every_page_script_preloads_its_whole_import_graph() -> None:
    for script in sorted((STATIC / "js" / "pages").glob("*.js")):
        entry = script.relative_to(STATIC).as_posix()
        found = links(f'<script type="module" src="/static/{entry}"></script>')
        assert found[0] == entry and len(found) == len(set(found))
        for module in found:  # what each listed module imports is listed too
            text = (STATIC / module).read_text(encoding="utf-8")
            for a, b in IMPORT.findall(text):
                target = (Path(module).parent / (a or b)).as_posix()
                resolved = str(Path("/" + target).resolve())[1:]
                assert resolved in found, (entry, module, target)


def test_payment_page_lists_its_deep_imports_and_the_shell() -> None:
    found = re.findall(r'href="/static/([^"]+)"', str(preload.module_preloads(
        '<script type="module" src="/static/js/pages/payment.js"></script>', "js/app.js")))
    assert found[0] == "js/app.js" and len(found) == len(set(found))
    assert {"js/shell.js", "js/pages/payment.js", "js/table.js", "js/api.js", "js/job.js"} <= set(found)


def test_a_rendered_page_preloads_the_shell_and_its_own_scripts(tmp_path: Path) -> None:
    """As base.html renders it (a concatenated string there was escaped and matched nothing)."""
    from client.app import build_services, start_server

    services = build_services(tmp_path / "home")
    server = start_server(services)
    try:
        import httpx

        with httpx.Client(base_url=server.base_url, follow_redirects=True) as ui:
            ui.get(server.launch_url)
            html = ui.get("/about").text
    finally:
        server.stop()
        services.close()
    # Each URL carries its file's hash (?v=): the page's scripts are the very URLs preloaded.
    preloaded = re.findall(r'<link rel="modulepreload" href="/static/([^"?]+)\?v=(\w+)">', html)
    assert {"js/app.js", "js/shell.js", "js/upgrade_hint.js"} <= {p for p, _ in preloaded}, preloaded
    scripts = re.findall(r'<script type="module" src="/static/([^"?]+)\?v=(\w+)"', html)
    assert scripts and set(scripts) <= set(preloaded)
    assert all(version == preload.version(path) for path, version in preloaded)
    # The modules' own imports (no hash) are sent to the same URLs by the import map, which
    # maps every script under static/ (one a page adds outside its block too).
    mapped = json.loads(re.search(r'<script type="importmap" nonce="[^"]+">(.*?)</script>', html).group(1))
    assert {f"/static/{p}": f"/static/{p}?v={v}" for p, v in preloaded}.items() <= mapped["imports"].items()
    assert {f"/static/{p.relative_to(STATIC).as_posix()}" for p in STATIC.rglob("*.js")} == set(mapped["imports"])


def test_paths_outside_static_and_missing_files_are_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text('import "../../secret.js";\nimport { x } from "./gone.js";\n')
    monkeypatch.setattr(preload, "STATIC", tmp_path)
    preload._graph.cache_clear()
    try:
        found = links('<script type="module" src="/static/js/a.js"></script>')
    finally:
        preload._graph.cache_clear()
    assert found == ["js/a.js"]  # never above static/, never a file that is not there
