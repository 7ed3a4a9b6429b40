"""Backup, verify and restore of a ~200 MB database against bare baselines.

FIGURE backup: client/backup create_backup (floor: sqlite3's backup API + zstd, at the
client's level, of the same database into a file).
FIGURE verify: verify_backup (floor: zstd decompression of that file, SHA-256 and
PRAGMA integrity_check of the database).
FIGURE restore: restore into a running Services (floor, measured in the same run: a bare
restore of the same backup, i.e. zstd decompression to a file, fsync and rename, plus a
bare online backup of the current database with sqlite3's backup API, the safety copy).
The restore adds what makes it safe: checksums, quick_check and the schema check of the
candidate, the compressed safety backup and the atomic swap.
Each figure: value and floor measured alike, ROUNDS of each interleaved (floor, value, ...),
median against median (bench/common.py paired).
Generates its own data. Run from the repo root: .venv/bin/python bench/backup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import paired  # noqa: E402
from client.app import build_services  # noqa: E402
from client.backup import archive, service  # noqa: E402
from client.backup.common import BackupInfo  # noqa: E402
from client.core.store import DB_FILE  # noqa: E402

EMPLOYEES = 100_000
TARGET_MB = 200
ROUNDS = 5  # of each side, interleaved; median against median


def build(home: Path) -> None:
    """The real schema filled as a busy unit's PC would be: 100,000 enrolled employees, a
    payroll-base draft, and submission-journal entries (payloads of declared rows) up to
    about 200 MB."""
    svc = build_services(home)
    svc.close()
    rnd = random.Random(7)
    conn = sqlite3.connect(home / DB_FILE)
    conn.execute("PRAGMA journal_mode=WAL")
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    with conn:
        unit = conn.execute(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES ('91110105MA01BENCH1', 'U000001', '基准测试单位', '110000', '2025-03-15 08:00:00')"
        ).lastrowid
        employees = [
            (unit, f"E{i:09d}", rnd.choice(surnames) + "某" * rnd.randint(1, 2), "201",
             f"11010519{rnd.randint(60, 99)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}{i % 10000:04d}",
             "男女"[i % 2], "1980-01-01", f"1101050000{i % 20:04d}", '["pension","medical","unemployment"]',
             "正常缴费", json.dumps({"pension": f"{rnd.randint(7000, 30000)}.00", "medical": "8000.00"}),
             "2025-03-15T08:00:00", "2025-03-15 08:00:00")
            for i in range(EMPLOYEES)
        ]
        conn.executemany(
            "INSERT INTO enrollment_employee (unit_id, employee_id, name, id_type, id_number, gender, birth_date, "
            "unit_number, items, status, bases, taxside_updated_at, synced_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            employees,
        )
        conn.executemany(
            "INSERT INTO wage_base_draft (unit_id, kind, employee_id, name, id_type, id_number, unit_number, "
            "current_base, new_base, effective_month, added_at) VALUES (?, 'daily', ?, ?, ?, ?, ?, ?, ?, '202503', 'now')",
            ((unit, e[1], e[2], e[3], e[4], e[7], "8000.00", f"{rnd.randint(7000, 30000)}.00") for e in employees[:50_000]),
        )
    n = 0
    while (home / DB_FILE).stat().st_size < TARGET_MB * 1024 * 1024:
        with conn:
            for _ in range(10):  # declarations of 5,000 employees each, as the journal keeps them
                start = rnd.randrange(EMPLOYEES - 5000)
                rows = [
                    {"employee_id": e[1], "id_type": "201", "id_number": e[4], "name": e[2],
                     "base": f"{rnd.randint(7000, 30000)}.00", "bases": None, "effective_month": "202503",
                     "current_base": "8000.00", "unit_number": e[7]}
                    for e in employees[start:start + 5000]
                ]
                conn.execute(
                    "INSERT INTO submission (unit_id, kind, idempotency_key, payload, summary, row_count, operator, "
                    "state, created_at, updated_at, taxside_id) VALUES (?, 'wage_base_daily', ?, ?, ?, 5000, 'bench', "
                    "'accepted', '2025-03-15 08:00:00', '2025-03-15 08:00:00', ?)",
                    (unit, f"bench-{n}", json.dumps({"kind": "daily", "rows": rows}, ensure_ascii=False),
                     "日常缴费工资申报 5000 人", f"WB{n:08d}"),
                )
                n += 1
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def floor_backup(home: Path, out: Path) -> None:
    snap = out / "floor.sqlite3"
    src, dst = sqlite3.connect(home / DB_FILE), sqlite3.connect(snap)
    src.backup(dst, pages=-1)
    dst.close()
    src.close()
    with open(snap, "rb") as fin, open(out / "floor.zst", "wb") as fout:
        zstandard.ZstdCompressor(level=archive.ZSTD_LEVEL).copy_stream(fin, fout)
    snap.unlink()


def floor_verify(out: Path) -> None:
    snap = out / "floor-v.sqlite3"
    with open(out / "floor.zst", "rb") as fin, open(snap, "wb") as fout:
        zstandard.ZstdDecompressor().copy_stream(fin, fout)
    digest = hashlib.sha256()
    with open(snap, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    conn = sqlite3.connect(f"{snap.as_uri()}?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    snap.unlink()


def floor_restore(backup: Path, home: Path, out: Path) -> float:
    """The least a restore can do: unpack the backup over the previous file, plus the safety
    copy. Deleting that copy afterwards is no part of a restore and stays out of the time."""
    staged, restored = out / "floor-restore.tmp", out / "floor-restored"
    started = time.perf_counter()
    with open(backup, "rb") as fin, open(staged, "wb") as fout:
        archive.read_header(fin, backup)
        zstandard.ZstdDecompressor().copy_stream(fin, fout)
        fout.flush()
        os.fsync(fout.fileno())
    os.replace(staged, restored)  # as a restore replaces the current file (freed here)
    src, dst = sqlite3.connect(home / DB_FILE), sqlite3.connect(out / "floor-safety.sqlite3")
    src.backup(dst, pages=-1)
    dst.close()
    src.close()
    elapsed = time.perf_counter() - started
    (out / "floor-safety.sqlite3").unlink()
    return elapsed


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
        home, out = Path(tmp) / "home", Path(tmp) / "out"
        out.mkdir()
        build(home)
        print(f"# database {(home / DB_FILE).stat().st_size / 1e6:.0f} MB", flush=True)
        infos: list[BackupInfo] = []
        paired("backup", "s", lambda: timed(lambda: infos.append(service.create_backup(home, out / "b"))),
               lambda: timed(lambda: floor_backup(home, out)), rounds)
        path = Path(infos[-1].path)
        paired("verify", "s", lambda: timed(lambda: service.verify_backup(path, home)),
               lambda: timed(lambda: floor_verify(out)), rounds)
        floor_restore(path, home, out)  # the file the first round's floor replaces, as later ones do
        svc = build_services(home)
        try:
            paired("restore", "s", lambda: timed(lambda: service.restore(svc, path)),
                   lambda: floor_restore(path, home, out), rounds)
        finally:
            svc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds of each side")
    main(parser.parse_args().rounds)
