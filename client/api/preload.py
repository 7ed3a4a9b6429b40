"""<link rel="modulepreload"> for a page's scripts and everything they import.

The pages are ES modules (no bundler): the browser only learns of ``table.js`` after it
has fetched ``payment.js`` and then ``payment_common.js`` that import it, so a page waited
for four round trips in a row before its first API call. Listing the whole import graph in
the head lets the browser fetch it at once.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path, PurePosixPath

from markupsafe import Markup, escape

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
_SCRIPT = re.compile(r'<script type="module" src="/static/(js/[\w./-]+\.js)"')
# Static imports only ("import x from './a.js'", "import './a.js'", "export ... from"):
# relative paths, as the client's modules write them.
_IMPORT = re.compile(r'^\s*(?:import|export)\s+(?:[^;"\']*?\bfrom\s*)?["\'](\.{1,2}/[^"\']+\.js)["\']', re.M)
MAX_MODULES = 200  # a bound, not a limit anyone reaches: the client has about 30


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
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def module_preloads(scripts_html: str, *entries: str) -> Markup:
    """The preload links for ``entries`` (paths under static/, e.g. the shell's js/app.js)
    and the module scripts named in ``scripts_html`` (the page's script tags, as rendered)."""
    links: dict[str, None] = {}
    for entry in (*entries, *_SCRIPT.findall(str(scripts_html))):
        links.update(dict.fromkeys(_graph(entry)))
    return Markup("\n  ".join(
        f'<link rel="modulepreload" href="/static/{escape(path)}">' for path in links
    ))
