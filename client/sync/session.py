"""The login session of this client (注册登录, 3.1.1): one unit at a time, held in memory.

States: ``none`` -> (password check) -> ``must_change`` (initial password: nothing else is
allowed) -> ``confirm`` (show the tax and insurance registration) -> ``entered``.
Tokens and the accepted password live only in this object; the password is kept so the
forced change can send it as the old one and so offline mode can reconnect by itself.

Offline mode: when the tax side cannot be reached at login and this unit logged in here
before, the operator may enter after a check against the local salted hash. A background
thread then retries the login and leaves offline mode when it succeeds.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from client import logs
from client.backup import service as backup_service
from client.core import audit, passwords, units
from client.core.jobs import JobInfo, JobRunner
from client.core.store import Store
from client.errors import AuthError, NetworkError, NotFoundError, SocialFeeError, ValidationError
from client.settings import Settings
from client.sync import enrollment_desks, refresh
from client.sync.outbox import FeedbackReport, Outbox
from client.sync.taxclient import (
    PasswordError,
    TaxClient,
    UnitSummary,
    from_settings,
    new_idempotency_key,
)
from rules.codes import check_taxpayer_id

log = logging.getLogger(__name__)
T = TypeVar("T")

NONE, MUST_CHANGE, CONFIRM, ENTERED = "none", "must_change", "confirm", "entered"
KIND_LABELS = {"medical": "医疗", "pension": "养老", "unemployment": "失业", "injury": "工伤"}
ENROLLMENT_SYNC = "enrollment_sync"
OUTBOX = "outbox"
REFRESH_KINDS = {
    "unit_refresh": "更新单位信息",
    "rules_refresh": "更新业务规则",
    "notices_refresh": "更新通知公告",
}


class NotLoggedIn(AuthError):
    code = "not_logged_in"
    status = 401


@dataclass(frozen=True)
class CurrentUnit:
    unit_id: str
    taxpayer_id: str
    name: str
    region: str
    region_label: str
    local_id: int | None


@dataclass(frozen=True)
class SessionView:
    state: str
    unit: CurrentUnit | None
    offline: bool
    offline_message: str
    reconnect_stopped: bool

    @property
    def entered(self) -> bool:
        return self.state == ENTERED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def password_hint(summary: UnitSummary) -> str:
    """Where the initial password comes from, as the tax side told us."""
    if not summary.password_is_initial:
        return ""
    kinds = "、".join(KIND_LABELS.get(k, k) for k in summary.initial_password_kinds)
    if len(summary.initial_password_kinds) == 1:
        return f"首次登录：初始申报密码为本单位{kinds}社保单位编号的后6位。"
    return f"首次登录：初始申报密码为本单位某一社保单位编号（{kinds}）的后6位，请逐一尝试。"


class SessionManager:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        jobs: JobRunner,
        *,
        client_factory: Callable[[Settings], TaxClient] = from_settings,
    ) -> None:
        self.store, self.settings, self.jobs = store, settings, jobs
        self._factory = client_factory
        self._lock = threading.RLock()
        self._candidates: dict[str, UnitSummary] = {}
        self._client: TaxClient | None = None
        self._unit: CurrentUnit | None = None
        self._password: str | None = None
        self._remember = False
        self._change_key: str | None = None
        self._state = NONE
        self._offline = False
        self._offline_message = ""
        self._reconnect_stopped = False
        self._stop = threading.Event()
        self._reconnector: threading.Thread | None = None
        self.reconnect_interval = 15.0  # seconds between reconnect attempts
        self.popups_shown = False
        self.client_unlocked = not passwords.login_password_set()
        self._today: dt.date | None = None  # the tax side's business date, from the login
        self.outbox = Outbox(store, settings.path.parent)
        # Passwords accepted in this start, per unit: a unit is checked at its first use in a
        # start (manual 3.1.1), then 单位总览 switches to it without asking again.
        self.checked: dict[str, str] = {}

    # -- what the pages see ------------------------------------------------------------------
    def view(self) -> SessionView:
        with self._lock:
            return SessionView(
                self._state, self._unit, self._offline, self._offline_message, self._reconnect_stopped
            )

    def require_entered(self) -> CurrentUnit:
        with self._lock:
            if self._state != ENTERED or self._unit is None:
                raise NotLoggedIn("请先登录单位（输入申报密码）")
            return self._unit

    def business_date(self) -> dt.date:
        """The tax side's date (windows and effective months follow it); ours when offline."""
        with self._lock:
            return self._today or dt.date.today()

    def client(self) -> TaxClient:
        with self._lock:
            self.require_entered()
            if self._offline or self._client is None:
                raise NetworkError("离线模式：暂时无法连接税务端，恢复连接后再试", code="offline")
            return self._client

    # -- registration and login ----------------------------------------------------------------
    def lookup(self, taxpayer_id: str) -> list[UnitSummary]:
        value = (taxpayer_id or "").strip().upper()
        if not value:
            raise ValidationError("请输入纳税人识别号", field="taxpayer_id")
        reason = check_taxpayer_id(value)
        if reason:
            raise ValidationError(f"纳税人识别号：{reason}", field="taxpayer_id")
        with self._factory(self.settings) as client:
            found = client.units_for_taxpayer(value)
        if not found:
            raise NotFoundError("该纳税人识别号下没有参保单位", code="taxpayer_not_found", field="taxpayer_id")
        with self._lock:
            self._candidates.update({u.unit_id: u for u in found})
        return found

    def _summary_for(self, unit_id: str) -> CurrentUnit:
        known = self._candidates.get(unit_id)
        if known is not None:
            return CurrentUnit(known.unit_id, known.taxpayer_id, known.name, known.region,
                               units.region_label(known.region), None)
        local = units.get_unit(unit_id)
        if local is None:
            raise NotFoundError("请先输入纳税人识别号查询单位", code="unit_unknown", field="taxpayer_id")
        return CurrentUnit(local.unit_id, local.taxpayer_id, local.name, local.region,
                           local.region_label, local.id)

    def login(self, unit_id: str, password: str, *, remember: bool = False) -> SessionView:
        """The security check with the declaration password (安全验证)."""
        if not password:
            raise ValidationError("请输入申报密码", field="password")
        if remember and not passwords.keyring_status().available:
            raise ValidationError(passwords.keyring_status().reason, field="remember")
        target = self._summary_for(unit_id)
        self.logout(record=False)
        client = self._factory(self.settings)
        try:
            session = client.login(unit_id, password)
        except PasswordError as exc:
            client.close()
            self._record_refused(target, exc)
            raise
        except NetworkError as exc:
            client.close()
            local = units.get_unit(unit_id)
            if local is not None and local.offline_ready:
                raise NetworkError(
                    f"{exc.message}。本机曾登录过该单位，可以选择「离线进入」", code="offline_available"
                ) from None
            raise
        logs.register_secret(password)
        self._today = session.today
        local = units.add_or_restore(self.store, target.unit_id, target.taxpayer_id, target.name, target.region)
        with self._lock:
            self._client, self._password, self._remember = client, password, remember
            self._unit = CurrentUnit(target.unit_id, target.taxpayer_id, target.name, target.region,
                                     target.region_label, local.id)
            if session.must_change_password:
                self._state = MUST_CHANGE
                self._change_key = new_idempotency_key()
            else:
                self._state = CONFIRM
        if not session.must_change_password:
            self._accepted(password)
        audit.record(self.store, "申报密码验证", f"{target.name}（{unit_id}）", unit_id=local.id)
        return self.view()

    def _record_refused(self, target: UnitSummary, exc: PasswordError) -> None:
        """Wrong passwords and lock-outs go to 操作日志 too: the administrator must see them."""
        local = units.get_unit(target.unit_id)
        if exc.locked_until:
            action, detail = "申报密码锁定", f"{target.name}（{target.unit_id}）：{exc.message}"
        else:
            action = "申报密码错误"
            detail = f"{target.name}（{target.unit_id}）：剩余 {exc.attempts_left} 次尝试机会"
        audit.record(self.store, action, detail, unit_id=local.id if local is not None else None)

    def login_with_saved(self, unit_id: str) -> SessionView:
        saved = passwords.recall_password(unit_id)
        if not saved:
            raise NotFoundError("本机没有保存该单位的申报密码", code="no_saved_password", field="password")
        return self.login(unit_id, saved, remember=True)

    def _accepted(self, password: str) -> None:
        """A full-scope password: keep its hash for offline entry, and in the keyring if asked."""
        assert self._unit is not None
        self.checked[self._unit.unit_id] = password
        units.mark_login(self.store, self._unit.unit_id, password)
        if self._remember:
            try:
                passwords.remember_password(self._unit.unit_id, password)
            except Exception:  # the login must not fail because the keyring did
                log.warning("keyring write failed")

    def change_initial_password(self, new: str, confirm: str) -> SessionView:
        """The forced change after the first check; old = the initial password just entered."""
        with self._lock:
            if self._state != MUST_CHANGE or self._client is None or self._unit is None:
                raise NotLoggedIn("请先验证初始申报密码")
            old, client, unit = self._password, self._client, self._unit
            key = self._change_key
        passwords.check_new_password(new, confirm, old=old)
        client.change_password(unit.unit_id, old or "", new, idempotency_key=key)
        logs.register_secret(new)
        with self._lock:
            self._password, self._state, self._change_key = new, CONFIRM, None
        self._accepted(new)
        audit.record(self.store, "修改初始申报密码", unit.name, unit_id=unit.local_id)
        return self.view()

    def registration(self) -> tuple[units.Registration | None, str]:
        """The registration to confirm: fresh from the tax side, else the last good one
        with a note saying why."""
        with self._lock:
            unit, client, offline = self._unit, self._client, self._offline
        if unit is None:
            raise NotLoggedIn("请先登录单位")
        if client is not None and not offline:
            try:
                reg = self._call(lambda c: c.unit_registration(unit.unit_id))
                return units.save_registration(self.store, asdict(reg)), ""
            except SocialFeeError as exc:
                note = f"未能从税务端获取最新登记信息（{exc.message}），以下为本机保存的信息"
                return units.registration(unit.unit_id), note
        return units.registration(unit.unit_id), "离线模式：以下为本机保存的登记信息"

    def confirm(self) -> SessionView:
        with self._lock:
            if self._state != CONFIRM or self._unit is None:
                raise NotLoggedIn("请先通过申报密码验证")
            self._state = ENTERED
            self.popups_shown = False
            unit = self._unit
        audit.record(self.store, "登录", f"{unit.name}（{unit.unit_id}）", unit_id=unit.local_id)
        self.start_refreshes()
        return self.view()

    def enter_offline(self, unit_id: str, password: str) -> SessionView:
        local = units.get_unit(unit_id)
        if local is None or not local.offline_ready:
            raise AuthError("该单位从未在本机登录过，不能离线进入", code="offline_unavailable")
        if not units.check_offline_password(unit_id, password):
            raise AuthError("申报密码与本机最后一次登录使用的密码不一致", code="wrong_offline_password", field="password")
        logs.register_secret(password)
        self.logout(record=False)
        with self._lock:
            self._unit = CurrentUnit(local.unit_id, local.taxpayer_id, local.name, local.region,
                                     local.region_label, local.id)
            self._password, self._state, self._offline = password, ENTERED, True
            self._offline_message = "无法连接税务端。可查看本地数据、编辑草稿，提交将排队等待；恢复连接后自动重新连接。"
            self._reconnect_stopped = False
            self.popups_shown = True  # no fresh notices to pop up
            self._stop = threading.Event()
            self._reconnector = threading.Thread(target=self._reconnect_loop, args=(self._stop,),
                                                 name="reconnect", daemon=True)
            self._reconnector.start()
        audit.record(self.store, "离线登录", f"{local.name}（{unit_id}）", unit_id=local.id)
        return self.view()

    def logout(self, *, record: bool = True) -> None:
        with self._lock:
            unit = self._unit if self._state == ENTERED else None
            self._stop.set()
            if self._client is not None:
                self._client.close()
            self._client = self._unit = self._password = self._change_key = None
            self._state, self._offline, self._offline_message = NONE, False, ""
            self._reconnect_stopped = False
        if record and unit is not None:
            audit.record(self.store, "退出登录", unit.name, unit_id=unit.local_id)

    def close(self) -> None:
        self.logout(record=False)

    # -- calls with token renewal -----------------------------------------------------------------
    def _call(self, fn: Callable[[TaxClient], T]) -> T:
        """Call the tax side; an expired token is renewed once with the accepted password."""
        with self._lock:
            client, unit, password = self._client, self._unit, self._password
        if client is None or unit is None:
            raise NotLoggedIn("请先登录单位")
        try:
            return fn(client)
        except AuthError as exc:
            if exc.code not in ("token_expired", "token_invalid") or not password:
                raise
            client.login(unit.unit_id, password)
            return fn(client)

    def call(self, fn: Callable[[TaxClient], T]) -> T:
        """One call for the entered unit (online only), its token renewed once if expired."""
        self.require_entered()
        self.client()
        return self._call(fn)

    # -- declaration password change (申报密码设置) ---------------------------------------------------
    def change_password(self, old: str, new: str, confirm: str) -> None:
        unit = self.require_entered()
        self.client()  # online only
        if not old:
            raise ValidationError("请输入原申报密码", field="old_password")
        passwords.check_new_password(new, confirm, old=old)
        key = new_idempotency_key()
        try:
            self._call(lambda c: c.change_password(unit.unit_id, old, new, idempotency_key=key))
        except PasswordError as exc:
            raise PasswordError(
                exc.message.replace("申报密码错误", "原申报密码错误"), code=exc.code,
                attempts_left=exc.attempts_left, locked_until=exc.locked_until,
            ) from None
        logs.register_secret(new)
        with self._lock:
            self._password = new
            self._remember = passwords.recall_password(unit.unit_id) is not None
        self._accepted(new)
        audit.record(self.store, "修改申报密码", unit.name, unit_id=unit.local_id)

    # -- refreshes -----------------------------------------------------------------------------
    def start_refresh(self, kind: str) -> JobInfo:
        unit = self.require_entered()
        self.client()
        work: dict[str, Callable[[TaxClient], Any]] = {
            "unit_refresh": lambda c: refresh.refresh_unit(self.store, c, unit.unit_id),
            "rules_refresh": lambda c: refresh.refresh_rules(self.store, c, unit.region),
            "notices_refresh": lambda c: refresh.refresh_notices(self.store, c, unit.region),
        }
        job = work[kind]
        return self.jobs.start(kind, REFRESH_KINDS[kind], lambda _ctx: self._call(job), unit_id=unit.local_id)

    def start_enrollment_sync(self, mode: str = "incremental") -> JobInfo:
        """职工参保信息更新 in the background; the first one for a unit is a full download."""
        if mode not in ("incremental", "full"):
            raise ValidationError("更新方式只能是增量更新或全量更新", field="mode")
        unit = self.require_entered()
        self.client()
        local_id = unit.local_id
        if local_id is None:
            raise NotLoggedIn("请先登录单位")

        def backup(progress: Any) -> None:  # a full update may mark many employees: keep a way back
            backup_service.safety_backup(
                self.settings.path.parent, self.settings, self.store, "全量更新之前",
                progress=lambda *_: progress.progress(0, 0, "正在备份当前数据…"),
            )

        def work(ctx: Any) -> dict[str, Any]:
            # One update per unit across desks: another desk's running one is shown and waited for.
            outcome = enrollment_desks.update_once(
                self.store, local_id, unit.unit_id, mode, ctx, self._call,
                before=backup if mode == "full" else None, operator=audit.current_operator(),
            )
            if not outcome.ran:
                return enrollment_desks.waited_result(outcome, mode)
            result = outcome.result
            audit.record(
                self.store, "职工参保信息更新", f"{result.to_dict()['message']}（{mode}）",
                unit_id=unit.local_id,
            )
            return result.to_dict()

        return self.jobs.start(ENROLLMENT_SYNC, "职工参保信息更新", work, unit_id=unit.local_id)

    def start_refreshes(self) -> list[JobInfo]:
        started = []
        for kind in REFRESH_KINDS:
            try:
                started.append(self.start_refresh(kind))
            except SocialFeeError as exc:  # one already running, or offline
                log.info("refresh %s not started: %s", kind, exc.code)
        try:  # each login brings the enrollment up to date (manual 3.1.4)
            started.append(self.start_enrollment_sync("incremental"))
        except SocialFeeError as exc:
            log.info("enrollment sync not started: %s", exc.code)
        if not self.outbox.paused():
            try:  # what was queued while offline goes out now
                started.append(self.start_outbox())
            except SocialFeeError as exc:
                log.info("outbox not started: %s", exc.code)
        return started

    # -- the submission journal ------------------------------------------------------------------
    def start_outbox(self, *, feedback: bool = False) -> JobInfo:
        """Send what waits in the journal (and fetch feedback) in the background."""
        unit = self.require_entered()
        self.client()
        local_id = unit.local_id
        assert local_id is not None

        def work(ctx: Any) -> dict[str, Any]:
            report = self._call(lambda c: self.outbox.send(c, local_id, unit.unit_id, ctx.progress))
            result = report.to_dict()
            if feedback and not report.paused:
                result["feedback"] = self._call(
                    lambda c: self.outbox.fetch_feedback(c, local_id, unit.unit_id)
                ).to_dict()
            return result

        return self.jobs.start(OUTBOX, "发送申报", work, unit_id=local_id)

    def fetch_feedback(self, only: Collection[str] | None = None) -> FeedbackReport:
        """获取反馈: ask the tax side about every 待反馈 entry of this unit (of the kinds
        ``only`` names, for a page that shows just those)."""
        unit = self.require_entered()
        self.client()
        assert unit.local_id is not None
        local_id = unit.local_id
        return self._call(lambda c: self.outbox.fetch_feedback(c, local_id, unit.unit_id, only=tuple(only or ())))

    def take_popups(self) -> bool | None:
        """Whether this request shows the login pop-ups: True once per login, False after;
        None while the notices refresh still runs (ask again). Atomic: two pages asking at
        the same moment never both show them."""
        with self._lock:
            if self.popups_shown:
                return False
            if self.notices_pending():
                return None
            self.popups_shown = True
            return True

    def notices_pending(self) -> bool:
        unit = self.require_entered()
        return bool(self.jobs.find(kind="notices_refresh", unit_id=unit.local_id, active_only=True))

    # -- offline reconnect -------------------------------------------------------------------------
    def _reconnect_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.reconnect_interval):
            with self._lock:
                unit, password = self._unit, self._password
            if unit is None or not password:
                return
            client = self._factory(self.settings)
            try:
                session = client.login(unit.unit_id, password)
            except NetworkError:
                client.close()
                continue
            except SocialFeeError as exc:  # password changed elsewhere, or locked: stop trying
                client.close()
                with self._lock:
                    if not stop.is_set():
                        self._reconnect_stopped = True
                        self._offline_message = f"无法自动重新连接（{exc.message}），请退出后重新登录。"
                return
            if session.must_change_password:
                client.close()
                with self._lock:
                    self._reconnect_stopped = True
                    self._offline_message = "税务端要求修改申报密码，请退出后重新登录。"
                return
            with self._lock:
                if stop.is_set():
                    client.close()
                    return
                self._client, self._offline, self._offline_message = client, False, ""
            units.mark_login(self.store, unit.unit_id, None)
            audit.record(self.store, "重新连接税务端", unit.name, unit_id=unit.local_id)
            self.start_refreshes()
            return
