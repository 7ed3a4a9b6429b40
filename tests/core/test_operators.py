"""Operator accounts, roles and who acts: on a real store (the migrations' schema)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import peewee
import psycopg
import pytest

from client.core import audit, operators, permissions
from client.core.jobs import JobRunner
from client.core.operators_roles import delete_role, list_roles, role_by_key, save_role
from client.core.store import Store
from client.errors import AuthError, ConflictError, ValidationError

PASSWORD = "Caozuo2025"
T0 = dt.datetime(2026, 3, 2, 9, 0, 0)


@pytest.fixture
def store(engine_store: Store) -> Store:
    """Each test runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    return engine_store


@pytest.fixture
def admin(store: object) -> operators.Identity:
    return operators.start_multi(store, "王管理", "admin", PASSWORD, PASSWORD)


def _add(store: object, login: str, role_key: str, units: list[str] | None = None) -> int:
    role = role_by_key(store, role_key)
    return operators.add_operator(store, f"{login}的名字", login, PASSWORD, PASSWORD, role.id, units or [])


def test_an_install_that_never_chose_is_single(store: object) -> None:
    assert operators.mode(store) == operators.SINGLE and not operators.mode_chosen(store)
    operators.choose_single(store)
    assert operators.mode_chosen(store) and operators.mode(store) == operators.SINGLE
    assert [r.name for r in list_roles(store)] == ["管理员", "人事专员", "财务", "只读"]


def test_start_multi_creates_the_administrator_with_a_slow_hash(store: object, admin: operators.Identity) -> None:
    assert operators.mode(store) == operators.MULTI
    assert admin.is_admin and admin.units is None and admin.permissions == permissions.ALL_PERMISSIONS
    (stored,) = store.db.execute_sql("SELECT password_hash FROM operator WHERE id = ?", (admin.id,)).fetchone()
    assert stored.startswith("scrypt$") and PASSWORD not in stored


def test_passwords_follow_the_strength_rule(store: object, admin: operators.Identity) -> None:
    role = role_by_key(store, permissions.HR)
    with pytest.raises(ValidationError, match="必须同时包含字母和数字") as weak:
        operators.add_operator(store, "张三", "zhang", "abcdefgh", "abcdefgh", role.id, [])
    assert weak.value.field == "password"
    with pytest.raises(ValidationError, match="两次输入的新密码不一致"):
        operators.add_operator(store, "张三", "zhang", PASSWORD, PASSWORD + "x", role.id, [])
    with pytest.raises(ConflictError, match="登录名「ADMIN」已被使用"):
        operators.add_operator(store, "张三", "ADMIN", PASSWORD, PASSWORD, role.id, [])


def test_wrong_passwords_lock_the_operator_for_a_while(store: object, admin: operators.Identity) -> None:
    hr = _add(store, "hr", permissions.HR)
    for left in (4, 3, 2, 1):
        with pytest.raises(AuthError, match=f"再输错 {left} 次将锁定 15 分钟"):
            operators.authenticate(store, "hr", "Wrong12345", now=T0)
    with pytest.raises(AuthError, match="已锁定 15 分钟，请于 09:15 后再试") as locked:
        operators.authenticate(store, "hr", "Wrong12345", now=T0)
    assert locked.value.code == "operator_locked"
    # Locked: even the right password waits.
    with pytest.raises(AuthError, match="请于 09:15 后再试（约 10 分钟）"):
        operators.authenticate(store, "hr", PASSWORD, now=T0 + dt.timedelta(minutes=5))
    assert operators.get_operator(store, hr).to_dict()["state"] == "已锁定"
    found = operators.authenticate(store, "hr", PASSWORD, now=T0 + dt.timedelta(minutes=16))
    assert found.id == hr and found.role.key == permissions.HR


def test_reset_password_lifts_the_lock(store: object, admin: operators.Identity) -> None:
    hr = _add(store, "hr", permissions.HR)
    for _ in range(operators.MAX_ATTEMPTS):
        with pytest.raises(AuthError):
            operators.authenticate(store, "hr", "Wrong12345", now=T0)
    operators.reset_password(store, hr, "Xinmima2025", "Xinmima2025")
    assert operators.authenticate(store, "hr", "Xinmima2025", now=T0).id == hr
    with pytest.raises(AuthError):
        operators.authenticate(store, "hr", PASSWORD, now=T0)


