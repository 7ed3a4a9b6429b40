"""Start-up and navigation latency of the embedded UI.

FIGURE startup: `socialfee run --headless` until the first page answers (floor: a bare
Flask app started the same way and answering its first request).
FIGURE nav_request_median: median latency of a navigation page on the embedded server
(floor: a bare Flask route on the same machine).
Run from the repo root: python bench/startup.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROUNDS = 5
REQUESTS = 300
NAV_PATHS = ["/", "/notices", "/enrollment", "/settings", "/about"]

BARE_APP = r"""
import socket, sys
from flask import Flask
from werkzeug.serving import make_server
app = Flask("bare")
@app.get("/")
def index():
    return "<html><body>hello</body></html>"
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(64)
port = sock.getsockname()[1]
server = make_server("127.0.0.1", port, app, threaded=True, fd=sock.fileno())
print(f"URL: http://127.0.0.1:{port}/", flush=True)
server.serve_forever()
"""


def wait_for_url(proc: subprocess.Popen) -> str:
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(proc.stderr.read())
        if line.startswith("URL: "):
            return line[5:].strip()


def time_start(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.Popen, str]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    url = wait_for_url(proc)
    with httpx.Client(follow_redirects=True) as client:
        response = client.get(url)
        response.raise_for_status()
    return time.perf_counter() - t0, proc, url


def median_latency(client: httpx.Client, base: str, paths: list[str]) -> float:
    samples = []
    for i in range(REQUESTS):
        path = paths[i % len(paths)]
        t0 = time.perf_counter()
        client.get(base + path).raise_for_status()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(20)


def main() -> None:
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    home = Path(tempfile.mkdtemp(prefix="sf-bench-"))
    app_times, bare_times = [], []
    nav = bare_nav = 0.0
    for round_no in range(ROUNDS):
        seconds, proc, url = time_start(
            [sys.executable, "-m", "client", "--home", str(home), "run", "--headless"], env
        )
        app_times.append(seconds)
        if round_no == ROUNDS - 1:
            with httpx.Client(follow_redirects=True) as client:
                client.get(url)  # enter with the launch key: the cookie stays in the client
                base = url.split("/?", 1)[0]
                nav = median_latency(client, base, NAV_PATHS)
        stop(proc)

        seconds, proc, url = time_start([sys.executable, "-c", BARE_APP], env)
        bare_times.append(seconds)
        if round_no == ROUNDS - 1:
            with httpx.Client() as client:
                bare_nav = median_latency(client, url.rstrip("/"), ["/"])
        stop(proc)

    startup, floor = statistics.median(app_times), statistics.median(bare_times)
    print(f"FIGURE startup value={startup:.3f} unit=s floor={floor:.3f} ratio={startup / floor:.2f}")
    print(
        f"FIGURE nav_request_median value={nav:.2f} unit=ms floor={bare_nav:.2f} "
        f"ratio={nav / bare_nav:.2f}"
    )


if __name__ == "__main__":
    main()
