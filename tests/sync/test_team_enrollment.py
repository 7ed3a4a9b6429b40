"""One enrollment update per unit across desks (issue 18).

Two client processes on one PostgreSQL database against the live tax side: the desk that
starts first runs the full update; the other shows "另一台电脑正在更新职工参保信息" with the
first desk's progress, waits, and reports that the other desk finished, without a second update.
A desk that dies mid-update leaves the unit to the waiting desk, which finishes it. In one app
(both engines) a second update waits the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.core import desk_activity
from client.core.store import Store
from client.sync import enrollment_desks
from client.sync.enrollment import cursor_state
from client.sync.taxclient import TaxClient
from tests.sync.conftest import NEW_PASSWORD
from tests.sync.test_enrollment_sync import local_set, taxside_set

REPO = Path(__file__).resolve().parents[2]
EMPLOYEES = 3000  # 30 pages of 100 in the desk processes
WAITING = "另一台电脑正在更新职工参保信息"


@pytest.fixture
def big(taxside_factory: Any) -> Any:
    """One unit of 3,000 employees whose password was already changed (each desk logs in)."""
    live = taxside_factory(units=1, employees=EMPLOYEES)
    unit = live.unit(0)
    with TaxClient(live.url) as tc:
        tc.login(unit.unit_id, unit.initial_password)
        tc.change_password(unit.unit_id, unit.initial_password, NEW_PASSWORD)
    return live


def hold(live: Any, feed: str) -> None:
    """The feed's next request waits until clear_faults (which releases held requests)."""
    live.clear_faults()
    live.fault(feed, "latency", latency_ms=120_000)


def add_unit(store: Store, unit: Any) -> int:
    with store.write() as db:
        return int(db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES (?, ?, ?, ?, '2025-03-15 08:00:00') RETURNING id",
            (unit.taxpayer_id, unit.unit_id, unit.name, unit.region),
        ).fetchone()[0])


class Desk:
    """A desk process (tests/sync/team_enrollment_desk.py) and the JSON lines it printed."""

    def __init__(self, home: Path, pg_url: str, unit_pk: int, live: Any, name: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.sync.team_enrollment_desk", str(home), pg_url, str(unit_pk),
             live.unit(0).unit_id, live.url, NEW_PASSWORD, name],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ},
        )
        self.lines: list[dict[str, Any]] = []

    def read_until(self, wanted: Any) -> dict[str, Any]:
        """Lines until one matches (the process's own pace: no clock in the test)."""
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            line = json.loads(text)
            self.lines.append(line)
            if wanted(line):
                return line
        raise AssertionError(f"{self.name} ended early: {self.proc.wait(30)} {self.proc.stderr.read()}")

    def outcome(self) -> dict[str, Any]:
        line = self.read_until(lambda line: line["event"] == "outcome")
        assert self.proc.wait(60) == 0, self.proc.stderr.read()
        return line

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def desks(tmp_path: Path) -> Iterator[list[Desk]]:
    started: list[Desk] = []
    yield started
    for desk in started:
        desk.stop()


def first_desk_held_then_second(
    big: Any, pg_url: str, tmp_path: Path, desks: list[Desk]
) -> tuple[Store, int, Desk, Desk]:
    """Desk A mid-way through a full update (held at the tax side), then desk B started."""
    store = Store(tmp_path / "parent", pg_url)
    unit_pk = add_unit(store, big.unit(0))
    # Each page of the feed takes a while: the second desk starts while the first is mid-way.
    feed = f"/v1/units/{big.unit(0).unit_id}/enrollment"
    big.fault(feed, "latency", latency_ms=100)
    first = Desk(tmp_path / "desk-a", pg_url, unit_pk, big, "DESK-A")
    desks.append(first)
    first.read_until(lambda line: line["event"] == "progress" and line["done"] >= 300)
    hold(big, feed)  # the first desk stays mid-way until the test lets it go on
    second = Desk(tmp_path / "desk-b", pg_url, unit_pk, big, "DESK-B")
    desks.append(second)
    return store, unit_pk, first, second