def test_a_frozen_operator_is_told_so_and_unfrozen_works_again(store: object, admin: operators.Identity) -> None:
    fin = _add(store, "fin", permissions.FINANCE)
    operators.set_frozen(store, fin, True)
    with pytest.raises(AuthError, match="该操作员已被冻结，请联系管理员"):
        operators.authenticate(store, "fin", PASSWORD)
    assert operators.active_identity(store, fin) is None
    operators.set_frozen(store, fin, False)
    assert operators.authenticate(store, "fin", PASSWORD).id == fin


def test_the_last_administrator_stays(store: object, admin: operators.Identity) -> None:
    with pytest.raises(ConflictError, match="至少要保留一名未冻结的管理员"):
        operators.set_frozen(store, admin.id, True)
    with pytest.raises(ConflictError, match="至少要保留一名未冻结的管理员"):
        operators.delete_operator(store, admin.id)
    with pytest.raises(ConflictError):
        operators.update_operator(store, admin.id, name="王管理", role_id=role_by_key(store, permissions.READONLY).id,
                                  unit_ids=[])
    second = _add(store, "admin2", permissions.ADMIN)
    operators.set_frozen(store, admin.id, True)  # another one is left
    assert operators.active_identity(store, second) is not None


def test_deleting_keeps_the_name_in_history(store: object, admin: operators.Identity) -> None:
    hr = _add(store, "hr", permissions.HR)
    person = operators.identity(store, hr)
    with operators.acting_as(person):
        audit.record(store, "导入", "缴费工资 3 行")
    operators.delete_operator(store, hr)
    assert [o.login_name for o in operators.list_operators(store)] == ["admin"]
    rows = audit.entries_matching(audit.AuditFilter(action="导入"))
    assert [r.operator for r in rows] == ["hr的名字"]


def test_assigned_units(store: object, admin: operators.Identity) -> None:
    hr = _add(store, "hr", permissions.HR, ["U000002", "U000001"])
    assert operators.assigned_unit_ids(admin.id) is None
    assert operators.assigned_unit_ids(None) is None
    assert operators.assigned_unit_ids(hr) == frozenset({"U000001", "U000002"})
    with operators.acting_as(operators.identity(store, hr)):
        assert operators.may_use_unit("U000001") and not operators.may_use_unit("U000009")
    assert operators.may_use_unit("U000009")  # nobody logged in: 单人使用


def test_who_acts_and_jobs_keep_the_starter(store: object, admin: operators.Identity) -> None:
    assert operators.current_operator_name() == operators.os_user()
    runner = JobRunner(workers=2)
    seen: list[str] = []
    started = threading.Event()

    def work(_ctx: object) -> None:
        started.wait(5)
        seen.append(operators.current_operator_name())
        audit.record(store, "后台任务", "由启动者执行")

    try:
        with operators.acting_as(admin):
            job = runner.start("t", "测试", work)
        started.set()  # the request is over before the job looks
        deadline = threading.Event()
        while runner.get(job.id).active:
            deadline.wait(0.02)
    finally:
        runner.shutdown()
    assert seen == ["王管理"]
    assert audit.entries_matching(audit.AuditFilter(action="后台任务"))[0].operator == "王管理"
    assert operators.current_operator_name() == operators.os_user()


def test_roles_from_the_function_tree(store: object, admin: operators.Identity) -> None:
    role = save_role(store, None, "社保复核", ["fee_declaration.submit", "payment.pay", "bogus.perm"])
    # Acting in a module implies seeing it; unknown boxes are dropped.
    assert role.permissions == {"fee_declaration.submit", "fee_declaration.view", "payment.pay", "payment.view"}
    changed = save_role(store, role.id, "社保复核", ["queries.view"])
    assert changed.permissions == {"queries.view"}
    with pytest.raises(ValidationError, match="请至少勾选一项"):
        save_role(store, None, "空角色", [])
    with pytest.raises(ConflictError, match="内置角色不能修改"):
        save_role(store, role_by_key(store, permissions.HR).id, "人事专员", ["queries.view"])
    with pytest.raises(ConflictError, match="已有名为「财务」的角色"):
        save_role(store, None, "财务", ["queries.view"])
    user = operators.add_operator(store, "复核员", "check", PASSWORD, PASSWORD, role.id, [])
    with pytest.raises(ConflictError, match="还有操作员使用角色「社保复核」"):
        delete_role(store, role.id)
    operators.delete_operator(store, user)
    delete_role(store, role.id)
    assert "社保复核" not in [r.name for r in list_roles(store)]


