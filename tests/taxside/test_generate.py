"""Demo data: deterministic for a seed, and every code in it is valid."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from client.cli import cli
from rules.codes import birth_date, check_id_number, check_uscc, gender_of
from taxside.generate import generate


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    con = sqlite3.connect(path)
    try:
        return {
            table: con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("unit", "unit_number", "employee", "notice", "release")
        }
    finally:
        con.close()


def test_same_seed_same_data(tmp_path: Path) -> None:
    a = generate(tmp_path / "a.db", units=7, employees=500, seed=5)
    b = generate(tmp_path / "b.db", units=7, employees=500, seed=5)
    c = generate(tmp_path / "c.db", units=7, employees=500, seed=6)
    assert a == b
    assert _dump(tmp_path / "a.db") == _dump(tmp_path / "b.db")
    assert _dump(tmp_path / "a.db")["employee"] != _dump(tmp_path / "c.db")["employee"]
    assert a != c


def test_every_code_is_valid(tmp_path: Path) -> None:
    creds = generate(tmp_path / "g.db", units=9, employees=3000, seed=1)
    con = sqlite3.connect(tmp_path / "g.db")
    units = con.execute("SELECT id, taxpayer_id, region, initial_number FROM unit").fetchall()
    assert {u[2] for u in units} == {"110000", "310000", "140000"}
    for _, taxpayer, _, _ in units:
        assert check_uscc(taxpayer) is None, taxpayer
    by_taxpayer = Counter(u[1] for u in units)
    assert 2 in by_taxpayer.values()  # the 报验户
    for pk, _, _, initial in units:
        numbers = [r[0] for r in con.execute("SELECT number FROM unit_number WHERE unit_pk = ?", (pk,))]
        assert 1 <= len(numbers) <= 3
        assert initial in numbers
    ids = set()
    for id_number, gender, born, items, bases, name in con.execute(
        "SELECT id_number, gender, birth_date, items, bases, name FROM employee"
    ):
        assert check_id_number(id_number) is None, id_number
        assert birth_date(id_number).isoformat() == born
        assert gender_of(id_number) == gender
        assert id_number[:6].isdigit() and id_number[:2] in {"11", "31", "14"} | {
            "13", "41", "32", "37", "51", "42", "43", "34", "36", "23", "22", "21"}
        assert 2 <= len(name) <= 4
        assert set(json.loads(bases)) == set(json.loads(items))
        for value in json.loads(bases).values():
            assert isinstance(value, str) and value.endswith(".00")
        ids.add(id_number)
    assert len(ids) == 3000
    assert sum(c.employees for c in creds) == 3000
    for c in creds:
        assert len(c.initial_password) == 6


def test_cli_generate_prints_credentials(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    result = CliRunner().invoke(
        cli, ["taxside", "generate", "--db", str(db), "--units", "4", "--employees", "50", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    creds = generate(tmp_path / "again.db", units=4, employees=50, seed=2)
    for c in creds:
        assert c.taxpayer_id in result.output
        assert c.initial_password in result.output
    again = CliRunner().invoke(cli, ["taxside", "generate", "--db", str(db)])
    assert again.exit_code != 0 and "已存在" in again.output
