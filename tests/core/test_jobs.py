from __future__ import annotations

import threading
import time

import pytest

from client.core.jobs import CANCELLED, FAILED, SUCCEEDED, JobContext, JobRunner
from client.errors import ConflictError, NotFoundError, ValidationError


def wait_done(runner: JobRunner, job_id: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = runner.get(job_id).state
        if state != "running":
            return state
        time.sleep(0.01)
    raise AssertionError("job did not finish")


def test_job_reports_progress_and_result() -> None:
    runner = JobRunner()
    gate = threading.Event()

    def work(ctx: JobContext) -> dict:
        ctx.progress(1, 4, "第一步")
        gate.wait(5)
        ctx.progress(3, 4, "第三步")
        return {"rows": 42}

    job = runner.start("demo", "演示任务", work, unit_id=1)
    time.sleep(0.05)
    info = runner.get(job.id)
    assert (info.state, info.done, info.total, info.message) == ("running", 1, 4, "第一步")
    gate.set()
    assert wait_done(runner, job.id) == SUCCEEDED
    final = runner.get(job.id)
    assert final.result == {"rows": 42}
    assert final.done == final.total == 4
    runner.shutdown()


def test_one_job_of_a_kind_per_unit() -> None:
    runner = JobRunner()
    gate = threading.Event()
    first = runner.start("sync", "同步", lambda ctx: gate.wait(5), unit_id=1)
    with pytest.raises(ConflictError, match="正在进行中"):
        runner.start("sync", "同步", lambda ctx: None, unit_id=1)
    # Another unit, or another kind, may run at the same time.
    other_unit = runner.start("sync", "同步", lambda ctx: None, unit_id=2)
    other_kind = runner.start("check", "检查", lambda ctx: None, unit_id=1)
    assert wait_done(runner, other_unit.id) == SUCCEEDED
    assert wait_done(runner, other_kind.id) == SUCCEEDED
    # The page re-attaches by asking for the active job of its kind.
    assert [j.id for j in runner.find(kind="sync", active_only=True)] == [first.id]
    gate.set()
    assert wait_done(runner, first.id) == SUCCEEDED
    runner.start("sync", "同步", lambda ctx: None, unit_id=1)  # free again
    runner.shutdown()


def test_cancel_stops_a_job_at_its_next_progress_report() -> None:
    runner = JobRunner()

    def work(ctx: JobContext) -> None:
        for i in range(1000):
            ctx.progress(i, 1000)
            time.sleep(0.005)

    job = runner.start("long", "长任务", work)
    time.sleep(0.05)
    runner.cancel(job.id)
    assert wait_done(runner, job.id) == CANCELLED
    runner.shutdown()


def test_errors_become_the_job_error_with_chinese_message() -> None:
    runner = JobRunner()

    def bad(ctx: JobContext) -> None:
        raise ValidationError("第3行证件号码校验位错误", field="id_number", row=3)

    def broken(ctx: JobContext) -> None:
        raise RuntimeError("internal detail")

    a = runner.start("a", "甲", bad)
    b = runner.start("b", "乙", broken)
    assert wait_done(runner, a.id) == FAILED
    assert runner.get(a.id).error == {
        "code": "validation",
        "message": "第3行证件号码校验位错误",
        "field": "id_number",
        "row": 3,
    }
    assert wait_done(runner, b.id) == FAILED
    assert "internal detail" not in runner.get(b.id).error["message"]
    runner.shutdown()


def test_shutdown_cancels_running_jobs_and_refuses_new_ones() -> None:
    runner = JobRunner()
    seen = threading.Event()

    def work(ctx: JobContext) -> None:
        while True:
            seen.set()
            ctx.progress(0, 1)
            time.sleep(0.01)

    job = runner.start("loop", "循环", work)
    seen.wait(2)
    runner.shutdown(timeout=5)
    assert runner.get(job.id).state == CANCELLED
    with pytest.raises(ConflictError):
        runner.start("x", "x", lambda ctx: None)


def test_unknown_job_is_not_found() -> None:
    runner = JobRunner()
    with pytest.raises(NotFoundError):
        runner.get("nope")
    runner.shutdown()
