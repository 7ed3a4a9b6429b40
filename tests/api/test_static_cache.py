"""Static files the browser keeps: a page's CSS and scripts are linked by URLs carrying their
file's content hash, which are cached for a year; any other static URL (no hash, an old
hash) is revalidated; a changed file gets a new URL; pages and JSON stay no-store."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import httpx
import pytest

from client.api import preload
from client.api.server import SECURITY_HEADERS

STATIC = preload.STATIC
YEAR = "max-age=31536000"


def file_hash(path: str) -> str:
    return hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:16]


def page_assets(client: httpx.Client, page: str) -> dict[str, str]:
    """The static URLs a rendered page links (style sheet, scripts, preloads): path -> URL."""
    html = client.get(page).text
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert urls, html[:500]
    return {url.split("?")[0][len("/static/"):]: url for url in urls}


@pytest.mark.parametrize("page", ["/login", "/about", "/settings"])
def test_a_page_links_its_static_files_by_content_hash(browser_client: httpx.Client, page: str) -> None:
    assets = page_assets(browser_client, page)
    assert "css/app.css" in assets and "js/app.js" in assets
    for path, url in assets.items():
        assert url == f"/static/{path}?v={file_hash(path)}", url


def test_a_hashed_url_is_kept_a_year_and_keeps_the_security_headers(browser_client: httpx.Client) -> None:
    for path, url in page_assets(browser_client, "/about").items():
        answer = browser_client.get(url)
        assert answer.status_code == 200 and answer.content == (STATIC / path).read_bytes()
        cache = answer.headers["Cache-Control"]
        assert YEAR in cache and "immutable" in cache and "private" in cache, (url, cache)
        assert "no-store" not in cache and "no-cache" not in cache
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value, (url, name)


@pytest.mark.parametrize("query", ["", "?v=0000000000000000", "?v="])
def test_a_url_without_the_current_hash_is_revalidated(browser_client: httpx.Client, query: str) -> None:
    answer = browser_client.get(f"/static/js/api.js{query}")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-cache"
    etag = answer.headers["ETag"]
    again = browser_client.get(f"/static/js/api.js{query}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


def test_pages_and_json_are_still_never_stored(browser_client: httpx.Client) -> None:
    for path in ("/about", "/api/system/about", "/api/jobs"):
        assert browser_client.get(path).headers["Cache-Control"] == "no-store", path


def test_the_hash_must_match_the_file_asked_for(browser_client: httpx.Client) -> None:
    """Another file's hash keeps nothing: the hash is checked against the file served."""
    other = file_hash("js/app.js")
    answer = browser_client.get(f"/static/js/api.js?v={other}")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-cache"


def test_static_needs_the_launch_cookie_even_with_a_hash(browser_client: httpx.Client) -> None:
    url = f"{browser_client.base_url}/static/js/api.js?v={file_hash('js/api.js')}"
    refused = httpx.get(url)
    assert refused.status_code == 403
    assert refused.headers["Cache-Control"] == "no-store"  # a refusal is never kept
    missing = browser_client.get("/static/js/no-such-module.js?v=0123456789abcdef")
    assert missing.status_code == 404 and missing.headers["Cache-Control"] == "no-store"


def test_the_import_map_sends_each_import_to_the_hashed_url(browser_client: httpx.Client) -> None:
    html = browser_client.get("/about").text
    found = re.search(r'<script type="importmap" nonce="([^"]+)">(.*?)</script>', html)
    assert found, html[:800]
    csp = browser_client.get("/about").headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp  # the map runs by the response's nonce only
    imports = json.loads(found.group(2))["imports"]
    for name in ("js/api.js", "js/pages/payment.js", "js/table.js"):
        assert imports[f"/static/{name}"] == f"/static/{name}?v={file_hash(name)}"
    # The map comes before any module is fetched (later maps are ignored by the browser).
    assert html.index('type="importmap"') < html.index('rel="modulepreload"') < html.index('type="module"')


def test_a_changed_file_gets_a_new_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dev.sh edits files while the client runs: the URL follows the content."""
    (tmp_path / "js").mkdir()
    module = tmp_path / "js" / "a.js"
    module.write_text("export const a = 1;\n")
    os.utime(module, ns=(1_000_000_000, 1_000_000_000))
    monkeypatch.setattr(preload, "STATIC", tmp_path)
    first = preload.version("js/a.js")
    assert first == hashlib.sha256(module.read_bytes()).hexdigest()[:16]
    module.write_text("export const a = 2;\n")
    os.utime(module, ns=(2_000_000_000, 2_000_000_000))
    second = preload.version("js/a.js")
    assert second and second != first
    assert preload.static_url("js/a.js") == f"/static/js/a.js?v={second}"


def test_no_hash_for_what_is_not_a_static_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "secret.js").write_text("x")
    monkeypatch.setattr(preload, "STATIC", tmp_path / "static")
    for name in ("../secret.js", "js/../../secret.js", "js", "js/missing.js", ""):
        assert preload.version(name) is None, name
    assert preload.static_url("js/missing.js") == "/static/js/missing.js"
