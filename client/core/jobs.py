"""Background jobs: long work (sync, import, backup, checks) runs off the request thread.

A job has an id, a kind, the unit it works for, progress (done/total and a message), and
ends with a result or an error. At most one job of a kind runs per unit; a second start
is a ConflictError naming the running one. Pages poll ``/api/jobs/<id>`` and re-attach to
a running job after a reload by asking for the active job of their kind.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from client.errors import ConflictError, JobCancelled, NotFoundError, SocialFeeError

log = logging.getLogger(__name__)

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"

# Finished jobs are kept for pages that come back late; the oldest go first.
KEEP_FINISHED = 200


@dataclass(frozen=True)
class JobInfo:
    id: str
    kind: str
    title: str
    unit_id: int | None
    state: str
    done: int
    total: int
    message: str
    result: Any
    error: dict[str, Any] | None
    started_at: float
    finished_at: float | None

    @property
    def active(self) -> bool:
        return self.state == RUNNING

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "unit_id": self.unit_id,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "message": self.message,
            "result": self.result,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass
class _Job:
    id: str
    kind: str
    title: str
    unit_id: int | None
    seq: int
    state: str = RUNNING
    done: int = 0
    total: int = 0
    message: str = ""
    result: Any = None
    error: dict[str, Any] | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def snapshot(self) -> JobInfo:
        return JobInfo(
            self.id,
            self.kind,
            self.title,
            self.unit_id,
            self.state,
            self.done,
            self.total,
            self.message,
            self.result,
            self.error,
            self.started_at,
            self.finished_at,
        )


class JobContext:
    """What a job function gets: report progress, and notice a cancel request."""

    def __init__(self, job: _Job, lock: threading.Lock) -> None:
        self._job = job
        self._lock = lock

    @property
    def job_id(self) -> str:
        return self._job.id

    @property
    def cancelled(self) -> bool:
        return self._job.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self._job.cancel_event.is_set():
            raise JobCancelled()

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        with self._lock:
            self._job.done = done
            if total is not None:
                self._job.total = total
            if message is not None:
                self._job.message = message
        self.check_cancelled()


JobFunction = Callable[[JobContext], Any]


class JobRunner:
    def __init__(self, workers: int = 4, on_finish: Callable[[], None] | None = None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._on_finish = on_finish
        self._closed = False

    def start(
        self, kind: str, title: str, fn: JobFunction, *, unit_id: int | None = None
    ) -> JobInfo:
        with self._lock:
            if self._closed:
                raise ConflictError("程序正在退出，不能再启动新任务")
            for job in self._jobs.values():
                if job.kind == kind and job.unit_id == unit_id and job.state == RUNNING:
                    raise ConflictError(
                        f"「{job.title}」正在进行中，请等它完成后再试", code="job_running"
                    )
            job = _Job(uuid.uuid4().hex, kind, title, unit_id, next(self._seq))
            self._jobs[job.id] = job
            self._forget_old()
        # The job runs in the starter's context: it acts as the operator who started it.
        self._executor.submit(contextvars.copy_context().run, self._run, job, fn)
        return job.snapshot()

    def _run(self, job: _Job, fn: JobFunction) -> None:
        context = JobContext(job, self._lock)
        try:
            result = fn(context)
        except JobCancelled:
            state, result, error = CANCELLED, None, None
        except SocialFeeError as exc:
            state, result, error = FAILED, None, exc.to_dict()
        except Exception:
            log.exception("job %s (%s) failed", job.id, job.kind)
            state, result, error = (
                FAILED,
                None,
                {"code": "internal", "message": "任务意外失败，详情已记录在日志中", "field": None, "row": None},
            )
        else:
            state, error = SUCCEEDED, None
        with self._lock:
            job.state, job.result, job.error = state, result, error
            if state == SUCCEEDED and job.total and job.done < job.total:
                job.done = job.total
            job.finished_at = time.time()
        if self._on_finish is not None:
            self._on_finish()

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state != RUNNING]
        for job in sorted(finished, key=lambda j: j.seq)[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job.id]

    def get(self, job_id: str) -> JobInfo:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFoundError("找不到该任务，可能程序已重新启动", code="job_not_found")
            return job.snapshot()

    def find(
        self, *, kind: str | None = None, unit_id: int | None = None, active_only: bool = False
    ) -> list[JobInfo]:
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.seq, reverse=True)
            return [
                j.snapshot()
                for j in jobs
                if (kind is None or j.kind == kind)
                and (unit_id is None or j.unit_id == unit_id)
                and (not active_only or j.state == RUNNING)
            ]

    def cancel(self, job_id: str) -> JobInfo:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFoundError("找不到该任务", code="job_not_found")
            job.cancel_event.set()
            if job.state == RUNNING:
                job.message = "正在取消…"
            return job.snapshot()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Ask every running job to stop, then wait for them (up to ``timeout``)."""
        with self._lock:
            self._closed = True
            for job in self._jobs.values():
                job.cancel_event.set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not any(j.state == RUNNING for j in self._jobs.values()):
                    break
            time.sleep(0.02)
        self._executor.shutdown(wait=False, cancel_futures=True)
