"""<link rel="modulepreload"> for a page's scripts and everything they import, and the
versions that let the browser keep static files.

The pages are ES modules (no bundler): the browser only learns of ``table.js`` after it
has fetched ``payment.js`` and then ``payment_common.js`` that import it, so a page waited
for four round trips in a row before its first API call. Listing the whole import graph in
the head lets the browser fetch it at once.

Even listed, every module was asked again on every page (``no-cache``: one 304 each, about
15 a page, 100 ms on a busy PC). A static URL therefore carries its file's content hash
(``?v=``; server.py adds it to every ``url_for('static', ...)`` and keeps such a URL for a
year); the modules' own imports (``../api.js``) carry none, so the page's import map sends
each of them to its versioned URL. A changed file gets a new hash, hence a new URL: nothing
stale is ever run. A URL without the current hash is served as before (revalidated).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path, PurePosixPath
from stat import S_ISREG

from markupsafe import Markup, escape

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
_SCRIPT = re.compile(r'<script type="module" src="/static/(js/[\w./-]+\.js)(?:\?[^"]*)?"')
# Static imports only ("import x from './a.js'", "import './a.js'", "export ... from"):
# relative paths, as the client's modules write them.
_IMPORT = re.compile(r'^\s*(?:import|export)\s+(?:[^;"\']*?\bfrom\s*)?["\'](\.{1,2}/[^"\']+\.js)["\']', re.M)
MAX_MODULES = 200  # a bound, not a limit anyone reaches: the client has about 30
VERSION_PARAM = "v"


@lru_cache(maxsize=64)
def _graph(entry: str) -> tuple[str, ...]:
    """``entry`` and every module it imports, transitively, as paths under static/."""
    seen: dict[str, None] = {}
    todo = [entry]
    while todo and len(seen) < MAX_MODULES:
        path = todo.pop()
        if path in seen:
            continue
        try:
            text = (STATIC / path).read_text(encoding="utf-8")
        except OSError:
            continue  # no such module: nothing to preload (a link would only add a 404)
        seen[path] = None
        base = PurePosixPath(path).parent
        for target in _IMPORT.findall(text):
            resolved = _normalise(base / target)
            if resolved is not None:
                todo.append(resolved)
    return tuple(seen)


def _normalise(path: PurePosixPath) -> str | None:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                return None  # above static/: not ours
            parts.pop()
        elif part not in (".", "/"):
            parts.append(part)
    return "/".join(parts)


@lru_cache(maxsize=1024)
def _digest(path: Path, _mtime_ns: int, _size: int) -> str | None:
    # Keyed by the file's time and size too: a file edited while the client runs (dev.sh)
    # is hashed again, so its URL changes with it.
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def version(filename: str) -> str | None:
    """The content hash of static/``filename`` for its URL; None when there is no such file."""
    name = _normalise(PurePosixPath(filename))
    if not name or "\\" in name:
        return None
    return _file_version(STATIC / name)


def _file_version(path: Path) -> str | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    if not S_ISREG(found.st_mode):
        return None
    return _digest(path, found.st_mtime_ns, found.st_size)


def static_url(path: str) -> str:
    """/static/``path`` with its hash (``path`` one of ours: a module path, not a request's)."""
    found = _file_version(STATIC / path)
    return f"/static/{path}?{VERSION_PARAM}={found}" if found else f"/static/{path}"


def module_preloads(scripts_html: str, *entries: str, nonce: Callable[[], str] | None = None) -> Markup:
    """The preload links for ``entries`` (paths under static/, e.g. the shell's js/app.js)
    and the module scripts named in ``scripts_html`` (the page's script tags, as rendered).

    With ``nonce`` (the response's CSP nonce) they come after an import map that sends every
    script under static/ to its versioned URL, and link those URLs; without one (no inline
    script may run) they link the plain URLs, which is what the imports then ask for."""
    links: dict[str, None] = {}
    for entry in (*entries, *_SCRIPT.findall(str(scripts_html))):
        links.update(dict.fromkeys(_graph(entry)))
    if nonce is None:
        return Markup("\n  ".join(
            f'<link rel="modulepreload" href="/static/{escape(path)}">' for path in links
        ))
    # Every module is mapped, not only the listed ones: a script the page adds elsewhere
    # (outside its scripts block) and whatever that imports are versioned too.
    urls = {f"/static/{path}": static_url(path) for path in _modules()}
    # Paths are the client's own file names, but "<" is escaped anyway: no "</script>".
    mapping = json.dumps({"imports": urls}, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    lines = [f'<script type="importmap" nonce="{escape(nonce())}">{mapping}</script>']
    lines += [f'<link rel="modulepreload" href="{escape(static_url(path))}">' for path in links]
    return Markup("\n  ".join(lines))


def _modules() -> list[str]:
    """Every script under static/, as paths (asked on each page: dev.sh adds files live)."""
    found: list[str] = []
    for folder, _dirs, files in os.walk(STATIC):
        base = Path(folder).relative_to(STATIC).as_posix()
        found.extend(name if base == "." else f"{base}/{name}" for name in files if name.endswith(".js"))
    return sorted(found)
