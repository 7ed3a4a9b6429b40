"""Deterministic demo data for the reference tax side (``socialfee taxside generate``).

Rows go in with ``executemany`` inside one transaction: 100,000 employees in a few
seconds, where row-by-row ORM saves would take minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path

from rules.packs import load_pack
from taxside import agreements, data, fees
from taxside.db import DEFAULT_TODAY, Store

REGIONS = ("110000", "310000", "140000")
MAX_EMPLOYEES = 200_000


@dataclass(frozen=True)
class UnitCredentials:
    taxpayer_id: str
    unit_id: str
    name: str
    region: str
    initial_password: str
    initial_kind: str
    employees: int


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """Spread employees over units unevenly (a few big units, many small ones)."""
    if parts == 0:
        return []
    weights = [rng.paretovariate(1.2) for _ in range(parts)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for i in range(total - sum(counts)):
        counts[i % parts] += 1
    return counts


def generate(
    db_path: str | Path, *, units: int, employees: int, seed: int, today: str = DEFAULT_TODAY,
    fee_summaries: bool = True,
) -> list[UnitCredentials]:
    """Write a new tax-side database; ``fee_summaries``: pre-process the daily fee
    summaries of the business date's period too (as the tax side does at month start)."""
    if units < 1:
        raise ValueError("单位数至少为1")
    if not 0 <= employees <= MAX_EMPLOYEES:
        raise ValueError(f"职工数应在0到{MAX_EMPLOYEES}之间")
    path = Path(db_path)
    if path.exists():
        raise FileExistsError(f"数据库文件已存在：{path}")
    rng = random.Random(seed)
    day = dt.date.fromisoformat(today)
    stamp = f"{today}T08:00:00"
    store = Store(path)
    store.create()
    creds: list[UnitCredentials] = []
    taken_ids: set[str] = set()
    taken_numbers: set[str] = set()
    counts = _split(employees, units, rng)
    # The last 山西 unit is always a government unit (机关事业单位), so every data set can
    # demonstrate 按险种申报缴费工资. Its government-only draws come from a side generator:
    # the main stream, and so every other unit, stays as it was.
    shanxi = [i for i in range(units) if REGIONS[i % len(REGIONS)] == "140000"]
    forced_government = shanxi[-1] if shanxi else None
    db = store.db
    with db.connection_context(), store.write():
        store.set_meta("today", today)
        store.set_meta("seed", str(seed))
        seq = store.log_change("enrollment", "bulk")
        first_taxpayer = first_name = ""
        unit_rows = []
        number_rows = []
        emp_rows: list[tuple[object, ...]] = []
        agreement_rows: list[tuple[object, ...]] = []
        for i in range(units):
            unit_pk = i + 1
            region = REGIONS[i % len(REGIONS)]
            area = rng.choice(data.AREAS[region])
            government = rng.random() < 0.1 and i > 1  # units 1-2 are one company
            forced = i == forced_government and not government
            side = random.Random(f"{seed}:government:{i}") if forced else rng
            government = government or forced
            taxpayer = data.make_uscc(rng, area, government)  # same draws either way
            if i == 0:
                first_taxpayer = taxpayer
            if i == 1:  # 报验户: the same taxpayer also registered in another region
                taxpayer = first_taxpayer
            # 1-3 unit numbers; most units have a medical number (the preferred initial password)
            count = rng.randint(1, 3)
            others = [k for k in data.NUMBER_KINDS if k != "medical"]
            rng.shuffle(others)
            kinds = ["medical", *others[: count - 1]] if rng.random() < 0.8 else others[:count]
            numbers: dict[str, str] = {}
            for kind in kinds:
                while True:
                    num = f"{area}{data.NUMBER_KINDS.index(kind) + 1}{rng.randint(0, 9_999_999):07d}"
                    if num not in taken_numbers:
                        taken_numbers.add(num)
                        break
                numbers[kind] = num
            covers: dict[str, list[str]] = {k: [] for k in kinds}
            for item in data.ITEMS:
                own = "medical" if item == "maternity" else item
                covers[own if own in covers else kinds[0]].append(item)
            for kind, num in numbers.items():
                number_rows.append(
                    (unit_pk, num, kind, _dumps(covers[kind]), data.agency(region, area, kind))
                )
            initial_kind = "medical" if "medical" in numbers else rng.choice(kinds)
            initial_number = numbers[initial_kind]
            name = data.company_name(rng, region, government and not forced, area)
            if forced:
                name = data.company_name(side, region, True, area)
            if i == 0:
                first_name = name
            if i == 1:
                name = first_name
            unit_id = f"U{unit_pk:06d}"
            registration = "机关单位" if government and not forced else rng.choice(data.REGISTRATION_TYPES)
            risk_class = rng.choice((1, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8))
            mode = "税务代征" if rng.random() < 0.2 else "税务自主征收"
            if forced:  # declares its own bases, so it needs the payroll-base module
                registration, mode = "机关单位", "税务自主征收"
            unit_rows.append(
                (
                    unit_pk, unit_id, taxpayer, name, data.tax_authority(region, area),
                    registration, region, risk_class, mode,
                    int(government), initial_number, 0, seq, stamp,
                )
            )
            creds.append(
                UnitCredentials(taxpayer, unit_id, name, region, initial_number[-6:], initial_kind, counts[i])
            )
            agreement_rows += agreements.make_rows(
                str(seed), unit_pk, name, initial_number, region, data.DISTRICT_NAMES[area]
            )
            enrol_number = numbers.get("pension", initial_number)
            items_json = _dumps(list(data.ITEMS))
            for _ in range(counts[i]):
                person = data.make_person(rng, region, day, taken_ids)
                base = data.random_base(rng, region)
                bases = {item: base for item in data.ITEMS}
                if government and side.random() < 0.5:  # 按险种申报: medical base may differ
                    bases["medical"] = data.random_base(side, region)
                status = data.STATUS_NORMAL if rng.random() < 0.92 else data.STATUS_STOPPED
                emp_rows.append(
                    (
                        unit_pk, enrol_number, person.name, data.ID_TYPE_RESIDENT,
                        person.id_number, person.gender, person.birth_date, items_json,
                        status, _dumps(bases), seq, 0, stamp,
                    )
                )
        cur = db.cursor()
        cur.executemany(
            "INSERT INTO unit(id, unit_id, taxpayer_id, name, tax_authority, registration_type,"
            " region, industry_risk_class, collection_mode, is_government, initial_number,"
            " failed_attempts, seq, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            unit_rows,
        )
        cur.executemany(
            "INSERT INTO unit_number(unit_pk, number, kind, items, agency) VALUES (?,?,?,?,?)",
            number_rows,
        )
        cur.executemany(
            "INSERT INTO employee(unit_pk, unit_number, name, id_type, id_number, gender,"
            " birth_date, items, status, bases, seq, deleted, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            emp_rows,
        )
        agreements.insert_rows(store, agreement_rows, seq)
        _demo_notices(store, day)
        store.db.execute_sql(
            "INSERT INTO release(version, url, sha256, notes, published_on) VALUES (?,?,?,?,?)",
            (
                "0.1.0",
                "https://download.example.invalid/socialfee/socialfee-0.1.0-setup.exe",
                "0" * 64,
                "首个版本。",
                today,
            ),
        )
    if fee_summaries:
        with db.connection_context():
            fees.preprocess_all(store, load_pack)
    return creds


