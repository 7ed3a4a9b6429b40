"""What a backup may contain, and the bounds every reader checks before it writes a byte.

A backup holds exactly: the database, settings.json and the rule-pack cache (one level of
``rules/<name>``). Nothing else is read out of a backup, and a restore replaces nothing
else in the data directory: the backups and logs folders are never touched. Names must be
plain relative paths under POSIX *and* Windows rules (no ``..``, ``\\``, drive letters,
UNC names, reserved device names, control characters), sizes and counts are bounded
before anything is written, and the manifest is checked field by field, so a hostile
file ends in a Chinese message, never a traceback.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from client.backup.crypto import DamagedBackup
from client.core.store import DB_FILE
from client.settings import SETTINGS_FILE

RULES_DIR = "rules"
# The only names in the data directory that a restore may replace or move aside.
RESTORED = (DB_FILE, SETTINGS_FILE, RULES_DIR)

MIB = 1 << 20
MAX_MANIFEST = 4 * MIB
MAX_SETTINGS = 1 * MIB
MAX_RULE_FILE = 8 * MIB
MAX_RULE_FILES = 200
MAX_RULES_TOTAL = 64 * MIB
MAX_DB = 64 * 1024 * MIB  # far above any real unit's data; free disk usually binds first
DISK_MARGIN = 64 * MIB  # left free after a restore's staging copy, for SQLite and the logs
MAX_MEMBERS = 2 + MAX_RULE_FILES  # data members; the manifest comes on top
# Per member the tar stream carries a header block and maybe a PAX record; generous.
TAR_OVERHEAD = 64 * 1024

_LEAF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_RESERVED = {"con", "prn", "aux", "nul", "clock$", "conin$", "conout$"} | {
    f"{dev}{i}" for dev in ("com", "lpt") for i in range(10)
}
_HEX64 = re.compile(r"[0-9a-f]{64}")


def allowed(rel: str) -> bool:
    """Whether ``rel`` (a path in the data directory) is something a backup may hold."""
    if rel in (DB_FILE, SETTINGS_FILE):
        return True
    parts = rel.split("/")
    if len(parts) != 2 or parts[0] != RULES_DIR:
        return False
    leaf = parts[1]
    if not _LEAF.fullmatch(leaf) or leaf.endswith(".") or leaf.split(".")[0].lower() in _RESERVED:
        return False
    # Belt and braces: both path grammars must see the same plain two-part relative path.
    for pure in (PurePosixPath(rel), PureWindowsPath(rel)):
        if pure.anchor or pure.drive or ".." in pure.parts or pure.parts != (RULES_DIR, leaf):
            return False
    return True


def member_path(name: str) -> str | None:
    """The data-directory path of a tar member name ``data/<path>``, or None if refused."""
    if not name.startswith("data/"):
        return None
    rel = name[len("data/"):]
    return rel if allowed(rel) else None


def limit(rel: str) -> int:
    """The largest size a member may declare (the database is also bound by free disk)."""
    if rel == DB_FILE:
        return MAX_DB
    if rel == SETTINGS_FILE:
        return MAX_SETTINGS
    return MAX_RULE_FILE


def free_space(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return MAX_DB  # unknown: the writes themselves report a full disk


def payload_bound(files: dict[str, dict[str, Any]]) -> int:
    """The most decompressed bytes a tar stream with these members may take."""
    return MAX_MANIFEST + sum(f["size"] for f in files.values()) + TAR_OVERHEAD * (len(files) + 2)


def _damaged(backup: str, what: str) -> DamagedBackup:
    return DamagedBackup(
        f"备份文件 {backup} 的清单不符合要求（{what}），已拒绝。请换一份备份。", code="backup_manifest"
    )


def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def _text(value: Any, longest: int = 1000) -> str | None:
    return value if isinstance(value, str) and len(value) <= longest else None


def check_files(files: Any, backup: str) -> dict[str, dict[str, Any]]:
    if not isinstance(files, dict) or not files:
        raise _damaged(backup, "缺少文件列表")
    if len(files) > MAX_MEMBERS:
        raise _damaged(backup, f"文件数 {len(files)} 超过上限 {MAX_MEMBERS}")
    checked: dict[str, dict[str, Any]] = {}
    folded: set[str] = set()
    for rel, entry in files.items():
        if not isinstance(rel, str) or not allowed(rel):
            shown = repr(rel)[:80]
            raise DamagedBackup(
                f"备份文件 {backup} 含有不允许的内容（{shown}）：备份只能包含数据库、设置和规则缓存，已拒绝。",
                code="backup_member",
            )
        if rel.casefold() in folded:  # one file on Windows and macOS
            raise _damaged(backup, f"{rel} 重复")
        folded.add(rel.casefold())
        size = _int(entry.get("size") if isinstance(entry, dict) else None, 0, limit(rel))
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if size is None:
            raise _damaged(backup, f"{rel} 的大小缺失或超过上限 {limit(rel) // MIB} MB")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise _damaged(backup, f"{rel} 的校验和缺失")
        checked[rel] = {"sha256": digest, "size": size}
    if DB_FILE not in checked:
        raise _damaged(backup, "缺少数据库")
    rules = [f["size"] for r, f in checked.items() if r.startswith(f"{RULES_DIR}/")]
    if sum(rules) > MAX_RULES_TOTAL:
        raise _damaged(backup, f"规则缓存合计超过 {MAX_RULES_TOTAL // MIB} MB")
    return checked


def check_manifest(manifest: Any, backup: str) -> dict[str, Any]:
    """The manifest with every field the client reads checked for type and bounds."""
    if not isinstance(manifest, dict):
        raise _damaged(backup, "不是 JSON 对象")
    out = dict(manifest)
    out["files"] = check_files(manifest.get("files"), backup)
    version = _int(manifest.get("schema_version"), 0, 1_000_000)
    if version is None:
        raise _damaged(backup, "数据结构版本无效")
    out["schema_version"] = version
    units = manifest.get("units", [])
    if not isinstance(units, list) or len(units) > 10_000:
        raise _damaged(backup, "单位列表无效")
    out["units"] = []
    for u in units:
        fields = [_text(u.get(k), 200) if isinstance(u, dict) else None
                  for k in ("name", "taxpayer_id", "region")]
        if any(f is None for f in fields):
            raise _damaged(backup, "单位列表无效")
        out["units"].append(dict(zip(("name", "taxpayer_id", "region"), fields, strict=True)))
    tables = manifest.get("tables", {})
    if not isinstance(tables, dict) or len(tables) > 2000 or any(
        _text(k, 200) is None or _int(v, 0, 1 << 62) is None for k, v in tables.items()
    ):
        raise _damaged(backup, "行数统计无效")
    for key in ("created_at", "app_version", "kind", "reason"):
        if key in manifest and _text(manifest[key]) is None:
            raise _damaged(backup, key)
    mark = manifest.get("journal")
    if mark is not None:
        opened = mark.get("open") if isinstance(mark, dict) else None
        if (
            _int(mark.get("max_id") if isinstance(mark, dict) else None, 0, 1 << 62) is None
            or not isinstance(opened, dict)
            or any(not (isinstance(k, str) and k.isdigit() and len(k) < 20) or _text(v, 40) is None
                   for k, v in opened.items())
        ):
            raise _damaged(backup, "申报记录标记无效")
    return out
