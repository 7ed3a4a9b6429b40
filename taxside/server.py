"""Run the reference tax side on 127.0.0.1 from a background thread (tests, demo, CLI)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from taxside.app import create_app

HOST = "127.0.0.1"  # never on other interfaces: the sandbox has demo passwords


class _QuietHandler(WSGIRequestHandler):
    """Access lines go to the ``taxside.access`` logger at DEBUG instead of stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logging.getLogger("taxside.access").debug('"%s" %s %s', self.requestline, code, size)

    def log_error(self, format: str, *args: object) -> None:
        logging.getLogger("taxside.access").debug(format, *args)


@dataclass
class RunningTaxSide:
    url: str
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread
    _stopped: bool = field(default=False)

    @property
    def port(self) -> int:
        return self.server.server_port

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        faults = self.app.config.get("FAULTS")
        if faults is not None:
            faults.release_held()  # wake requests held by a time-out fault
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningTaxSide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    db_path: str | Path,
    *,
    simulation: bool = False,
    port: int = 0,
    packs_dir: str | Path | None = None,
    lock_minutes: int = 30,
    decision_delay: float | None = None,
) -> RunningTaxSide:
    """Serve the tax side for ``db_path`` (created when missing) on 127.0.0.1:port."""
    app = create_app(
        db_path, simulation=simulation, packs_dir=packs_dir, lock_minutes=lock_minutes,
        decision_delay=decision_delay,
    )
    server = make_server(HOST, port, app, threaded=True, request_handler=_QuietHandler)
    server.daemon_threads = True  # a held (time-out) request must not keep the process alive
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="taxside", daemon=True
    )
    thread.start()
    return RunningTaxSide(f"http://{HOST}:{server.server_port}", app, server, thread)