def test_switching_back_and_forth(store: object, admin: operators.Identity) -> None:
    hr = _add(store, "hr", permissions.HR)
    operators.switch_to_single(store)
    assert operators.mode(store) == operators.SINGLE
    with pytest.raises(AuthError, match="只有管理员可以切换为多人使用"):
        operators.resume_multi(store, "hr", PASSWORD)
    assert operators.mode(store) == operators.SINGLE
    assert operators.resume_multi(store, "admin", PASSWORD).id == admin.id
    assert operators.mode(store) == operators.MULTI and operators.get_operator(store, hr).name == "hr的名字"


def test_builtin_roles_match_the_brief() -> None:
    hr = permissions.BUILTIN_BY_KEY[permissions.HR].permissions
    fin = permissions.BUILTIN_BY_KEY[permissions.FINANCE].permissions
    ro = permissions.BUILTIN_BY_KEY[permissions.READONLY].permissions
    assert {"enrollment.edit", "wage_base.submit"} <= hr and not any(p.startswith("payment.") for p in hr)
    assert {"fee_declaration.submit", "payment.pay", "payment.void", "certificate.view", "queries.view"} <= fin
    assert "wage_base.submit" not in fin
    assert all(p.endswith(".view") for p in ro) and "payment.view" in ro and "system.operators" not in ro


def test_an_unknown_login_name_reads_like_a_wrong_password(store: object, admin: operators.Identity) -> None:
    with pytest.raises(AuthError) as unknown:
        operators.authenticate(store, "nobody", PASSWORD)
    with pytest.raises(AuthError) as wrong:
        operators.authenticate(store, "admin", "Wrong12345")
    assert unknown.value.code == wrong.value.code == "wrong_operator_password"
    assert unknown.value.message == "登录名或密码不正确"
    with pytest.raises(ValidationError, match="请输入登录名"):
        operators.authenticate(store, "  ", PASSWORD)


def test_login_names_are_unique_whatever_their_case_in_the_database(store: Store, admin: operators.Identity) -> None:
    # Not only the check in operators.py: the schema itself refuses "Admin" beside "admin".
    with pytest.raises(peewee.IntegrityError), store.write() as db:
        db.execute_sql(
            "INSERT INTO operator (name, login_name, password_hash, role_id, created_at, updated_at) "
            "VALUES ('另一个', 'Admin', 'x', ?, 't', 't')", (admin.role.id,))
    assert operators.authenticate(store, "ADMIN", PASSWORD).id == admin.id


