"""Local operator accounts (多人使用) and who the current operator is.

单人使用 (the default, and what an install that never chose behaves as) has no operator
login: the operator is the OS user, as before. 多人使用 has an administrator who adds
operators with a role (client/core/operators_roles.py) and the units they may work on.

Who acts is a context variable set per request by the UI server and copied into the jobs a
request starts (client/core/jobs.py), so audit rows and journal entries written by a job
carry the operator who started it. Rows store the operator's name, not only an id: a
deleted operator's history keeps reading right.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import peewee

from client.core import passwords
from client.core.operators_roles import Role, get_role, role_by_key
from client.core.permissions import ADMIN, ALL_PERMISSIONS
from client.core.store import Store
from client.errors import AuthError, ConflictError, NotFoundError, ValidationError

SINGLE, MULTI = "single", "multi"
MODE_LABELS = {SINGLE: "单人使用", MULTI: "多人使用"}
MAX_ATTEMPTS = 5
LOCK_MINUTES = 15
FROZEN_MESSAGE = "该操作员已被冻结，请联系管理员"
MUST_CHANGE_MESSAGE = "管理员已重置您的密码，请先修改密码后再使用客户端"


@functools.cache
def _dummy_hash() -> str:
    """Checked against for unknown login names, so they take as long as known ones."""
    return passwords.hash_password("socialfee-no-such-operator-0")


_COLUMNS = "id, name, login_name, role_id, frozen, failed_attempts, locked_until, created_at, must_change_password"


@dataclass(frozen=True)
class Identity:
    """The logged-in operator as a request sees it (reloaded on every request)."""

    id: int
    name: str
    login_name: str
    role: Role
    units: frozenset[str] | None  # None: every unit
    must_change: bool = False  # a password reset by an administrator: nothing else until changed

    @property
    def is_admin(self) -> bool:
        return self.role.key == ADMIN

    @property
    def permissions(self) -> frozenset[str]:
        return ALL_PERMISSIONS if self.is_admin else self.role.permissions


@dataclass(frozen=True)
class Operator:
    id: int
    name: str
    login_name: str
    role_id: int
    role_name: str
    frozen: bool
    failed_attempts: int
    locked_until: str | None
    created_at: str
    units: tuple[str, ...]
    must_change: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "name": self.name, "login_name": self.login_name, "role_id": self.role_id,
            "role_name": self.role_name, "frozen": self.frozen, "locked_until": self.locked_until,
            "created_at": self.created_at, "units": list(self.units), "must_change": self.must_change,
            "state": "已冻结" if self.frozen else ("已锁定" if self.locked_until else
                                                  ("待修改密码" if self.must_change else "正常")),
        }


# -- who acts ----------------------------------------------------------------------------------
_CURRENT: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("operator", default=None)


def os_user() -> str:
    try:
        return getpass.getuser()
    except OSError:
        return "unknown"


def current() -> Identity | None:
    return _CURRENT.get()


def set_current(identity: Identity | None) -> contextvars.Token[Identity | None]:
    return _CURRENT.set(identity)


def reset_current(token: contextvars.Token[Identity | None]) -> None:
    _CURRENT.reset(token)


@contextmanager
def acting_as(identity: Identity | None) -> Iterator[None]:
    token = _CURRENT.set(identity)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_operator_name() -> str:
    """What audit rows and journal entries record: the logged-in operator's name, or the OS
    user in 单人使用 and on the command line without ``--operator``."""
    identity = _CURRENT.get()
    return identity.name if identity is not None else os_user()


def current_assigned_unit_ids() -> frozenset[str] | None:
    identity = _CURRENT.get()
    return identity.units if identity is not None else None


# -- the mode ------------------------------------------------------------------------------------
def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def _text(moment: dt.datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


def _config(store: Store, key: str) -> str | None:
    row = store.db.execute_sql("SELECT value FROM operator_config WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def mode_chosen(store: Store) -> bool:
    return _config(store, "mode") is not None


def mode(store: Store) -> str:
    """单人使用 unless 多人使用 was chosen (an install that never chose keeps today's behaviour)."""
    return MULTI if _config(store, "mode") == MULTI else SINGLE


def _set_mode(db: object, value: str) -> None:
    db.execute_sql(  # type: ignore[attr-defined]
        "INSERT INTO operator_config (key, value) VALUES ('mode', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (value,),
    )


def choose_single(store: Store) -> None:
    with store.write() as db:
        _set_mode(db, SINGLE)


def switch_to_single(store: Store) -> None:
    """多人使用 -> 单人使用 (an administrator's action): the accounts stay for a later switch back."""
    with store.write() as db:
        _set_mode(db, SINGLE)


def has_administrator(store: Store) -> bool:
    admin = role_by_key(store, ADMIN)
    row = store.db.execute_sql(
        "SELECT count(*) FROM operator WHERE role_id = ? AND frozen = 0", (admin.id,)
    ).fetchone()
    return bool(row[0])


def start_multi(store: Store, name: str, login_name: str, password: str, confirm: str) -> Identity:
    """单人使用 -> 多人使用 with a new administrator, who is then the logged-in operator."""
    admin = role_by_key(store, ADMIN)
    with store.write() as db:
        operator_id = _insert(db, name, login_name, password, confirm, admin.id, ())
        _set_mode(db, MULTI)
    return identity(store, operator_id)


def resume_multi(store: Store, login_name: str, password: str, *, now: dt.datetime | None = None) -> Identity:
    """Back to 多人使用 with the accounts kept from before: an administrator signs in to switch."""
    found = authenticate(store, login_name, password, now=now)
    if not found.is_admin:
        raise AuthError("只有管理员可以切换为多人使用", code="not_admin", field="login_name")
    with store.write() as db:
        _set_mode(db, MULTI)
    return found


# -- accounts --------------------------------------------------------------------------------------
def _clean_name(value: object, label: str, field: str, limit: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationError(f"请输入{label}", field=field)
    if len(text) > limit:
        raise ValidationError(f"{label}不能超过 {limit} 个字", field=field)
    return text


def _clean_login(value: object) -> str:
    text = _clean_name(value, "登录名", "login_name", 32)
    if not all(33 <= ord(c) <= 126 for c in text):
        raise ValidationError("登录名只能包含英文字母、数字和英文符号", field="login_name")
    return text


def _clean_units(unit_ids: object) -> tuple[str, ...]:
    if not isinstance(unit_ids, list | tuple) or not all(isinstance(u, str) for u in unit_ids):
        raise ValidationError("分配的单位格式不正确", field="units")
    return tuple(sorted({u for u in unit_ids if u}))


def _insert(db: object, name: object, login_name: object, password: str, confirm: str, role_id: int,
            unit_ids: tuple[str, ...]) -> int:
    clean_name = _clean_name(name, "操作员姓名", "name", 40)
    login = _clean_login(login_name)
    passwords.check_new_password(password, confirm, label="密码", field="password")
    # lower() on both engines: the unique index of migration v17 is on lower(login_name).
    taken = db.execute_sql(  # type: ignore[attr-defined]
        "SELECT 1 FROM operator WHERE lower(login_name) = lower(?)", (login,)
    ).fetchone()
    if taken:
        raise ConflictError(f"登录名「{login}」已被使用", code="login_name_taken")
    now = _text(_now())
    try:
        cur = db.execute_sql(  # type: ignore[attr-defined]
            "INSERT INTO operator (name, login_name, password_hash, role_id, frozen, failed_attempts, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, 0, 0, ?, ?) RETURNING id",
            (clean_name, login, passwords.hash_password(password), role_id, now, now),
        )
        operator_id = int(cur.fetchone()[0])
    except peewee.IntegrityError as exc:
        # Another desk added the same login name between the check and the insert.
        raise ConflictError(f"登录名「{login}」已被使用", code="login_name_taken") from exc
    _write_units(db, operator_id, unit_ids)
    return operator_id


def _write_units(db: object, operator_id: int, unit_ids: tuple[str, ...]) -> None:
    db.execute_sql("DELETE FROM operator_unit WHERE operator_id = ?", (operator_id,))  # type: ignore[attr-defined]
    for unit_id in unit_ids:
        db.execute_sql(  # type: ignore[attr-defined]
            "INSERT INTO operator_unit (operator_id, unit_id) VALUES (?, ?)", (operator_id, unit_id)
        )


def add_operator(store: Store, name: object, login_name: object, password: str, confirm: str, role_id: int,
                 unit_ids: object = ()) -> int:
    role = get_role(store, role_id)
    with store.write() as db:
        return _insert(db, name, login_name, password, confirm, role.id, _clean_units(list(unit_ids)))


def _units_of(store: Store, operator_id: int) -> tuple[str, ...]:
    rows = store.db.execute_sql(
        "SELECT unit_id FROM operator_unit WHERE operator_id = ? ORDER BY unit_id", (operator_id,)
    ).fetchall()
    return tuple(r[0] for r in rows)


def _operator(store: Store, row: tuple) -> Operator:
    role = get_role(store, row[3])
    return Operator(row[0], row[1], row[2], row[3], role.name, bool(row[4]), row[5], row[6], row[7],
                    _units_of(store, row[0]), bool(row[8]))


def list_operators(store: Store) -> list[Operator]:
    rows = store.db.execute_sql(f"SELECT {_COLUMNS} FROM operator ORDER BY id").fetchall()
    return [_operator(store, r) for r in rows]


def get_operator(store: Store, operator_id: int) -> Operator:
    row = store.db.execute_sql(f"SELECT {_COLUMNS} FROM operator WHERE id = ?", (operator_id,)).fetchone()
    if row is None:
        raise NotFoundError("没有这个操作员，可能已被删除", code="operator_not_found")
    return _operator(store, row)


@contextmanager
def _admins_settled(store: Store) -> Iterator[None]:
    """One change that may take an administrator away at a time, across desks: two desks
    each freezing a different one of two administrators would otherwise both pass the check
    below and leave none (the check reads what is committed once the lock is held)."""
    with store.unit_lock("operator_admins", 0, wait=True):
        yield


def _keep_an_administrator(store: Store, operator_id: int) -> None:
    """Freezing, deleting or demoting the last active administrator would lock everyone out.
    Called under :func:`_admins_settled`."""
    admin = role_by_key(store, ADMIN)
    (others,) = store.db.execute_sql(
        "SELECT count(*) FROM operator WHERE role_id = ? AND frozen = 0 AND id != ?", (admin.id, operator_id)
    ).fetchone()
    target = get_operator(store, operator_id)
    if target.role_id == admin.id and not target.frozen and others == 0:
        raise ConflictError("至少要保留一名未冻结的管理员", code="last_admin")


def update_operator(store: Store, operator_id: int, *, name: object, role_id: int, unit_ids: object) -> None:
    role = get_role(store, role_id)
    clean_name = _clean_name(name, "操作员姓名", "name", 40)
    units = _clean_units(unit_ids)
    with _admins_settled(store):
        if role.key != ADMIN:
            _keep_an_administrator(store, operator_id)
        get_operator(store, operator_id)
        with store.write() as db:
            db.execute_sql("UPDATE operator SET name = ?, role_id = ?, updated_at = ? WHERE id = ?",
                           (clean_name, role.id, _text(_now()), operator_id))
            _write_units(db, operator_id, units)


def reset_password(store: Store, operator_id: int, password: str, confirm: str, *, must_change: bool = True) -> None:
    """An administrator sets a new password; it also lifts a lock from wrong passwords. The
    administrator knows it, so the operator must change it at the next login (not when an
    administrator resets their own)."""
    get_operator(store, operator_id)
    passwords.check_new_password(password, confirm, label="新密码", field="password")
    with store.write() as db:
        db.execute_sql(
            "UPDATE operator SET password_hash = ?, failed_attempts = 0, locked_until = NULL, "
            "must_change_password = ?, updated_at = ? WHERE id = ?",
            (passwords.hash_password(password), int(must_change), _text(_now()), operator_id),
        )


def change_own_password(store: Store, operator_id: int, old: str, new: str, confirm: str) -> None:
    (stored,) = store.db.execute_sql("SELECT password_hash FROM operator WHERE id = ?", (operator_id,)).fetchone()
    if not passwords.verify_password(old, stored):
        raise AuthError("原密码不正确", code="wrong_password", field="old_password")
    passwords.check_new_password(new, confirm, old=old, label="新密码")
    with store.write() as db:
        db.execute_sql("UPDATE operator SET password_hash = ?, must_change_password = 0, updated_at = ? WHERE id = ?",
                       (passwords.hash_password(new), _text(_now()), operator_id))


def set_frozen(store: Store, operator_id: int, frozen: bool) -> Operator:
    with _admins_settled(store):
        if frozen:
            _keep_an_administrator(store, operator_id)
        get_operator(store, operator_id)
        with store.write() as db:
            db.execute_sql("UPDATE operator SET frozen = ?, failed_attempts = 0, locked_until = NULL, updated_at = ? "
                           "WHERE id = ?", (int(frozen), _text(_now()), operator_id))
    return get_operator(store, operator_id)


def delete_operator(store: Store, operator_id: int) -> Operator:
    """Gone from the list; audit rows and journal entries keep the name they recorded."""
    with _admins_settled(store):
        _keep_an_administrator(store, operator_id)
        target = get_operator(store, operator_id)
        with store.write() as db:
            db.execute_sql("DELETE FROM operator_unit WHERE operator_id = ?", (operator_id,))
            db.execute_sql("DELETE FROM operator WHERE id = ?", (operator_id,))
    return target


# -- login -------------------------------------------------------------------------------------------
def authenticate(store: Store, login_name: str, password: str, *, now: dt.datetime | None = None) -> Identity:
    """The operator login: frozen and locked accounts are refused before the password is
    looked at; ``MAX_ATTEMPTS`` wrong passwords in a row lock the account for ``LOCK_MINUTES``."""
    moment = now or _now()
    login = login_name.strip() if isinstance(login_name, str) else ""
    if not login:
        raise ValidationError("请输入登录名", field="login_name")
    row = store.db.execute_sql(
        "SELECT id, password_hash, frozen, failed_attempts, locked_until FROM operator "
        "WHERE lower(login_name) = lower(?)", (login,),
    ).fetchone()
    if row is None:
        passwords.verify_password(password, _dummy_hash())  # as slow as a real check: no name probing
        raise AuthError("登录名或密码不正确", code="wrong_operator_password", field="password")
    operator_id, stored, frozen, _failed, locked_until = row
    if frozen:
        raise AuthError(FROZEN_MESSAGE, code="operator_frozen", field="login_name")
    if locked_until and dt.datetime.fromisoformat(locked_until) > moment:
        raise AuthError(_locked_message(dt.datetime.fromisoformat(locked_until), moment),
                        code="operator_locked", field="password")
    if not passwords.verify_password(password, stored):
        failed, locked = _count_failure(store, operator_id, moment)
        if locked:
            raise AuthError(
                f"密码连续输错 {MAX_ATTEMPTS} 次，该操作员已锁定 {LOCK_MINUTES} 分钟，请于 {locked[11:16]} 后再试"
                "或请管理员重置密码", code="operator_locked", field="password",
            )
        raise AuthError(f"登录名或密码不正确（再输错 {MAX_ATTEMPTS - failed} 次将锁定 {LOCK_MINUTES} 分钟）",
                        code="wrong_operator_password", field="password")
    with store.write() as db:
        db.execute_sql("UPDATE operator SET failed_attempts = 0, locked_until = NULL, last_login_at = ? WHERE id = ?",
                       (_text(moment), operator_id))
    return identity(store, operator_id)


def _count_failure(store: Store, operator_id: int, moment: dt.datetime) -> tuple[int, str | None]:
    """One more wrong password, counted by the UPDATE itself (two windows or two desks
    guessing at once cannot both read the old count: PostgreSQL's row lock makes the second
    count on the first's result); the last allowed one sets the lock."""
    with store.write() as db:
        # A lock that ran out starts a fresh count.
        (failed,) = db.execute_sql(
            "UPDATE operator SET failed_attempts = CASE WHEN locked_until IS NOT NULL THEN 1 "
            "ELSE failed_attempts + 1 END, locked_until = NULL WHERE id = ? RETURNING failed_attempts",
            (operator_id,),
        ).fetchone()
        locked = _text(moment + dt.timedelta(minutes=LOCK_MINUTES)) if failed >= MAX_ATTEMPTS else None
        if locked:
            db.execute_sql("UPDATE operator SET failed_attempts = 0, locked_until = ? WHERE id = ?",
                           (locked, operator_id))
    return int(failed), locked


def _locked_message(until: dt.datetime, moment: dt.datetime) -> str:
    minutes = max(1, -(-int((until - moment).total_seconds()) // 60))
    return f"密码错误次数过多，该操作员已锁定，请于 {until:%H:%M} 后再试（约 {minutes} 分钟）或请管理员重置密码"


def identity(store: Store, operator_id: int) -> Identity:
    found = get_operator(store, operator_id)
    role = get_role(store, found.role_id)
    units = None if role.key == ADMIN else frozenset(found.units)
    return Identity(found.id, found.name, found.login_name, role, units, found.must_change)


def active_identity(store: Store, operator_id: int) -> Identity | None:
    """The operator a request runs as, or None when the account is gone or frozen meanwhile."""
    row = store.db.execute_sql("SELECT frozen FROM operator WHERE id = ?", (operator_id,)).fetchone()
    if row is None or row[0]:
        return None
    return identity(store, operator_id)


def assigned_unit_ids(operator_id: int | None) -> frozenset[str] | None:
    """The units (the tax side's unit ids) an operator may work on; None means all of them
    (administrators, 单人使用, the command line without ``--operator``)."""
    if operator_id is None:
        return None
    from client.core.models import database_proxy  # the store in use (bound by Store)

    row = database_proxy.execute_sql(
        "SELECT r.key FROM operator o JOIN operator_role r ON r.id = o.role_id WHERE o.id = ?", (operator_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError("没有这个操作员，可能已被删除", code="operator_not_found")
    if row[0] == ADMIN:
        return None
    units = database_proxy.execute_sql(
        "SELECT unit_id FROM operator_unit WHERE operator_id = ?", (operator_id,)
    ).fetchall()
    return frozenset(u[0] for u in units)


def may_use_unit(unit_id: str) -> bool:
    allowed = current_assigned_unit_ids()
    return allowed is None or unit_id in allowed
