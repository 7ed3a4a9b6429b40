"""Roles: the built-in four (their permissions come from client/core/permissions.py, so a new
module's view reaches 只读 without a data change) and the ones an administrator ticks."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import peewee

from client.core import permissions
from client.core.store import Store
from client.errors import ConflictError, NotFoundError, ValidationError


@dataclass(frozen=True)
class Role:
    id: int
    key: str | None  # built-in roles only
    name: str
    permissions: frozenset[str]

    @property
    def builtin(self) -> bool:
        return self.key is not None

    def to_dict(self, in_use: int = 0) -> dict[str, object]:
        builtin = permissions.BUILTIN_BY_KEY.get(self.key or "")
        return {"id": self.id, "key": self.key, "name": self.name, "builtin": self.builtin,
                "permissions": sorted(self.permissions), "in_use": in_use,
                "description": builtin.description if builtin else ""}


def _role(row: tuple) -> Role:
    role_id, key, name, stored = row
    builtin = permissions.BUILTIN_BY_KEY.get(key or "")
    granted = builtin.permissions if builtin else frozenset(json.loads(stored or "[]")) & permissions.ALL_PERMISSIONS
    return Role(role_id, key, name, frozenset(granted))


def list_roles(store: Store) -> list[Role]:
    rows = store.db.execute_sql("SELECT id, key, name, permissions FROM operator_role ORDER BY id").fetchall()
    return [_role(r) for r in rows]


def role_use(store: Store) -> dict[int, int]:
    rows = store.db.execute_sql("SELECT role_id, count(*) FROM operator GROUP BY role_id").fetchall()
    return {int(r[0]): int(r[1]) for r in rows}


def get_role(store: Store, role_id: object) -> Role:
    if not isinstance(role_id, int) or isinstance(role_id, bool):
        raise ValidationError("请选择角色", field="role_id")
    # Past SQLite's 64-bit range no role can match (and the driver would raise OverflowError).
    row = store.db.execute_sql(
        "SELECT id, key, name, permissions FROM operator_role WHERE id = ?", (role_id,)
    ).fetchone() if 0 < role_id < 2**63 else None
    if row is None:
        raise NotFoundError("没有这个角色，可能已被删除", code="role_not_found")
    return _role(row)


def role_by_key(store: Store, key: str) -> Role:
    row = store.db.execute_sql(
        "SELECT id, key, name, permissions FROM operator_role WHERE key = ?", (key,)
    ).fetchone()
    if row is None:  # the migration seeds them; a hand-edited database lost one
        raise NotFoundError("内置角色缺失，请从备份恢复", code="role_missing")
    return _role(row)


def _clean_role_name(value: object) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise ValidationError("请输入角色名称", field="name")
    if len(name) > 20:
        raise ValidationError("角色名称不能超过 20 个字", field="name")
    return name


def _name_free(store: Store, name: str, role_id: int | None) -> None:
    row = store.db.execute_sql(
        "SELECT id FROM operator_role WHERE name = ? AND id != ?", (name, role_id or 0)
    ).fetchone()
    if row:
        raise ConflictError(f"已有名为「{name}」的角色", code="role_name_taken", )


def save_role(store: Store, role_id: int | None, name: object, chosen: object) -> Role:
    """Create (role_id None) or change a custom role from the ticked function tree."""
    clean = _clean_role_name(name)
    granted = permissions.clean(chosen)
    if not granted:
        raise ValidationError("请至少勾选一项功能权限", field="permissions")
    if role_id is not None and get_role(store, role_id).builtin:
        raise ConflictError("内置角色不能修改，可新建角色", code="role_builtin")
    _name_free(store, clean, role_id)
    stored = json.dumps(sorted(granted))
    now = dt.datetime.now().isoformat(sep=" ", timespec="seconds")
    try:
        with store.write() as db:
            if role_id is None:
                cur = db.execute_sql("INSERT INTO operator_role (key, name, permissions, created_at) "
                                     "VALUES (NULL, ?, ?, ?) RETURNING id", (clean, stored, now))
                role_id = int(cur.fetchone()[0])
            else:
                db.execute_sql("UPDATE operator_role SET name = ?, permissions = ? WHERE id = ?",
                               (clean, stored, role_id))
    except peewee.IntegrityError as exc:
        # Another desk saved a role of this name after the check above.
        raise ConflictError(f"已有名为「{clean}」的角色", code="role_name_taken") from exc
    return get_role(store, role_id)


def delete_role(store: Store, role_id: int) -> Role:
    role = get_role(store, role_id)
    if role.builtin:
        raise ConflictError("内置角色不能删除", code="role_builtin")
    if role_use(store).get(role.id):
        raise ConflictError(f"还有操作员使用角色「{role.name}」，请先为他们更换角色", code="role_in_use")
    try:
        with store.write() as db:
            db.execute_sql("DELETE FROM operator_role WHERE id = ?", (role.id,))
    except peewee.IntegrityError as exc:
        # Another desk gave an operator this role after the check above.
        raise ConflictError(f"还有操作员使用角色「{role.name}」，请先为他们更换角色", code="role_in_use") from exc
    return role
