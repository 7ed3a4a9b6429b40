"""Run by tests/gui/test_window.py in its own process: Qt must own the main thread."""

from __future__ import annotations

import sys

from client.app import build_services, open_window, start_server


def main(home: str) -> None:
    services = build_services(home)
    server = start_server(services)

    def ready(window: object) -> None:
        if not window.events.loaded.wait(90):
            print("NOT LOADED", flush=True)
        print("TITLE:", window.evaluate_js("document.title"), flush=True)
        print("HEADING:", window.evaluate_js("document.querySelector('h1').textContent"), flush=True)
        window.destroy()

    try:
        open_window(server.launch_url, on_ready=ready)
    finally:
        server.stop()
        services.close()
    print("CLOSED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
