"""Run by tests/gui/test_window.py in its own process: Qt must own the main thread.

The page's Content-Security-Policy forbids eval, which pywebview's evaluate_js needs, so
the probe does not script the page: the UI server records what the window asked for (the
launch URL, the page it was sent on to, that page's scripts and styles) and what it got.
"""

from __future__ import annotations

import re
import sys

from flask import Response, request

from client.app import build_services, open_window, start_server


def main(home: str) -> None:
    services = build_services(home)
    server = start_server(services)
    served: list[tuple[str, int, str]] = []

    @server.app.after_request
    def _record(response: Response) -> Response:
        html = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        served.append((request.path, response.status_code, html))
        return response

    def ready(window: object) -> None:
        if not window.events.loaded.wait(90):
            print("NOT LOADED", flush=True)
        pages = [html for path, status, html in served if status == 200 and html]
        page = pages[-1] if pages else ""
        title = re.search(r"<title>(.*?)</title>", page, re.S)
        heading = re.search(r'<h1 class="page-title">(.*?)</h1>', page, re.S)
        print("TITLE:", " ".join(title.group(1).split()) if title else "", flush=True)
        print("HEADING:", heading.group(1).strip() if heading else "", flush=True)
        assets = sorted({p for p, status, _ in served if status == 200 and p.startswith("/static/")})
        print("ASSETS:", " ".join(assets), flush=True)
        import webview  # the window's own settings: exports must reach a save dialog

        print("DOWNLOADS:", webview.settings["ALLOW_DOWNLOADS"], flush=True)
        window.destroy()

    try:
        open_window(server.launch_url, on_ready=ready)
    finally:
        server.stop()
        services.close()
    print("CLOSED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