def _demo_notices(store: Store, day: dt.date) -> None:
    rows = [
        (None, "关于做好2025年度社会保险费缴费工资申报工作的通知",
         "各缴费单位：请于规定时间内完成年度缴费工资申报，逾期未申报的按上年度缴费工资确定。",
         -10, 60, "重要", True),
        ("110000", "北京市社会保险费缴费基数上下限调整的通告",
         "自2025年7月1日起，北京市社会保险缴费基数下限为7162元，上限为35811元。", -5, 90, "一般", False),
        ("310000", "上海市社会保险费征缴系统升级公告",
         "本周六00:00至06:00系统升级，期间暂停客户端申报与缴款业务。", -2, 7, "重要", True),
        ("140000", "山西省关于延长社保费申报期限的通知",
         "因节假日原因，本月社保费申报期限顺延至25日。", -1, 20, "一般", False),
        (None, "已过期：2024年度缴费工资申报提醒", "本通知已过有效期。", -400, -30, "一般", False),
    ]
    for region, title, body, start, end, importance, popup in rows:
        seq = store.log_change("notice", "upsert")
        store.db.execute_sql(
            "INSERT INTO notice(region, title, body, published_on, valid_until, importance, popup,"
            " seq, deleted) VALUES (?,?,?,?,?,?,?,?,0)",
            (
                region, title, body, (day + dt.timedelta(days=start)).isoformat(),
                (day + dt.timedelta(days=end)).isoformat(), importance, int(popup), seq,
            ),
        )
