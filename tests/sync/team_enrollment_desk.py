"""One desk's enrollment update, run by test_team_enrollment.py in its own process.

It prints one JSON line per progress report and one for the outcome, so the test sees what
this desk's job would show.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from client.core.store import Store
from client.sync import enrollment_desks
from client.sync.taxclient import TaxClient


class Printed:
    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        print(json.dumps({"event": "progress", "done": done, "total": total, "message": message},
                         ensure_ascii=False), flush=True)


def main(home: str, pg_url: str, unit_pk: int, unit_id: str, taxside_url: str, password: str, desk: str) -> None:
    store = Store(Path(home), pg_url)
    with TaxClient(taxside_url) as client:
        client.login(unit_id, password)
        outcome = enrollment_desks.update_once(
            store, unit_pk, unit_id, "full", Printed(), lambda fn: fn(client),
            operator=f"{desk} 的操作员", desk=desk, page_size=100, poll_seconds=0.1,
        )
    print(json.dumps({
        "event": "outcome", "ran": outcome.ran, "message": outcome.message,
        "other": outcome.other.desk if outcome.other else None,
        "result": outcome.result.to_dict() if outcome.result else None,
    }, ensure_ascii=False), flush=True)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7])
