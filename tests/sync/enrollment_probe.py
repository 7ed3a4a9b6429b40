"""Run by test_enrollment_sync.py in its own process, to be killed mid-sync."""

from __future__ import annotations

import sys
from pathlib import Path

from client.core.store import Store
from client.sync.enrollment import EnrollmentSync
from client.sync.taxclient import TaxClient


def main(home: str, url: str, unit_pk: int, unit_id: str, password: str, store_url: str = "") -> None:
    store = Store(Path(home), store_url or None)  # the test's engine: SQLite or PostgreSQL
    with TaxClient(url) as client:
        client.login(unit_id, password)
        EnrollmentSync(store, client, unit_pk, unit_id, page_size=7).run("full")
    print("FINISHED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], *sys.argv[6:])
