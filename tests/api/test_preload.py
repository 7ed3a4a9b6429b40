"""The pages' modulepreload links: every module a page's scripts import, transitively, so the
browser fetches them at once; nothing outside static/."""

from __future__ import annotations

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
    preloaded = re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', html)
    assert {"js/app.js", "js/shell.js", "js/upgrade_hint.js"} <= set(preloaded), preloaded
    scripts = re.findall(r'<script type="module" src="/static/([^"]+)"', html)
    assert scripts and set(scripts) <= set(preloaded)


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
