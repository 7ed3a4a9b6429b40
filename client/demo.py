"""`socialfee demo`: the client against the reference tax side, on this PC only.

The first run generates the tax side's demo data (units in 北京, 上海 and 山西, a taxpayer
with two units, units with several unit numbers, about 500 employees) into the demo
folder; every run starts the tax side in-process on 127.0.0.1 and points the client's
settings at it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from taxside.generate import UnitCredentials, generate
from taxside.server import RunningTaxSide, start

DEMO_UNITS = 6
DEMO_EMPLOYEES = 500
DEMO_SEED = 2026
TAXSIDE_DB = "taxside.sqlite3"
CREDENTIALS = "credentials.json"


def taxside_folder(demo_home: Path) -> Path:
    return demo_home / "taxside"


def client_folder(demo_home: Path) -> Path:
    return demo_home / "client"


def prepare(demo_home: Path) -> list[UnitCredentials]:
    """Generate the demo tax side once; later runs reuse it (and what was changed in it)."""
    folder = taxside_folder(demo_home)
    folder.mkdir(parents=True, exist_ok=True)
    db_path, creds_path = folder / TAXSIDE_DB, folder / CREDENTIALS
    if db_path.exists() and creds_path.exists():
        rows = json.loads(creds_path.read_text(encoding="utf-8"))
        return [UnitCredentials(**row) for row in rows]
    for leftover in folder.glob(f"{TAXSIDE_DB}*"):
        leftover.unlink()  # a half-made database from an interrupted first run
    creds = generate(db_path, units=DEMO_UNITS, employees=DEMO_EMPLOYEES, seed=DEMO_SEED)
    creds_path.write_text(
        json.dumps([asdict(c) for c in creds], ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return creds


def start_taxside(demo_home: Path) -> RunningTaxSide:
    return start(taxside_folder(demo_home) / TAXSIDE_DB, simulation=True)


def credentials_lines(creds: list[UnitCredentials]) -> list[str]:
    lines = ["可用于注册登录的演示单位（初始申报密码在首次登录后须修改）："]
    for c in creds:
        lines.append(
            f"  纳税人识别号 {c.taxpayer_id}  初始申报密码 {c.initial_password}  "
            f"地区 {c.region}  职工 {c.employees} 人  {c.name}"
        )
    return lines
