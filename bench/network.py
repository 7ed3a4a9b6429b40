"""The cost of the proxy (网络管理) on the biggest download.

FIGURE proxy_overhead: the enrollment full update of 100,000 employees through a local
  SOCKS5 proxy with user and password (pproxy on 127.0.0.1), start to committed, through
  the client's own path (settings -> network.connection -> from_settings)
  (floor: the same full update direct, in the same run). Target ratio <= 1.3.
Each side runs in its own process, alternating (and which goes first), best of ROUNDS (a shared machine's load
changes between runs).
Run from the repo root: python bench/network.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure  # noqa: E402
from bench.enrollment import EMPLOYEES, PASSWORD, start_taxside  # noqa: E402

ROUNDS = 6


def child_sync(home: str, url: str, unit_id: str, proxy_port: str, proxy_user: str, proxy_password: str) -> None:
    from client.core import network
    from client.core.store import Store
    from client.settings import Settings
    from client.sync.enrollment import EnrollmentSync
    from client.sync.taxclient import from_settings

    settings = Settings(Path(home))
    settings.update({"taxside_url": url, "http_timeout_seconds": 120})
    if proxy_port != "0":
        settings.update({"proxy_mode": "socks5", "proxy_host": "127.0.0.1", "proxy_port": int(proxy_port),
                         "proxy_user": proxy_user})
        network.remember_password(network.proxy_config(settings), proxy_password)
    store = Store(Path(home))
    with store.write() as db:
        pk = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES ('x', ?, 'bench', '110000', 'now')",
            (unit_id,),
        ).lastrowid
    with from_settings(settings) as client:
        assert (client._proxied is True) == (proxy_port != "0")
        client.login(unit_id, PASSWORD)
        started = time.perf_counter()
        result = EnrollmentSync(store, client, pk, unit_id).run("full")
        elapsed = time.perf_counter() - started
    store.close()
    print(json.dumps({"seconds": elapsed, "rows": result.added}))


def run_child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--sync", *args], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    from tests.sync.proxies import start_pproxy

    folder = Path(tempfile.mkdtemp(prefix="sf-bench-network-"))
    proc, url, unit_id = start_taxside(folder)
    proxy = start_pproxy("socks5", auth=True)
    try:
        direct, proxied = [], []
        sides = [("direct", "0", direct), ("proxy", str(proxy.port), proxied)]
        for n in range(ROUNDS):
            # Each side goes first every other round: neither always finds the tax side warm.
            for label, port, samples in sides if n % 2 == 0 else sides[::-1]:
                home = folder / f"{label}-{n}"
                home.mkdir()
                result = run_child(str(home), url, unit_id, port, proxy.user, proxy.password)
                assert result["rows"] == EMPLOYEES, result
                samples.append(result["seconds"])
        figure("proxy_overhead", min(proxied), "s", min(direct))
    finally:
        proxy.stop()
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--sync":
        child_sync(*sys.argv[2:8])
    else:
        main()
