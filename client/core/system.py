"""What the About page shows, and the local data check (a background job)."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from client import __version__
from client.core import formats, network
from client.core.jobs import JobContext
from client.core.store import Store
from client.core.tables import table_label

# release.json's channel as the operator reads it.
CHANNELS = {"stable": "正式版", "beta": "测试版", "dev": "开发版"}


@dataclass(frozen=True)
class AboutInfo:
    version: str
    channel: str  # 发布渠道, from the installed release (client/release.json)
    program_dir: str  # where the program runs from: the installed folder, or the source tree
    installed: bool  # a frozen (installed) program, not `python -m client`
    data_dir: str
    database_path: str  # the SQLite file, or the team database's server without the password
    team: bool  # the data are on a PostgreSQL server shared by several desks
    database_bytes: int
    database_size: str  # as the operator reads it, the same on 首页 and 关于
    log_path: str
    python: str
    platform: str


def channel_label(channel: str) -> str:
    return CHANNELS.get(channel, channel) if channel else "未标明"


def program_dir() -> tuple[str, bool]:
    """The installed program's folder when frozen, else the source tree it runs from."""
    if getattr(sys, "frozen", False):
        return str(Path(sys.executable).resolve().parent), True
    return str(Path(__file__).resolve().parents[2]), False


def about(store: Store, home: Path, log_path: Path) -> AboutInfo:
    folder, installed = program_dir()
    return AboutInfo(
        version=__version__,
        channel=channel_label(network.read_release().channel),
        program_dir=folder,
        installed=installed,
        data_dir=str(home),
        database_path=store.location,
        team=store.team,
        database_bytes=(size := store.size_bytes()),
        database_size=formats.size(size),
        log_path=str(log_path),
        python=sys.version.split()[0],
        platform=platform.platform(terse=True),
    )


@dataclass(frozen=True)
class TableCount:
    table: str
    rows: int


@dataclass(frozen=True)
class DataCheckResult:
    ok: bool
    integrity: str
    foreign_key_problems: int
    tables: list[TableCount]
    team: bool = False  # the team's PostgreSQL database was checked, not this PC's file

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "team": self.team,
            "integrity": self.integrity,
            "foreign_key_problems": self.foreign_key_problems,
            "tables": [{"table": t.table, "rows": t.rows} for t in self.tables],
        }


def check_data(store: Store, ctx: JobContext) -> DataCheckResult:
    """The engine's integrity and foreign-key checks (Store.health), then a row count per table."""
    db = store.db
    names = store.tables()
    total = len(names) + 1
    ctx.progress(0, total, "正在检查数据库完整性与数据关联…")
    messages, fk_problems = store.health()
    integrity = "ok" if messages == ["ok"] else "；".join(messages[:20])
    tables = []
    for i, name in enumerate(names, start=1):
        ctx.progress(i, total, f"正在统计{table_label(name)}…")
        (rows,) = db.execute_sql(f'SELECT count(*) FROM "{name}"').fetchone()
        tables.append(TableCount(table_label(name), int(rows)))
    ctx.progress(total, total, "检查完成")
    return DataCheckResult(integrity == "ok" and fk_problems == 0, integrity, fk_problems, tables, store.team)
