"""Team-wide flags in the database, seen by every desk that shares it (team mode).

A flag is one row of ``team_state``: a key, a JSON value, when and by whom it was set.
Two flags stop every desk's sender:

- ``senders_paused``: a restore is replacing the team's data right now;
- ``restore_review``: the data were restored from a backup and nobody has reviewed the
  submission journal since (today's "paused after restore until reviewed", for all desks).

:func:`senders_paused` is the one check a sender makes before each send. In single-person
mode nothing sets these flags (the restore pause is restore-pause.json in the data
directory), so the check answers None there. The flags are coordination, not data: a
backup leaves them out (client/backup/team.py).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from client.core.store import Store

SENDERS_PAUSED = "senders_paused"
RESTORE_REVIEW = "restore_review"
KEYS = (SENDERS_PAUSED, RESTORE_REVIEW)


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def get(store: Store, key: str) -> dict[str, Any] | None:
    row = store.db.execute_sql(
        "SELECT value, updated_at, operator FROM team_state WHERE key = ?", (key,)
    ).fetchone()
    if row is None:
        return None
    try:
        value = json.loads(row[0])
    except ValueError:
        value = {}  # a flag that is set stays set, even with an unreadable value
    if not isinstance(value, dict):
        value = {}
    return {**value, "updated_at": row[1], "operator": row[2]}


def put(db: Any, key: str, value: dict[str, Any], operator: str = "") -> None:
    """Set a flag inside the caller's transaction (``db`` from ``store.write()``)."""
    db.execute_sql(
        "INSERT INTO team_state (key, value, updated_at, operator) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
        "updated_at = excluded.updated_at, operator = excluded.operator",
        (key, json.dumps(value, ensure_ascii=False), _now(), operator),
    )


def set_flag(store: Store, key: str, value: dict[str, Any], operator: str = "") -> None:
    with store.write() as db:
        put(db, key, value, operator)


def clear(store: Store, key: str) -> None:
    with store.write() as db:
        db.execute_sql("DELETE FROM team_state WHERE key = ?", (key,))


def senders_paused(store: Store) -> str | None:
    """Why no desk may send now (Chinese, for the screen), or None when sending may go on.

    Checked by the sender before each send: a desk that started sending before a restore
    began stops at its next entry.
    """
    rows = store.db.execute_sql(
        "SELECT key, operator, updated_at FROM team_state WHERE key IN (?, ?) ORDER BY key DESC",
        KEYS,
    ).fetchall()
    for key, operator, at in rows:
        who = f"（操作员 {operator}，{str(at).replace('T', ' ')}）" if operator else ""
        if key == SENDERS_PAUSED:
            return f"团队数据正在从备份恢复{who}，各电脑的发送已暂停，恢复完成后自动继续。"
        return (f"团队数据已从备份恢复{who}，请在「系统设置 → 备份恢复」核对申报记录后"
                f"点击「核对完成」，之后各电脑的发送才会继续。")
    return None
