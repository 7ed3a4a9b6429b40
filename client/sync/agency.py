"""单位总览's batch actions: 增量更新职工信息, 获取全部反馈, 获取欠费 over chosen units.

One background job per batch; its units go one after another, each with a line that reads
等待 -> 进行中 -> 完成 / 失败 (with the Chinese reason). Each unit gets its own session with
the tax side, opened with the declaration password the operator typed in the batch dialog
or the one saved in the keyring (记住); a unit with neither fails with "需要输入申报密码".
A typed password is saved only when 记住 was ticked. The UI's session (its current unit) is
never touched, and one unit's failure never stops the others.

The work itself is the existing services: EnrollmentSync, Outbox.send and fetch_feedback,
PaymentService.refresh, given a ``UnitSession`` that offers what they need of the UI's
SessionManager for this one unit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from client import logs
from client.core import audit, passwords, units
from client.core.jobs import JobContext, JobInfo
from client.errors import (
    AuthError,
    ConflictError,
    JobCancelled,
    NotFoundError,
    SocialFeeError,
    ValidationError,
)
from client.sync import enrollment_desks
from client.sync.payment import PaymentService
from client.sync.session import (
    CONFIRM,
    ENROLLMENT_SYNC,
    OUTBOX,
    CurrentUnit,
    SessionManager,
    SessionView,
)
from client.sync.taxclient import PasswordError, TaxClient, from_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

JOB_KIND = "agency_batch"
ACTIONS = {"enrollment": "增量更新职工信息", "feedback": "获取全部反馈", "arrears": "获取欠费"}
WAITING, RUNNING, DONE, FAILED = "waiting", "running", "done", "failed"
LINE_LABELS = {WAITING: "等待", RUNNING: "进行中", DONE: "完成", FAILED: "失败"}
NEED_PASSWORD = "需要输入申报密码"
MAX_UNITS = 1000
KEEP_BATCHES = 20  # finished batches whose lines a page may still ask for
# A unit's own job of the same work running now: the batch leaves that unit alone.
_CLASHING_JOBS = {"enrollment": (ENROLLMENT_SYNC,), "feedback": (OUTBOX,), "arrears": (OUTBOX,)}


@dataclass(frozen=True)
class BatchUnit:
    """One unit chosen for a batch: a password typed in the dialog ('' = the saved one)."""

    unit_id: str
    password: str = ""
    remember: bool = False


@dataclass
class _Line:
    unit_id: str
    name: str
    state: str = WAITING
    message: str = ""
    code: str = ""


@dataclass
class _Batch:
    job_id: str
    action: str
    lines: list[_Line]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, n: int, state: str, message: str = "", code: str = "") -> None:
        with self.lock:
            line = self.lines[n]
            line.state, line.message, line.code = state, message, code

    def view(self) -> list[dict[str, Any]]:
        with self.lock:
            return [asdict(line) | {"state_label": LINE_LABELS[line.state]} for line in self.lines]


@dataclass(frozen=True)
class BatchView:
    job: JobInfo
    action: str
    action_label: str
    lines: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(1 for line in self.lines if line["state"] == s) for s in LINE_LABELS}
        return {"job": self.job.to_dict(), "action": self.action, "action_label": self.action_label,
                "lines": list(self.lines), "counts": counts}


class UnitSession:
    """One unit's session with the tax side inside a batch: what PaymentService and the
    outbox use of client.sync.session.SessionManager, for this unit only."""

    def __init__(self, manager: SessionManager, client: TaxClient, unit: CurrentUnit, password: str,
                 today: dt.date | None) -> None:
        self.store, self.settings, self.outbox = manager.store, manager.settings, manager.outbox
        self._client, self._unit, self._password, self._today = client, unit, password, today

    def require_entered(self) -> CurrentUnit:
        return self._unit

    def client(self) -> TaxClient:
        return self._client

    def business_date(self) -> dt.date:
        return self._today or dt.date.today()

    def view(self) -> SessionView:
        return SessionView("entered", self._unit, False, "", False)

    def call(self, fn: Callable[[TaxClient], T]) -> T:
        """As SessionManager.call: an expired token is renewed once with the password."""
        try:
            return fn(self._client)
        except AuthError as exc:
            if exc.code not in ("token_expired", "token_invalid"):
                raise
            self._client.login(self._unit.unit_id, self._password)
            return fn(self._client)


@contextlib.contextmanager
def _acting_as(identity: Any) -> Iterator[None]:
    if identity is None:
        yield
        return
    from client.core import operators

    with operators.acting_as(identity):
        yield


class _UnitProgress:
    """What EnrollmentSync reports goes to the unit's line, not to the batch's bar."""

    def __init__(self, batch: _Batch, n: int, ctx: JobContext) -> None:
        self._batch, self._n, self._ctx = batch, n, ctx

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        if message:
            self._batch.update(self._n, RUNNING, message)
        self._ctx.check_cancelled()


class AgencyBatches:
    """Starts batches as jobs and keeps their per-unit lines for the page to poll."""

    def __init__(self, session: SessionManager, *,
                 client_factory: Callable[[Any], TaxClient] = from_settings) -> None:
        self.session = session
        self._factory = client_factory
        self._batches: dict[str, _Batch] = {}
        self._lock = threading.Lock()

    def start(self, action: str, chosen: Sequence[BatchUnit], *,
              allowed: frozenset[str] | None = None, identity: Any = None) -> BatchView:
        """``allowed``: the operator's units (None: all); ``identity``: the operator starting
        it (client/core/operators.py), under whom the job's audit lines are recorded."""
        if action not in ACTIONS:
            raise ValidationError("请选择批量操作：" + "、".join(ACTIONS.values()), field="action")
        if not chosen:
            raise ValidationError("请先勾选要处理的单位", field="units")
        if len(chosen) > MAX_UNITS:
            raise ValidationError(f"一次最多处理 {MAX_UNITS} 个单位", field="units")
        if len({c.unit_id for c in chosen}) != len(chosen):
            raise ValidationError("同一单位选择了两次", field="units")
        lines, locals_ = [], []
        for c in chosen:
            local = units.get_unit(c.unit_id)
            if local is None or (allowed is not None and c.unit_id not in allowed):
                raise NotFoundError(f"本机没有单位 {c.unit_id}，或您无权操作该单位", code="unit_not_local",
                                    field="units")
            lines.append(_Line(local.unit_id, local.name))
            locals_.append(local)
        for c in chosen:  # typed passwords never reach a log line
            if c.password:
                logs.register_secret(c.password)
        if any(c.remember and c.password for c in chosen) and not passwords.keyring_status().available:
            raise ValidationError(passwords.keyring_status().reason, field="remember")
        label = ACTIONS[action]
        holder: dict[str, _Batch] = {}
        ready = threading.Event()

        def work(ctx: JobContext) -> dict[str, Any]:
            ready.wait()  # the batch is registered under the job's id first
            with _acting_as(identity):
                return self._run(holder["batch"], list(zip(chosen, locals_, strict=True)), ctx)

        job = self.session.jobs.start(JOB_KIND, f"批量{label}", work)
        batch = _Batch(job.id, action, lines)
        with self._lock:
            self._batches[job.id] = batch
            for old in list(self._batches)[:-KEEP_BATCHES]:
                del self._batches[old]
        holder["batch"] = batch
        ready.set()
        audit.record(self.session.store, "批量操作", f"{label}：{len(chosen)} 个单位")
        return BatchView(job, action, label, tuple(batch.view()))

    def view(self, job_id: str) -> BatchView:
        with self._lock:
            batch = self._batches.get(job_id)
        if batch is None:
            raise NotFoundError("找不到该批量任务，可能程序已重新启动", code="job_not_found")
        job = self.session.jobs.get(job_id)
        return BatchView(job, batch.action, ACTIONS[batch.action], tuple(batch.view()))

    def latest(self) -> BatchView | None:
        """The newest batch (running or not), for a page that comes back to it."""
        with self._lock:
            last = next(reversed(self._batches), None)
        return self.view(last) if last else None

    # -- the job ---------------------------------------------------------------------------------
    def _run(self, batch: _Batch, work: list[tuple[BatchUnit, units.LocalUnit]], ctx: JobContext) -> dict[str, Any]:
        total = len(work)
        client = self._factory(self.session.settings)  # one connection pool, a token per unit in turn
        try:
            for n, (chosen, local) in enumerate(work):
                try:
                    ctx.progress(n, total, f"正在处理：{local.name}（{n + 1}/{total}）")
                    batch.update(n, RUNNING, "正在连接税务端…")
                    message = self._one(batch, n, chosen, local, client, ctx)
                except JobCancelled:
                    for rest in range(n, total):
                        batch.update(rest, FAILED, "已取消", "cancelled")
                    raise
                except SocialFeeError as exc:
                    batch.update(n, FAILED, exc.message, exc.code)
                except Exception:  # one unit's bug must not stop the others
                    log.exception("batch %s failed for unit %s", batch.action, local.unit_id)
                    batch.update(n, FAILED, "意外失败，详情已记录在日志中", "internal")
                else:
                    batch.update(n, DONE, message)
            ctx.progress(total, total, "全部单位已处理")
        finally:
            client.close()
        lines = batch.view()
        done = sum(1 for line in lines if line["state"] == DONE)
        audit.record(self.session.store, "批量操作完成",
                     f"{ACTIONS[batch.action]}：完成 {done} 个，失败 {total - done} 个")
        return {"done": done, "failed": total - done, "message": f"完成 {done} 个单位，失败 {total - done} 个"}

    def _one(self, batch: _Batch, n: int, chosen: BatchUnit, local: units.LocalUnit, client: TaxClient,
             ctx: JobContext) -> str:
        for kind in _CLASHING_JOBS[batch.action]:
            running = self.session.jobs.find(kind=kind, unit_id=local.id, active_only=True)
            if running:
                raise ConflictError(f"该单位的「{running[0].title}」正在进行中，本次已跳过", code="job_running")
        typed = chosen.password
        password = typed or passwords.recall_password(local.unit_id)
        if not password:
            raise AuthError(NEED_PASSWORD, code="password_needed", field="password")
        session = self._login(client, local, password)
        note = ""
        if typed and chosen.remember:
            try:
                passwords.remember_password(local.unit_id, typed)
            except Exception:  # the batch goes on; the password simply stays unsaved
                log.warning("keyring write failed")
                note = "（未能在系统密码库中记住申报密码）"
        self.session.checked[local.unit_id] = password  # this unit passed its check in this start
        batch.update(n, RUNNING, f"正在{ACTIONS[batch.action]}…")
        return self._act(batch, n, local, session, ctx) + note

    def _act(self, batch: _Batch, n: int, local: units.LocalUnit, session: UnitSession, ctx: JobContext) -> str:
        """The existing service for the batch's action, on this unit's own session."""
        if batch.action == "enrollment":
            outcome = enrollment_desks.update_once(  # another desk (or the page) updating it: wait for that
                self.session.store, local.id, local.unit_id, "incremental", _UnitProgress(batch, n, ctx),
                session.call, operator=audit.current_operator(),
            )
            if not outcome.ran:
                return outcome.message
            result = outcome.result
            audit.record(self.session.store, "职工参保信息更新", f"{result.message}（批量，{result.mode}）",
                         unit_id=local.id)
            return result.message
        if batch.action == "feedback":
            # As 申报记录 does: what waits is sent first, so a 待确认 entry is resolved by its key.
            outbox = self.session.outbox
            sent = session.call(lambda c: outbox.send(c, local.id, local.unit_id))
            found = session.call(lambda c: outbox.fetch_feedback(c, local.id, local.unit_id))
            if sent.paused or not (sent.sent or sent.refused or sent.waiting):
                return found.message
            return f"{sent.message}；{found.message}"
        return PaymentService(session).refresh().message

    def _login(self, client: TaxClient, local: units.LocalUnit, password: str) -> UnitSession:
        """The declaration-password check for this unit; refusals go to 操作日志 as at login."""
        client.set_token(None)  # the previous unit's token never serves this one
        try:
            found = client.login(local.unit_id, password)
        except PasswordError as exc:
            action = "申报密码锁定" if exc.locked_until else "申报密码错误"
            audit.record(self.session.store, action, f"{local.name}（{local.unit_id}）：{exc.message}（批量操作）",
                         unit_id=local.id)
            raise
        if found.must_change_password:
            client.set_token(None)
            raise AuthError("该单位仍在使用初始申报密码：请先登录该单位并修改申报密码", code="must_change_password")
        unit = CurrentUnit(local.unit_id, local.taxpayer_id, local.name, local.region, local.region_label, local.id)
        return UnitSession(self.session, client, unit, password, found.today)


def switch_checked(session: SessionManager, unit_id: str) -> bool:
    """Enter ``unit_id`` with the password it passed earlier in this start (each unit is
    checked at its first use in a start): logged in, registration refreshed, entered.
    False when it has not been checked yet, or its password no longer passes: the operator
    then goes through the login wizard for it."""
    password = session.checked.get(unit_id)
    if not password:
        return False
    view = session.view()
    if view.entered and view.unit is not None and view.unit.unit_id == unit_id:
        return True
    try:
        view = session.login(unit_id, password)
    except PasswordError:  # changed elsewhere since: ask again
        session.checked.pop(unit_id, None)
        return False
    if view.state != CONFIRM:
        return False
    session.registration()
    session.confirm()
    return True
