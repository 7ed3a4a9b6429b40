"""Tripartite agreements (三方协议) of the reference tax side: made with the demo data, or on
first use for a unit that has none (units written by other code), so every unit can pay.

The first agreement of a unit is always valid, covers fees (费批扣) and holds 10,000,000.00;
the others are drawn from a generator of their own (seed, unit), so adding agreements
changes nothing else of the generated data.
"""

from __future__ import annotations

import random
from typing import Any

from taxside import data
from taxside.db import Store

FIRST_BALANCE = "10000000.00"
SCOPES = ("费批扣", "所有批扣", "所有非批扣")
FEE_SCOPES = ("费批扣", "所有批扣")  # scopes under which social-insurance fees may be debited
VALID, INVALID = "有效", "已失效"
BANKS = ("中国工商银行", "中国农业银行", "中国银行", "中国建设银行", "交通银行", "招商银行")
CITY = {"110000": "北京", "310000": "上海", "140000": "太原"}
COLUMNS = (
    "id, agreement_no, bank, account_masked, account_name, scope, state, balance,"
    " account_name_ok, budget_ok"
)


def agreement_id(pk: int) -> str:
    return f"TA{pk:08d}"


def parse_agreement_id(text: str) -> int | None:
    if text[:2] == "TA" and text[2:].isdigit() and len(text) <= 14:
        return int(text[2:])
    return None


def make_rows(
    seed: str, unit_pk: int, unit_name: str, unit_number: str, region: str, district: str
) -> list[tuple[Any, ...]]:
    """1-3 agreements of one unit as rows of table ``agreement`` (without id and seq)."""
    rng = random.Random(f"{seed}:agreements:{unit_pk}")
    city = CITY.get(region, data.REGION_NAMES.get(region, "").rstrip("市省"))
    rows = []
    for k in range(1, rng.randint(1, 3) + 1):
        bank = f"{rng.choice(BANKS)}{city}{district.removesuffix('区')}支行"
        account = f"62{rng.randint(0, 99):02d}{rng.randint(0, 10**12 - 1):012d}"
        masked = f"{account[:4]}****{account[-4:]}"
        if k == 1:
            scope, state, balance = "费批扣", VALID, FIRST_BALANCE
        else:
            scope = rng.choice(SCOPES)
            state = VALID if rng.random() < 0.7 else INVALID
            balance = f"{rng.randint(0, 500_000)}.{rng.randint(0, 99):02d}"
        rows.append((unit_pk, f"{unit_number}{k:05d}", bank, masked, unit_name, scope, state,
                     balance, 1, 1))
    return rows


def insert_rows(st: Store, rows: list[tuple[Any, ...]], seq: int) -> None:
    st.db.cursor().executemany(
        "INSERT INTO agreement(unit_pk, agreement_no, bank, account_masked, account_name, scope,"
        " state, balance, account_name_ok, budget_ok, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(*row, seq) for row in rows],
    )


def ensure(st: Store, unit_pk: int) -> None:
    """Give a unit without agreements its 1-3 (inside a write, or opens one)."""
    if st.db.execute_sql("SELECT 1 FROM agreement WHERE unit_pk = ? LIMIT 1", (unit_pk,)).fetchone():
        return
    with st.write():
        if st.db.execute_sql("SELECT 1 FROM agreement WHERE unit_pk = ? LIMIT 1", (unit_pk,)).fetchone():
            return  # made meanwhile by a concurrent request
        row = st.db.execute_sql(
            "SELECT name, initial_number, region FROM unit WHERE id = ?", (unit_pk,)
        ).fetchone()
        if row is None:
            return
        name, number, region = row
        district = data.DISTRICT_NAMES.get(number[:6], "营业部")
        seq = st.log_change("agreements", "upsert", unit_pk=unit_pk)
        insert_rows(st, make_rows(st.get_meta("seed") or "0", unit_pk, name, number, region, district), seq)


def load(st: Store, unit_pk: int, pk: int) -> tuple[Any, ...] | None:
    return st.db.execute_sql(
        f"SELECT {COLUMNS} FROM agreement WHERE id = ? AND unit_pk = ?", (pk, unit_pk)
    ).fetchone()


def rows_of(st: Store, unit_pk: int) -> list[tuple[Any, ...]]:
    return st.query(f"SELECT {COLUMNS} FROM agreement WHERE unit_pk = ? ORDER BY id", (unit_pk,))


def refusal(row: tuple[Any, ...]) -> tuple[str, str] | None:
    """Why fees cannot be debited under this agreement at all: (code, reason) or None."""
    if row[6] != VALID:
        return "agreement_invalid", "该协议已失效"
    if row[5] not in FEE_SCOPES:
        return "not_allowed", f"该协议的扣款范围为{row[5]}，不能缴纳社保费"
    return None


def as_json(row: tuple[Any, ...], *, simulation: bool = False) -> dict[str, Any]:
    pk, number, bank, masked, name, scope, state, balance, name_ok, budget_ok = row
    why = refusal(row)
    body: dict[str, Any] = {
        "agreement_id": agreement_id(pk), "agreement_no": number, "bank": bank,
        "account_masked": masked, "account_name": name, "scope": scope, "state": state,
        "can_debit_fees": why is None, "reason": why[1] if why else None,
    }
    if simulation:  # the simulated bank's side: never in the protocol's answers
        body.update(balance=balance, account_name_ok=bool(name_ok), budget_ok=bool(budget_ok))
    return body