def test_two_desks_adding_one_login_name_at_once_get_one_account(tmp_path: Path, pg_url: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    desks = [Store(tmp_path / "a", pg_url), Store(tmp_path / "b", pg_url)]
    operators.start_multi(desks[0], "王管理", "admin", PASSWORD, PASSWORD)
    role = role_by_key(desks[0], permissions.HR)
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def add(store: Store, login: str) -> None:
        start.wait()
        try:
            outcomes.append(operators.add_operator(store, "张三", login, PASSWORD, PASSWORD, role.id, []))
        except ConflictError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=add, args=(s, login)) for s, login in zip(desks, ("zhang", "ZHANG"), strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(outcomes) == 2 and outcomes.count("login_name_taken") == 1
        rows = desks[1].db.execute_sql("SELECT lower(login_name) FROM operator ORDER BY id").fetchall()
        assert rows == [("admin",), ("zhang",)]
    finally:
        for s in desks:
            s.close()


# ---- several desks on one PostgreSQL database: a desk's change caught half-way ----


def two_desks(tmp_path: Path, url: str) -> list[Store]:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    return [Store(tmp_path / "a", url), Store(tmp_path / "b", url)]


def wait_for_waiters(admin: psycopg.Connection, count: int, done: threading.Thread | None = None) -> None:
    """Until ``count`` sessions wait on a lock (or ``done`` finished without waiting)."""
    for _ in range(2000):
        (waiting,) = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'").fetchone()
        if waiting >= count or (done is not None and not done.is_alive()):
            return
        admin.execute("SELECT pg_sleep(0.01)")
    raise AssertionError(f"{count} sessions never waited on a lock")


def in_thread(outcomes: list[object], work: object) -> threading.Thread:
    def run() -> None:
        try:
            outcomes.append(work())  # type: ignore[operator]
        except ConflictError as exc:
            outcomes.append(exc.code)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_desks_freezing_the_two_administrators_leave_one(tmp_path: Path, pg_url: str) -> None:
    one, two = two_desks(tmp_path, pg_url)
    first = operators.start_multi(one, "王管理", "admin", PASSWORD, PASSWORD)
    second = _add(one, "admin2", permissions.ADMIN)
    outcomes: list[object] = []
    try:
        with psycopg.connect(pg_url) as holder, psycopg.connect(pg_url, autocommit=True) as admin:
            # Desk one passes its check, then waits on the row (as if slow to commit)…
            holder.execute("SELECT 1 FROM operator WHERE id = %s FOR UPDATE", (first.id,))
            a = in_thread(outcomes, lambda: operators.set_frozen(one, first.id, True).frozen)
            wait_for_waiters(admin, 1)
            # …while desk two freezes the other administrator.
            b = in_thread(outcomes, lambda: operators.set_frozen(two, second, True).frozen)
            wait_for_waiters(admin, 2, done=b)
            holder.rollback()
            a.join(20)
            b.join(20)
        assert sorted(outcomes, key=str) == [True, "last_admin"]
        (active,) = one.db.execute_sql(
            "SELECT count(*) FROM operator WHERE role_id = ? AND frozen = 0", (first.role.id,)).fetchone()
        assert active == 1
    finally:
        one.close()
        two.close()


def test_a_role_name_saved_meanwhile_by_another_desk_is_taken(tmp_path: Path, pg_url: str) -> None:
    one, _two = two_desks(tmp_path, pg_url)
    outcomes: list[object] = []
    try:
        with psycopg.connect(pg_url) as other, psycopg.connect(pg_url, autocommit=True) as admin:
            # The other desk's new role, not committed yet: invisible to the name check here.
            other.execute("INSERT INTO operator_role (name, permissions, created_at) "
                          "VALUES ('社保复核', '[\"queries.view\"]', 't')")
            saving = in_thread(outcomes, lambda: save_role(one, None, "社保复核", ["payment.pay"]).name)
            wait_for_waiters(admin, 1, done=saving)
            other.commit()
            saving.join(20)
        assert outcomes == ["role_name_taken"]
        assert [r.name for r in list_roles(one)].count("社保复核") == 1
    finally:
        one.close()
        _two.close()


def test_a_role_given_meanwhile_by_another_desk_is_not_deleted(tmp_path: Path, pg_url: str) -> None:
    one, _two = two_desks(tmp_path, pg_url)
    operators.start_multi(one, "王管理", "admin", PASSWORD, PASSWORD)
    role = save_role(one, None, "社保复核", ["queries.view"])
    outcomes: list[object] = []
    try:
        with psycopg.connect(pg_url) as other, psycopg.connect(pg_url, autocommit=True) as admin:
            other.execute("INSERT INTO operator (name, login_name, password_hash, role_id, created_at, updated_at) "
                          "VALUES ('复核员', 'check', 'x', %s, 't', 't')", (role.id,))
            deleting = in_thread(outcomes, lambda: delete_role(one, role.id).name)
            wait_for_waiters(admin, 1, done=deleting)
            other.commit()
            deleting.join(20)
        assert outcomes == ["role_in_use"]
        assert role.id in [r.id for r in list_roles(one)]
    finally:
        one.close()
        _two.close()


def test_wrong_passwords_on_two_desks_at_once_both_count(tmp_path: Path, pg_url: str) -> None:
    one, two = two_desks(tmp_path, pg_url)
    operators.start_multi(one, "王管理", "admin", PASSWORD, PASSWORD)
    hr = _add(one, "hr", permissions.HR)
    outcomes: list[object] = []

    def guess(store: Store) -> object:
        try:
            return operators.authenticate(store, "hr", "Wrong12345", now=T0)
        except AuthError as exc:
            return exc.message

    try:
        with psycopg.connect(pg_url) as holder, psycopg.connect(pg_url, autocommit=True) as admin:
            holder.execute("SELECT 1 FROM operator WHERE id = %s FOR UPDATE", (hr,))  # both count at once
            a = in_thread(outcomes, lambda: guess(one))
            b = in_thread(outcomes, lambda: guess(two))
            wait_for_waiters(admin, 2)
            holder.rollback()
            a.join(20)
            b.join(20)
        assert sorted(str(o) for o in outcomes) == [
            "登录名或密码不正确（再输错 3 次将锁定 15 分钟）", "登录名或密码不正确（再输错 4 次将锁定 15 分钟）"]
        (failed,) = one.db.execute_sql("SELECT failed_attempts FROM operator WHERE id = ?", (hr,)).fetchone()
        assert failed == 2
    finally:
        one.close()
        two.close()