def test_a_second_desk_shows_the_first_desks_progress_and_does_not_update_again(
    big: Any, pg_url: str, tmp_path: Path, desks: list[Desk]
) -> None:
    store, unit_pk, first, second = first_desk_held_then_second(big, pg_url, tmp_path, desks)
    shown = second.read_until(lambda line: line["event"] == "progress" and line["done"] > 0)
    assert shown["message"].startswith(f"{WAITING}（电脑 DESK-A，操作员 DESK-A 的操作员，")
    assert shown["total"] == EMPLOYEES and 0 < shown["done"] < EMPLOYEES
    assert f"已处理 {shown['done']:,} / {EMPLOYEES:,} 条" in shown["message"]
    big.clear_faults()

    done_a, done_b = first.outcome(), second.outcome()
    assert done_a["ran"] is True and done_a["result"]["downloaded"] == EMPLOYEES
    assert done_b == {
        "event": "outcome", "ran": False, "other": "DESK-A", "result": None,
        "message": "另一台电脑（DESK-A）已完成更新职工参保信息，已显示最新数据；本次无需再更新",
    }
    # The waiting desk only ever showed the other desk's progress, rising to the end.
    waited = [line for line in second.lines if line["event"] == "progress"]
    assert all(line["message"].startswith(WAITING) for line in waited)
    assert [line["done"] for line in waited] == sorted(line["done"] for line in waited)
    # One full update ran (a second would have started generation 2), and the data are the tax side's.
    state = cursor_state(store, unit_pk)
    assert (state.mode, state.generation, state.complete) == ("full", 1, True)
    with TaxClient(big.url) as tc:
        tc.login(big.unit(0).unit_id, NEW_PASSWORD)
        assert local_set(store, unit_pk) == taxside_set(tc, big.unit(0).unit_id)
    assert desk_activity.current(store, unit_pk, desk_activity.ENROLLMENT) is None
    store.close()


def test_a_desk_that_dies_mid_update_leaves_the_unit_to_the_waiting_desk(
    big: Any, pg_url: str, tmp_path: Path, desks: list[Desk]
) -> None:
    store, unit_pk, first, second = first_desk_held_then_second(big, pg_url, tmp_path, desks)
    second.read_until(lambda line: line["event"] == "progress" and line["message"].startswith(WAITING))
    first.stop()  # SIGKILL: the server drops its lock with its connection
    big.clear_faults()
    done_b = second.outcome()
    assert done_b["ran"] is True and done_b["result"]["mode"] == "full"  # it finished the interrupted one
    state = cursor_state(store, unit_pk)
    assert (state.generation, state.complete) == (1, True)
    with TaxClient(big.url) as tc:
        tc.login(big.unit(0).unit_id, NEW_PASSWORD)
        assert local_set(store, unit_pk) == taxside_set(tc, big.unit(0).unit_id)
    store.close()


def test_a_second_update_in_the_same_app_waits_the_same_way(
    big: Any, engine_store: Store
) -> None:
    """Both engines: the agency batch beside the page's update, say; the lock is this process's
    on SQLite and the server's on PostgreSQL."""
    store, unit = engine_store, big.unit(0)
    unit_pk = add_unit(store, unit)
    clients = [TaxClient(big.url), TaxClient(big.url)]
    for tc in clients:
        tc.login(unit.unit_id, NEW_PASSWORD)
    holder_seen, release = threading.Event(), threading.Event()

    class Holder:
        def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
            if done >= 500:  # mid-way: let the second one start, and wait until it saw us
                holder_seen.set()
                release.wait(60)

    seen: list[tuple[int, int, str]] = []

    class Waiter:
        def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
            seen.append((done, total or 0, message or ""))
            if done:
                release.set()

    results: dict[str, Any] = {}
    holder = threading.Thread(target=lambda: results.setdefault("a", enrollment_desks.update_once(
        store, unit_pk, unit.unit_id, "full", Holder(), lambda fn: fn(clients[0]), operator="张三",
        page_size=250)))
    holder.start()
    assert holder_seen.wait(60)
    results["b"] = enrollment_desks.update_once(
        store, unit_pk, unit.unit_id, "incremental", Waiter(), lambda fn: fn(clients[1]), poll_seconds=0.05)
    holder.join(60)
    for tc in clients:
        tc.close()
    first, second = results["a"], results["b"]
    assert first.ran and first.result.downloaded == EMPLOYEES
    assert not second.ran and second.result is None and second.other.operator == "张三"
    waiting = "另一台电脑正在更新职工参保信息" if store.team else "本机另一项任务正在更新职工参保信息"
    done, total, message = next(s for s in seen if s[0])
    assert (done, total) == (500, EMPLOYEES) and message.startswith(waiting) and "操作员 张三" in message
    assert second.message.endswith("已完成更新职工参保信息，已显示最新数据；本次无需再更新")
    assert enrollment_desks.waited_result(second, "incremental")["changed"] == 0
    assert cursor_state(store, unit_pk).generation == 1
