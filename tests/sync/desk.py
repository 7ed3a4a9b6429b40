"""One desk of a team, in a process of its own: its own Store on the shared database, its own
TaxClient and its own sender (tests/sync/test_two_desks.py, bench/team.py).

    python -m tests.sync.desk HOME DB_URL TAXSIDE_URL UNIT_ID UNIT_PK PASSWORD [--submit N] [--feedback]

The desk logs in, prints ``ready`` and waits for a line on standard input (so every desk
starts together). With ``--submit N`` it then submits N small payroll-base declarations,
running the sender after each one as the 提交 button does; in every case it runs the sender
(and with ``--feedback`` the feedback poll) until nothing of the unit is left to send (or
left open). Its last line is a JSON summary of what this desk did.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from client.core import journal
from client.core.store import Store
from client.sync.outbox import Outbox
from client.sync.taxclient import TaxClient

DEADLINE_S = 300.0  # a desk that never drains is a failure, not a hang


def queue_declarations(store: Store, unit_pk: int, count: int, month: str, start: int = 0) -> list[int]:
    """``count`` one-employee daily declarations of the unit's synced employees (the payload
    wage_submit.submit writes), each its own queued journal entry: their ids."""
    employees = store.db.execute_sql(
        "SELECT employee_id, id_type, id_number, name, unit_number, json_extract(bases, '$.pension') "
        "FROM enrollment_employee WHERE unit_id = ? AND removed = 0 AND status = '正常缴费' "
        "AND json_extract(bases, '$.pension') IS NOT NULL ORDER BY employee_id",
        (unit_pk,),
    ).fetchall()
    assert employees, "sync the unit's enrollment first"
    ids = []
    for n in range(start, start + count):
        employee_id, id_type, id_number, name, unit_number, base = employees[n % len(employees)]
        row = {"employee_id": employee_id, "id_type": id_type, "id_number": id_number, "name": name,
               "base": str(base), "bases": None, "effective_month": month,
               "current_base": str(base), "unit_number": unit_number}
        with store.write() as db:
            ids.append(journal.create(
                db, unit_pk, "wage_base_daily", {"kind": "daily", "rows": [row]},
                summary=f"日常缴费工资申报 1 人，生效年月 {month}", row_count=1, operator=f"desk-{n}",
            ))
    return ids


def left(store: Store, unit_pk: int, feedback: bool) -> int:
    open_ = journal.count_open(store, unit_pk)
    states = journal.OPEN_STATES if feedback else journal.TO_SEND
    return sum(open_[s] for s in states)


def run(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(args.home)
    store = Store(home, args.db_url or None)
    outbox = Outbox(store, home)
    done: dict[str, Any] = {"sent": 0, "refused": 0, "elsewhere": 0, "errors": 0, "decided": 0, "submitted": 0}
    with TaxClient(args.taxside_url, timeout=30) as client:
        client.login(args.unit_id, args.password)
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.perf_counter()
        deadline = time.monotonic() + DEADLINE_S

        def send() -> None:
            report = outbox.send(client, args.unit_pk, args.unit_id)
            done["sent"] += report.sent
            done["refused"] += report.refused
            done["elsewhere"] += report.elsewhere
            done["errors"] += bool(report.error)
            if args.feedback:
                feedback = outbox.fetch_feedback(client, args.unit_pk, args.unit_id)
                done["decided"] += feedback.accepted + feedback.rejected

        for n in range(args.submit):
            queue_declarations(store, args.unit_pk, 1, args.month, start=args.offset + n)
            done["submitted"] += 1
            send()
        while left(store, args.unit_pk, args.feedback):
            if time.monotonic() > deadline:
                raise SystemExit(f"desk did not drain in {DEADLINE_S:.0f} s: {journal.count_open(store, args.unit_pk)}")
            before = dict(done)
            send()
            if done == before or done["elsewhere"] > before["elsewhere"]:
                time.sleep(0.02)  # another desk is sending: look again shortly
        done["seconds"] = time.perf_counter() - started
    store.close()
    return done


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    for name in ("home", "db_url", "taxside_url", "unit_id"):
        parser.add_argument(name)
    parser.add_argument("unit_pk", type=int)
    parser.add_argument("password")
    parser.add_argument("--submit", type=int, default=0)
    parser.add_argument("--offset", type=int, default=0)  # which employees this desk declares
    parser.add_argument("--month", default="")
    parser.add_argument("--feedback", action="store_true")
    print(json.dumps(run(parser.parse_args(argv))), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
