"""Backup, verify and restore of a ~200 MB database against bare baselines.

FIGURE backup: client/backup create_backup (floor: sqlite3's backup API + zstd level 3
of the same database into a file).
FIGURE verify: verify_backup (floor: zstd decompression of that file, SHA-256 and
PRAGMA integrity_check of the database).
FIGURE restore: restore into a running Services (floor: the backup figure; the restore
includes its own safety backup).
Generates its own data. Run from the repo root: .venv/bin/python bench/backup.py
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from client.app import build_services  # noqa: E402
from client.backup import service  # noqa: E402
from client.core.store import DB_FILE  # noqa: E402

EMPLOYEES = 100_000
TARGET_MB = 200


def build(home: Path) -> None:
    svc = build_services(home)  # the real schema, then bulk filler tables beside it
    svc.close()
    rnd = random.Random(7)
    conn = sqlite3.connect(home / DB_FILE)
    conn.executescript(
        """
        PRAGMA journal_mode=WAL;
        CREATE TABLE bench_employee (id INTEGER PRIMARY KEY, unit_id INTEGER, id_number TEXT,
            name TEXT, gender TEXT, birth TEXT, phone TEXT, address TEXT, insured_since TEXT,
            status TEXT);
        CREATE INDEX bench_employee_idn ON bench_employee (id_number);
        CREATE TABLE bench_declaration (id INTEGER PRIMARY KEY, employee_id INTEGER,
            period TEXT, item TEXT, base_fen INTEGER, rate TEXT, amount_fen INTEGER,
            state TEXT, note TEXT);
        CREATE INDEX bench_declaration_emp ON bench_declaration (employee_id, period);
        """
    )
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    with conn:
        conn.executemany(
            "INSERT INTO bench_employee VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                (i, 1 + i % 20, f"11010519{rnd.randint(60, 99)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}{i % 10000:04d}",
                 rnd.choice(surnames) + "某" * rnd.randint(1, 2), "男女"[i % 2], f"19{rnd.randint(60, 99)}-01-01",
                 f"138{rnd.randint(0, 99999999):08d}", f"北京市朝阳区某某路{rnd.randint(1, 999)}号", "2015-01", "正常")
                for i in range(EMPLOYEES)
            ),
        )
    items = ["养老保险", "失业保险", "工伤保险", "医疗保险", "生育保险"]
    i = 0
    while (home / DB_FILE).stat().st_size < TARGET_MB * 1024 * 1024:
        with conn:
            conn.executemany(
                "INSERT INTO bench_declaration VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    (None, rnd.randrange(EMPLOYEES), f"2025{1 + (i + k) % 12:02d}", items[k % 5],
                     rnd.randint(400000, 3000000), "0.16", rnd.randint(1000, 500000), "已申报",
                     hashlib.md5(f"{i}-{k}".encode()).hexdigest())
                    for k in range(100_000)
                ),
            )
        i += 1
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
        zstandard.ZstdCompressor(level=3).copy_stream(fin, fout)
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


def figure(name: str, value: float, floor: float, unit: str = "s") -> None:
    print(f"FIGURE {name} value={value:.3f} unit={unit} floor={floor:.3f} ratio={value / floor:.3f}", flush=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
        home, out = Path(tmp) / "home", Path(tmp) / "out"
        out.mkdir()
        build(home)
        print(f"# database {(home / DB_FILE).stat().st_size / 1e6:.0f} MB", flush=True)
        floor_b = min(timed(lambda: floor_backup(home, out)) for _ in range(2))
        infos = []
        backup_s = min(timed(lambda: infos.append(service.create_backup(home, out / "b"))) for _ in range(2))
        figure("backup", backup_s, floor_b)
        floor_v = min(timed(lambda: floor_verify(out)) for _ in range(2))
        path = Path(infos[-1].path)
        verify_s = min(timed(lambda: service.verify_backup(path, home)) for _ in range(2))
        figure("verify", verify_s, floor_v)
        svc = build_services(home)
        try:
            restore_s = timed(lambda: service.restore(svc, path))
        finally:
            svc.close()
        figure("restore", restore_s, backup_s)


if __name__ == "__main__":
    main()
